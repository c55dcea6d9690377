"""Errors raised by the key and cryptography layer.

Every one derives from :class:`CryptoError`, itself a :class:`sbkcard.errors.SbkcardError`;
the ones that reject an argument are also :class:`ValueError`. Messages name what was
wrong and where, never the key bytes.
"""

from __future__ import annotations

from sbkcard.errors import SbkcardError


class CryptoError(SbkcardError):
    """A cryptographic operation of Part 4 §8–§9 could not be carried out."""


class UnsupportedAlgorithmError(CryptoError):
    """The algorithm is named by the standard but no implementation is available (SSF33)."""


class KeyLengthError(CryptoError, ValueError):
    """A key has a length the algorithm does not accept (DES 8/16, SM4 16 bytes)."""


class DataLengthError(CryptoError, ValueError):
    """An input block, factor, random or IV has the wrong length."""


class PaddingError(CryptoError, ValueError):
    """Decrypted data does not carry a valid LD and ``80 00…`` padding (Part 4 §8.3.2)."""


class KeyHierarchyError(CryptoError, ValueError):
    """A request outside the key hierarchy: a level beyond 0–3, a root missing from a set."""


class UnknownKeyError(CryptoError, KeyError):
    """A key name is not in the key table (Part 9 table B1)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown key"
