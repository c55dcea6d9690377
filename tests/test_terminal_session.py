"""Transport sessions (T=0, traces, removal), key addresses, the key service, the error codes."""

from __future__ import annotations

import pytest
from terminal_support import CARD_ID, CARD_INFO, psam, terminal, user_card

from sbkcard.apdu import CommandAPDU
from sbkcard.apdu import builders as b
from sbkcard.apdu.secure_messaging import unwrap
from sbkcard.applet_model.user_card import PROFILES
from sbkcard.applet_model.user_card.personalise import DEMO_CARD_ID, card_atr
from sbkcard.errors import CardRemovedError, NoCardError, TransportError
from sbkcard.keys import Algorithm
from sbkcard.keys.hierarchy import CARD_KEYS, card_key, demo_keyset, derive_card_keys
from sbkcard.keys.session import auth_data, session_key
from sbkcard.terminal import errors as e
from sbkcard.terminal.connection import parse_fci
from sbkcard.terminal.national.codes import Code, code_for, sw_code
from sbkcard.terminal.operations.pinpad import Pin
from sbkcard.terminal.security.base import CardContext, hsm_address, key_at_address
from sbkcard.terminal.security.hsm import SoftwareKeyService
from sbkcard.terminal.transports.transport import ReaderSession, Trace

# -- the session -------------------------------------------------------------------------


def test_t0_get_response_is_counted_and_traced() -> None:
    card = user_card(3)
    session = ReaderSession(card, trace=Trace())
    assert session.power_on() == card.atr
    fci = session.call(b.select_ssse(), "SELECT SSSE")
    assert session.apdu_count == 2  # SELECT answers 61 1E, then GET RESPONSE
    info = parse_fci(fci)
    assert info.algorithm is Algorithm.SM4 and info.dir_sfi == 0x1E
    assert info.name == bytes.fromhex("7378312E73682EC9E7BBE1B1A3D5CF")
    lines = session.trace.text().splitlines()
    assert len(lines) == 4 and all(line.startswith("card ") for line in lines)
    assert "611E" in lines[1] and "00 C0 00 00 Le=1E" in lines[2]


def test_pins_are_masked_in_the_trace() -> None:
    card = user_card(2)
    session = ReaderSession(card)
    session.power_on()
    session.call(b.select_ssse(), "SELECT")
    assert session.send(b.verify(Pin("123456").reveal())).sw == 0x9000
    text = session.trace.text()
    assert "123456" not in text and "Lc=03 ******" in text


def test_the_trace_names_84_d4_as_each_device_does() -> None:
    """The user card's WRITE KEY and the PSAM's CREATE KEY share ``84 D4 00``."""
    trace = Trace()
    card = ReaderSession(user_card(3), device="card", trace=trace)
    sam = ReaderSession(psam(), device="psam", trace=trace)
    for session in (card, sam):
        session.power_on()
        assert session.send(CommandAPDU(0x84, 0xD4, 0x00, 0x08, bytes(20))).sw != 0x9000
    commands = [line for line in trace.text().splitlines() if " >> " in line]
    assert commands[0].startswith("card ") and commands[0].endswith(
        "; WRITE KEY (sbkcard COS) [data masked]"
    )
    assert commands[1].startswith("psam ") and commands[1].endswith("; CREATE KEY [data masked]")
    assert "0" * 40 not in trace.text()


def test_card_errors_keep_their_status_word() -> None:
    session = ReaderSession(user_card(2))
    session.power_on()
    with pytest.raises(e.CardStatusError) as exc:
        session.call(CommandAPDU(0x00, 0xB2, 0x01, 0x2D, b"", 0x40), "READ RECORD before SELECT")
    assert exc.value.device == "card" and exc.value.command == "READ RECORD before SELECT"
    assert f"{exc.value.sw:04X}" in str(exc.value)


