"""Key sets out of key stores: ``open_store``, ``load_keyset`` and :class:`StoreKeySet`.

Other commands take ``--keys KEYSTORE``; KEYSTORE is one of

- ``demo`` (or ``demo:DES``, ``demo:SM4``): the published TEST key set of
  :func:`sbkcard.keys.hierarchy.demo_keyset`;
- the path of a software key store (:class:`~sbkcard.keys.soft_store.SoftKeyStore`);
- ``pkcs11:token=LABEL`` (optionally ``;module=/path/to/lib.so``): a PKCS#11 token.

:func:`load_keyset` returns a :class:`~sbkcard.keys.hierarchy.KeySet` with the national
roots in clear (the demo set, or a software store's extractable roots). A token's roots
never leave it: :class:`StoreKeySet` is the handle that derives a card's keys inside
any store, with the same names and KCVs. :func:`issuer_keys` opens KEYSTORE once and
gives whichever of the two the store allows (:data:`IssuerKeys`); :func:`card_keys_of`
and :func:`transport_key` are what an issuing line takes from it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sbkcard.keys.ciphers import Algorithm
from sbkcard.keys.factors import city_factor, factors_for, province_factor
from sbkcard.keys.hashing import sm3
from sbkcard.keys.hierarchy import (
    CARD_KEYS,
    KeySet,
    Level,
    card_key,
    demo_keyset,
    derive_card_keys,
)
from sbkcard.keys.passphrase import PASSPHRASE_ENV
from sbkcard.keys.soft_store import SoftKeyStore
from sbkcard.keys.store import KeyStore, KeyStoreError, UnsupportedKeyError
from sbkcard.keys.zeroize import zeroize

__all__ = [
    "DEMO",
    "PKCS11_SCHEME",
    "IssuerKeys",
    "StoreKeySet",
    "batch_factor",
    "card_keys_of",
    "is_demo",
    "issuer_keys",
    "load_keyset",
    "open_store",
    "transport_key",
]

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


def is_demo(spec: str | os.PathLike[str]) -> bool:
    """Whether ``spec`` names the published TEST key set (``demo``, ``demo:DES``, ``demo:SM4``)."""
    text = os.fspath(spec)
    return text == DEMO or text.startswith(DEMO + ":")


def _secret(spec: str, passphrase: str | None) -> str:
    secret = passphrase if passphrase is not None else os.environ.get(PASSPHRASE_ENV)
    if not secret:
        raise KeyStoreError(f"{spec}: a passphrase is needed (or set {PASSPHRASE_ENV})")
    return secret


def _extract(store: KeyStore, keys: StoreKeySet) -> KeySet:
    """The national roots of ``keys`` in clear (each must be extractable)."""
    roots: dict[str, bytes] = {}
    for name, label in keys.labels.items():
        with store.use(label) as key:
            roots[name] = bytes(key)
    return KeySet(keys.algorithm, roots)


def load_keyset(
    path_or_name: str | os.PathLike[str],
    passphrase: str | None = None,
    *,
    algorithm: Algorithm = Algorithm.DES,
) -> KeySet:
    """The national roots of ``algorithm`` from ``demo`` or a software key store.

    ``passphrase`` defaults to ``$SBKCARD_PASSPHRASE``. The roots must be extractable
    (the demo set's are; a ceremony stores roots extractable only when asked); a
    PKCS#11 token's never are, so tokens are refused here: use :func:`issuer_keys`.
    """
    text = os.fspath(path_or_name)
    if is_demo(text):
        return demo_keyset(_demo_algorithm(text) or algorithm)
    if text.startswith(PKCS11_SCHEME):
        raise KeyStoreError(
            f"{text}: a token's roots never leave it; use issuer_keys(...) (a StoreKeySet) "
            "to derive card keys inside the token"
        )
    with SoftKeyStore.open(text, _secret(text, passphrase)) as store:
        return _extract(store, StoreKeySet.from_store(store, algorithm))


@dataclass
class StoreKeySet:
    """A key set whose keys stay in a store: national roots, or one region's lower keys.

    ``level`` is 3 for national roots, 2 for a province's keys, 1 for a city's; card
    keys are derived inside the store with the factors still to apply (Part 9 §7.3).
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
        """The factors that take this set's keys down to ``level`` for ``region`` (Part 9 §7.3).

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


IssuerKeys = KeySet | StoreKeySet
"""An issuer's keys: roots in clear (:class:`KeySet`, batch derivation in software) or a
handle on roots that stay in their store (:class:`StoreKeySet`, derivation inside it)."""


def _tokens_hold_no_sm4(spec: str, store: KeyStore, algorithm: Algorithm) -> None:
    if algorithm is Algorithm.SM4 and spec.startswith(PKCS11_SCHEME):
        raise UnsupportedKeyError(
            f"{store.description} cannot hold SM4 keys: PKCS#11 defines no SM4 mechanism, "
            "so SM4 (profile 3) cards need an SM4-capable HSM or the software key store; "
            "this token issues DES (profile 2) cards"
        )


@contextmanager
def issuer_keys(
    spec: str | os.PathLike[str],
    passphrase: str | None = None,
    *,
    algorithm: Algorithm,
) -> Iterator[tuple[IssuerKeys, KeyStore | None]]:
    """The issuer's ``algorithm`` keys named by ``spec``, and their store, opened once.

    ``demo`` gives the TEST key set and no store. A store whose national roots are all
    extractable gives them as a :class:`KeySet` (a batch is then derived in software,
    one ECB call per key and region); otherwise — a PKCS#11 token always — a
    :class:`StoreKeySet` that derives every card's keys inside the store. The store
    stays open (for :func:`transport_key` and the derivations) until the block ends.
    ``passphrase`` defaults to ``$SBKCARD_PASSPHRASE``.
    """
    text = os.fspath(spec)
    if is_demo(text):
        yield load_keyset(text, algorithm=algorithm), None
        return
    store = open_store(text, _secret(text, passphrase))
    try:
        _tokens_hold_no_sm4(text, store, algorithm)
        handle = StoreKeySet.from_store(store, algorithm)
        extractable = all(store.info(label).extractable for label in handle.labels.values())
        yield (_extract(store, handle) if extractable else handle), store
    finally:
        store.close()


def card_keys_of(keys: IssuerKeys, region: str, atr: bytes) -> dict[str, bytes]:
    """One card's keys (root → province → city → card, Part 9 §7.3), wherever the roots are."""
    if isinstance(keys, KeySet):
        return derive_card_keys(keys, region, atr)
    derived = keys.card_keys(region, atr)
    try:
        return {name: bytes(key) for name, key in derived.items()}
    finally:
        zeroize(*derived.values())


def batch_factor(batch: str) -> bytes:
    """The 8-byte diversification factor of batch ``batch``: ``SM3(UTF-8 name)[:8]``."""
    return sm3(batch.encode("utf-8"))[:8]


def transport_key(store: KeyStore, label: str, batch: str) -> bytearray:
    """The transport key of batch ``batch`` set in its blank chips (Part 10 §5.1.1).

    A key the store lets out (a software store's extractable key) is the batch's
    transport key itself. A token's key never leaves it: the batch's transport key is
    then diversified from it inside the token with :func:`batch_factor` (Part 9 §7.3),
    one key per batch, and only that lower key comes out. The caller wipes the buffer.
    """
    try:
        with store.use(label) as key:
            return bytearray(key)
    except UnsupportedKeyError:
        return store.diversify(label, [batch_factor(batch)])
