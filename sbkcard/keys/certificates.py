"""SM2 X.509 certificates (GM/T 0015) and the digital envelope (GM/T 0016, GB/T 35291).

Certificates are built with ``asn1crypto`` and signed SM2-with-SM3 (OID
``1.2.156.10197.1.501``, GM/T 0006) over the TBS with the default identity (GM/T 0009
§10); the subject key is an ``id-ecPublicKey`` on the SM2 curve (``1.2.156.10197.1.301``).
:class:`CertificateAuthority` is a CA for tests and demos: its key signs through Tongsuo
(the ``sm2`` extra), and it issues a card's signing certificate and its encryption key
pair with certificate, the private key sealed in an :class:`EnvelopedKeyBlob` for the
card's signing key.
"""

from __future__ import annotations

import datetime as dt
import secrets
import struct
from dataclasses import dataclass

from asn1crypto import algos, core, x509
from asn1crypto import keys as asn1_keys

from sbkcard.keys import sm2
from sbkcard.keys.ciphers import Algorithm, encrypt_block
from sbkcard.keys.errors import CryptoError
from sbkcard.keys.hashing import sm3

__all__ = [
    "SM2_CURVE",
    "SM2_WITH_SM3",
    "CertificateAuthority",
    "CertificateError",
    "EnvelopedKeyBlob",
    "certificate_public_key",
    "certificate_subject",
    "seeded_random",
    "verify_certificate",
]

SM2_CURVE = "1.2.156.10197.1.301"
SM2_WITH_SM3 = "1.2.156.10197.1.501"
SGD_SM4_ECB = 0x00000401
"""The ulSymmAlgID of SM4 in ECB mode (GM/T 0006 §5.2)."""


def seeded_random(seed: bytes) -> sm2.Random:
    """A reproducible byte source: SM3 in counter mode over ``seed`` (demos and tests only)."""
    state = {"counter": 0}

    def random(count: int) -> bytes:
        out = b""
        while len(out) < count:
            state["counter"] += 1
            out += sm3(seed + state["counter"].to_bytes(8, "big"))
        return out[:count]

    return random


class CertificateError(CryptoError, ValueError):
    """Bytes that are not an SM2 X.509 certificate, or a signature that does not verify."""


def _load(der: bytes) -> x509.Certificate:
    try:
        cert = x509.Certificate.load(bytes(der), strict=True)
        cert.native  # noqa: B018 - parses every field now, not on first use
    except (ValueError, TypeError) as exc:
        raise CertificateError(f"not a DER X.509 certificate ({exc})") from None
    return cert


def certificate_public_key(der: bytes) -> bytes:
    """The subject's SM2 public key ``X ‖ Y`` of a certificate."""
    spki = _load(der)["tbs_certificate"]["subject_public_key_info"]
    params = spki["algorithm"]["parameters"]
    if spki["algorithm"]["algorithm"].native != "ec" or params.chosen.dotted != SM2_CURVE:
        raise CertificateError("the certificate's key is not an SM2 key")
    point = bytes(spki["public_key"].native)
    if len(point) != 65 or point[0] != 0x04:
        raise CertificateError("the certificate's SM2 point is not uncompressed (04 ‖ X ‖ Y)")
    return point[1:]


def certificate_subject(der: bytes) -> str:
    """The subject's name as text (RFC 4514 order, human-readable)."""
    return str(_load(der).subject.human_friendly)


def verify_certificate(der: bytes, issuer_public: bytes) -> bool:
    """Whether the certificate's SM2-with-SM3 signature verifies under ``issuer_public``."""
    cert = _load(der)
    if cert["signature_algorithm"]["algorithm"].dotted != SM2_WITH_SM3:
        return False
    try:
        signature = sm2.signature_raw(bytes(cert["signature_value"].native))
    except CryptoError:
        return False
    return sm2.verify(issuer_public, cert["tbs_certificate"].dump(), signature)


def _spki(public: bytes) -> asn1_keys.PublicKeyInfo:
    curve = asn1_keys.ECDomainParameters(name="named", value=SM2_CURVE)
    algorithm = asn1_keys.PublicKeyAlgorithm({"algorithm": "ec", "parameters": curve})
    return asn1_keys.PublicKeyInfo({"algorithm": algorithm, "public_key": b"\x04" + public})


def _tongsuo_sign(private: bytes, data: bytes) -> bytes:
    """A DER SM2-with-SM3 signature of ``data`` (Z with the default identity) by Tongsuo."""
    try:
        from tongsuopy.crypto import hashes
        from tongsuopy.crypto.asymciphers import ec
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise CryptoError("the CA signs through Tongsuo: pip install 'sbkcard[sm2]'") from exc
    key = ec.derive_private_key(int.from_bytes(private, "big"), ec.SM2())
    return bytes(key.sign(data, ec.ECDSA(hashes.SM3())))


