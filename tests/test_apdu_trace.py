"""Traces: one line per APDU, PIN and key data masked, read back for replay."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sbkcard.apdu import builders as b
from sbkcard.apdu.command import CommandAPDU
from sbkcard.apdu.errors import TraceFormatError
from sbkcard.apdu.response import ResponseAPDU
from sbkcard.apdu.trace import (
    DEVICE_NAMES,
    MASK_RULES,
    Exchange,
    Masked,
    MaskedCommand,
    Tracer,
    command_name,
    format_command,
    format_response,
    format_trace,
    is_sensitive,
    mask_command,
    parse_trace,
    replay,
)
from sbkcard.errors import NoCardError

FCI = bytes.fromhex("6F1C840F7378312E73682EC9E7BBE1B1A3D5CFA50988011E9F0C03860103")
SECRET_KEY = bytes.fromhex("A1B2C3D4E5F60718293A4B5C6D7E8F90")


def fake_clock(step: float = 0.000250) -> object:
    ticks = itertools.count()
    return lambda: next(ticks) * step


def test_line_format() -> None:
    assert format_command(b.select_ssse(), at=0.0) == (
        "    0.000000 >> 00 A4 04 00 Lc=0F 7378312E73682EC9E7BBE1B1A3D5CF Le=00  ; SELECT"
    )
    assert format_response(ResponseAPDU(FCI, 0x9000), elapsed=0.000398) == (
        "<< " + FCI.hex().upper() + " 9000 0.398ms  ; success (命令执行成功)"
    )
    assert format_command(b.read_record(7, sfi=5, le=0x0B)) == (
        ">> 00 B2 07 2C Le=0B  ; READ RECORD"
    )
    assert format_response(ResponseAPDU(b"", 0x63C2)) == (
        "<< 63C2  ; verification failed, 2 tries left (鉴别失败，还可尝试 2 次)"
    )
    assert format_response(ResponseAPDU(b"", 0x63CF), ins=0x72).endswith(
        "; MAC2 verification failed (MAC2 校验失败)"
    )
    assert format_command(CommandAPDU(0, 0xB0, 0, 0, le=300)) == (
        ">> 00 B0 00 00 Le=012C  ; READ BINARY"
    )


@pytest.mark.parametrize(
    ("cmd", "shown"),
    [
        (b.verify("123456"), ">> 00 20 00 00 Lc=03 ******  ; VERIFY [data masked]"),
        (
            b.change_pin("123456", "654321"),
            ">> 80 5E 01 00 Lc=07 **************  ; CHANGE PIN [data masked]",
        ),
        (
            b.pin_reload(bytes.fromhex("3CE013167A69889E"), bytes.fromhex("3EC87CA5")),
            ">> 84 24 00 01 Lc=0C ************************  ; PIN RELOAD [data masked]",
        ),
        (b.pin_unblock(bytes(4)), ">> 84 24 00 00 Lc=04 ********  ; PIN UNBLOCK [data masked]"),
        (
            b.create_key(0x11, SECRET_KEY + bytes(8), bytes(4)),
            ">> 84 D4 00 11 Lc=1C " + "*" * 56 + "  ; CREATE KEY [data masked]",
        ),
        (
            b.change_key(0x11, SECRET_KEY, bytes(4)),
            ">> 84 D4 01 11 Lc=14 " + "*" * 40 + "  ; CHANGE KEY [data masked]",
        ),
        (
            b.cipher_data(b.CipherMode.ENCRYPT_LAST, SECRET_KEY),
            ">> 80 FA 00 00 Lc=10 " + "*" * 32 + "  ; CIPHER DATA [data masked]",
        ),
        (
            b.cipher_data(b.CipherMode.ENCRYPT_MORE, SECRET_KEY),
            ">> 80 FA 02 00 Lc=10 " + "*" * 32 + "  ; CIPHER DATA [data masked]",
        ),
    ],
)
def test_secrets_are_masked_keeping_lengths(cmd: CommandAPDU, shown: str) -> None:
    assert format_command(cmd) == shown
    (back,) = parse_trace(shown)
    assert isinstance(back.command, MaskedCommand)
    assert back.command.header == cmd.header
    assert back.command.data == Masked(len(cmd.data))
    assert not back.replayable
    # unmasked on request only
    assert cmd.data.hex().upper() in format_command(cmd, mask=False)


@pytest.mark.parametrize(
    "cmd",
    [
        b.cipher_data(b.CipherMode.MAC_SINGLE, bytes(16)),
        b.external_authenticate(0x0A, bytes(8), bytes(8)),
        b.debit_for_purchase(1, bytes(7), bytes(4)),
        b.update_binary(b"\x01", sfi=7),
        b.verify(None),
    ],
)
def test_other_commands_are_shown(cmd: CommandAPDU) -> None:
    assert mask_command(cmd) == cmd
    assert "*" not in format_command(cmd)


def test_mask_rules_cover_the_brief() -> None:
    assert is_sensitive(0x00, 0x20, 0x00)  # VERIFY
    assert is_sensitive(0x80, 0x5E, 0x01)  # CHANGE PIN
    assert is_sensitive(0x84, 0x24, 0x00)  # PIN CHANGE/UNBLOCK
    assert is_sensitive(0x84, 0xD4, 0x01)  # CREATE/CHANGE KEY
    assert is_sensitive(0x00, 0x2C, 0x00)  # ISO RESET RETRY COUNTER
    assert not is_sensitive(0xB0, 0x2C, 0x01)  # DEBIT FOR PURCHASE: MAC1 only
    assert all(rule.why for rule in MASK_RULES)


def test_raw_bytes_that_are_not_apdus() -> None:
    assert format_command(b"\x00\xb0") == ">> raw=00B0  ; not an APDU"
    assert (
        format_command(bytes.fromhex("0020000005123456"))
        == ">> raw=" + "*" * 16 + "  ; not an APDU"
    )
    assert format_response(b"\x90") == "<< raw=90  ; not a response APDU"
    exchanges = parse_trace(">> raw=00B0\n<< raw=90 0.100ms\n>> raw=****\n>> raw=\n")
    assert exchanges[0] == Exchange(b"\x00\xb0", b"\x90", None, 0.0001)
    assert exchanges[1].command == Masked(2) and exchanges[1].response is None
    assert exchanges[2].command == b""


byte = st.integers(0, 255)
commands = st.builds(
    lambda cla, ins, p1, p2, data, le, ext: CommandAPDU(
        cla, ins, p1, p2, data, le, force_extended=ext
    ),
    byte,
    byte,
    byte,
    byte,
    st.binary(max_size=300),
    st.none() | st.integers(1, 256) | st.integers(1, 65536),
    st.booleans(),
)
responses = st.builds(ResponseAPDU, st.binary(max_size=300), st.integers(0, 0xFFFF))
times = st.none() | st.integers(0, 10**9).map(lambda us: us / 10**6)


@given(st.lists(st.tuples(commands, st.none() | responses, times), max_size=6))
def test_unmasked_trace_reads_back_exactly(
    items: list[tuple[CommandAPDU, ResponseAPDU | None, float | None]],
) -> None:
    exchanges = [Exchange(c, r, at, None) for c, r, at in items]
    text = format_trace(exchanges, mask=False)
    back = parse_trace(text)
    assert [(e.command, e.response, e.at) for e in back] == [(c, r, at) for c, r, at in items]
    assert format_trace(back, mask=False) == text


@given(st.lists(st.tuples(commands, responses), max_size=6))
def test_masked_trace_reads_back_with_markers(
    items: list[tuple[CommandAPDU, ResponseAPDU]],
) -> None:
    text = format_trace([Exchange(c, r) for c, r in items])
    back = parse_trace(text)
    for (cmd, resp), ex in zip(items, back, strict=True):
        assert ex.response == resp
        if cmd.data and is_sensitive(cmd.cla, cmd.ins, cmd.p1):
            assert isinstance(ex.command, MaskedCommand)
            assert (ex.command.header, ex.command.data.length, ex.command.le) == (
                cmd.header,
                len(cmd.data),
                cmd.le,
            )
            assert ex.command.extended == cmd.extended
        else:
            assert ex.command == cmd
    assert format_trace(back) == text


def test_tracer_records_masks_and_replays() -> None:
    answers = {
        bytes(b.select_ssse()): FCI + b"\x90\x00",
        bytes(b.verify("123456")): b"\x90\x00",
        bytes(b.read_record(1, sfi=5, le=0x12)): bytes(0x12) + b"\x90\x00",
    }
    lines: list[str] = []
    tracer = Tracer(
        lambda apdu: answers.get(apdu, b"\x6d\x00"), clock=fake_clock(), sink=lines.append
    )  # type: ignore[arg-type]
    for cmd in answers:
        assert tracer(cmd) == answers[cmd]
    assert tracer.transmit(b"\x00\xb0") == b"\x6d\x00"
    text = tracer.text()
    assert text.splitlines() == lines
    assert "123456" not in text and "******" in text
    assert len(lines) == 8
    assert lines[0].startswith("    0.000250 >> 00 A4 04 00")
    assert lines[1].startswith("    0.000500 << 6F1C") and " 0.250ms  ; success" in lines[1]
    exchanges = parse_trace(text)
    with pytest.raises(TraceFormatError, match="masked"):
        replay(exchanges, lambda apdu: b"")
    clear = [ex for ex in exchanges if ex.replayable]
    results = replay(clear, lambda apdu: answers.get(apdu, b"\x6d\x00"))
    assert all(r.matches for r in results) and len(results) == 3
    tracer.clear()
    assert tracer.text() == ""


def test_unmasked_tracer_replays_everything() -> None:
    tracer = Tracer(lambda apdu: b"\x90\x00", mask=False, clock=fake_clock())  # type: ignore[arg-type]
    tracer(bytes(b.verify("1234")))
    (ex,) = parse_trace(tracer.text())
    assert ex.command == b.verify("1234")
    (result,) = replay([ex], lambda apdu: b"\x63\xc1")
    assert not result.matches and result.actual == b"\x63\xc1"


def test_tracer_records_a_failed_transmit() -> None:
    def gone(apdu: bytes) -> bytes:
        raise NoCardError("no card in the reader")

    tracer = Tracer(gone, clock=fake_clock())  # type: ignore[arg-type]
    with pytest.raises(NoCardError):
        tracer(bytes(b.get_challenge()))
    (ex,) = tracer.exchanges
    assert ex.response is None and ex.command == b.get_challenge()
    assert tracer.text().count("\n") == 1


def test_hand_written_trace() -> None:
    text = """
    ; SSSE selection, then the PIN
    >> 00 A4 04 00 Lc=0F 73 78 31 2E 73 68 2E C9 E7 BB E1 B1 A3 D5 CF Le=00
    << 61 1E
    >> 00 C0 00 00 Le=1E
    << 6F1C840F7378312E73682EC9E7BBE1B1A3D5CF A50988011E9F0C03860103 9000
    >> 00 20 00 00 Lc=03 123456   ; VERIFY
    << 9000
    """
    # 61 1E is written as two tokens: the last is the SW, the first would be data.
    with pytest.raises(TraceFormatError, match="line 4"):
        parse_trace(text)
    exchanges = parse_trace(text.replace("<< 61 1E", "<< 611E"))
    assert [e.command for e in exchanges] == [
        b.select_ssse(),
        b.get_response(0x1E),
        b.verify("123456"),
    ]
    assert exchanges[1].response == ResponseAPDU(FCI, 0x9000)


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        ("<< 9000", 1, 0, "without a command"),
        (">> 00 A4 04", 1, 9, "4 header bytes"),
        (">> 00 A4 0G 00", 1, 9, "not 2 hex digits"),
        (">> 00 D6 00 00 Lc=03 AABB", 1, 15, "Lc=03 disagrees with the 2 data bytes"),
        (">> 00 D6 00 00 AABB", 1, 15, "data without Lc"),
        (">> 00 D6 00 00 Lc=02 AAB", 1, 21, "neither hex bytes"),
        (">> 00 D6 00 00 Lc=0002 AABB Le=01", 1, 15, "must both be short or both extended"),
        (">> 00 D6 00 00 Lc=2 AABB", 1, 15, "Lc=/Le="),
        (">> 00 D6 00 00 Lc=02 AA**", 1, 21, "neither hex bytes"),
        (">> 00 B0 00 00\n<< 90", 2, 3, "4-hex-digit status word"),
        (">> 00 B0 00 00\n<< ** 9000", 2, 3, "never masked"),
        (">> 00 B0 00 00\n1.5 == 9000", 2, 4, "expected >>"),
        (">> raw=00 B0", 1, 10, "after raw bytes"),
    ],
)
def test_parse_errors_name_line_and_column(text: str, line: int, column: int, words: str) -> None:
    with pytest.raises(TraceFormatError) as info:
        parse_trace(text)
    assert info.value.line == line and info.value.offset == column
    assert words in info.value.reason
    assert f"trace line {line}" in str(info.value)


def test_every_builder_has_a_name() -> None:
    cmds = [
        b.select_ssse(),
        b.read_binary(),
        b.read_record(1),
        b.update_binary(b"x"),
        b.update_record(1, b"x"),
        b.verify(None),
        b.change_pin(None, "1234"),
        b.pin_unblock(),
        b.pin_reload(b""),
        b.get_challenge(),
        b.external_authenticate(0, bytes(8), bytes(8)),
        b.internal_authenticate(bytes(8), bytes(8)),
        b.get_response(1),
        b.application_block(),
        b.card_block(),
        b.initialize_for_load(1, 1, "000000000000"),
        b.initialize_for_purchase(1, 1, 1, 1, "000000000000"),
        b.credit_for_load(bytes(7), bytes(4)),
        b.debit_for_purchase(1, bytes(7), bytes(4)),
        b.get_balance(),
        b.get_transaction_proof(1, 1),
        b.update_starting_day(1, 1),
        b.get_starting_day(),
        b.initialize_environment(0x37),
        b.delivery_session_key(0x48, 0x5D, [bytes(8)], bytes(8)),
        b.cipher_data(b.CipherMode.MAC_SINGLE, bytes(16)),
        b.credit_sam_for_purchase(bytes(4)),
        b.create_key(0x11, bytes(16)),
        b.change_key(0x11, bytes(16)),
    ]
    names = [command_name(c) for c in cmds]
    assert not [n for n in names if n.startswith("INS ")]
    assert len(set(names)) == len(names)
    assert command_name(CommandAPDU(0x00, 0x44, 0, 0)) == "INS 44"


@pytest.mark.parametrize(
    ("header", "device", "name"),
    [
        ("84D40008", "card", "WRITE KEY (sbkcard COS)"),
        ("84D40100", "card", "WRITE PIN (sbkcard COS)"),
        ("80E00000", "card", "CREATE FILE (sbkcard COS)"),
        ("84D40011", "psam", "CREATE KEY"),
        ("84D40111", "psam", "CHANGE KEY"),
        ("84D40011", None, "CREATE KEY"),  # no device: the standard's name (Part 9)
        ("80E00000", "psam", "INS E0"),
        ("80E00000", None, "INS E0"),
        ("80D40008", "card", "CREATE KEY"),  # another CLA is not the card's WRITE KEY
        ("84D40208", "card", "INS D4"),
        ("00A40400", "card", "SELECT"),  # devices agree on the standard's commands
        ("00A40400", "psam", "SELECT"),
        ("84240001", "card", "PIN RELOAD"),
    ],
)
def test_command_names_per_device(header: str, device: str | None, name: str) -> None:
    cla, ins, p1, p2 = bytes.fromhex(header)
    assert command_name(CommandAPDU(cla, ins, p1, p2, bytes(8)), device) == name
    masked = MaskedCommand(cla, ins, p1, p2, Masked(8))
    assert command_name(masked, device) == name


def test_device_names_only_name_what_differs() -> None:
    """Every entry of the table is a name the standard's table does not give."""
    for (device, cla, ins, p1), name in DEVICE_NAMES.items():
        cmd = CommandAPDU(cla, ins, 0 if p1 is None else p1, 0)
        assert command_name(cmd, device) == name != command_name(cmd)


