"""APDU traces: one line per APDU, secrets masked, readable back for replay.

A trace line is, in wire order::

    <seconds> >> CLA INS P1 P2 [Lc=xx] [data] [Le=xx]  ; <command name>
    <seconds> << [data] SW1SW2 [<elapsed>ms]  ; <meaning of the SW>

for example::

       0.000000 >> 00 A4 04 00 Lc=0F 7378312E73682EC9E7BBE1B1A3D5CF Le=00  ; SELECT
       0.000412 << 6F1C840F…860103 9000 0.398ms  ; success (命令执行成功)
       0.000913 >> 00 20 00 00 Lc=03 ******  ; VERIFY

A terminal's trace of two slots starts each line with the device (``card``, ``psam``);
the command name after ``;`` is then the one that device gives the command
(:data:`DEVICE_NAMES`: ``84 D4`` is the PSAM's CREATE/CHANGE KEY but the user card's
WRITE KEY/PIN).

``Lc``/``Le`` written with four digits mark an extended-length APDU; ``Le=00`` is 256.
By default the data of commands that carry a PIN or key material (:data:`MASK_RULES`) is
written as ``**`` per byte, keeping its length; such commands come back from
:func:`parse_trace` as :class:`MaskedCommand`.  Unmasked traces read back into exactly the
:class:`CommandAPDU` / :class:`ResponseAPDU` that were sent, so they can be replayed
(:func:`replay`).  Bytes that are not an APDU are written ``raw=<hex>``.  The timestamp
and everything after ``;`` are optional when reading.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sbkcard.apdu.command import CommandAPDU
from sbkcard.apdu.errors import ApduFormatError, TraceFormatError
from sbkcard.apdu.response import ResponseAPDU
from sbkcard.apdu.status import describe

Transmit = Callable[[bytes], bytes]

MASK_CHAR = "*"


# -- what is secret -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MaskRule:
    """Commands whose data field a trace hides: an INS, optionally only some P1 or CLA."""

    ins: int
    why: str
    p1: frozenset[int] | None = None
    cla_high: frozenset[int] | None = None
    """High nibbles of CLA the rule applies to (``None``: every CLA)."""

    def matches(self, cla: int, ins: int, p1: int) -> bool:
        """Whether a command with this CLA, INS and P1 falls under the rule."""
        return (
            ins == self.ins
            and (self.p1 is None or p1 in self.p1)
            and (self.cla_high is None or cla >> 4 in self.cla_high)
        )


MASK_RULES: tuple[MaskRule, ...] = (
    MaskRule(0x20, "VERIFY: the PIN"),
    MaskRule(0x5E, "CHANGE PIN: the old and new PIN in clear"),
    MaskRule(0x24, "PIN CHANGE/UNBLOCK (and ISO CHANGE REFERENCE DATA): the PIN"),
    MaskRule(0x2C, "ISO RESET RETRY COUNTER: unblock code and PIN", cla_high=frozenset({0x0})),
    MaskRule(0xD4, "CREATE/CHANGE KEY, key loading: key material"),
    MaskRule(0xFA, "CIPHER DATA encryption: clear data (a PIN block)", p1=frozenset({0x00, 0x02})),
    MaskRule(0xC4, "certificate application PIN HASH: the PIN", cla_high=frozenset({0x8})),
    MaskRule(0xC2, "certificate application key import: a private key", p1=frozenset({0xC0})),
)
"""The commands whose data is masked by default (PIN and key material)."""


def is_sensitive(cla: int, ins: int, p1: int) -> bool:
    """Whether a command's data falls under one of :data:`MASK_RULES`."""
    return any(rule.matches(cla, ins, p1) for rule in MASK_RULES)


# -- what a trace holds ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Masked:
    """A field whose ``length`` bytes a trace does not show."""

    length: int

    def __str__(self) -> str:
        return MASK_CHAR * (2 * self.length)


