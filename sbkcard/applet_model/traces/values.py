"""What the device models of trace decoding share: the command as a decoder sees it, the
result of decoding one command, and the way values are shown.

A secret never reaches a device model: :func:`cmd_of` drops the data of every command of
:data:`sbkcard.apdu.trace.MASK_RULES` (PINs, key material), whether or not the trace
masked it, so that nothing downstream can decode or print it.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sbkcard.apdu.command import CommandAPDU
from sbkcard.apdu.errors import TlvError
from sbkcard.apdu.status import parse_more_data
from sbkcard.apdu.tlv import BerTlv, parse_ber_tlv
from sbkcard.apdu.trace import MaskedCommand, command_name, is_sensitive
from sbkcard.applet_model.traces.layouts import Field, Key, Row, layout_of, split
from sbkcard.identifiers import CardId

__all__ = [
    "MAC_LENGTH",
    "MASK",
    "Apply",
    "Cmd",
    "Interpret",
    "Step",
    "ber_rows",
    "cmd_of",
    "hex_preview",
    "hex_rows",
    "layout_rows",
    "masked",
    "quoted",
    "success",
    "text",
]

MASK = "**"
"""What a masked byte looks like (as in :mod:`sbkcard.apdu.trace`)."""

MAC_LENGTH = 4


@dataclass(frozen=True)
class Cmd:
    """A command as decoders see it: ``data`` is ``None`` when it is secret or masked."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes | None
    length: int
    """Bytes in the data field (known even when the data is not)."""
    le: int | None

    @property
    def secure_messaging(self) -> bool:
        """CLA ``x4`` (Part 4 §8)."""
        return self.cla & 0x0F == 0x04

    @property
    def header(self) -> str:
        """``CLA INS P1 P2`` in hex."""
        return f"{self.cla:02X} {self.ins:02X} {self.p1:02X} {self.p2:02X}"

    @property
    def name(self) -> str:
        """The standard's name of the command (:func:`sbkcard.apdu.trace.command_name`)."""
        return command_name(self)


def cmd_of(command: CommandAPDU | MaskedCommand) -> Cmd:
    """``command`` with its data dropped if the trace masked it or if it is a secret."""
    if isinstance(command, MaskedCommand):
        return Cmd(
            command.cla, command.ins, command.p1, command.p2, None, command.data.length, command.le
        )
    data: bytes | None = command.data
    if is_sensitive(command.cla, command.ins, command.p1):
        data = None
    return Cmd(
        command.cla, command.ins, command.p1, command.p2, data, len(command.data), command.le
    )


Interpret = Callable[[bytes], list[Row]]
"""Reads the data of a successful answer."""
Apply = Callable[[int], None]
"""Updates a device model once the status word of the command is known."""


@dataclass
class Step:
    """What a device model makes of one command."""

    name: str
    notes: list[str] = field(default_factory=list)
    fields: list[Row] = field(default_factory=list)
    interpret: Interpret | None = None
    apply: Apply | None = None


def success(sw: int) -> bool:
    """``9000``, or ``61xx`` (done, data waiting for GET RESPONSE)."""
    return sw == 0x9000 or parse_more_data(sw) is not None


# -- showing values ---------------------------------------------------------------------------


def text(value: Any) -> str:
    """A decoded value (of the typed records or the PSAM files) as text."""
    if value is None:
        return "— (none)"
    if isinstance(value, str):
        return value if value else "(empty)"
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, CardId):
        return value.hex
    if isinstance(value, bytes | bytearray):
        return hex_preview(bytes(value))
    if isinstance(value, enum.Enum):
        return value.name
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        parts = (f"{f.name}={text(getattr(value, f.name))}" for f in dataclasses.fields(value))
        return ", ".join(parts)
    if isinstance(value, tuple):
        return "; ".join(text(v) for v in value) if value else "(none)"
    return str(value)


def hex_preview(raw: bytes, limit: int = 32) -> str:
    """``raw`` in hex, or its length and first 16 bytes when longer than ``limit``."""
    if len(raw) <= limit:
        return raw.hex().upper()
    blank = "" if any(b not in (0x00, 0xFF) for b in raw) else ", blank"
    return f"{len(raw)} bytes{blank}: {raw[:16].hex().upper()}…"


def quoted(raw: bytes) -> str:
    """``raw`` in hex, followed by its GBK text when it reads as text (DF names, labels)."""
    try:
        decoded = raw.decode("gbk")
    except UnicodeDecodeError:
        return raw.hex().upper()
    if not decoded.isprintable():
        return raw.hex().upper()
    return f'{raw.hex().upper()} "{decoded}"'


def masked(length: int) -> str:
    """``length`` masked bytes."""
    return MASK * length


def hex_rows(data: bytes, what: str = "data") -> list[Row]:
    """One row with ``data`` in hex (none for no data)."""
    return [Row("", what, "", data.hex().upper())] if data else []


def layout_rows(table: Mapping[Key, tuple[Field, ...]], cmd: Cmd, data: bytes) -> list[Row]:
    """``data`` read with the layout ``table`` gives for ``cmd``, else in hex."""
    layout = layout_of(table, cmd.ins, cmd.p1, cmd.p2)
    rows = split(layout, data) if layout is not None else None
    return hex_rows(data) if rows is None else rows


# -- FCI and directory templates (Part 5 tables 36–38; Part 3 §6.3) ----------------------------

_BER_NAMES: dict[int, tuple[str, str]] = {
    0x6F: ("FCI 模板", "FCI template"),
    0x84: ("DF 名称", "DF name"),
    0xA5: ("FCI 专用数据", "FCI proprietary data"),
    0x88: ("目录文件短文件标识符", "directory SFI"),
    0x9F0C: ("发卡方自定义数据", "issuer discretionary data"),
    0x61: ("应用模板", "application template"),
    0x4F: ("应用标识符", "AID"),
    0x50: ("应用标签", "application label"),
}
_TEXT_TAGS = frozenset({0x84, 0x4F, 0x50})


def ber_rows(
    data: bytes, *, discretionary: Callable[[bytes], list[Row]] | None = None
) -> list[Row]:
    """BER-TLV data (an FCI, DIR templates), one row per node, children after parents.

    ``discretionary`` reads the content of tag ``9F0C``.
    """
    try:
        nodes = parse_ber_tlv(data)
    except TlvError as exc:
        return [Row("", "not BER-TLV", "", f"{data.hex().upper()} ({exc.reason})")]
    rows: list[Row] = []

    def walk(node: BerTlv, depth: int) -> None:
        zh, en = _BER_NAMES.get(node.tag, ("", ""))
        label = "  " * depth + f"{node.tag:02X}"
        if node.constructed:
            rows.append(Row(label, zh, en, f"{len(node.value)} bytes"))
            for child in node.children:
                walk(child, depth + 1)
            return
        value = node.value
        shown = quoted(value) if node.tag in _TEXT_TAGS else value.hex().upper()
        rows.append(Row(label, zh, en, shown))
        if node.tag == 0x9F0C and discretionary is not None:
            rows.extend(
                Row("  " * (depth + 1) + row.label, row.zh, row.en, row.value)
                for row in discretionary(value)
            )

    for node in nodes:
        walk(node, 0)
    return rows
