"""PIN, challenge and external authentication (Part 5 §6.4, §6.5, §6.14; Part 7 §5.8, §6).

External authentication uses RKSSSE (KID ``0A``, Part 9 table B1), the key that opens EF07
(and EF06 on 3.00 cards, S3 §10.2); its cryptogram comes from the PSAM through the
terminal (:meth:`Target.cryptogram`).  A test not marked ``destructive`` that makes an
authentication fail on purpose starts and ends with a successful one, which sets the
key's counter back to its maximum (Part 7 §6.6): it spends no try for good.
"""

from __future__ import annotations

import os

import pytest

from sbkcard.apdu import parse_simple_tlv
from sbkcard.applet_model.records import MedicalInsurance
from sbkcard.applet_model.user_card.personalise import DEMO_MEDICAL
from sbkcard.terminal.connection import Connection

from .conftest import Target, applies
from .standard import DF04_AID, SFI_EF07, pin_data

RKSSSE_KID = 0x0A
READ_EF07 = bytes((0x00, 0xB0, 0x80 | SFI_EF07, 0x00, 0x00))
"""READ BINARY of EF07 (fingerprint; RKSSSE, S2 table 3) by SFI (P1 = 100 SFI, Part 5
§6.9), offset 0, Le 00 = up to 256 bytes."""
WRONG_PIN = pin_data("000000")


def _verify(pin: bytes) -> bytes:
    """VERIFY ``00 20 00 00 Lc PIN`` (Part 5 §6.14, table 46)."""
    return bytes((0x00, 0x20, 0x00, 0x00, len(pin))) + pin


def _tries(sw: int) -> int:
    assert sw & 0xFFF0 == 0x63C0, f"{sw:04X} is not 63Cx"
    return sw & 0x0F


def _external_auth(cryptogram: bytes, original: bytes) -> bytes:
    """``00 82 00 0A 10`` auth(8) ‖ original(8) (Part 5 §6.4, table 13)."""
    return bytes((0x00, 0x82, 0x00, RKSSSE_KID, 0x10)) + cryptogram + original


def _challenge(target: Target) -> bytes:
    return target.ok("00 84 00 00 08")


def _authenticated_command(target: Target, conn: Connection) -> bytes:
    """A GET CHALLENGE and the EXTERNAL AUTHENTICATE the PSAM computes for it."""
    original = os.urandom(8)
    cryptogram = target.cryptogram(conn, _challenge(target), original, "RKSSSE")
    return _external_auth(cryptogram, original)


def _protected_reads_refused(target: Target) -> None:
    assert target.sw(READ_EF07) == "6982"
    if target.generation == 3:
        assert target.sw("00 B2 01 35 5B") == "6982"


# -- PIN --------------------------------------------------------------------------------


def test_verify_empty_reports_tries_and_keeps_them(target: Target) -> None:
    """Part 5 §6.14.5: VERIFY without data answers ``63Cx`` (x tries left) when a PIN
    is set, and leaves the counter as it is."""
    target.select_ssse()
    first = target.send("00 20 00 00").sw
    assert first & 0xFFF0 == 0x63C0, f"{first:04X}"
    assert target.send("00 20 00 00").sw == first


def test_right_pin_opens_a_pin_file(target: Target) -> None:
    """S2 table 7: DF04 EF05 reads with "PIN or RK1DF04": ``6982`` before VERIFY; after
    the right PIN (Part 7 §5.8, kept until power-off) the records come back — on our
    cards the documented demo medical data (S2 table 7)."""
    target.select_ssse()
    pin = target.pin()
    assert target.send(b"\x00\xa4\x04\x00\x06" + DF04_AID).sw >> 8 == 0x61
    assert target.sw("00 B2 01 2D 00") == "6982"
    assert target.sw(_verify(pin)) == "9000"
    data = target.read("00 B2 01 2D")
    assert parse_simple_tlv(data)
    if target.simulated:
        assert MedicalInsurance.decode(data) == DEMO_MEDICAL


