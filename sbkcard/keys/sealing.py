"""Secrets at rest under a passphrase: scrypt, then AES-256-GCM (Part 10 §6.3.3 item 5).

Used by the software key store and by the custodians' component and share files. The
passphrase goes through scrypt (memory-hard: N = 2^15, r = 8, p = 1 takes 32 MiB) to a
256-bit sealing key; every secret is sealed with AES-256-GCM under a fresh 96-bit nonce
with its clear metadata as associated data, so that editing a label, a KCV or a
parameter is detected. A fixed *check* value sealed the same way tells a wrong
passphrase apart from a tampered file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from sbkcard.keys.store import KeyStoreError, TamperedError, WrongPassphraseError
from sbkcard.keys.zeroize import zeroize

__all__ = ["SCRYPT_N", "ScryptParams", "Sealer"]

SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
SALT_LENGTH = 16
NONCE_LENGTH = 12
SEALING_KEY_LENGTH = 32
_CHECK_PLAINTEXT = b"sbkcard sealing-key check"
_CHECK_AAD = b"sbkcard passphrase check v1"


@dataclass(frozen=True)
class ScryptParams:
    """The scrypt parameters, stored in clear beside the sealed data."""

    salt: bytes
    n: int = SCRYPT_N
    r: int = SCRYPT_R
    p: int = SCRYPT_P

    @classmethod
    def fresh(cls, n: int = SCRYPT_N) -> ScryptParams:
        """New parameters with a random salt."""
        if n < 2 or n & (n - 1):
            raise KeyStoreError(f"scrypt N must be a power of two ≥ 2, not {n}")
        return cls(os.urandom(SALT_LENGTH), n)

    def to_json(self) -> dict[str, Any]:
        """The JSON form: ``{"name": "scrypt", "salt": hex, "n", "r", "p"}``."""
        return {"name": "scrypt", "salt": self.salt.hex(), "n": self.n, "r": self.r, "p": self.p}

    @classmethod
    def from_json(cls, data: Any, *, where: str) -> ScryptParams:
        """Parse :meth:`to_json` output, naming ``where`` on error."""
        try:
            if data["name"] != "scrypt":
                raise KeyStoreError(f"{where}: unknown KDF {data['name']!r}")
            return cls(bytes.fromhex(data["salt"]), int(data["n"]), int(data["r"]), int(data["p"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise KeyStoreError(f"{where}: malformed KDF parameters ({exc})") from exc


class Sealer:
    """AES-256-GCM under a sealing key derived from a passphrase; wipe it with :meth:`close`."""

    def __init__(self, passphrase: str, params: ScryptParams) -> None:
        if not passphrase:
            raise WrongPassphraseError("an empty passphrase cannot seal or open a key store")
        self.params = params
        self._key = bytearray(SEALING_KEY_LENGTH)
        secret = bytearray(passphrase.encode("utf-8"))
        try:
            Scrypt(params.salt, SEALING_KEY_LENGTH, params.n, params.r, params.p).derive_into(
                secret, self._key
            )
        except (ValueError, MemoryError) as exc:
            raise KeyStoreError(f"scrypt parameters rejected: {exc}") from exc
        finally:
            zeroize(secret)

    def seal(self, plaintext: bytearray | bytes, aad: bytes) -> dict[str, str]:
        """``{"nonce": hex, "ciphertext": hex}`` (ciphertext includes the 16-byte tag)."""
        nonce = os.urandom(NONCE_LENGTH)
        out = bytearray(len(plaintext) + 16)
        AESGCM(self._key).encrypt_into(nonce, plaintext, aad, out)
        return {"nonce": nonce.hex(), "ciphertext": out.hex()}

    def open(self, sealed: Any, aad: bytes, *, what: str) -> bytearray:
        """The plaintext of ``sealed``; :class:`TamperedError` naming ``what`` if it fails."""
        try:
            nonce = bytes.fromhex(sealed["nonce"])
            data = bytes.fromhex(sealed["ciphertext"])
        except (KeyError, TypeError, ValueError) as exc:
            raise TamperedError(f"{what}: malformed sealed value ({exc})") from exc
        if len(data) < 16:
            raise TamperedError(f"{what}: sealed value too short")
        out = bytearray(len(data) - 16)
        try:
            AESGCM(self._key).decrypt_into(nonce, data, aad, out)
        except (InvalidTag, ValueError) as exc:
            zeroize(out)
            raise TamperedError(
                f"{what}: authentication failed; the file was altered after it was written"
            ) from exc
        return out

    def check_value(self) -> dict[str, str]:
        """The sealed check value that lets :meth:`verify_passphrase` tell a wrong passphrase."""
        return self.seal(_CHECK_PLAINTEXT, _CHECK_AAD)

    def verify_passphrase(self, sealed_check: Any, *, where: str) -> None:
        """Raise :class:`WrongPassphraseError` unless this passphrase opens ``sealed_check``."""
        try:
            plain = self.open(sealed_check, _CHECK_AAD, what=where)
        except TamperedError as exc:
            raise WrongPassphraseError(
                f"{where}: wrong passphrase (the passphrase check does not open)"
            ) from exc
        if plain != _CHECK_PLAINTEXT:
            raise WrongPassphraseError(f"{where}: wrong passphrase")

    def close(self) -> None:
        """Wipe the sealing key."""
        zeroize(self._key)
