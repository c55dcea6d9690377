"""One interface for every key store: software file, PKCS#11 token (Part 10 §6.3.3, §6.4.2.2).

A key store holds secret keys under labels and shows only their algorithm, length and
KCV. Keys are used *inside* the store: diversification (SPEC §4.3), wrapping under a
transport key (KEK) for export and unwrapping on import. A clear value leaves a store
only as the result of an operation the caller asked for (a card's diversified key, a
software store's :meth:`KeyStore.use`), always in a ``bytearray`` the caller zeroizes.

Labels of a key set's members follow one grammar, so that a store can hold the national
roots of both environments and the city keys of several regions side by side:

- ``DES:IRK``         national root of key ``IRK`` (level 3, three factors still to apply);
- ``DES:IRK@330000``  the provincial key of province 33 (level 2, a region ending ``0000``);
- ``DES:IRK@330100``  the city key of 330100 (level 1, only the card factor left).

Any other label (``KEK-330100``, ``PSAM-MK``) names a free-standing key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import Enum
from typing import Protocol, runtime_checkable

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from sbkcard.errors import SbkcardError
from sbkcard.keys.check_value import kcv
from sbkcard.keys.ciphers import Algorithm

__all__ = [
    "KeyAlgorithm",
    "KeyInfo",
    "KeyLabel",
    "KeyStore",
    "KeyStoreError",
    "RollbackError",
    "TamperedError",
    "UnsupportedKeyError",
    "WeakPassphraseError",
    "WrappedKey",
    "WrongPassphraseError",
    "check_value",
    "level_label",
    "parse_label",
    "root_label",
]


class KeyStoreError(SbkcardError):
    """A key store could not be opened, read or written, or refused an operation."""


class WrongPassphraseError(KeyStoreError):
    """The passphrase (or PIN) does not open the store or sealed file."""


class TamperedError(KeyStoreError):
    """A store or sealed file was altered after it was written (authentication failed)."""


class RollbackError(TamperedError):
    """A validly sealed but older copy of a key store (an earlier generation) was given."""


class WeakPassphraseError(KeyStoreError):
    """A new key store or part file was refused: the passphrase or scrypt cost is too weak."""


class UnsupportedKeyError(KeyStoreError):
    """The store cannot hold or use a key of this algorithm or length (e.g. SM4 on SoftHSM2)."""


class KeyAlgorithm(Enum):
    """Algorithms a store holds: the card system's DES and SM4, and AES for transport keys."""

    DES = "DES"
    SM4 = "SM4"
    AES = "AES"
    SM2 = "SM2"
    """An SM2 private key (a CA's, GM/T 0003): 32 bytes, identified by its public key."""

    @property
    def lengths(self) -> tuple[int, ...]:
        """Key lengths in bytes (DES 8 single / 16 double length; SM4 16; AES 16/24/32;
        SM2 32)."""
        return {"DES": (8, 16), "SM4": (16,), "AES": (16, 24, 32), "SM2": (32,)}[self.value]

    @property
    def card_algorithm(self) -> Algorithm:
        """The card system's :class:`Algorithm` (DES or SM4); AES and SM2 are not one."""
        if self in (KeyAlgorithm.AES, KeyAlgorithm.SM2):
            raise UnsupportedKeyError(
                f"{self.value} is not a card algorithm of the social security card's keys"
            )
        return Algorithm[self.value]

    @classmethod
    def of(cls, algorithm: Algorithm) -> KeyAlgorithm:
        """The store algorithm for a card :class:`Algorithm` (SSF33 cannot be stored)."""
        if algorithm is Algorithm.SSF33:
            raise UnsupportedKeyError(
                "SSF33 keys cannot be stored: the cipher has no public implementation"
            )
        return cls(algorithm.name)

    def check_length(self, length: int, *, what: str) -> None:
        """Raise :class:`UnsupportedKeyError` unless ``length`` suits the algorithm."""
        if length not in self.lengths:
            allowed = "/".join(str(n) for n in self.lengths)
            raise UnsupportedKeyError(
                f"{what}: a {self.value} key is {allowed} bytes, not {length}"
            )


def check_value(key: bytes, algorithm: KeyAlgorithm) -> str:
    """The key check value as 6 upper-case hex digits: ``E(K, 0…0)[:3]`` (DES, SM4, AES);
    for SM2 the first 3 bytes of SM3 of the public key ``X ‖ Y``."""
    algorithm.check_length(len(key), what="check value")
    if algorithm is KeyAlgorithm.SM2:
        from sbkcard.keys import sm2
        from sbkcard.keys.hashing import sm3

        return sm3(sm2.public_key(key))[:3].hex().upper()
    if algorithm is KeyAlgorithm.AES:
        encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
        return (encryptor.update(bytes(16)) + encryptor.finalize())[:3].hex().upper()
    return kcv(key, algorithm.card_algorithm).hex().upper()