@dataclass(frozen=True)
class EnvelopedKeyBlob:
    """``ENVELOPEDKEYBLOB`` (GM/T 0016 §6.4.10, GB/T 35291): a key pair sealed for a card.

    The encryption private key, SM4-ECB under a session key, the encryption public key,
    and the session key SM2-encrypted (``ECCCIPHERBLOB``: X, Y, HASH, CipherLen,
    Cipher) for the card's signing public key.  ULONGs are little-endian, coordinates
    64 bytes with the 32-byte value right-aligned, as the C structures lay them out.
    """

    encrypted_private: bytes
    public: bytes
    cipher: sm2.Ciphertext
    version: int = 1
    algorithm: int = SGD_SM4_ECB
    bits: int = 256

    def to_bytes(self) -> bytes:
        """The structure's bytes."""
        c = self.cipher
        return (
            struct.pack("<III", self.version, self.algorithm, self.bits)
            + self.encrypted_private.rjust(64, b"\0")
            + struct.pack("<I", 256)
            + self.public[:32].rjust(64, b"\0")
            + self.public[32:].rjust(64, b"\0")
            + c.c1[:32].rjust(64, b"\0")
            + c.c1[32:].rjust(64, b"\0")
            + c.c3
            + struct.pack("<I", len(c.c2))
            + c.c2
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> EnvelopedKeyBlob:
        """Parse the structure; :class:`CertificateError` names what is wrong."""
        fixed = 12 + 64 + 4 + 128 + 128 + 32 + 4
        if len(data) < fixed + 1:
            raise CertificateError(f"envelope: {len(data)} bytes, at least {fixed + 1} expected")
        version, algorithm, bits = struct.unpack_from("<III", data)
        if version != 1 or algorithm != SGD_SM4_ECB or bits != 256:
            raise CertificateError(
                f"envelope: version {version}, algorithm {algorithm:#x}, {bits} bits "
                "(1, SM4-ECB 0x401, 256 expected)"
            )

        def half(offset: int) -> bytes:
            field = data[offset : offset + 64]
            if any(field[:32]):
                raise CertificateError(f"envelope: 64-byte field at {offset} exceeds 32 bytes")
            return field[32:]

        (key_bits,) = struct.unpack_from("<I", data, 76)
        if key_bits != 256:
            raise CertificateError(f"envelope: public key of {key_bits} bits, 256 expected")
        (length,) = struct.unpack_from("<I", data, fixed - 4)
        if length != len(data) - fixed:
            raise CertificateError(
                f"envelope: CipherLen {length}, but {len(data) - fixed} bytes follow"
            )
        return cls(
            encrypted_private=half(12),
            public=half(80) + half(144),
            cipher=sm2.Ciphertext(half(208) + half(272), data[336:368], data[fixed:]),
            version=version,
            algorithm=algorithm,
            bits=bits,
        )


@dataclass
class CertificateAuthority:
    """A CA for tests and demos: its name, SM2 private key and self-signed certificate."""

    name: str
    private: bytes
    certificate: bytes = b""
    serial: int = 1
    random: sm2.Random | None = None
    """``None``: keys and signatures from the OS (signed by Tongsuo); a seeded source
    makes a demo's certificates and envelopes reproducible (signed by :mod:`.sm2`)."""

    def __post_init__(self) -> None:
        if not self.certificate:
            self.certificate = self._build(self.name, self.public, ca=True, encryption=False)

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> CertificateAuthority:
        """A reproducible CA: key, signatures and envelopes from ``seed`` (TEST only)."""
        random = seeded_random(b"sbkcard CA\0" + seed)
        return cls(name, sm2.generate_private(random), random=random)

    @property
    def public(self) -> bytes:
        """The CA's public key ``X ‖ Y``."""
        return sm2.public_key(self.private)

    def _build(self, subject: str, public: bytes, *, ca: bool, encryption: bool) -> bytes:
        sigalg = algos.SignedDigestAlgorithm({"algorithm": SM2_WITH_SM3})
        issuer = x509.Name.build({"country_name": "CN", "common_name": self.name})
        self.serial += 1
        start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        if ca:
            usage = {"key_cert_sign", "crl_sign"}
        elif encryption:
            usage = {"key_encipherment", "data_encipherment"}
        else:
            usage = {"digital_signature", "non_repudiation"}
        extensions = [
            {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": ca}},
            {"extn_id": "key_usage", "critical": True, "extn_value": usage},
        ]
        tbs = x509.TbsCertificate(
            {
                "version": "v3",
                "serial_number": self.serial,
                "signature": sigalg,
                "issuer": issuer,
                "validity": {
                    "not_before": x509.Time(name="utc_time", value=start),
                    "not_after": x509.Time(name="utc_time", value=start.replace(year=2034)),
                },
                "subject": x509.Name.build({"country_name": "CN", "common_name": subject}),
                "subject_public_key_info": _spki(public),
                "extensions": extensions,
            }
        )
        signature = self._sign(tbs.dump())
        cert = x509.Certificate(
            {
                "tbs_certificate": tbs,
                "signature_algorithm": sigalg,
                "signature_value": core.OctetBitString(signature),
            }
        )
        return bytes(cert.dump())

    def _sign(self, data: bytes) -> bytes:
        """A DER SM2-with-SM3 signature of ``data`` by the CA (GM/T 0009 §7)."""
        if self.random is None:
            return _tongsuo_sign(self.private, data)
        e = sm2.digest(self.public, data)
        return sm2.signature_der(sm2.sign_digest(self.private, e, k=sm2.scalar(self.random)))

    def issue_signing(self, subject: str, public: bytes) -> bytes:
        """The signing certificate of ``public`` (a card's key pair made on the card)."""
        sm2.z_value(public)
        return self._build(subject, public, ca=False, encryption=False)

    def issue_encryption(
        self, subject: str, card_signing_public: bytes
    ) -> tuple[bytes, EnvelopedKeyBlob]:
        """A fresh encryption key pair: its certificate and the envelope for the card."""
        random = self.random or secrets.token_bytes
        d = sm2.generate_private(random)
        public = sm2.public_key(d)
        session = random(16)
        blob = EnvelopedKeyBlob(
            encrypt_block(session, d, Algorithm.SM4),
            public,
            sm2.encrypt(card_signing_public, session, k=sm2.scalar(random)),
        )
        return self._build(subject, public, ca=False, encryption=True), blob
