"""The software key store: one JSON file, keys sealed under a passphrase (Part 10 §6.3.3).

For a test bench, a demonstration or a small issuing line without an HSM. The file is
versioned JSON; labels, algorithms, lengths and KCVs are in clear, every key value only
as AES-256-GCM ciphertext under a scrypt-derived key (:mod:`sbkcard.keys.sealing`) with
its metadata as associated data. A final seal over the whole file detects a key that was
removed, added or swapped. Keys are decrypted only for an operation, into a
``bytearray`` wiped right after. Format::

    {"format": "sbkcard-keystore", "version": 2, "generation": 7,
     "kdf": {"name": "scrypt", "salt": …, "n": 32768, "r": 8, "p": 1},
     "aead": "AES-256-GCM", "check": {…}, "kdf_digest": …,
     "keys": [{"label": "DES:IRK", "algorithm": "DES", "length": 16, "kcv": "A1B2C3",
               "extractable": false, "sealed": {"nonce": …, "ciphertext": …}}, …],
     "seal": {…}}

**Rollback.** Every save increments ``generation``, which the final seal covers. Beside
the store, ``STORE.generation`` (0600) records the highest generation seen there and
the store's KDF salt; opening a store older than it (a validly sealed earlier copy) is
a :class:`~sbkcard.keys.store.RollbackError`, a store with another salt a
:class:`~sbkcard.keys.store.TamperedError`. A store of generation ≥ 1 without its
generation file is refused until an operator adopts it (``sbkcard keys adopt``), after
comparing its generation with the last ceremony's transcript: ``store`` details name
the generation (:attr:`SoftKeyStore.description`), and the transcript's head is in the
signed minutes. *Limit:* the generation file sits on the same disk; whoever can
replace both files together (or restore both from one backup) rolls the store back
unseen by it, and only the transcripts tell. Version 1 stores (no generation) keep
opening, as generation 0; their next save writes version 2.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sbkcard.keys.derivation import diversify as _diversify
from sbkcard.keys.errors import CryptoError
from sbkcard.keys.keywrap import from_transport_form, kw_unwrap, kw_wrap, transport_form
from sbkcard.keys.sealing import (
    SCRYPT_N,
    ScryptParams,
    Sealer,
    check_new_passphrase,
    header_digest,
    verify_header,
)
from sbkcard.keys.store import (
    KeyAlgorithm,
    KeyInfo,
    KeyStoreError,
    RollbackError,
    TamperedError,
    UnsupportedKeyError,
    WrappedKey,
    check_value,
)
from sbkcard.keys.zeroize import random_secret, wiped, zeroize

__all__ = ["FORMAT", "VERSION", "SoftKeyStore", "generation_path"]

FORMAT = "sbkcard-keystore"
VERSION = 2
READABLE = (1, 2)
AEAD = "AES-256-GCM"
_SEAL_AAD = b"sbkcard keystore seal v1\x00"
GENERATION_FORMAT = "sbkcard-keystore-generation"


def generation_path(store: Path) -> Path:
    """The generation file kept beside ``store``: ``STORE.generation``."""
    return store.with_name(store.name + ".generation")


def _write_private(target: Path, text: str, prefix: str) -> None:
    """Write ``text`` to ``target`` atomically, readable by its owner only."""
    descriptor, temporary = tempfile.mkstemp(prefix=prefix, dir=target.resolve().parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _read_generation(store: Path) -> tuple[int, bytes] | None:
    """The generation and salt recorded beside ``store`` (``None`` if there is no file)."""
    path = generation_path(store)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document["format"] != GENERATION_FORMAT:
            raise ValueError("format field")
        return int(document["generation"]), bytes.fromhex(document["salt"])
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise TamperedError(f"{path}: not a readable generation file ({exc})") from exc


def _write_generation(store: Path, generation: int, salt: bytes) -> None:
    document = {"format": GENERATION_FORMAT, "generation": generation, "salt": salt.hex()}
    _write_private(generation_path(store), json.dumps(document) + "\n", ".generation-")


def _canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _metadata(info: KeyInfo) -> dict[str, Any]:
    return {
        "label": info.label,
        "algorithm": info.algorithm.value,
        "length": info.length,
        "kcv": info.kcv,
        "extractable": info.extractable,
    }


class SoftKeyStore:
    """A :class:`~sbkcard.keys.store.KeyStore` in one passphrase-protected file."""

    def __init__(
        self,
        path: Path,
        sealer: Sealer,
        entries: dict[str, dict[str, Any]],
        *,
        version: int = VERSION,
        generation: int = 0,
    ) -> None:
        self.path = path
        self._sealer = sealer
        self._entries = entries
        self._version = version
        self.generation = generation
        """How many times the store was saved (see the module docstring)."""

    # -- opening and saving -------------------------------------------------------------

    @classmethod
    def create(
        cls, path: str | os.PathLike[str], passphrase: str, *, scrypt_n: int = SCRYPT_N
    ) -> SoftKeyStore:
        """A new, empty store at ``path`` (which must not exist yet).

        The passphrase and ``scrypt_n`` must meet :data:`~sbkcard.keys.sealing.POLICY`.
        """
        target = Path(path)
        if target.exists():
            raise KeyStoreError(f"{target}: already exists; refusing to overwrite a key store")
        check_new_passphrase(passphrase, where=str(target))
        store = cls(target, Sealer(passphrase, ScryptParams.fresh(scrypt_n)), {})
        store._save()
        return store

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], passphrase: str, *, adopt: bool = False
    ) -> SoftKeyStore:
        """Open the store at ``path``.

        :class:`WrongPassphraseError`, :class:`TamperedError` (altered, or another store
        than the generation file records), :class:`RollbackError` (an older generation
        than was seen here; or no generation file, unless ``adopt``, which records this
        store's generation as the one to trust).
        """
        source = Path(path)
        try:
            document = json.loads(source.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise KeyStoreError(f"{source}: no such key store") from exc
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise KeyStoreError(f"{source}: not a readable key store ({exc})") from exc
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise KeyStoreError(f"{source}: not an sbkcard key store (format field)")
        version = document.get("version")
        if version not in READABLE:
            raise KeyStoreError(
                f"{source}: key store version {version!r} is not supported "
                f"(this sbkcard reads versions {', '.join(map(str, READABLE))})"
            )
        if document.get("aead") != AEAD:
            raise KeyStoreError(f"{source}: unknown AEAD {document.get('aead')!r}")
        params = ScryptParams.from_json(document.get("kdf"), where=str(source))
        generation = 0
        if version >= 2:
            verify_header(
                params, document.get("check"), document.get("kdf_digest"), where=str(source)
            )
            stored = document.get("generation")
            if not isinstance(stored, int) or isinstance(stored, bool) or stored < 1:
                raise TamperedError(f"{source}: generation {stored!r} is not a count ≥ 1")
            generation = stored
        recorded = _read_generation(source)
        if recorded is not None and recorded[1] != params.salt:
            raise TamperedError(
                f"{source}: its KDF salt is not the one recorded in "
                f"{generation_path(source).name}: the store was replaced by another one, or "
                "its KDF parameters were altered"
            )
        sealer = Sealer(passphrase, params)
        try:
            sealer.verify_passphrase(document.get("check"), where=str(source))
            entries: dict[str, dict[str, Any]] = {}
            for raw in document.get("keys", []):
                entry = cls._parse_entry(raw, source)
                if entry["label"] in entries:
                    raise TamperedError(f"{source}: label {entry['label']!r} appears twice")
                entries[entry["label"]] = entry
            store = cls(source, sealer, entries, version=version, generation=generation)
            sealer.open(document.get("seal"), store._seal_aad(), what=f"{source} (file seal)")
            store._check_generation(recorded, adopt=adopt)
        except BaseException:
            sealer.close()
            raise
        return store

    def _check_generation(self, recorded: tuple[int, bytes] | None, *, adopt: bool) -> None:
        """Refuse an older generation than the one recorded beside the store; record a newer."""
        where = generation_path(self.path)
        if recorded is None and self.generation > 0 and not adopt:
            raise RollbackError(
                f"{self.path}: generation {self.generation}, but there is no {where.name} "
                "beside it to tell whether a later generation was seen: copy that file with "
                "the store, or check the generation against the last ceremony's transcript "
                "and run 'sbkcard keys adopt'"
            )
        if recorded is not None and self.generation < recorded[0]:
            raise RollbackError(
                f"{self.path}: generation {self.generation}, but generation {recorded[0]} of "
                f"this store was already seen here ({where.name}): an older copy (rollback)"
            )
        if recorded is None or self.generation > recorded[0]:
            # on a read-only medium the store cannot be saved (advanced) there either
            with contextlib.suppress(OSError):
                _write_generation(self.path, self.generation, self._sealer.params.salt)

    @staticmethod
    def _parse_entry(raw: Any, source: Path) -> dict[str, Any]:
        try:
            algorithm = KeyAlgorithm(raw["algorithm"])
            entry = {
                "label": str(raw["label"]),
                "algorithm": algorithm.value,
                "length": int(raw["length"]),
                "kcv": str(raw["kcv"]),
                "extractable": bool(raw["extractable"]),
                "sealed": {
                    "nonce": str(raw["sealed"]["nonce"]),
                    "ciphertext": str(raw["sealed"]["ciphertext"]),
                },
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise TamperedError(f"{source}: malformed key entry ({exc})") from exc
        return entry

    def _seal_aad(self) -> bytes:
        listing = [entry for _, entry in sorted(self._entries.items())]
        header: dict[str, Any] = {
            "format": FORMAT,
            "version": self._version,
            "aead": AEAD,
            "kdf": self._sealer.params.to_json(),
        }
        if self._version >= 2:
            header["generation"] = self.generation
        return _SEAL_AAD + _canonical({"header": header, "keys": listing})

    def _save(self) -> None:
        """Write the next generation: the store first, then its generation file."""
        previous = (self._version, self.generation)
        self._version, self.generation = VERSION, self.generation + 1
        params = self._sealer.params
        check = self._sealer.check_value()
        document = {
            "format": FORMAT,
            "version": VERSION,
            "generation": self.generation,
            "kdf": params.to_json(),
            "aead": AEAD,
            "check": check,
            "kdf_digest": header_digest(params, check),
            "keys": [entry for _, entry in sorted(self._entries.items())],
            "seal": self._sealer.seal(b"", self._seal_aad()),
        }
        try:
            _write_private(
                self.path, json.dumps(document, indent=2, ensure_ascii=False) + "\n", ".keystore-"
            )
        except BaseException:
            self._version, self.generation = previous
            raise
        _write_generation(self.path, self.generation, params.salt)

    # -- the KeyStore interface ------------------------------------------------------------

    @property
    def description(self) -> str:
        return f"software key store {self.path} (generation {self.generation})"

    def list_keys(self) -> list[KeyInfo]:
        return [self._info(entry) for _, entry in sorted(self._entries.items())]

    @staticmethod
    def _info(entry: dict[str, Any]) -> KeyInfo:
        return KeyInfo(
            entry["label"],
            KeyAlgorithm(entry["algorithm"]),
            entry["length"],
            entry["kcv"],
            entry["extractable"],
        )

    def info(self, label: str) -> KeyInfo:
        try:
            return self._info(self._entries[label])
        except KeyError:
            raise KeyStoreError(f"{self.path}: no key labelled {label!r}") from None

    def __contains__(self, label: object) -> bool:
        return label in self._entries

    def put(
        self, label: str, key: bytearray, algorithm: KeyAlgorithm, *, extractable: bool = False
    ) -> KeyInfo:
        if not label or label in self._entries:
            raise KeyStoreError(f"{self.path}: label {label!r} is empty or already used")
        algorithm.check_length(len(key), what=f"key {label!r}")
        info = KeyInfo(label, algorithm, len(key), check_value(bytes(key), algorithm), extractable)
        metadata = _metadata(info)
        self._entries[label] = {**metadata, "sealed": self._sealer.seal(key, _canonical(metadata))}
        self._save()
        return info

    def generate(
        self, label: str, algorithm: KeyAlgorithm, length: int, *, extractable: bool = False
    ) -> KeyInfo:
        algorithm.check_length(length, what=f"key {label!r}")
        with wiped(random_secret(length)) as key:
            return self.put(label, key, algorithm, extractable=extractable)

    def delete(self, label: str) -> None:
        self.info(label)
        del self._entries[label]
        self._save()

    def _decrypt(self, label: str) -> tuple[KeyInfo, bytearray]:
        info = self.info(label)
        entry = self._entries[label]
        key = self._sealer.open(
            entry["sealed"], _canonical(_metadata(info)), what=f"{self.path}: key {label!r}"
        )
        if len(key) != info.length or check_value(bytes(key), info.algorithm) != info.kcv:
            zeroize(key)
            raise TamperedError(f"{self.path}: key {label!r} does not match its KCV")
        return info, key

    def diversify(self, label: str, factors: Sequence[bytes]) -> bytearray:
        if not factors:
            raise KeyStoreError(
                f"{self.path}: diversifying {label!r} needs at least one factor "
                "(use() gives a key itself, if it is extractable)"
            )
        info, key = self._decrypt(label)
        with wiped(key):
            try:
                return bytearray(_diversify(bytes(key), factors, info.algorithm.card_algorithm))
            except CryptoError as exc:
                raise KeyStoreError(f"{self.path}: diversifying {label!r}: {exc}") from exc

    def derive(
        self, label: str, factors: Sequence[bytes], new_label: str, *, extractable: bool = False
    ) -> KeyInfo:
        algorithm = self.info(label).algorithm
        with wiped(self.diversify(label, factors)) as child:
            return self.put(new_label, child, algorithm, extractable=extractable)

    def wrap(self, label: str, kek_label: str, factors: Sequence[bytes] = ()) -> WrappedKey:
        info = self.info(label)
        if not factors and not info.extractable:
            raise KeyStoreError(f"{self.path}: key {label!r} is not extractable")
        kek_info, kek = self._decrypt(kek_label)
        with wiped(kek):
            key = self.diversify(label, factors) if factors else self._decrypt(label)[1]
            with wiped(key), wiped(transport_form(key)) as travelling:
                return WrappedKey(
                    kw_wrap(kek, kek_info.algorithm, travelling),
                    len(key),
                    check_value(bytes(key), info.algorithm),
                )

    def unwrap(
        self,
        label: str,
        wrapped: bytes,
        kek_label: str,
        algorithm: KeyAlgorithm,
        length: int,
        *,
        extractable: bool = False,
    ) -> KeyInfo:
        algorithm.check_length(length, what=f"key {label!r}")
        kek_info, kek = self._decrypt(kek_label)
        with (
            wiped(kek),
            wiped(kw_unwrap(kek, kek_info.algorithm, wrapped)) as travelling,
            wiped(from_transport_form(travelling, length)) as key,
        ):
            return self.put(label, key, algorithm, extractable=extractable)

    @contextmanager
    def use(self, label: str) -> Iterator[bytearray]:
        if not self.info(label).extractable:
            raise UnsupportedKeyError(
                f"{self.path}: key {label!r} is not extractable; use it through the store "
                "(diversify, derive, wrap)"
            )
        _, key = self._decrypt(label)
        with wiped(key):
            yield key

    def close(self) -> None:
        self._sealer.close()

    def __enter__(self) -> SoftKeyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
