"""Command and response APDUs: cases 1–4, short/extended, round trips, precise errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sbkcard.apdu import ApduFormatError, Case, CommandAPDU, ResponseAPDU, StatusWordError
from sbkcard.errors import SbkcardError

SSSE = "7378312E73682EC9E7BBE1B1A3D5CF"

byte = st.integers(0, 255)


@st.composite
def commands(draw: st.DrawFn) -> CommandAPDU:
    data = draw(st.binary(max_size=300) | st.binary(min_size=65000, max_size=65535).filter(bool))
    le = draw(st.none() | st.integers(1, 256) | st.integers(1, 65536))
    return CommandAPDU(
        draw(byte),
        draw(byte),
        draw(byte),
        draw(byte),
        data,
        le,
        force_extended=draw(st.booleans()),
    )


@given(commands())
def test_every_valid_command_round_trips(cmd: CommandAPDU) -> None:
    raw = bytes(cmd)
    back = CommandAPDU.from_bytes(raw)
    assert back == cmd
    assert bytes(back) == raw
    assert back.case == cmd.case
    assert back.extended == cmd.extended


@given(st.binary(max_size=300))
def test_any_bytes_parse_exactly_or_raise_apdu_format_error(raw: bytes) -> None:
    try:
        cmd = CommandAPDU.from_bytes(raw)
    except ApduFormatError as exc:
        assert isinstance(exc, SbkcardError) and isinstance(exc, ValueError)
        assert exc.reason
    else:
        assert bytes(cmd) == raw


@given(st.binary(min_size=5, max_size=12).map(lambda b: b[:4] + b"\x00" + b[5:]))
def test_extended_prefix_bytes_parse_or_raise(raw: bytes) -> None:
    try:
        cmd = CommandAPDU.from_bytes(raw)
    except ApduFormatError:
        return
    assert bytes(cmd) == raw


@pytest.mark.parametrize(
    ("hexa", "case", "extended", "lc", "le"),
    [
        ("00A40000", Case.NO_DATA_NO_LE, False, None, None),
        ("0084000004", Case.LE_ONLY, False, None, 4),
        ("00B0850000", Case.LE_ONLY, False, None, 256),
        ("00A4020002EF05", Case.DATA_ONLY, False, 2, None),
        ("00A404000F" + SSSE + "00", Case.DATA_AND_LE, False, 15, 256),
        ("00B0000000000F", Case.LE_ONLY, True, None, 15),
        ("00B00000000000", Case.LE_ONLY, True, None, 65536),
        ("00D60000000002AABB", Case.DATA_ONLY, True, 2, None),
        ("00D60000000002AABB0100", Case.DATA_AND_LE, True, 2, 256),
    ],
)
def test_cases_and_lengths(
    hexa: str, case: Case, extended: bool, lc: int | None, le: int | None
) -> None:
    cmd = CommandAPDU.from_hex(hexa)
    assert (cmd.case, cmd.extended, cmd.lc, cmd.le) == (case, extended, lc, le)
    assert cmd.hex == hexa


def test_spec_select_ssse_decodes() -> None:
    cmd = CommandAPDU.from_hex("00 A4 04 00 0F " + SSSE)
    assert cmd.header == bytes.fromhex("00A40400")
    assert cmd.data == bytes.fromhex(SSSE)
    assert cmd.data[7:].decode("gbk") == "社会保障"


def test_large_fields_switch_to_extended() -> None:
    assert CommandAPDU(0, 0xD6, 0, 0, bytes(256)).hex.startswith("00D60000000100")
    assert CommandAPDU(0, 0xB0, 0, 0, le=257).hex == "00B00000000101"
    assert CommandAPDU(0, 0xB0, 0, 0, le=256).hex == "00B0000000"


@pytest.mark.parametrize(
    ("hexa", "offset", "words"),
    [
        ("", 0, "truncated header"),
        ("00A404", 3, "truncated header"),
        ("00A404000F7378", 4, "Lc 15 announces 15 data bytes but only 2 follow"),
        ("00A4040002EF05000000", 8, "2 trailing byte(s)"),
        ("00B0000000", None, None),
        ("00B000000000", 6, "extended length"),
        ("00D6000000000011", 5, "extended Lc 0000"),
        ("00D6000000000511", 5, "extended Lc 5 announces 5 data bytes but only 1 follow"),
        ("00D60000000001AA01", 8, "extended Le is truncated"),
        ("00D60000000001AA0100FF", 10, "1 trailing byte(s)"),
    ],
)
def test_errors_name_problem_and_offset(hexa: str, offset: int | None, words: str | None) -> None:
    if words is None:
        CommandAPDU.from_hex(hexa)
        return
    with pytest.raises(ApduFormatError) as info:
        CommandAPDU.from_hex(hexa)
    assert info.value.offset == offset
    assert words in info.value.reason
    assert f"offset {offset}" in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"cla": 256}, "CLA must be one byte"),
        ({"p2": -1}, "P2 must be one byte"),
        ({"le": 0}, "le=256"),
        ({"le": 65537}, "out of range"),
        ({"data": bytes(65536)}, "exceeds the extended maximum"),
    ],
)
def test_construction_validates(kwargs: dict[str, object], words: str) -> None:
    base: dict[str, object] = {"cla": 0, "ins": 0xB0, "p1": 0, "p2": 0}
    base.update(kwargs)
    with pytest.raises(ApduFormatError, match=words.replace("(", r"\(").replace("=", "=")):
        CommandAPDU(**base)  # type: ignore[arg-type]


def test_derived_commands_and_flags() -> None:
    cmd = CommandAPDU(0x84, 0x1E, 0x00, 0x01, b"\x01\x02\x03\x04")
    assert cmd.secure_messaging and cmd.proprietary
    assert not CommandAPDU(0x00, 0xB0, 0, 0).secure_messaging
    assert cmd.with_le(8).hex == "841E00010401020304" + "08"
    assert cmd.with_data(b"").case is Case.NO_DATA_NO_LE
    assert cmd.with_cla(0x80).cla == 0x80
    assert eval(repr(cmd)) == cmd  # the repr is a valid constructor call
    assert CommandAPDU(0, 0xB0, 0, 0, le=1, force_extended=True) != CommandAPDU(0, 0xB0, 0, 0, le=1)


def test_command_is_frozen() -> None:
    cmd = CommandAPDU(0, 0xB0, 0, 0)
    with pytest.raises(AttributeError):
        cmd.ins = 1  # type: ignore[misc]


@given(st.binary(max_size=300), st.integers(0, 0xFFFF))
def test_response_round_trip(data: bytes, sw: int) -> None:
    resp = ResponseAPDU(data, sw)
    assert ResponseAPDU.from_bytes(bytes(resp)) == resp
    assert resp.sw1 << 8 | resp.sw2 == sw


@given(st.binary(max_size=40))
def test_any_response_bytes_parse_or_raise(raw: bytes) -> None:
    try:
        resp = ResponseAPDU.from_bytes(raw)
    except ApduFormatError as exc:
        assert len(raw) < 2 and exc.offset == len(raw)
    else:
        assert bytes(resp) == raw


def test_response_families() -> None:
    fci = ResponseAPDU.from_hex("611E")
    assert fci.more_data == 30 and fci.tries_left is None and not fci.ok
    assert ResponseAPDU.from_hex("6100").more_data == 256
    assert ResponseAPDU.from_hex("63C2").tries_left == 2
    assert ResponseAPDU.from_hex("6C0B").wrong_le == 11
    ok = ResponseAPDU.from_hex("F4A0CF965BDCEA30 9000")
    assert ok.ok and ok.data == bytes.fromhex("F4A0CF965BDCEA30")
    assert ok.describe().en == "success"
    assert ResponseAPDU.from_hex("63CF").describe(0x72).en == "MAC2 verification failed"


def test_response_check() -> None:
    resp = ResponseAPDU(b"", 0x6A82)
    assert resp.check(0x6A82) is resp
    with pytest.raises(StatusWordError, match="SELECT EF05: card answered 6A82 file not found"):
        resp.check(command="SELECT EF05")
    assert ResponseAPDU(b"", 0x9000).check().ok


def test_response_validation() -> None:
    with pytest.raises(ApduFormatError, match="two bytes"):
        ResponseAPDU(b"", 0x10000)
    with pytest.raises(ApduFormatError, match="not hex"):
        ResponseAPDU.from_hex("zz")