@pytest.mark.destructive
def test_wrong_pin_decrements_and_right_pin_resets(target: Target) -> None:
    """Part 5 §6.14.5, Part 7 §5.8: a wrong PIN answers ``63Cx`` with one try less (and an
    empty VERIFY then reports it); the right PIN answers ``9000`` and resets the counter."""
    target.select_ssse()
    verify = _verify(WRONG_PIN)
    full = _tries(target.send("00 20 00 00").sw)
    assert full >= 2
    assert _tries(target.send(verify).sw) == full - 1
    assert _tries(target.send("00 20 00 00").sw) == full - 1
    pin = target.pin()
    assert target.sw(_verify(pin)) == "9000"
    assert _tries(target.send("00 20 00 00").sw) == full


@pytest.mark.destructive
def test_pin_blocks_at_zero(target: Target) -> None:
    """Part 5 §6.14.5, Part 7 §5.8: after ``63C0`` the PIN is blocked: VERIFY of the
    right PIN answers ``6983``."""
    target.select_ssse()
    verify = _verify(WRONG_PIN)
    left = _tries(target.send("00 20 00 00").sw)
    while left:
        assert _tries(target.send(verify).sw) == left - 1
        left -= 1
    pin = target.pin()
    assert target.sw(_verify(pin)) == "6983"


@pytest.mark.destructive
@pytest.mark.parametrize("data", ["01 12", "09 123456789012345678"], ids=["lc1", "lc9"])
def test_verify_with_bad_lc_answers_6700(target: Target, data: str) -> None:
    """Part 5 table 46/48: VERIFY's Lc is 00 or 02–08; any other answers ``6700``."""
    target.select_ssse()
    assert target.sw("00 20 00 00 " + data) == "6700"


# -- GET CHALLENGE ----------------------------------------------------------------------


def _get_challenge(target: Target, length: int) -> None:
    """GET CHALLENGE with Le ``length``, twice: that many bytes, new each time."""
    target.select_ssse()
    command = bytes((0x00, 0x84, 0x00, 0x00, length))
    first, second = target.ok(command), target.ok(command)
    assert len(first) == len(second) == length
    assert first != second


@pytest.mark.parametrize("length", [4, 8])
def test_get_challenge_lengths(target: Target, length: int) -> None:
    """Part 5 §6.5 (table 17): GET CHALLENGE with Le 04 or 08 returns that many random
    bytes, new each time."""
    _get_challenge(target, length)


@applies("a 16-byte challenge is for 16-byte-block algorithms", block_size=16)
def test_get_challenge_of_16_bytes(target: Target) -> None:
    """Part 5 §6.5 (table 17), Part 4 §8.4: GET CHALLENGE with Le 10 returns 16 random bytes
    where the algorithm's blocks are 16 bytes, new each time."""
    _get_challenge(target, 16)


# -- EXTERNAL AUTHENTICATE --------------------------------------------------------------


def test_protected_reads_need_credentials(target: Target) -> None:
    """S2 tables 3, 7: EF07 reads under RKSSSE, DF04 EF05 under PIN or RK1DF04, and EF06 of a
    3.00 card under RKSSSE (S3 §10.2): without them the card answers ``6982``."""
    target.select_ssse()
    _protected_reads_refused(target)
    assert target.send(b"\x00\xa4\x04\x00\x06" + DF04_AID).sw >> 8 == 0x61
    assert target.sw("00 B2 01 2D 00") == "6982"


def test_external_auth_with_the_last_challenge_opens_ef07(target: Target) -> None:
    """Part 7 §6.2–6.6: GET CHALLENGE, the PSAM's cryptogram over it, EXTERNAL
    AUTHENTICATE ``00 82 00 0A 10`` → ``9000``; EF07 then reads (256 bytes for Le 00)."""
    with target.session() as conn:
        assert target.sw(_authenticated_command(target, conn)) == "9000"
        assert len(target.ok(READ_EF07)) == 256
        if target.generation == 3:
            assert len(target.ok("00 B2 01 35 5B")) == 0x5B


def test_external_auth_replayed_fails(target: Target) -> None:
    """Part 5 §6.5.1: a challenge serves one use; the same EXTERNAL AUTHENTICATE sent
    again does not pass (no challenge: ``6984``; or a failed attempt: ``63Cx``)."""
    with target.session() as conn:
        command = _authenticated_command(target, conn)
        assert target.sw(command) == "9000"
        replayed = target.send(command).sw
        assert replayed == 0x6984 or replayed & 0xFFF0 == 0x63C0, f"{replayed:04X}"
        conn.authenticate("RKSSSE")


