"""The certificate application on the simulated card: commands, PINs, keys, envelope,
tearing, selection beside the SSSE and a bank application, and bad input."""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sbkcard.apdu import CommandAPDU
from sbkcard.applet_model.cert_app import KIOSK_PROFILE, ThirdGenerationCard, cert_app_content
from sbkcard.applet_model.cert_app.applet import file_key, secret_key
from sbkcard.applet_model.cert_app.financial import PBOC_AID, PSE_NAME, financial_content
from sbkcard.applet_model.storage import PowerLoss
from sbkcard.cli import main
from sbkcard.errors import CardRemovedError
from sbkcard.issuance.certificates import demo_ca
from sbkcard.keys import Algorithm, encrypt_block, sm2
from sbkcard.keys.certificates import CertificateAuthority, EnvelopedKeyBlob
from sbkcard.pytest_plugin import DEMO_PIN
from sbkcard.simulator import SimulatedCard, load_image
from sbkcard.simulator.nvm import JournaledNVM
from sbkcard.terminal.errors import (
    CardMismatchError,
    CardStatusError,
    PinBlockedError,
    WrongPinError,
)
from sbkcard.terminal.operations import pki
from sbkcard.terminal.transports.transport import ReaderSession

P = KIOSK_PROFILE
ADMIN = "12345678"


def make_card() -> SimulatedCard:
    nvm = JournaledNVM({**cert_app_content(DEMO_PIN, ADMIN), **financial_content()})
    return SimulatedCard(
        ThirdGenerationCard(nvm), nvm, bytes.fromhex("3B6D0000"), kind="user-card-3"
    )


@pytest.fixture
def session() -> ReaderSession:
    s = ReaderSession(make_card())
    s.power_on()
    pki.select_application(s, P)
    return s


def sw(s: ReaderSession, hex_apdu: str) -> int:
    return s.send(CommandAPDU.from_hex(hex_apdu)).sw


def test_private_keys_are_never_readable(session: ReaderSession) -> None:
    pki.verify_admin_pin(session, P, ADMIN)
    pki.generate_signing_key(session, P)
    assert sw(session, "00A40200020013") == 0x9000
    assert sw(session, "00B0000020") == 0x6982
    assert sw(session, "00B0930020") == 0x6982  # by SFI 13
    assert sw(session, "00B0950020") == 0x6982
    assert sw(session, "00D6000002AABB") == 0x6982


def test_sign_before_key_generation_and_without_pin(session: ReaderSession) -> None:
    e = "20" + "11" * 32
    assert sw(session, "002A9E9A" + e + "00") == 0x6982  # no PIN yet
    pki.verify_user_pin(session, P, DEMO_PIN)
    assert sw(session, "002A9E9A" + e + "00") == 0x6A88  # no key pair
    with pytest.raises(pki.NoKeyPairError):
        pki.read_public_key(session, P)
    assert sw(session, "002A9E9A1F" + "11" * 31 + "00") == 0x6700


def test_user_pin_counts_down_and_locks(session: ReaderSession) -> None:
    for left in (2, 1):
        with pytest.raises(WrongPinError) as wrong:
            pki.verify_user_pin(session, P, "654321")
        assert wrong.value.tries_left == left
    with pytest.raises(PinBlockedError):
        pki.verify_user_pin(session, P, "654321")
    with pytest.raises(PinBlockedError):
        pki.verify_user_pin(session, P, DEMO_PIN)  # blocked: the right PIN no longer helps


def test_right_pin_restores_the_tries(session: ReaderSession) -> None:
    with pytest.raises(WrongPinError):
        pki.verify_user_pin(session, P, "000000")
    pki.verify_user_pin(session, P, DEMO_PIN)
    with pytest.raises(WrongPinError) as wrong:
        pki.verify_user_pin(session, P, "000000")
    assert wrong.value.tries_left == 2


def test_verify_needs_a_fresh_challenge(session: ReaderSession) -> None:
    assert sw(session, "0020018110" + "00" * 16) == 0x6985


def test_issuance_and_signature(session: ReaderSession) -> None:
    ca = CertificateAuthority.from_seed("test CA", b"t")
    pki.verify_admin_pin(session, P, ADMIN)
    public = pki.generate_signing_key(session, P)
    cert = ca.issue_signing("holder", public)
    pki.write_certificate(session, P, P.sign_certificate, cert, public)
    assert pki.read_certificate(session, P) == cert
    pki.verify_user_pin(session, P, DEMO_PIN)
    signature, signer = pki.sign(session, P, b"data" * 100)
    assert signer == public and sm2.verify(public, b"data" * 100, signature)