def test_removal_is_its_own_error() -> None:
    card = user_card(2)
    session = ReaderSession(card)
    session.power_on()
    card.remove()
    removed = pytest.raises(CardRemovedError, match="during the hospital visit")
    with session.during("the hospital visit"), removed:
        session.send(b.select_ssse())
    assert isinstance(CardRemovedError("x"), TransportError)
    with pytest.raises(NoCardError, match="no card in the reader"):
        session.power_on()
    session.power_off()  # an absent card is no error here


def test_expected_card_is_checked_against_the_hotlist_before_power(tmp_path: object) -> None:
    from sbkcard.terminal.hotlist import Hotlist

    hotlist = Hotlist()
    hotlist.report("A00000011", CARD_ID, "lost")
    card = user_card(2)
    term = terminal(card, hotlist=hotlist)
    with pytest.raises(e.HotlistedCardError), term.session(expect=(CARD_ID, "A00000011")):
        pass
    assert term.trace.entries == [] and not card.powered
    assert CARD_INFO.startswith(CARD_ID)


# -- key addresses (S3 App. B) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "version", "address"),
    [
        ("RKSSSE", 1, "004C"),
        ("RKSSSE", 2, "004D"),
        ("IRK", 3, "0172"),
        ("STKSSSE", 1, "0173"),
        ("RK1DF04", 1, "0182"),
        ("DPK", 1, "017F"),
        ("DPK", 2, "0199"),
        ("DPK", 3, "019C"),
        ("PUK", 1, "0090"),
        ("UKSSSE", 3, "0096"),
        ("DTK", 2, "00B6"),
    ],
)
def test_hsm_addresses_of_the_standards_tables(name: str, version: int, address: str) -> None:
    assert hsm_address(card_key(name), version) == address
    assert key_at_address(address) == (card_key(name), version)


def test_every_address_maps_back() -> None:
    for spec in CARD_KEYS:
        if spec.hsm_address is None:
            continue
        for version in range(1, spec.versions + 1):
            assert key_at_address(hsm_address(spec, version)) == (spec, version)
    with pytest.raises(ValueError, match="no key"):
        key_at_address("FFFF")


# -- the software key service ------------------------------------------------------------


@pytest.mark.parametrize("generation", [2, 3])
def test_key_service_answers_under_the_cards_own_keys(generation: int) -> None:
    profile = PROFILES[generation]
    atr = card_atr(profile, DEMO_CARD_ID)
    ctx = CardContext(atr, DEMO_CARD_ID.to_bytes(), "A00000011", profile.version, profile.algorithm)
    keys = derive_card_keys(demo_keyset(profile.algorithm), "410100", atr)
    service = SoftwareKeyService()
    factor, original = bytes(range(8)), bytes(range(8, 16))
    expected = auth_data(
        session_key(keys["RK1DF04"], factor, profile.algorithm), original, profile.algorithm
    )
    assert service.auth_data(ctx, "0182", factor, original) == expected
    # a PIN reload block: unwrap() with the card's own STK session key recovers the PIN
    challenge = bytes.fromhex("2AFD6A015D2D9BAC")
    length = 12 if generation == 2 else 20
    header = bytes([0x84, 0x24, 0x00, 0x01, length])
    data = service.secure_message(ctx, "0173", challenge, header, Pin("123456").encode())
    sk = session_key(keys["STKSSSE"], challenge, profile.algorithm)
    plain = unwrap(CommandAPDU(0x84, 0x24, 0x00, 0x01, data), sk, profile.algorithm, encrypted=True)
    assert plain.data == bytes.fromhex("123456")
    with pytest.raises(e.KeyServiceError, match="Lc"):
        service.secure_message(ctx, "0173", challenge, header[:4] + b"\x05", None)
    assert "KCV" in repr(service).upper() and keys["RK1DF04"].hex() not in repr(service)


def test_key_service_without_the_cards_algorithm() -> None:
    service = SoftwareKeyService(demo_keyset(Algorithm.DES))
    ctx = CardContext(
        card_atr(PROFILES[3], DEMO_CARD_ID), DEMO_CARD_ID.to_bytes(), "", "3.00", Algorithm.SM4
    )
    with pytest.raises(e.PsamAlgorithmError):
        service.auth_data(ctx, "0182", bytes(8), bytes(8))
    national_code = code_for(e.PsamAlgorithmError("x"))
    assert national_code[0] == -2202