@dataclass(frozen=True, slots=True)
class MaskedCommand:
    """A command read from a trace with its data field masked (it cannot be replayed)."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: Masked
    le: int | None = None
    extended: bool = False

    @property
    def header(self) -> bytes:
        """``CLA INS P1 P2``."""
        return bytes((self.cla, self.ins, self.p1, self.p2))


TracedCommand = CommandAPDU | MaskedCommand | bytes | Masked
"""A command in a trace: an APDU, a masked APDU, or raw bytes (masked or not) that are
not an APDU."""

TracedResponse = ResponseAPDU | bytes
"""A response in a trace: an APDU, or fewer than 2 raw bytes."""


@dataclass(frozen=True, slots=True)
class Exchange:
    """One command, its response (``None`` if none came) and when (seconds)."""

    command: TracedCommand
    response: TracedResponse | None = None
    at: float | None = None
    """Seconds since the trace started when the command was sent."""
    elapsed: float | None = None
    """Seconds the card took to answer."""
    device: str | None = None
    """The device named at the start of the line (``card``, ``psam``), if any; it also
    chooses the command's name (:data:`DEVICE_NAMES`)."""

    @property
    def replayable(self) -> bool:
        """Whether the command's bytes are all known."""
        return isinstance(self.command, CommandAPDU | bytes)

    @property
    def command_bytes(self) -> bytes:
        """The command as sent; raises :class:`TraceFormatError` if it was masked."""
        if isinstance(self.command, CommandAPDU):
            return bytes(self.command)
        if isinstance(self.command, bytes):
            return self.command
        raise TraceFormatError("the command's data is masked: it cannot be replayed")

    def lines(self, *, mask: bool = True) -> list[str]:
        """The trace lines of this exchange (PIN and key data masked unless ``mask=False``)."""
        out = [format_command(self.command, at=self.at, mask=mask, device=self.device)]
        if self.response is not None:
            at = None
            if self.at is not None and self.elapsed is not None:
                at = self.at + self.elapsed
            out.append(
                format_response(self.response, elapsed=self.elapsed, at=at, ins=_ins(self.command))
            )
        return out


def _ins(command: TracedCommand) -> int | None:
    if isinstance(command, CommandAPDU | MaskedCommand):
        return command.ins
    return None


def mask_command(command: CommandAPDU | bytes) -> TracedCommand:
    """``command`` as a trace shows it: data hidden if :func:`is_sensitive`."""
    if isinstance(command, bytes):
        if len(command) >= 3 and is_sensitive(command[0], command[1], command[2]):
            return Masked(len(command))
        return command
    if command.data and is_sensitive(command.cla, command.ins, command.p1):
        return MaskedCommand(
            command.cla,
            command.ins,
            command.p1,
            command.p2,
            Masked(len(command.data)),
            command.le,
            command.extended,
        )
    return command


# -- naming ------------------------------------------------------------------------------------

_NAMES: dict[tuple[int, int | None], str] = {
    (0xA4, None): "SELECT",
    (0xB0, None): "READ BINARY",
    (0xB2, None): "READ RECORD",
    (0xD6, None): "UPDATE BINARY",
    (0xDC, None): "UPDATE RECORD",
    (0x20, None): "VERIFY",
    (0x5E, None): "CHANGE PIN",
    (0x24, None): "PIN CHANGE/UNBLOCK",
    (0x84, None): "GET CHALLENGE",
    (0x82, None): "EXTERNAL AUTHENTICATE",
    (0x88, None): "INTERNAL AUTHENTICATE",
    (0xC0, None): "GET RESPONSE",
    (0x1E, None): "APPLICATION BLOCK",
    (0x16, None): "CARD BLOCK",
    (0x28, 0x00): "INITIALIZE FOR LOAD",
    (0x28, 0x01): "INITIALIZE FOR PURCHASE",
    (0x2A, None): "CREDIT FOR LOAD",
    (0x2C, None): "DEBIT FOR PURCHASE",
    (0x26, None): "GET BALANCE",
    (0x2E, None): "GET TRANSACTION PROOF",
    (0x56, 0x00): "UPDATE STARTING DAY",
    (0x56, 0x01): "GET STARTING DAY",
    (0xEC, None): "INITIALIZE ENVIRONMENT",
    (0xDE, None): "DELIVERY SESSION KEY",
    (0xFA, None): "CIPHER DATA",
    (0x70, None): "INIT SAM FOR PURCHASE",
    (0x72, None): "CREDIT SAM FOR PURCHASE",
    (0xD4, 0x00): "CREATE KEY",
    (0xD4, 0x01): "CHANGE KEY",
}