def test_certificate_for_another_key_is_refused(session: ReaderSession) -> None:
    pki.verify_admin_pin(session, P, ADMIN)
    public = pki.generate_signing_key(session, P)
    other = sm2.public_key(sm2.generate_private())
    cert = demo_ca().issue_signing("someone else", other)
    with pytest.raises(CardMismatchError):
        pki.write_certificate(session, P, P.sign_certificate, cert, public)
    assert pki.read_certificate(session, P) == b""  # nothing written


def test_envelope_import(session: ReaderSession) -> None:
    ca = CertificateAuthority.from_seed("test CA", b"t")
    pki.verify_admin_pin(session, P, ADMIN)
    public = pki.generate_signing_key(session, P)
    _, blob = ca.issue_encryption("holder", public)
    assert EnvelopedKeyBlob.from_bytes(blob.to_bytes()) == blob
    pki.import_envelope(session, P, blob)
    assert pki.read_public_key(session, P, P.enc_public) == blob.public


def test_malformed_envelopes(session: ReaderSession) -> None:
    ca = CertificateAuthority.from_seed("test CA", b"t")
    pki.verify_admin_pin(session, P, ADMIN)
    public = pki.generate_signing_key(session, P)
    _, blob = ca.issue_encryption("holder", public)
    c = blob.cipher
    altered = c.c1 + c.c3 + bytes([c.c2[0] ^ 1]) + c.c2[1:]
    assert sw(session, "804E0001" + f"{len(altered):02X}" + altered.hex()) == 0x6A80
    assert sw(session, "804E000110" + "00" * 16) == 0x6700
    assert sw(session, "804A0210") == 0x6985  # no envelope opened
    wrong_key = dataclasses.replace(blob, encrypted_private=bytes(32))
    with pytest.raises(CardStatusError) as refused:
        pki.import_envelope(session, P, wrong_key)
    assert refused.value.sw == 0x6A80
    assert pki.read_public_key(session, P, P.sign_public) == public
    with pytest.raises(pki.NoKeyPairError):
        pki.read_public_key(session, P, P.enc_public)
    with pytest.raises(ValueError, match="CipherLen"):
        EnvelopedKeyBlob.from_bytes(blob.to_bytes() + b"\0")


def test_commands_need_the_administrator(session: ReaderSession) -> None:
    assert sw(session, "8040000008C0020012C2020013") == 0x6982
    assert sw(session, "00A40200020018") == 0x9000
    assert sw(session, "00D6000002AABB") == 0x6982
    assert sw(session, "002001000412345679") == 0x63C4


def _administrator() -> tuple[SimulatedCard, ReaderSession]:
    """A powered card in the application, the administrator PIN verified."""
    card = make_card()
    s = ReaderSession(card)
    s.power_on()
    pki.select_application(s, P)
    pki.verify_admin_pin(s, P, ADMIN)
    return card, s


def _torn(card: SimulatedCard, s: ReaderSession, steps: int, command: CommandAPDU) -> None:
    """``command`` with the power cut after ``steps`` write steps; then power-up."""
    card.nvm.cut_power_after(steps)
    with contextlib.suppress(CardRemovedError, PowerLoss):
        s.send(command)
    card.power_on()


@pytest.mark.parametrize("steps", range(6))
def test_key_generation_is_tearing_safe(steps: int) -> None:
    card, s = _administrator()
    _torn(card, s, steps, CommandAPDU.from_hex("8040000008C0020012C2020013"))
    public = card.nvm.read(file_key(P.sign_public))
    private = card.nvm.read(secret_key(P.sign_private))
    assert (public == bytes(64) and private is None) or (
        private is not None and public == sm2.public_key(private)
    )


