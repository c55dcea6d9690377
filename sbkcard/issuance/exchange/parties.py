"""The two parties of the exchange and their key pairs (Part 10 §6.2.1 items 1, 4).

The standard lets the personalisation data travel under an asymmetric key of more than
1024 bits, the bureau (制卡机构) generating the pair and giving the issuer (发卡方) its
public key (§6.2.1 item 4); §5.3.3 names RSA. Each party here holds two RSA-3072 pairs:
one the other party encrypts to (OAEP-SHA-256), one it signs with (PSS-SHA-256), so
that neither key does both jobs.

- ``NAME.key``: both private keys, PEM PKCS #8, encrypted under the party's passphrase;
- ``NAME.pub``: a JSON file with the name, both public keys (PEM) and the
  fingerprint, SHA-256 over the two DER public keys, that every exchanged file names.

RSA through ``cryptography`` rather than SM2 through ``tongsuopy``: it is a main
dependency and needs no optional wheel on either side, and it is the algorithm the
standard names for this hop.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from sbkcard.errors import SbkcardError

__all__ = [
    "KEY_BITS",
    "ExchangeError",
    "PartyKeys",
    "PublicParty",
    "generate_party",
]

KEY_BITS = 3072
FORMAT = "sbkcard-exchange-party"
_BEGIN = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"


class ExchangeError(SbkcardError):
    """An exchange file or key is refused: the message says which and why."""


_OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


def _der(key: rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _fingerprint(encrypt: rsa.RSAPublicKey, sign: rsa.RSAPublicKey) -> str:
    return hashlib.sha256(_der(encrypt) + _der(sign)).hexdigest()


@dataclass(frozen=True)
class PublicParty:
    """What a party gives the other: its name and public keys."""

    name: str
    encrypt: rsa.RSAPublicKey
    sign: rsa.RSAPublicKey

    @property
    def fingerprint(self) -> str:
        """SHA-256 over both public keys (DER) in hex; files name the party by it."""
        return _fingerprint(self.encrypt, self.sign)

    def wrap(self, content_key: bytes) -> bytes:
        """``content_key`` encrypted to this party (RSA-OAEP-SHA-256)."""
        return self.encrypt.encrypt(content_key, _OAEP)

    def verify(self, signature: bytes, digest: bytes) -> bool:
        """Whether ``signature`` is this party's over the SHA-256 ``digest``."""
        try:
            self.sign.verify(signature, digest, _PSS, Prehashed(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write ``NAME.pub``."""
        document = {
            "format": FORMAT,
            "name": self.name,
            "fingerprint": self.fingerprint,
            "encrypt": _pem(self.encrypt),
            "sign": _pem(self.sign),
        }
        Path(path).write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PublicParty:
        """Read a ``NAME.pub`` file (its fingerprint is checked)."""
        try:
            document = json.loads(Path(path).read_text("utf-8"))
            if document.get("format") != FORMAT:
                raise ValueError("not an exchange public key file")
            encrypt = _public(document["encrypt"])
            sign = _public(document["sign"])
            party = cls(str(document["name"]), encrypt, sign)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ExchangeError(f"public key file {path}: {exc}") from None
        if party.fingerprint != document.get("fingerprint"):
            raise ExchangeError(f"public key file {path}: the fingerprint does not match the keys")
        return party


def _pem(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def _public(text: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(text.encode("ascii"))
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < KEY_BITS:
        raise ValueError(f"expected an RSA public key of at least {KEY_BITS} bits")
    return key


@dataclass(frozen=True)
class PartyKeys:
    """A party's own private keys (and its public side)."""

    name: str
    decrypt: rsa.RSAPrivateKey
    signer: rsa.RSAPrivateKey

    @property
    def public(self) -> PublicParty:
        """The public side, as the other party holds it."""
        return PublicParty(self.name, self.decrypt.public_key(), self.signer.public_key())

    def unwrap(self, wrapped: bytes) -> bytes:
        """A content key encrypted to this party by :meth:`PublicParty.wrap`."""
        return self.decrypt.decrypt(wrapped, _OAEP)

    def sign(self, digest: bytes) -> bytes:
        """RSA-PSS signature over the SHA-256 ``digest``."""
        return self.signer.sign(digest, _PSS, Prehashed(hashes.SHA256()))

    def save(self, path: str | os.PathLike[str], passphrase: str) -> None:
        """Write ``NAME.key``: the party name, then both keys encrypted under ``passphrase``."""
        encryption = serialization.BestAvailableEncryption(passphrase.encode("utf-8"))
        blobs = [
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
            )
            for key in (self.decrypt, self.signer)
        ]
        target = Path(path)
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise ExchangeError(
                f"{target}: {exc.strerror}; a private key is never overwritten"
            ) from None
        with os.fdopen(fd, "wb") as out:
            out.write(f"# {FORMAT} private keys of {self.name}\n".encode())
            out.write(b"".join(blobs))

    @classmethod
    def load(cls, path: str | os.PathLike[str], passphrase: str) -> PartyKeys:
        """Read ``NAME.key`` with ``passphrase``."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ExchangeError(f"private key file {path}: {exc.strerror}") from None
        first, _, rest = data.partition(b"\n")
        prefix = f"# {FORMAT} private keys of ".encode()
        parts = [_BEGIN + p for p in rest.split(_BEGIN)[1:]]
        if not first.startswith(prefix) or len(parts) != 2:
            raise ExchangeError(f"private key file {path}: not an exchange private key file")
        try:
            keys = [
                serialization.load_pem_private_key(p, passphrase.encode("utf-8")) for p in parts
            ]
        except (ValueError, TypeError):
            raise ExchangeError(f"private key file {path}: wrong passphrase or damaged") from None
        decrypt, signer = keys
        assert isinstance(decrypt, rsa.RSAPrivateKey) and isinstance(signer, rsa.RSAPrivateKey)
        return cls(first[len(prefix) :].decode("utf-8"), decrypt, signer)


def generate_party(name: str) -> PartyKeys:
    """Two new RSA-3072 key pairs for the party ``name``."""
    if not name or "\n" in name:
        raise ExchangeError("the party needs a one-line name")
    return PartyKeys(
        name,
        rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS),
        rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS),
    )