DEVICE_NAMES: Mapping[tuple[str, int, int, int | None], str] = {
    ("card", 0x80, 0xE0, None): "CREATE FILE (sbkcard COS)",
    ("card", 0x84, 0xD4, 0x00): "WRITE KEY (sbkcard COS)",
    ("card", 0x84, 0xD4, 0x01): "WRITE PIN (sbkcard COS)",
}
"""(device, CLA, INS, P1 or ``None`` for any) → the name a device gives a command, where it
is not the standard's.  The user card (``card``, as a terminal's trace names it) is
personalised by commands Part 10 §5.2 leaves to the COS: sbkcard's CREATE FILE and
WRITE KEY/PIN, whose ``84 D4`` is the PSAM's CREATE/CHANGE KEY (Part 9 §9.5–9.6)."""


class CommandHeader(Protocol):
    """What naming a command needs: its class, instruction and parameters."""

    @property
    def cla(self) -> int: ...
    @property
    def ins(self) -> int: ...
    @property
    def p1(self) -> int: ...
    @property
    def p2(self) -> int: ...


def command_name(command: CommandHeader, device: str | None = None) -> str:
    """The name of a command (``"INS xx"`` when unknown): ``device``'s own
    (:data:`DEVICE_NAMES`), else the standard's."""
    if device is not None:
        key = (device, command.cla, command.ins)
        name = DEVICE_NAMES.get((*key, command.p1)) or DEVICE_NAMES.get((*key, None))
        if name is not None:
            return name
    if command.ins == 0x24 and command.cla & 0xF0 == 0x80:
        return {0x00: "PIN UNBLOCK", 0x01: "PIN RELOAD"}.get(command.p2, "PIN CHANGE/UNBLOCK")
    name = _NAMES.get((command.ins, command.p1)) or _NAMES.get((command.ins, None))
    return name or f"INS {command.ins:02X}"


# -- formatting --------------------------------------------------------------------------------


def _stamp(at: float | None) -> str:
    return "" if at is None else f"{at:12.6f} "


def _length_field(name: str, value: int, extended: bool) -> str:
    return f"{name}={value:04X}" if extended else f"{name}={value:02X}"


def format_command(
    command: TracedCommand,
    *,
    at: float | None = None,
    mask: bool = True,
    device: str | None = None,
) -> str:
    """One trace line for a command (masking PIN and key data unless ``mask=False``).

    ``device`` (``card``, ``psam``) picks the command's name (:func:`command_name`); the
    line itself does not show it (a terminal's trace puts it in front).
    """
    shown = mask_command(command) if mask and isinstance(command, CommandAPDU | bytes) else command
    if isinstance(shown, bytes | Masked):
        body = f"raw={shown.hex().upper() if isinstance(shown, bytes) else shown}"
        return f"{_stamp(at)}>> {body}  ; not an APDU"
    ext = shown.extended
    parts = [" ".join(f"{b:02X}" for b in shown.header)]
    if isinstance(shown, MaskedCommand):
        parts += [_length_field("Lc", shown.data.length, ext), str(shown.data)]
    elif shown.data:
        parts += [_length_field("Lc", len(shown.data), ext), shown.data.hex().upper()]
    if shown.le is not None:
        limit = 65536 if ext else 256
        parts.append(_length_field("Le", shown.le % limit, ext))
    note = " [data masked]" if isinstance(shown, MaskedCommand) else ""
    return f"{_stamp(at)}>> {' '.join(parts)}  ; {command_name(shown, device)}{note}"