def test_bank_application_reached_only_by_its_own_names(tmp_path: Path) -> None:
    assert main(["card", "new", "--profile", "3", "--out", str(tmp_path / "c.json")]) == 0
    s = ReaderSession(load_image(tmp_path / "c.json"))
    s.power_on()
    fci = s.call(CommandAPDU(0x00, 0xA4, 0x04, 0x00, data=PSE_NAME, le=256), "SELECT PSE")
    assert PSE_NAME in fci
    directory = s.call(CommandAPDU(0x00, 0xB2, 0x01, 0x0C, le=256), "READ RECORD")
    assert PBOC_AID in directory
    assert PBOC_AID in s.call(CommandAPDU(0x00, 0xA4, 0x04, 0x00, data=PBOC_AID), "SELECT")
    ssse = b"sx1.sh.\xc9\xe7\xbb\xe1\xb1\xa3\xd5\xcf"
    assert s.send(CommandAPDU(0x00, 0xA4, 0x04, 0x00, data=ssse, le=256)).sw == 0x9000
    answer = s.send(CommandAPDU(0x00, 0xB2, 0x01, 0x0C, le=256))
    assert PBOC_AID not in answer.data and answer.sw != 0x9000


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=0, max_size=40))
def test_any_bytes_get_a_status_word(apdu: bytes) -> None:
    card = ThirdGenerationCard(JournaledNVM(cert_app_content(DEMO_PIN, ADMIN)))
    card.process(b"\x00\xa4\x04\x00\x0c" + P.adf_name)
    answer = card.process(apdu)
    assert len(answer) >= 2 and answer[-2:] != b"\x6f\x00"


def test_pin_hash_is_bound_to_the_session(session: ReaderSession) -> None:
    """The hash a trace shows differs at every call and verifies only its own session."""
    command = CommandAPDU.from_hex("80C4010305C10312345600")
    first = session.call(command, "PIN HASH")
    second = session.call(command, "PIN HASH")
    assert first != second and len(first) == 32
    challenge = session.call(CommandAPDU(0x00, 0x84, 0x00, 0x00, le=16), "GET CHALLENGE")
    replayed = encrypt_block(first[:16], challenge, Algorithm.SM4)  # the older hash
    assert session.send(CommandAPDU(0x00, 0x20, 0x01, 0x81, data=replayed)).sw == 0x63C2


def test_administrator_pin_change(session: ReaderSession) -> None:
    with pytest.raises(WrongPinError) as wrong:
        pki.change_admin_pin(session, P, "00000000", "87654321")  # MAC under a wrong PIN
    assert wrong.value.tries_left == 4
    pki.change_admin_pin(session, P, ADMIN, "87654321")
    with pytest.raises(WrongPinError) as old:
        pki.verify_admin_pin(session, P, ADMIN)
    assert old.value.tries_left == 4  # the new PIN starts with all its tries
    pki.verify_admin_pin(session, P, "87654321")
    assert sw(session, "845E01000612345678AABB") == 0x6985  # no challenge first


def test_oversized_and_misplaced_certificate_writes(session: ReaderSession) -> None:
    pki.verify_admin_pin(session, P, ADMIN)
    assert sw(session, "00A40200020018") == 0x9000
    assert sw(session, "00D6000071" + "00" * 0x71) == 0x6700  # over the 0x70 chunk
    assert sw(session, "00D607F002AABB") == 0x9000  # the last bytes of the 2048-byte file
    assert sw(session, "00D607FF02AABB") == 0x6B00  # past its end
    assert sw(session, "00B0080010") == 0x6B00


@pytest.mark.parametrize("steps", range(6))
def test_envelope_import_is_tearing_safe(steps: int) -> None:
    card, s = _administrator()
    public = pki.generate_signing_key(s, P)
    _, blob = CertificateAuthority.from_seed("test CA", b"t").issue_encryption("x", public)
    c = blob.cipher
    s.call(CommandAPDU.from_bytes(P.envelope + bytes((112,)) + c.c1 + c.c3 + c.c2), "ENVELOPE")
    s.call(CommandAPDU.from_bytes(P.session_key), "SESSION KEY")
    s.call(CommandAPDU.from_bytes(P.import_public + b"\x42\xca\x40" + blob.public), "PUBLIC")
    private = P.import_private + b"\x22\xcb\x20" + blob.encrypted_private[-32:]
    _torn(card, s, steps, CommandAPDU.from_bytes(private))
    stored_public = card.nvm.read(file_key(P.enc_public))
    stored_private = card.nvm.read(secret_key(P.enc_private))
    assert (stored_public == bytes(64) and stored_private is None) or (
        stored_private is not None and stored_public == blob.public
    )
