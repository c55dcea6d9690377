"""Reading a trace and annotating every exchange (Part 3; Part 5; Part 9).

:func:`read_trace` reads a trace in the format of :mod:`sbkcard.apdu.trace`, whose lines
may start with the device they went to (``card``, ``psam``), as the trace a terminal
shares between its card and PSAM sessions writes them.  :func:`decode_trace` follows each
device with its model (:class:`~sbkcard.applet_model.traces.card.CardModel`,
:class:`~sbkcard.applet_model.traces.psam.PsamModel`) and gives one :class:`Decoded` per
exchange: the command's name, the DF it ran in, where it pointed, its data fields, the
secure-messaging layout, the response's data decoded and the meaning of the status word.

Data a command announces with ``61xx`` is decoded as that command's answer when GET
RESPONSE brings it (several GET RESPONSE chunks are joined).  Secrets stay masked: see
:func:`~sbkcard.applet_model.traces.values.cmd_of`; the command line printed is the
trace's own, formatted again with masking on.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sbkcard.apdu.command import CommandAPDU
from sbkcard.apdu.errors import TraceFormatError
from sbkcard.apdu.response import ResponseAPDU
from sbkcard.apdu.status import describe, parse_more_data, parse_wrong_le
from sbkcard.apdu.trace import Exchange, MaskedCommand, format_command, format_response, parse_trace
from sbkcard.applet_model.traces.card import CardModel
from sbkcard.applet_model.traces.layouts import Row
from sbkcard.applet_model.traces.psam import PsamModel
from sbkcard.applet_model.traces.values import Interpret, cmd_of, hex_rows

__all__ = [
    "DEVICES",
    "INS_GET_RESPONSE",
    "Decoded",
    "TracedExchange",
    "decode_trace",
    "decoded_text",
    "read_trace",
    "sw_of",
]

DEVICES = ("card", "psam")
"""The devices a terminal's trace names (``card``: the user card)."""

INS_GET_RESPONSE = 0xC0


@dataclass(frozen=True)
class TracedExchange:
    """One exchange of a trace, the device it went to and the line of its command."""

    device: str
    exchange: Exchange
    line: int


_DEVICE = re.compile(r"\s*([A-Za-z][A-Za-z0-9_-]*)(?=\s)")
_COMMAND_LINE = re.compile(r"\s*(?:\d+(?:\.\d+)?\s+)?>>")