# -- the error codes (S3 App. A) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("sw", "code"),
    [
        (0x63C0, -25536),
        (0x63C1, -25537),
        (0x63C2, -25538),
        (0x6700, -26368),
        (0x6901, -26881),
        (0x6981, -27009),
        (0x6982, -27010),
        (0x6983, -27011),
        (0x6984, -27012),
        (0x6985, -27013),
        (0x6988, -27016),
        (0x6A80, -27264),
        (0x6A81, -27265),
        (0x6A82, -27266),
        (0x6A83, -27267),
        (0x6A88, -27272),
        (0x9302, -37634),
        (0x9303, -37635),
        (0x9403, -37891),
        (0x9406, -37894),
    ],
)
def test_card_status_words_as_codes(sw: int, code: int) -> None:
    """App. A lists these pairs; the code is -(SW1·256+SW2)."""
    assert sw_code(sw) == code
    got, text = code_for(e.CardStatusError(sw, "X"))
    assert got == code and "未知错误" not in text


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (NoCardError("x"), Code.NO_CARD),
        (CardRemovedError("x"), Code.NO_RESPONSE),
        (TransportError("x"), Code.READER_CONNECT),
        (e.NoPsamError("x"), Code.NO_PSAM),
        (e.PsamAlgorithmError("x"), Code.PSAM_ALGORITHM),
        (e.PsamKeyMissingError("RKSSSE"), Code.PSAM_NO_RKSSSE),
        (e.PsamKeyMissingError("RK1DF04"), -27272),
        (e.PsamLevelError("IRK", "x"), Code.PSAM_LEVEL_TOO_LOW),
        (e.AuthenticityError("x"), Code.INTERNAL_AUTH_FAILED),
        (e.CardMismatchError("x"), Code.DATA_MISMATCH),
        (e.WriteNotDoneError("x"), Code.DATA_MISMATCH),
        (e.InvalidInputError("x"), Code.BAD_PARAMETER),
        (e.PinEntryCancelled("x"), Code.PIN_CANCELLED),
        (e.PinEntryTimeout("x"), Code.PIN_TIMEOUT),
        (e.PinLengthError("x"), Code.PIN_LENGTH),
        (e.PinMismatchError("x"), Code.PIN_MISMATCH),
        (e.WrongPinError(0x63C1, "VERIFY"), Code.PIN_WRONG),
        (e.PinBlockedError(0x6983, "VERIFY"), Code.PIN_LOCKED),
        (e.HotlistedCardError("A", CARD_ID, "lost", "lost"), Code.INTERNAL_AUTH_FAILED),
        (e.HotlistError("x"), Code.LIBRARY_LOAD),
        (e.UnsupportedCardError("x"), Code.WRONG_CARD_TYPE),
    ],
)
def test_every_error_has_its_code(exc: Exception, code: int) -> None:
    got, text = code_for(exc)
    assert got == code and type(got) is int and text


def test_a_bug_is_not_swallowed() -> None:
    with pytest.raises(ZeroDivisionError):
        code_for(ZeroDivisionError())


@pytest.mark.parametrize("generation", [2, 3])
def test_psam_environment_selection_uses_the_cards_algorithm(generation: int) -> None:
    term = terminal(user_card(generation), psam_card=psam())
    with term.session() as conn:
        assert conn.module.kind == "PSAM"
    selected = [
        bytes(entry.exchange.command.data)  # type: ignore[union-attr]
        for entry in term.trace.entries
        if entry.device == "psam" and getattr(entry.exchange.command, "ins", None) == 0xA4
    ]
    mf, ddf1 = (f"sx{n}.sh.社会保障".encode("gbk") for n in (1, 2))
    # the MF is selected at power-up (files 0015, 0016); a DES card's ADF is right below it
    environment = [ddf1] if generation == 3 else []
    assert selected == [mf, *environment, bytes.fromhex("D15600000590")]
