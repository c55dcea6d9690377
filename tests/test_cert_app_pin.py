"""The certificate application's user PIN changed and unblocked (GM/T 0016 SKF_ChangePIN,
SKF_UnblockPIN): the card's refusals, power cuts at every NVM step, and traces."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import pytest

from sbkcard.apdu import CommandAPDU
from sbkcard.apdu.secure_messaging import wrap
from sbkcard.applet_model.cert_app import KIOSK_PROFILE, ThirdGenerationCard, cert_app_content
from sbkcard.applet_model.cert_app.applet import ADMIN_PIN, USER_PIN, pin_hash, pin_record
from sbkcard.applet_model.cert_app.content import pin_bcd
from sbkcard.applet_model.storage import PowerLoss
from sbkcard.applet_model.traces.decode import decode_trace, decoded_text, read_trace
from sbkcard.cli import main
from sbkcard.errors import CardRemovedError
from sbkcard.issuance.certificates import DEMO_ADMIN_PIN
from sbkcard.keys import Algorithm, session_key
from sbkcard.pytest_plugin import DEMO_PIN
from sbkcard.simulator import SimulatedCard, load_image, save_image
from sbkcard.simulator.nvm import JournaledNVM
from sbkcard.terminal.errors import InvalidInputError, PinBlockedError, WrongPinError
from sbkcard.terminal.national.interface import NationalInterface
from sbkcard.terminal.operations import pki
from sbkcard.terminal.terminal import Terminal
from sbkcard.terminal.transports.transport import ReaderSession

P = KIOSK_PROFILE
USER, ADMIN, NEW = "123456", "12345678", "2468013"


def powered(card: SimulatedCard) -> ReaderSession:
    session = ReaderSession(card)
    session.power_on()
    pki.select_application(session, P)
    return session


@pytest.fixture
def card() -> SimulatedCard:
    nvm = JournaledNVM(cert_app_content(USER, ADMIN))
    return SimulatedCard(ThirdGenerationCard(nvm), nvm, b"\x3b\x00", kind="user-card-3")


def lock_user(session: ReaderSession) -> None:
    for _ in range(P.user_tries):
        with contextlib.suppress(WrongPinError, PinBlockedError):
            pki.verify_user_pin(session, P, "000000")


def test_change_replaces_the_pin(card: SimulatedCard) -> None:
    s = powered(card)
    pki.change_user_pin(s, P, USER, NEW)
    assert s.send(CommandAPDU(0x00, 0x2A, 0x9E, 0x9A, data=bytes(32), le=256)).sw == 0x6982
    with pytest.raises(WrongPinError) as old:
        pki.verify_user_pin(s, P, USER)
    assert old.value.tries_left == 2
    pki.verify_user_pin(s, P, NEW)
    assert card.nvm.read(USER_PIN) == pin_record(pin_bcd(NEW), 3)


def test_change_with_a_wrong_pin_spends_a_user_try(card: SimulatedCard) -> None:
    s = powered(card)
    with pytest.raises(WrongPinError) as wrong:
        pki.change_user_pin(s, P, "999999", NEW)
    assert wrong.value.tries_left == 2
    pki.verify_user_pin(s, P, USER)  # unchanged, and its tries back


def test_a_blocked_pin_cannot_be_changed_only_unblocked(card: SimulatedCard) -> None:
    s = powered(card)
    lock_user(s)
    with pytest.raises(PinBlockedError) as blocked:
        pki.change_user_pin(s, P, USER, NEW)
    assert blocked.value.sw == 0x6983
    assert str(blocked.value).endswith(
        ": the administrator PIN unblocks it (GM/T 0016 SKF_UnblockPIN)"
    )
    pki.unblock_user_pin(s, P, ADMIN, NEW)
    assert card.nvm.read(USER_PIN) == pin_record(pin_bcd(NEW), 3)
    assert card.nvm.read(ADMIN_PIN) == pin_record(pin_bcd(ADMIN), 5)
    pki.verify_user_pin(s, P, NEW)


def test_a_wrong_administrator_pin_spends_its_tries_and_locks(card: SimulatedCard) -> None:
    s = powered(card)
    lock_user(s)
    for left in (4, 3, 2, 1):
        with pytest.raises(WrongPinError) as wrong:
            pki.unblock_user_pin(s, P, "87654321", NEW)
        assert wrong.value.tries_left == left
    with pytest.raises(PinBlockedError):
        pki.unblock_user_pin(s, P, "87654321", NEW)
    with pytest.raises(PinBlockedError) as locked:
        pki.unblock_user_pin(s, P, ADMIN, NEW)  # a locked administrator PIN unblocks nothing
    assert locked.value.sw == 0x6983
    assert "administrator PIN unblocks" not in str(locked.value)
    assert card.nvm.read(USER_PIN) == bytes((0, 3)) + pin_hash(pin_bcd(USER))


def _sent(s: ReaderSession, header: bytes, pin: str, body: bytes) -> int:
    """``header`` with ``body`` enciphered and MACed under ``pin``'s session key."""
    challenge = s.call(CommandAPDU(0x00, 0x84, 0x00, 0x00, le=8), "GET CHALLENGE")
    key = session_key(pin_hash(pin_bcd(pin))[:16], challenge, Algorithm.SM4)
    command = CommandAPDU(header[0], header[1], header[2], header[3], data=body)
    return s.send(wrap(command, key, Algorithm.SM4, encrypt=True)).sw