def read_trace(text: str, *, device: str = "card") -> list[TracedExchange]:
    """The exchanges of a trace; lines without a device prefix went to ``device``.

    Raises :class:`~sbkcard.apdu.errors.TraceFormatError` naming the line and column of
    anything that is not a trace line, and for a response whose device is not the one
    its command went to.
    """
    plain: list[str] = []
    commands: list[tuple[str, int]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        here, body = device, line
        match = _DEVICE.match(line)
        if match is not None:
            here = match.group(1)
            body = " " * match.end() + line[match.end() :]
        plain.append(body)
        code = body.split(";", 1)[0]
        if _COMMAND_LINE.match(code):
            commands.append((here, number))
        elif match is not None and code.strip() and commands and commands[-1][0] != here:
            last, at = commands[-1]
            raise TraceFormatError(
                f"a {here} response follows a {last} command (line {at})", 0, line=number
            )
    exchanges = parse_trace("\n".join(plain))
    return [
        TracedExchange(name, exchange, number)
        for (name, number), exchange in zip(commands, exchanges, strict=True)
    ]


@dataclass(frozen=True)
class Decoded:
    """One exchange, annotated: what the command did, where, and what came back."""

    number: int
    device: str
    line: int
    name: str
    location: str
    """The DF (and current EF) the command ran in."""
    command: str
    """The command as a trace shows it, PIN and key data masked."""
    notes: tuple[str, ...] = ()
    """Addressing, secure-messaging layout, keys."""
    fields: tuple[Row, ...] = ()
    """The command's data, decoded."""
    response: str | None = None
    """The response as a trace shows it (``None``: no answer recorded)."""
    items: tuple[Row, ...] = ()
    """The response's data, decoded."""
    status: str = ""
    """The meaning of the status word."""

    def lines(self) -> list[str]:
        """The annotation as text lines."""
        out = [f"#{self.number} {self.device} {self.name}  [{self.location}]  line {self.line}"]
        out.append(f"    {self.command}")
        out += [f"    {note}" for note in self.notes]
        out += [f"      {row}" for row in self.fields]
        if self.response is None:
            out.append("    << (no response recorded)")
            return out
        out.append(f"    {self.response}  {self.status}".rstrip())
        out += [f"      {row}" for row in self.items]
        return out


def sw_of(exchange: Exchange) -> int | None:
    """The status word recorded for an exchange (``None``: no response APDU recorded)."""
    response = exchange.response
    return response.sw if isinstance(response, ResponseAPDU) else None


@dataclass
class _Pending:
    """A command whose answer waits behind ``61xx``."""

    number: int
    name: str
    interpret: Interpret
    data: bytes = b""


@dataclass(frozen=True)
class _Answer:
    """The response side of a :class:`Decoded`."""

    response: str | None = None
    items: tuple[Row, ...] = ()
    status: str = ""


def _answer(
    ex: Exchange, ins: int | None, interpret: Interpret | None, data: bytes | None = None
) -> _Answer:
    """The response of ``ex`` shown, and ``data`` (default: its own) interpreted."""
    response = ex.response
    if response is None:
        return _Answer()
    shown = format_response(response, ins=ins).split("  ; ", 1)[0]
    if not isinstance(response, ResponseAPDU):
        return _Answer(shown, (), "not a response APDU")
    info = describe(response.sw, ins)
    data = response.data if data is None else data
    items: list[Row] = []
    if interpret is not None and data:
        items = interpret(data) if response.sw == 0x9000 else hex_rows(data)
    return _Answer(shown, tuple(items), f"{info.en} ({info.zh})")


class _Device:
    """One device's model and the answer it still owes behind ``61xx``."""

    def __init__(self, name: str) -> None:
        self.model: CardModel | PsamModel = PsamModel() if name == "psam" else CardModel()
        self.pending: _Pending | None = None

    def decode(self, number: int, traced: TracedExchange) -> Decoded:
        ex = traced.exchange
        shown = format_command(ex.command, mask=True).split("  ; ", 1)[0]
        base = Decoded(number, traced.device, traced.line, "", self.model.location, shown)
        command = ex.command
        if not isinstance(command, CommandAPDU | MaskedCommand):
            self.pending = None
            return self._done(base, "(not an APDU)", (), (), _answer(ex, None, None))
        cmd = cmd_of(command)
        if cmd.ins == INS_GET_RESPONSE and cmd.cla & 0xF0 == 0x00:
            return self._get_response(base, ex)
        self.pending = None
        step = self.model.step(cmd)
        sw = sw_of(ex)
        if sw is not None and step.apply is not None:
            step.apply(sw)
        interpret: Interpret | None = step.interpret or hex_rows
        if sw is not None and parse_more_data(sw) is not None and interpret is not None:
            self.pending = _Pending(number, step.name, interpret)
            interpret = None
        answer = _answer(ex, cmd.ins, interpret)
        return self._done(base, step.name, tuple(step.notes), tuple(step.fields), answer)

    def _get_response(self, base: Decoded, ex: Exchange) -> Decoded:
        pending, sw = self.pending, sw_of(ex)
        if pending is None:
            note = ("no 61xx before it: nothing to fetch",)
            return self._done(base, "GET RESPONSE", note, (), _answer(ex, INS_GET_RESPONSE, None))
        note = (f"fetches the answer of #{pending.number} {pending.name}",)
        response = ex.response
        data = response.data if isinstance(response, ResponseAPDU) else b""
        if sw is not None and parse_more_data(sw) is not None:
            pending.data += data
            answer = _answer(ex, INS_GET_RESPONSE, None)
        elif sw is not None and parse_wrong_le(sw) is not None:
            answer = _answer(ex, INS_GET_RESPONSE, None)
        else:
            self.pending = None
            answer = _answer(ex, INS_GET_RESPONSE, pending.interpret, pending.data + data)
        return self._done(base, "GET RESPONSE", note, (), answer)

    @staticmethod
    def _done(
        base: Decoded,
        name: str,
        notes: tuple[str, ...],
        fields: tuple[Row, ...],
        answer: _Answer,
    ) -> Decoded:
        return dataclasses.replace(
            base,
            name=name,
            notes=notes,
            fields=fields,
            response=answer.response,
            items=answer.items,
            status=answer.status,
        )


def decode_trace(traced: Iterable[TracedExchange]) -> list[Decoded]:
    """Annotate every exchange of a trace (see the module docstring)."""
    devices: dict[str, _Device] = {}
    out = []
    for number, one in enumerate(traced, start=1):
        device = devices.setdefault(one.device, _Device(one.device))
        out.append(device.decode(number, one))
    return out


def decoded_text(decoded: Sequence[Decoded]) -> str:
    """The annotations of a whole trace as text (what ``sbkcard trace decode`` prints)."""
    return "".join(line + "\n" for one in decoded for line in one.lines())