def test_external_auth_over_a_superseded_challenge_fails(target: Target) -> None:
    """Part 7 §6.6: the session key comes from the *last* GET CHALLENGE; a cryptogram over
    an earlier one fails with ``63Cx`` (one try less), and the key stays closed."""
    with target.session() as conn:
        conn.authenticate("RKSSSE")
        original = os.urandom(8)
        stale = target.cryptogram(conn, _challenge(target), original, "RKSSSE")
        _challenge(target)
        left = _tries(target.send(_external_auth(stale, original)).sw)
        assert left >= 1
        _protected_reads_refused(target)
        conn.authenticate("RKSSSE")
        assert len(target.ok(READ_EF07)) == 256


@pytest.mark.destructive
def test_external_auth_without_a_challenge_fails(target: Target) -> None:
    """Part 7 §6.6: with no GET CHALLENGE since power-up there is no session key: the
    card refuses (``6984`` reference data invalid, Part 5 table 16; or ``63Cx``)."""
    target.select_ssse()
    sw = target.send(_external_auth(bytes(8), bytes(8))).sw
    assert sw == 0x6984 or sw & 0xFFF0 == 0x63C0, f"{sw:04X}"


@pytest.mark.destructive
def test_external_auth_counter_locks_the_key(target: Target) -> None:
    """Part 7 §6.6: each failure answers ``63Cx`` with one try less; at zero
    the key is locked and even the right cryptogram answers ``6983``."""
    with target.session() as conn:
        conn.authenticate("RKSSSE")
        wrong = _external_auth(bytes(8), bytes(8))
        _challenge(target)
        left = _tries(target.send(wrong).sw)
        while left:
            _challenge(target)
            assert _tries(target.send(wrong).sw) == left - 1
            left -= 1
        assert target.sw(_authenticated_command(target, conn)) == "6983"


@pytest.mark.destructive
def test_locked_key_answers_6983_before_looking_at_the_challenge(target: Target) -> None:
    """Part 7 §6.6: the card first checks the key's counter; at zero the key is locked
    and the command is not executed (``6983``), whether or not a challenge is waiting."""
    with target.session() as conn:
        conn.authenticate("RKSSSE")
        wrong = _external_auth(bytes(8), bytes(8))
        _challenge(target)
        left = _tries(target.send(wrong).sw)
        for _ in range(left):
            _challenge(target)
            target.send(wrong)
        assert target.sw(wrong) == "6983"


@pytest.mark.destructive
def test_external_auth_with_bad_lc_answers_6700(target: Target) -> None:
    """Part 5 §6.4 (tables 13, 16): Lc is 10 or 11; 0F answers ``6700``."""
    target.select_ssse()
    _challenge(target)
    assert target.sw(bytes((0x00, 0x82, 0x00, RKSSSE_KID, 0x0F)) + bytes(15)) == "6700"


def test_authentication_is_forgotten_at_power_off(target: Target) -> None:
    """Part 7 §6.6: the card remembers a key's authentication "直到断电": after a power
    cycle EF07 answers ``6982`` again."""
    with target.session() as conn:
        conn.authenticate("RKSSSE")
        assert len(target.ok(READ_EF07)) == 256
        target.power_cycle()
        target.select_ssse()
        _protected_reads_refused(target)


def test_authentication_is_kept_when_the_same_application_is_selected(target: Target) -> None:
    """Part 5 §6.11.1: "在当前 DF 未被改变时，该 DF 下的所有安全状态应被保持" — SELECT of
    the SSSE while it is current keeps RKSSSE authenticated."""
    with target.session() as conn:
        conn.authenticate("RKSSSE")
        target.select_ssse()
        assert len(target.ok(READ_EF07)) == 256


def test_authentication_is_forgotten_when_another_application_is_selected(
    target: Target,
) -> None:
    """Part 7 §6.6: … "或选择了其他应用": after SELECT of DF04 and back, EF07 is closed."""
    with target.session() as conn:
        conn.authenticate("RKSSSE")
        assert len(target.ok(READ_EF07)) == 256
        assert target.send(b"\x00\xa4\x04\x00\x06" + DF04_AID).sw >> 8 == 0x61
        target.select_ssse()
        _protected_reads_refused(target)