@pytest.mark.parametrize(
    "body", [b"\x12\x3a\x56", b"\x12\x34\xf6", b"\x12", bytes.fromhex("123456789012345678")]
)
def test_a_malformed_new_pin_is_refused_and_the_tries_kept(
    card: SimulatedCard, body: bytes
) -> None:
    s = powered(card)
    assert _sent(s, P.change_user, USER, body) == 0x6A80
    assert _sent(s, P.unblock_user, ADMIN, body) == 0x6A80
    assert card.nvm.read(USER_PIN) == pin_record(pin_bcd(USER), 3)
    assert card.nvm.read(ADMIN_PIN) == pin_record(pin_bcd(ADMIN), 5)
    assert _sent(s, P.change_user, USER, bytes.fromhex("12345678901234")) == 0x9000


def test_malformed_commands(card: SimulatedCard) -> None:
    s = powered(card)
    body = "14" + "00" * 20
    assert s.send(CommandAPDU.from_hex("845E0181" + body)).sw == 0x6985  # no challenge
    assert s.send(CommandAPDU.from_hex("84240181" + body)).sw == 0x6985
    s.call(CommandAPDU(0x00, 0x84, 0x00, 0x00, le=8), "GET CHALLENGE")
    assert s.send(CommandAPDU.from_hex("845E018110" + "00" * 16)).sw == 0x6700
    s.call(CommandAPDU(0x00, 0x84, 0x00, 0x00, le=8), "GET CHALLENGE")
    assert s.send(CommandAPDU.from_hex("8424018114" + "00" * 20)).sw == 0x63C4  # MAC wrong
    assert s.send(CommandAPDU.from_hex("84240182" + body)).sw == 0x6A86
    with pytest.raises(InvalidInputError, match="new user PIN"):
        pki.change_user_pin(s, P, USER, "12a4")


def _torn(card: SimulatedCard, steps: int, operation: str) -> bool:
    """``operation`` with the power cut after ``steps`` NVM steps; whether it was cut."""
    s = powered(card)
    if operation == "unblock":
        lock_user(s)
    card.nvm.cut_power_after(steps)
    try:
        if operation == "change":
            pki.change_user_pin(s, P, USER, NEW)
        elif operation == "unblock":
            pki.unblock_user_pin(s, P, ADMIN, NEW)
        else:
            pki.change_admin_pin(s, P, ADMIN, NEW)
    except (CardRemovedError, PowerLoss):
        card.power_on()
        return True
    card.nvm.cancel_power_cut()
    return False