_LABEL = re.compile(r"^(DES|SM4):([A-Z][A-Z0-9]*)(?:@([0-9]{6}))?$")


@dataclass(frozen=True)
class KeyLabel:
    """The parts of a key-set member's label (see the module docstring)."""

    algorithm: Algorithm
    name: str
    region: str | None

    @property
    def level(self) -> int:
        """Diversification levels still to apply: 3 national, 2 provincial, 1 city."""
        if self.region is None:
            return 3
        return 2 if self.region.endswith("0000") else 1

    def __str__(self) -> str:
        base = f"{self.algorithm.name}:{self.name}"
        return base if self.region is None else f"{base}@{self.region}"


def parse_label(label: str) -> KeyLabel | None:
    """The key-set parts of ``label``, or None for a free-standing key's label."""
    match = _LABEL.match(label)
    if match is None:
        return None
    return KeyLabel(Algorithm[match[1]], match[2], match[3])


def root_label(algorithm: Algorithm, name: str) -> str:
    """The label of the national root of ``name``: ``DES:IRK``."""
    return str(KeyLabel(algorithm, name, None))


def level_label(algorithm: Algorithm, name: str, region: str, level: int) -> str:
    """The label of ``name`` diversified down to ``level`` for ``region``.

    Level 3 is the national root; level 2 the provincial key (``DES:IRK@330000``);
    level 1 the city key (``DES:IRK@330100``).
    """
    if level == 3:
        return root_label(algorithm, name)
    if level == 2:
        return str(KeyLabel(algorithm, name, region[:2] + "0000"))
    if level == 1:
        if region.endswith("0000"):
            raise KeyStoreError(f"city key of {name}: {region} is a province, not a city")
        return str(KeyLabel(algorithm, name, region))
    raise KeyStoreError(f"key level: 1 (city), 2 (province) or 3 (national), not {level}")


@dataclass(frozen=True)
class KeyInfo:
    """What a store shows about a key: never its value."""

    label: str
    algorithm: KeyAlgorithm
    length: int
    kcv: str
    extractable: bool

    @property
    def parsed(self) -> KeyLabel | None:
        """The key-set parts of the label (None for a free-standing key)."""
        return parse_label(self.label)


@dataclass(frozen=True)
class WrappedKey:
    """A key wrapped under a transport key, with the KCV of the key inside."""

    data: bytes
    length: int
    kcv: str


@runtime_checkable
class KeyStore(Protocol):
    """A place where keys live and are used without being shown.

    Every method that takes a clear key takes a ``bytearray`` and leaves wiping it to the
    caller; every method that gives one out returns a fresh ``bytearray`` the caller wipes.
    """

    @property
    def description(self) -> str:
        """Where the store is (a path, a token label) for messages and transcripts."""
        ...

    def list_keys(self) -> list[KeyInfo]:
        """Every key in the store, sorted by label."""
        ...

    def info(self, label: str) -> KeyInfo:
        """The key under ``label``; :class:`KeyStoreError` if there is none."""
        ...

    def __contains__(self, label: object) -> bool: ...

    def put(
        self, label: str, key: bytearray, algorithm: KeyAlgorithm, *, extractable: bool = False
    ) -> KeyInfo:
        """Store a clear key (a re-formed root, an imported component) under a new label."""
        ...

    def generate(
        self, label: str, algorithm: KeyAlgorithm, length: int, *, extractable: bool = False
    ) -> KeyInfo:
        """Generate a random key inside the store."""
        ...

    def delete(self, label: str) -> None:
        """Destroy the key under ``label``."""
        ...

    def diversify(self, label: str, factors: Sequence[bytes]) -> bytearray:
        """The key under ``label`` diversified through ``factors`` (SPEC §4.3), given out."""
        ...

    def derive(
        self, label: str, factors: Sequence[bytes], new_label: str, *, extractable: bool = False
    ) -> KeyInfo:
        """Diversify the key under ``label`` and keep the result in the store."""
        ...

    def wrap(self, label: str, kek_label: str, factors: Sequence[bytes] = ()) -> WrappedKey:
        """The key under ``label``, diversified through ``factors``, wrapped under the KEK.

        The wrapping is NIST SP 800-38F KW (RFC 3394) with the KEK's block cipher; a
        single-length DES key travels in its double-length form ``K ‖ K``. The KCV is the
        wrapped key's, computed inside the store.
        """
        ...

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
        """Unwrap a key made by :meth:`wrap` and store it under ``label``."""
        ...

    def use(self, label: str) -> AbstractContextManager[bytearray]:
        """The clear key for one use, wiped when the ``with`` block ends.

        Refused (:class:`KeyStoreError`) for a key that is not extractable.
        """
        ...

    def close(self) -> None:
        """Release the store (sessions, file handles)."""
        ...
