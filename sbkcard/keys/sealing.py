"""Secrets at rest under a passphrase: scrypt, then AES-256-GCM (Part 10 §6.3.3 item 5).

Used by the software key store and by the custodians' component and share files. The
passphrase goes through scrypt (memory-hard: N = 2^15, r = 8, p = 1 takes 32 MiB) to a
256-bit sealing key; every secret is sealed with AES-256-GCM under a fresh 96-bit nonce
with its clear metadata as associated data, so that editing a label, a KCV or a
parameter is detected. A fixed *check* value sealed the same way tells a wrong
passphrase apart from a tampered file, and a digest over the KDF parameters and that
check value (:func:`header_digest`) tells an altered salt, N, r, p or check value apart
from a wrong passphrase. The digest is unkeyed: it catches an edit, not a forger who
recomputes it (who then gets "wrong passphrase", and is still refused).

A *new* store or part file must meet :data:`POLICY` (:func:`check_new_passphrase`, and
N ≥ 2^15 in :meth:`ScryptParams.fresh`): at the floor one core tries about 10
passphrases a second, at N = 2 about 65 000. Existing files keep opening whatever
their passphrase and N (Part 10 §6.3.3 item 5: keys protected at rest).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from sbkcard.keys.store import (
    KeyStoreError,
    TamperedError,
    WeakPassphraseError,
    WrongPassphraseError,
)
from sbkcard.keys.zeroize import zeroize

__all__ = [
    "MIN_DISTINCT_CHARACTERS",
    "MIN_PASSPHRASE_LENGTH",
    "POLICY",
    "SCRYPT_N",
    "ScryptParams",
    "Sealer",
    "check_new_passphrase",
    "check_scrypt_n",
    "header_digest",
    "verify_header",
]

SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
SALT_LENGTH = 16
NONCE_LENGTH = 12
SEALING_KEY_LENGTH = 32
_CHECK_PLAINTEXT = b"sbkcard sealing-key check"
_CHECK_AAD = b"sbkcard passphrase check v1"
_HEADER_DIGEST = b"sbkcard KDF header v1\x00"
MIN_PASSPHRASE_LENGTH = 12
MIN_DISTINCT_CHARACTERS = 5
POLICY = (
    f"at least {MIN_PASSPHRASE_LENGTH} characters not counting spaces at either end, "
    f"of which at least {MIN_DISTINCT_CHARACTERS} different, and scrypt N at least 2^15"
)
"""The policy for a new key store or custodian part file, as error messages state it."""


def check_new_passphrase(passphrase: str, *, where: str) -> None:
    """:class:`WeakPassphraseError` unless ``passphrase`` meets :data:`POLICY`.

    The message says what is short and what the policy is; never the passphrase.
    """
    core = passphrase.strip()
    if len(core) < MIN_PASSPHRASE_LENGTH:
        reason = f"{len(core)} characters" if core else "it is empty or only spaces"
    elif len(set(core)) < MIN_DISTINCT_CHARACTERS:
        reason = f"only {len(set(core))} different characters"
    else:
        return
    raise WeakPassphraseError(f"{where}: passphrase refused ({reason}); the policy is {POLICY}")


def check_scrypt_n(n: int) -> None:
    """Refuse a scrypt N for a new file that is not a power of two or is below 2^15."""
    if n < 2 or n & (n - 1):
        raise KeyStoreError(f"scrypt N must be a power of two, not {n}")
    if n < SCRYPT_N:
        raise WeakPassphraseError(
            f"scrypt N = {n} is below the floor of {SCRYPT_N} (2^15); the policy is {POLICY}"
        )


def header_digest(params: ScryptParams, check: Any) -> str:
    """SHA-256 (hex) over the KDF parameters and the sealed check value, as stored."""
    header = {"kdf": params.to_json(), "check": check}
    text = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(_HEADER_DIGEST + text.encode()).hexdigest()


def verify_header(params: ScryptParams, check: Any, recorded: Any, *, where: str) -> None:
    """:class:`TamperedError` when ``recorded`` is not :func:`header_digest` of the file."""
    if recorded != header_digest(params, check):
        raise TamperedError(
            f"{where}: the KDF parameters (salt, N, r, p) or the passphrase check were "
            "altered after the file was written (tampering, not a wrong passphrase)"
        )


@dataclass(frozen=True)
class ScryptParams:
    """The scrypt parameters, stored in clear beside the sealed data."""

    salt: bytes
    n: int = SCRYPT_N
    r: int = SCRYPT_R
    p: int = SCRYPT_P

    @classmethod
    def fresh(cls, n: int = SCRYPT_N) -> ScryptParams:
        """New parameters with a random salt; N below 2^15 is refused (:data:`POLICY`)."""
        check_scrypt_n(n)
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