def format_response(
    response: TracedResponse,
    *,
    elapsed: float | None = None,
    at: float | None = None,
    ins: int | None = None,
) -> str:
    """One trace line for a response, with the meaning of its SW (for command ``ins``)."""
    took = "" if elapsed is None else f" {elapsed * 1000:.3f}ms"
    if isinstance(response, bytes):
        return f"{_stamp(at)}<< raw={response.hex().upper()}{took}  ; not a response APDU"
    data = f"{response.data.hex().upper()} " if response.data else ""
    info = describe(response.sw, ins)
    return f"{_stamp(at)}<< {data}{response.sw:04X}{took}  ; {info.en} ({info.zh})"


def format_trace(exchanges: Iterable[Exchange], *, mask: bool = True) -> str:
    """The text of a whole trace, one line per APDU (secrets masked unless ``mask=False``)."""
    return "".join(line + "\n" for ex in exchanges for line in ex.lines(mask=mask))


# -- parsing -----------------------------------------------------------------------------------

_TOKEN = re.compile(r"\S+")
_HEX_OR_MASK = re.compile(r"(?:[0-9A-Fa-f]{2})+|(?:\*\*)+")
_HEX2 = re.compile(r"[0-9A-Fa-f]{2}")
_SW = re.compile(r"[0-9A-Fa-f]{4}")
_TIME = re.compile(r"\d+(?:\.\d+)?")
_DEVICE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_ELAPSED = re.compile(r"(\d+(?:\.\d+)?)ms")
_LENGTH = re.compile(r"(Lc|Le)=([0-9A-Fa-f]{2}|[0-9A-Fa-f]{4})")


@dataclass(slots=True)
class _Line:
    number: int | None
    tokens: list[tuple[int, str]] = field(default_factory=list)

    def error(self, reason: str, column: int | None) -> TraceFormatError:
        return TraceFormatError(reason, column, line=self.number)


