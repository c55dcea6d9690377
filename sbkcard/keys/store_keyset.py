"""Key sets out of key stores: ``open_store``, ``load_keyset`` and :class:`StoreKeySet`.

Other commands take ``--keys KEYSTORE``; KEYSTORE is one of

- ``demo`` (or ``demo:DES``, ``demo:SM4``): the published TEST key set of
  :func:`sbkcard.keys.hierarchy.demo_keyset`;
- the path of a software key store (:class:`~sbkcard.keys.soft_store.SoftKeyStore`);
- ``pkcs11:token=LABEL`` (optionally ``;module=/path/to/lib.so``): a PKCS#11 token.

:func:`load_keyset` returns a :class:`~sbkcard.keys.hierarchy.KeySet` with the national
roots in clear (the demo set, or a software store's extractable roots). A token's roots
never leave it: :class:`StoreKeySet` is the handle that derives a card's keys inside
any store, with the same names and KCVs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from sbkcard.keys.ciphers import Algorithm
from sbkcard.keys.factors import city_factor, factors_for, province_factor
from sbkcard.keys.hierarchy import CARD_KEYS, KeySet, Level, card_key, demo_keyset
from sbkcard.keys.passphrase import PASSPHRASE_ENV
from sbkcard.keys.soft_store import SoftKeyStore
from sbkcard.keys.store import KeyStore, KeyStoreError, UnsupportedKeyError
from sbkcard.keys.zeroize import zeroize

__all__ = ["DEMO", "PKCS11_SCHEME", "StoreKeySet", "load_keyset", "open_store"]

DEMO = "demo"
PKCS11_SCHEME = "pkcs11:"


def _pkcs11_options(spec: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for part in spec[len(PKCS11_SCHEME) :].split(";"):
        name, sep, value = part.partition("=")
        if not sep or name not in ("token", "module") or not value:
            raise KeyStoreError(
                f"key store {spec!r}: write pkcs11:token=LABEL[;module=/path/lib.so]"
            )
        options[name] = value
    if "token" not in options:
        raise KeyStoreError(f"key store {spec!r}: the token label is missing (token=LABEL)")
    return options


def open_store(spec: str | os.PathLike[str], secret: str) -> KeyStore:
    """Open the key store ``spec`` (a path or ``pkcs11:token=…``) with passphrase/PIN ``secret``."""
    text = os.fspath(spec)
    if text.startswith(PKCS11_SCHEME):
        from sbkcard.keys.pkcs11_store import SOFTHSM2_MODULE, Pkcs11Store

        options = _pkcs11_options(text)
        return Pkcs11Store(options["token"], secret, module=options.get("module", SOFTHSM2_MODULE))
    return SoftKeyStore.open(text, secret)


def _demo_algorithm(spec: str) -> Algorithm | None:
    if spec == DEMO:
        return None
    _, _, name = spec.partition(":")
    try:
        return Algorithm[name.upper()]
    except KeyError:
        raise KeyStoreError(f"key set {spec!r}: demo:DES or demo:SM4") from None


def load_keyset(
    path_or_name: str | os.PathLike[str],
    passphrase: str | None = None,
    *,
    algorithm: Algorithm = Algorithm.DES,
) -> KeySet:
    """The national roots of ``algorithm`` from ``demo`` or a software key store.

    ``passphrase`` defaults to ``$SBKCARD_PASSPHRASE``. The roots must be extractable
    (the demo set's are; a ceremony stores roots extractable only when asked); a
    PKCS#11 token's never are, so tokens are refused here: use :class:`StoreKeySet`.
    """
    text = os.fspath(path_or_name)
    if text == DEMO or text.startswith(DEMO + ":"):
        return demo_keyset(_demo_algorithm(text) or algorithm)
    if text.startswith(PKCS11_SCHEME):
        raise KeyStoreError(
            f"{text}: a token's roots never leave it; use StoreKeySet.from_store(...) to "
            "derive card keys inside the token"
        )
    secret = passphrase if passphrase is not None else os.environ.get(PASSPHRASE_ENV)
    if not secret:
        raise KeyStoreError(f"{text}: a passphrase is needed (or set {PASSPHRASE_ENV})")
    with SoftKeyStore.open(text, secret) as store:
        labels = StoreKeySet.from_store(store, algorithm).labels
        roots: dict[str, bytes] = {}
        for name, label in labels.items():
            with store.use(label) as key:
                roots[name] = bytes(key)
        return KeySet(algorithm, roots)


@dataclass
class StoreKeySet:
    """A key set whose keys stay in a store: national roots, or one region's lower keys.

    ``level`` is 3 for national roots, 2 for a province's keys, 1 for a city's; card
    keys are derived inside the store with the factors still to apply (SPEC §4.3).
    """

    store: KeyStore
    algorithm: Algorithm
    level: Level
    region: str | None
    labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_store(
        cls, store: KeyStore, algorithm: Algorithm, region: str | None = None
    ) -> StoreKeySet:
        """The national roots (``region`` None) or the keys held for ``region``.

        For a region the city keys are preferred, then the provincial keys, then the
        national roots (which serve every region).
        """
        found: dict[tuple[int, str | None], dict[str, str]] = {}
        for info in store.list_keys():
            parsed = info.parsed
            if parsed is None or parsed.algorithm is not algorithm:
                continue
            found.setdefault((parsed.level, parsed.region), {})[parsed.name] = info.label
        candidates: list[tuple[Level, str | None]] = [(Level.NATIONAL, None)]
        if region is not None:
            candidates = [
                (Level.CITY, region),
                (Level.PROVINCE, region[:2] + "0000"),
                *candidates,
            ]
        for level, where in candidates:
            labels = found.get((level, where))
            if labels:
                order = [spec.name for spec in CARD_KEYS if spec.name in labels]
                return cls(store, algorithm, level, where, {name: labels[name] for name in order})
        wanted = "national roots" if region is None else f"keys for region {region}"
        raise KeyStoreError(
            f"{store.description}: no {algorithm.name} {wanted} (labels like "
            f"{algorithm.name}:IRK or {algorithm.name}:IRK@{region or '330100'})"
        )

    def kcvs(self) -> dict[str, str]:
        """KCV of every key of the set, by name."""
        return {name: self.store.info(label).kcv for name, label in self.labels.items()}

    def _check_region(self, region: str) -> None:
        if self.region is None:
            return
        same = (
            province_factor(region) == province_factor(self.region)
            if self.level is Level.PROVINCE
            else city_factor(region) == city_factor(self.region)
        )
        if not same:
            raise KeyStoreError(
                f"{self.store.description}: keys held for {self.region} cannot make cards "
                f"of region {region}"
            )

    def _wanted(self, names: Iterable[str] | None) -> list[tuple[str, str]]:
        wanted = self.labels if names is None else [card_key(name).name for name in names]
        pairs = []
        for name in wanted:
            label = self.labels.get(name)
            if label is None:
                raise KeyStoreError(f"{self.store.description}: no key {name} in this set")
            pairs.append((name, label))
        return pairs

    def level_factors(self, region: str, level: Level) -> list[bytes]:
        """The factors that take this set's keys down to ``level`` for ``region`` (SPEC §4.3).

        From national roots to a city: ``[province, city]``; from a province's keys: ``[city]``.
        """
        self._check_region(region)
        if level > self.level:
            raise KeyStoreError(
                f"{self.store.description}: keys held at level {int(self.level)} cannot give "
                f"level-{int(level)} keys"
            )
        return [province_factor(region), city_factor(region)][
            Level.NATIONAL - self.level : Level.NATIONAL - level
        ]

    def level_keys(
        self, region: str, level: Level, names: Iterable[str] | None = None
    ) -> dict[str, bytearray]:
        """The keys a PSAM of diversification depth ``level`` holds for ``region``.

        Derived inside the store when the set is above ``level``; a set held at exactly
        ``level`` gives its keys themselves, which must then be extractable. The caller
        wipes the returned buffers.
        """
        chain = self.level_factors(region, level)
        result: dict[str, bytearray] = {}
        try:
            for name, label in self._wanted(names):
                if chain:
                    result[name] = self.store.diversify(label, chain)
                else:
                    try:
                        with self.store.use(label) as key:
                            result[name] = bytearray(key)
                    except UnsupportedKeyError as exc:
                        raise KeyStoreError(
                            f"{exc}. A level-{int(level)} PSAM receives its keys in clear "
                            "under its master key: hold them extractable (ceremony import "
                            "--extractable), or derive them from higher-level keys"
                        ) from exc
        except BaseException:
            zeroize(*result.values())
            raise
        return result

    def card_keys(
        self, region: str, atr: bytes, names: Iterable[str] | None = None
    ) -> dict[str, bytearray]:
        """The card's keys, as :func:`~sbkcard.keys.hierarchy.derive_card_keys` gives them.

        The caller wipes the returned buffers (:func:`sbkcard.keys.zeroize.zeroize`).
        """
        self._check_region(region)
        chain = factors_for(region, atr, self.level)
        result: dict[str, bytearray] = {}
        try:
            for name, label in self._wanted(names):
                result[name] = self.store.diversify(label, chain)
        except BaseException:
            zeroize(*result.values())
            raise
        return result