@pytest.mark.parametrize("operation", ["change", "unblock", "admin"])
def test_a_pin_change_cut_at_any_step_leaves_the_old_or_the_new_pin(operation: str) -> None:
    """Power cut at every NVM step of the command: after power-up the record holds the
    old PIN or the new one, whole, and that PIN verifies."""
    outcomes = set()
    for steps in range(12):
        nvm = JournaledNVM(cert_app_content(USER, ADMIN))
        card = SimulatedCard(ThirdGenerationCard(nvm), nvm, b"\x3b\x00", kind="user-card-3")
        cut = _torn(card, steps, operation)
        key, tries = (ADMIN_PIN, 5) if operation == "admin" else (USER_PIN, 3)
        old = ADMIN if operation == "admin" else USER
        record = card.nvm.read(key)
        assert record is not None and record[1] == tries
        stored = record[2:]
        assert stored in (pin_hash(pin_bcd(old)), pin_hash(pin_bcd(NEW)))
        is_new = stored == pin_hash(pin_bcd(NEW))
        if is_new:
            assert record[0] == tries  # the new PIN comes with all its tries
        outcomes.add((cut, is_new))
        s = powered(card)
        if operation == "admin":
            pki.verify_admin_pin(s, P, NEW if is_new else old)
        elif is_new or operation == "change":
            pki.verify_user_pin(s, P, NEW if is_new else old)
        admin = card.nvm.read(ADMIN_PIN)
        assert admin is not None and admin[2:] in (
            pin_hash(pin_bcd(ADMIN)),
            pin_hash(pin_bcd(NEW)),
        )
    assert outcomes == {(True, False), (True, True), (False, True)}


def test_traces_mask_and_name_the_pin_commands(card: SimulatedCard) -> None:
    s = powered(card)
    pki.change_user_pin(s, P, USER, NEW)
    pki.unblock_user_pin(s, P, ADMIN, USER)
    text = s.trace.text()
    lines = [line for line in text.splitlines() if "84 5E 01 81" in line or "84 24 01 81" in line]
    assert len(lines) == 2 and all("[data masked]" in line for line in lines)
    decoded = decoded_text(decode_trace(read_trace(text)))
    assert "CHANGE user PIN" in decoded and "UNBLOCK user PIN" in decoded
    assert "under the administrator PIN (masked)" in decoded


def test_the_command_line_revives_a_locked_card(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """A card whose user PIN locked signs again after ``sbkcard pin cert-unblock``; the
    PINs come from --pin-file and appear in no output and no log record."""
    caplog.set_level(logging.DEBUG)
    image, pins = tmp_path / "card.json", tmp_path / "pins"
    assert main(["card", "new", "--profile", "3", "--out", str(image)]) == 0
    locked = load_image(image)
    national = NationalInterface(Terminal(card_reader=locked))
    for _ in range(P.user_tries):
        national.PKI_SignData("000000", "x", 1)
    assert national.PKI_SignData(DEMO_PIN, "x", 1)[0] == -52
    save_image(locked, image)
    capsys.readouterr()

    pins.write_text("87654321\n975310\n975310\n")
    assert main(["pin", "cert-unblock", "--card", str(image), "--pin-file", str(pins)]) == 1
    pins.write_text(f"{DEMO_ADMIN_PIN}\n975310\n975310\n")
    assert main(["pin", "cert-unblock", "--card", str(image), "--pin-file", str(pins)]) == 0
    pins.write_text("975310\n86420\n86420\n")
    assert (
        main(["pin", "cert-change", "--card", str(image), "--pin-file", str(pins), "--json"]) == 0
    )
    out = capsys.readouterr()
    assert '"operation": "cert-change"' in out.out and "4 tries left" in out.err
    for secret in ("87654321", DEMO_ADMIN_PIN, "975310", "86420"):
        assert secret not in out.out + out.err + caplog.text

    card = load_image(image)
    code, signature = NationalInterface(Terminal(card_reader=card)).PKI_SignData("86420", "x", 1)
    assert code == 0 and len(signature) == 129

    second = tmp_path / "second.json"  # a second-generation card has no such PIN
    assert main(["card", "new", "--profile", "2", "--out", str(second)]) == 0
    capsys.readouterr()
    pins.write_text("")  # refused before any PIN is asked for
    assert main(["pin", "cert-change", "--card", str(second), "--pin-file", str(pins)]) == 1
    assert capsys.readouterr().err == (
        "sbkcard: error: card answered 6A82 to SELECT PKI (file not found): the card has no "
        "certificate application (a third-generation card's, LD/T 6001.5 §7)\n"
    )
