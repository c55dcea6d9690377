"""SM2 (GM/T 0003) and SM2 certificates, checked against two independent
implementations: gmssl (pure Python) and Tongsuo (through tongsuopy)."""

from __future__ import annotations

import pytest
from asn1crypto import x509
from gmssl import sm2 as gmssl_sm2
from hypothesis import given, settings
from hypothesis import strategies as st
from tongsuopy.crypto import hashes
from tongsuopy.crypto.asymciphers import ec

from sbkcard.keys import sm2
from sbkcard.keys.certificates import (
    CertificateAuthority,
    CertificateError,
    certificate_public_key,
    seeded_random,
    verify_certificate,
)
from sbkcard.keys.errors import CryptoError

D = sm2.generate_private(seeded_random(b"test key"))
PUBLIC = sm2.public_key(D)


def _gmssl() -> gmssl_sm2.CryptSM2:
    return gmssl_sm2.CryptSM2(private_key=D.hex(), public_key=PUBLIC.hex(), mode=1)


def test_public_key_matches_tongsuo() -> None:
    key = ec.derive_private_key(int.from_bytes(D, "big"), ec.SM2())
    numbers = key.public_key().public_numbers()
    assert numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big") == PUBLIC


@settings(max_examples=20, deadline=None)
@given(st.binary(max_size=300))
def test_signatures_cross_verify(message: bytes) -> None:
    ours = sm2.sign_digest(D, sm2.digest(PUBLIC, message))
    assert _gmssl().verify_with_sm3(ours.hex(), message)
    tongsuo = ec.derive_private_key(int.from_bytes(D, "big"), ec.SM2())
    tongsuo.public_key().verify(sm2.signature_der(ours), message, ec.ECDSA(hashes.SM3()))
    theirs = tongsuo.sign(message, ec.ECDSA(hashes.SM3()))
    assert sm2.verify(PUBLIC, message, sm2.signature_raw(theirs))
    assert sm2.verify(PUBLIC, message, bytes.fromhex(_gmssl().sign_with_sm3(message)))
    assert not sm2.verify(PUBLIC, message + b"x", ours)


@settings(max_examples=20, deadline=None)
@given(st.binary(min_size=1, max_size=100))
def test_encryption_cross_decrypts(message: bytes) -> None:
    ours = bytes(sm2.encrypt(PUBLIC, message))
    assert _gmssl().decrypt(ours[1:]) == message
    theirs = _gmssl().encrypt(message)
    assert sm2.decrypt(D, sm2.Ciphertext.from_bytes(theirs)) == message


def test_altered_ciphertext_and_bad_keys() -> None:
    c = sm2.encrypt(PUBLIC, b"0123456789abcdef")
    with pytest.raises(sm2.SM2DecryptionError, match="C3"):
        sm2.decrypt(D, sm2.Ciphertext(c.c1, c.c3, bytes([c.c2[0] ^ 1]) + c.c2[1:]))
    with pytest.raises(sm2.SM2DecryptionError, match="not on the SM2 curve"):
        sm2.decrypt(D, sm2.Ciphertext(bytes(64), c.c3, c.c2))
    with pytest.raises(CryptoError, match="64 bytes"):
        sm2.z_value(b"\x01" * 10)
    with pytest.raises(CryptoError, match="range"):
        sm2.public_key(bytes(32))
    with pytest.raises(CryptoError):
        sm2.signature_raw(b"\x30\x03\x02\x01")


@given(st.integers(1, sm2.N - 1), st.integers(1, sm2.N - 1))
def test_der_round_trip(r: int, s: int) -> None:
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert sm2.signature_raw(sm2.signature_der(raw)) == raw


@pytest.mark.parametrize("seeded", [True, False])
def test_certificates_verify_independently(seeded: bool) -> None:
    """Both signing paths (seeded: this package; default: Tongsuo) give certificates
    whose signature gmssl accepts over the TBS."""
    ca = (
        CertificateAuthority.from_seed("test CA", b"x")
        if seeded
        else CertificateAuthority("test CA", sm2.generate_private())
    )
    cert = ca.issue_signing("holder", PUBLIC)
    assert certificate_public_key(cert) == PUBLIC
    assert verify_certificate(cert, ca.public) and verify_certificate(ca.certificate, ca.public)
    assert not verify_certificate(cert, PUBLIC)
    parsed = x509.Certificate.load(cert)
    signature = sm2.signature_raw(bytes(parsed["signature_value"].native))
    independent = gmssl_sm2.CryptSM2(private_key="", public_key=ca.public.hex(), mode=1)
    assert independent.verify_with_sm3(signature.hex(), parsed["tbs_certificate"].dump())
    with pytest.raises(CertificateError):
        certificate_public_key(cert[:-5])