def test_a_two_slot_trace_names_each_command_as_its_device_does() -> None:
    text = """\
card >> 80 E0 00 00 Lc=02 3F01
card << 9000
card >> 84 D4 00 08 Lc=04 ********  ; CREATE KEY [data masked]
card << 9000
psam >> 84 D4 00 11 Lc=04 ********
psam << 9000
>> 84 D4 01 00 Lc=04 ********
<< 9000
"""
    exchanges = parse_trace(text)
    names = [line.split("  ; ")[1] for ex in exchanges for line in ex.lines()[:1]]
    assert names == [
        "CREATE FILE (sbkcard COS)",
        "WRITE KEY (sbkcard COS) [data masked]",  # the comment read was not the card's
        "CREATE KEY [data masked]",
        "CHANGE KEY [data masked]",
    ]
    card_line = format_command(CommandAPDU(0x84, 0xD4, 0x01, 0x00, SECRET_KEY), device="card")
    assert (
        card_line
        == ">> 84 D4 01 00 Lc=10 " + "*" * 32 + "  ; WRITE PIN (sbkcard COS) [data masked]"
    )
    assert (
        format_trace(exchanges).splitlines()[0]
        == ">> 80 E0 00 00 Lc=02 3F01  ; CREATE FILE (sbkcard COS)"
    )


def test_a_two_slot_terminal_trace_parses_with_its_devices() -> None:
    text = """\
card     0.000591 >> 00 A4 04 00 Lc=0F 7378312E73682EC9E7BBE1B1A3D5CF Le=00  ; SELECT
card     0.000613 << 611E 0.022ms  ; 30 more bytes available
psam     0.001415 >> 00 B0 96 00 Le=06  ; READ BINARY
psam     0.001432 << 410100000101 9000 0.017ms  ; success
card     0.007040 >> 00 20 00 00 Lc=03 ******  ; VERIFY [data masked]
card     0.007091 << 9000 0.051ms  ; success
"""
    exchanges = parse_trace(text)
    assert [e.device for e in exchanges] == ["card", "psam", "card"]
    assert exchanges[1].command_bytes == bytes.fromhex("00B0960006")
    assert exchanges[1].response is not None
    assert not exchanges[2].replayable
    with pytest.raises(TraceFormatError, match="a response from psam to a command for card"):
        parse_trace("card >> 00 84 00 00 Le=08\npsam << 9000\n")