def _data_field(line: _Line, tokens: Sequence[tuple[int, str]]) -> bytes | Masked:
    text = "".join(tok for _, tok in tokens)
    column = tokens[0][0]
    if not _HEX_OR_MASK.fullmatch(text):
        raise line.error(f"data {text!r} is neither hex bytes nor ** per masked byte", column)
    if text.startswith(MASK_CHAR):
        return Masked(len(text) // 2)
    return bytes.fromhex(text)


def _raw(line: _Line, column: int, text: str) -> bytes | Masked:
    value = text.removeprefix("raw=")
    if not value:
        return b""
    return _data_field(line, [(column + 4, value)])


def _parse_command(line: _Line, tokens: list[tuple[int, str]]) -> TracedCommand:
    if tokens and tokens[0][1].startswith("raw="):
        if len(tokens) > 1:
            raise line.error("unexpected text after raw bytes", tokens[1][0])
        return _raw(line, *tokens[0])
    if len(tokens) < 4:
        column = tokens[-1][0] if tokens else None
        raise line.error("a command needs the 4 header bytes CLA INS P1 P2", column)
    header: list[int] = []
    for column, tok in tokens[:4]:
        if not _HEX2.fullmatch(tok):
            raise line.error(f"header byte {tok!r} is not 2 hex digits", column)
        header.append(int(tok, 16))
    rest = tokens[4:]
    lc_field: tuple[int, str] | None = None
    le_field: tuple[int, str] | None = None
    if rest and rest[0][1].startswith("Lc="):
        lc_field, rest = rest[0], rest[1:]
    if rest and rest[-1][1].startswith("Le="):
        le_field, rest = rest[-1], rest[:-1]
    lengths: dict[str, tuple[int, int, bool]] = {}
    for fld in (lc_field, le_field):
        if fld is None:
            continue
        m = _LENGTH.fullmatch(fld[1])
        if m is None:
            raise line.error(f"{fld[1]!r} is not Lc=/Le= with 2 or 4 hex digits", fld[0])
        lengths[m.group(1)] = (int(m.group(2), 16), fld[0], len(m.group(2)) == 4)
    data: bytes | Masked = _data_field(line, rest) if rest else b""
    n = data.length if isinstance(data, Masked) else len(data)
    widths = {ext for _, _, ext in lengths.values()}
    extended = True in widths
    if len(widths) > 1:
        raise line.error("Lc and Le must both be short or both extended", lengths["Lc"][1])
    if "Lc" in lengths:
        lc, column, _ = lengths["Lc"]
        if lc != n or n == 0:
            raise line.error(f"Lc={lc:02X} disagrees with the {n} data bytes that follow", column)
    elif n:
        raise line.error("data without Lc", rest[0][0])
    le: int | None = None
    if "Le" in lengths:
        value, _, ext = lengths["Le"]
        le = value or (65536 if ext else 256)
    cla, ins, p1, p2 = header
    try:
        if isinstance(data, Masked):
            return MaskedCommand(cla, ins, p1, p2, data, le, extended)
        cmd = CommandAPDU(cla, ins, p1, p2, data, le, force_extended=extended)
    except ApduFormatError as exc:
        raise line.error(exc.reason, tokens[0][0]) from exc
    if cmd.extended != extended:
        raise line.error("lengths too large for short Lc/Le fields", tokens[0][0])
    return cmd


def _parse_response(
    line: _Line, tokens: list[tuple[int, str]]
) -> tuple[TracedResponse, float | None]:
    elapsed: float | None = None
    if tokens and (m := _ELAPSED.fullmatch(tokens[-1][1])):
        elapsed, tokens = float(m.group(1)) / 1000, tokens[:-1]
    if tokens and tokens[0][1].startswith("raw="):
        if len(tokens) > 1:
            raise line.error("unexpected text after raw bytes", tokens[1][0])
        raw = _raw(line, *tokens[0])
        if isinstance(raw, Masked):
            raise line.error("a response is never masked", tokens[0][0])
        return raw, elapsed
    if not tokens or not _SW.fullmatch(tokens[-1][1]):
        column = tokens[-1][0] if tokens else None
        raise line.error("a response ends with its 4-hex-digit status word", column)
    sw = int(tokens[-1][1], 16)
    data = _data_field(line, tokens[:-1]) if len(tokens) > 1 else b""
    if isinstance(data, Masked):
        raise line.error("a response is never masked", tokens[0][0])
    return ResponseAPDU(data, sw), elapsed


def _tokens(text: str) -> list[tuple[int, str]]:
    body = text.split(";", 1)[0]
    return [(m.start(), m.group()) for m in _TOKEN.finditer(body)]


def parse_trace(text: str) -> list[Exchange]:
    """Read a trace back into exchanges (blank lines and ``;`` comments are skipped).

    A line may start with a device name (``card``, ``psam``: the terminal's traces of
    two slots), kept in :attr:`Exchange.device`.  Raises :class:`TraceFormatError`
    naming the line and column of the problem.
    """
    exchanges: list[Exchange] = []
    pending: tuple[TracedCommand, float | None, str | None] | None = None
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = _Line(number, _tokens(raw_line))
        tokens = line.tokens
        if not tokens:
            continue
        device: str | None = None
        if _DEVICE.fullmatch(tokens[0][1]):
            device, tokens = tokens[0][1], tokens[1:]
        at: float | None = None
        if tokens and _TIME.fullmatch(tokens[0][1]):
            at, tokens = float(tokens[0][1]), tokens[1:]
        if not tokens or tokens[0][1] not in (">>", "<<"):
            column = tokens[0][0] if tokens else None
            raise line.error("expected >> (command) or << (response)", column)
        direction, tokens = tokens[0][1], tokens[1:]
        if direction == ">>":
            if pending is not None:
                exchanges.append(Exchange(pending[0], None, pending[1], device=pending[2]))
            pending = (_parse_command(line, tokens), at, device)
            continue
        if pending is None:
            raise line.error("a response without a command before it", line.tokens[0][0])
        if device != pending[2]:
            raise line.error(
                f"a response from {device or 'no device'} to a command for "
                f"{pending[2] or 'no device'}",
                line.tokens[0][0],
            )
        response, elapsed = _parse_response(line, tokens)
        exchanges.append(Exchange(pending[0], response, pending[1], elapsed, device))
        pending = None
    if pending is not None:
        exchanges.append(Exchange(pending[0], None, pending[1], device=pending[2]))
    return exchanges


# -- recording and replaying -------------------------------------------------------------------


class Tracer:
    """Wraps a transmit callable and records every exchange, masked by default.

    ``tracer = Tracer(card.transmit)``; then ``tracer(apdu)`` (or ``tracer.transmit``)
    sends through and records; ``tracer.text()`` is the trace.  ``sink`` receives each
    line as it is produced (e.g. ``logger.debug``).
    """

    def __init__(
        self,
        transmit: Transmit,
        *,
        mask: bool = True,
        clock: Callable[[], float] = time.perf_counter,
        sink: Callable[[str], object] | None = None,
    ) -> None:
        self._transmit = transmit
        self._mask = mask
        self._clock = clock
        self._sink = sink
        self._start = clock()
        self.exchanges: list[Exchange] = []

    def _record(self, exchange: Exchange) -> None:
        self.exchanges.append(exchange)
        if self._sink is not None:
            for text in exchange.lines(mask=self._mask):
                self._sink(text)

    def __call__(self, apdu: bytes) -> bytes:
        raw = bytes(apdu)
        command: CommandAPDU | bytes
        try:
            command = CommandAPDU.from_bytes(raw)
        except ApduFormatError:
            command = raw
        shown = mask_command(command) if self._mask else command
        sent = self._clock()
        try:
            answer = bytes(self._transmit(raw))
        except BaseException:
            self._record(Exchange(shown, None, sent - self._start))
            raise
        elapsed = self._clock() - sent
        response: TracedResponse = ResponseAPDU.from_bytes(answer) if len(answer) >= 2 else answer
        self._record(Exchange(shown, response, sent - self._start, elapsed))
        return answer

    def transmit(self, apdu: bytes) -> bytes:
        """Send ``apdu`` and record the exchange (same as calling the tracer)."""
        return self(apdu)

    def text(self) -> str:
        """The trace so far."""
        return format_trace(self.exchanges, mask=self._mask)

    def clear(self) -> None:
        """Forget the recorded exchanges and restart the clock."""
        self.exchanges.clear()
        self._start = self._clock()


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """One replayed exchange: what the trace recorded and what came back now."""

    exchange: Exchange
    actual: bytes

    @property
    def matches(self) -> bool:
        """Whether the card answered exactly as recorded."""
        recorded = self.exchange.response
        if recorded is None:
            return False
        return bytes(recorded) == self.actual


def replay(exchanges: Iterable[Exchange], transmit: Transmit) -> list[ReplayResult]:
    """Send every command of a trace again, in order, and collect the answers.

    Raises :class:`TraceFormatError` before sending anything if a command is masked.
    """
    todo = list(exchanges)
    for i, ex in enumerate(todo):
        if not ex.replayable:
            raise TraceFormatError(
                f"exchange {i + 1} ({format_command(ex.command)}) is masked: it cannot be replayed"
            )
    return [ReplayResult(ex, bytes(transmit(ex.command_bytes))) for ex in todo]
