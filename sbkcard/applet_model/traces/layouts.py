"""The data fields of commands and responses, as the standard's tables lay them out.

Trace decoding (:mod:`sbkcard.applet_model.traces`) reads the data of the purse,
authentication and PSAM commands with these tables: one :class:`Field` per row of the
standard's "命令报文数据域" / "响应报文数据域" tables, in order, with its length and how
to show its value, derived from the bodies declared once in :mod:`sbkcard.apdu.bodies`.
File contents are not here: they come from the data-item declarations
(:mod:`sbkcard.applet_model.data_items`) through the typed records.

Sources: user card Part 5 §6.4, §6.5, §6.7 (authentication), §7 tables 51–71 (purse);
PSAM Part 9 §9.3, §9.7–§9.10.  A table is keyed by ``(INS, P1, P2)``, ``None``
matching any value; :func:`layout_of` picks the most specific entry.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from construct import Construct, FormatField, Select, SizeofError

from sbkcard.apdu import bodies
from sbkcard.apdu.builders import CipherMode
from sbkcard.keys import Algorithm

__all__ = [
    "CARD_COMMANDS",
    "CARD_RESPONSES",
    "PSAM_COMMANDS",
    "PSAM_RESPONSES",
    "Field",
    "Render",
    "Row",
    "layout_of",
    "render",
    "rows",
    "split",
]


class Render(Enum):
    """How a field's bytes are shown."""

    HEX = "hex"
    NUMBER = "number"  # unsigned big-endian integer (sequence numbers, indexes)
    FEN = "fen"  # unsigned big-endian amount in fen (分)
    TIME = "time"  # cn 7 CCYYMMDDhhmmss
    DATE = "date"  # cn 4 CCYYMMDD
    ALGORITHM = "algorithm"  # the algorithm identifier of the SSSE FCI (tag 86)
    TEXT = "text"  # an: GBK text, shown after the hex


@dataclass(frozen=True)
class Field:
    """One row of a data-field table: names, length in bytes (``0``: the rest), rendering.

    ``optional`` fields may be absent at the end of the data (e.g. the key version of
    EXTERNAL AUTHENTICATE).
    """

    zh: str
    en: str
    length: int
    render: Render = Render.HEX
    optional: bool = False


@dataclass(frozen=True)
class Row:
    """One decoded value: a label (tag, field number), its names and its value as text."""

    label: str
    zh: str
    en: str
    value: str

    def __str__(self) -> str:
        head = f"{self.label} " if self.label else ""
        names = " ".join(part for part in (self.zh, self.en) if part)
        return f"{head}{names}: {self.value}" if names else f"{head}{self.value}"


def render(how: Render, raw: bytes) -> str:
    """``raw`` shown as ``how`` says (hex when the bytes do not fit the rendering)."""
    text = raw.hex().upper()
    if how is Render.NUMBER:
        return str(int.from_bytes(raw, "big"))
    if how is Render.FEN:
        fen = int.from_bytes(raw, "big")
        return f"{fen // 100}.{fen % 100:02d} 元 ({fen} fen)"
    if how in (Render.TIME, Render.DATE):
        pattern = "%Y%m%d%H%M%S" if how is Render.TIME else "%Y%m%d"
        try:
            moment = datetime.datetime.strptime(text, pattern)
        except ValueError:
            return text
        return moment.isoformat(sep=" ") if how is Render.TIME else moment.date().isoformat()
    if how is Render.TEXT:
        try:
            return f"{text} '{raw.decode('gbk')}'"
        except UnicodeDecodeError:
            return text
    if how is Render.ALGORITHM and len(raw) == 1:
        try:
            return f"{text} {Algorithm(raw[0]).label}"
        except ValueError:
            return text
    return text


def split(layout: Sequence[Field], data: bytes) -> list[Row] | None:
    """The rows of ``data`` laid out as ``layout``; ``None`` if the data does not fit it."""
    rows: list[Row] = []
    offset = 0
    for number, field in enumerate(layout):
        if offset == len(data) and all(f.optional for f in layout[number:]):
            break
        length = len(data) - offset if field.length == 0 else field.length
        if length <= 0 or offset + length > len(data):
            return None
        raw = data[offset : offset + length]
        rows.append(Row("", field.zh, field.en, render(field.render, raw)))
        offset += length
    return rows if offset == len(data) else None


Key = tuple[int, int | None, int | None]
"""``(INS, P1, P2)`` of a table entry; ``None`` matches any value."""


def layout_of(
    table: Mapping[Key, tuple[Field, ...]], ins: int, p1: int, p2: int
) -> tuple[Field, ...] | None:
    """The entry of ``table`` for a command, the most specific one first."""
    for key in ((ins, p1, p2), (ins, p1, None), (ins, None, p2), (ins, None, None)):
        found = table.get(key)
        if found is not None:
            return found
    return None


# -- rows derived from the declared bodies -------------------------------------------------

_RENDERS = {
    id(bodies.Fen): Render.FEN,
    id(bodies.Time): Render.TIME,
    id(bodies.Date): Render.DATE,
    id(bodies.TextCode): Render.TEXT,
    id(bodies.AlgorithmId): Render.ALGORITHM,
}


def _row(row: Construct) -> Field:
    """One :class:`Field` of a declared body's row."""
    zh, en = bodies.names(row)
    inner = row.subcon
    optional = isinstance(inner, Select)
    if optional:
        inner = inner.subcons[0]
    how = _RENDERS.get(id(inner))
    if how is None:
        how = Render.NUMBER if isinstance(inner, FormatField) else Render.HEX
    try:
        length = inner.sizeof()
    except SizeofError:
        length = 0  # the rest of the data
    return Field(zh, en, length, how, optional)


def rows(body: Construct) -> tuple[Field, ...]:
    """The :class:`Field` rows of a body declared in :mod:`sbkcard.apdu.bodies`."""
    return tuple(_row(row) for row in body.subcons)


CARD_COMMANDS: Mapping[Key, tuple[Field, ...]] = {
    (0x82, None, None): rows(bodies.EXTERNAL_AUTHENTICATE),
    (0x88, None, None): rows(bodies.INTERNAL_AUTHENTICATE),
    (0x28, 0x00, None): rows(bodies.INITIALIZE_FOR_LOAD),
    (0x28, 0x01, None): rows(bodies.INITIALIZE_FOR_PURCHASE),
    (0x2A, None, None): rows(bodies.CREDIT_FOR_LOAD),
    (0x2C, None, None): rows(bodies.DEBIT_FOR_PURCHASE),
    (0x2E, None, None): rows(bodies.GET_TRANSACTION_PROOF),
    (0x56, 0x00, None): rows(bodies.STARTING_DAY),
}
"""User card command data (Part 5 §6.4, §6.7, tables 51, 55, 62, 66, 70)."""

CARD_RESPONSES: Mapping[Key, tuple[Field, ...]] = {
    (0x84, None, None): rows(bodies.GET_CHALLENGE_ANSWER),
    (0x88, None, None): rows(bodies.INTERNAL_AUTHENTICATE_ANSWER),
    (0x28, 0x00, None): rows(bodies.INITIALIZE_FOR_LOAD_ANSWER),
    (0x28, 0x01, None): rows(bodies.INITIALIZE_FOR_PURCHASE_ANSWER),
    (0x2A, None, None): rows(bodies.CREDIT_FOR_LOAD_ANSWER),
    (0x2C, None, None): rows(bodies.DEBIT_FOR_PURCHASE_ANSWER),
    (0x26, None, 0x01): rows(bodies.GET_BALANCE_ANSWER),
    (0x26, None, 0x02): rows(bodies.GET_SPIP_ANSWER),
    (0x26, None, 0x03): rows(bodies.GET_SPFP_ANSWER),
    (0x2E, None, None): rows(bodies.GET_TRANSACTION_PROOF_ANSWER),
    (0x56, 0x01, None): rows(bodies.STARTING_DAY),
}
"""User card response data (Part 5 §6.5, §6.7, tables 52, 56, 59, 63, 67, 71)."""

PSAM_COMMANDS: Mapping[Key, tuple[Field, ...]] = {
    (0x82, None, None): rows(bodies.EXTERNAL_AUTHENTICATE),
    (0xEC, None, None): rows(bodies.INITIALIZE_ENVIRONMENT),
    (0x70, 0x01, None): rows(bodies.INIT_SAM_FOR_PURCHASE),
    (0x72, None, None): rows(bodies.CREDIT_SAM_FOR_PURCHASE),
}
"""PSAM command data (Part 9 §9.3, tables 27, 31)."""

PSAM_RESPONSES: Mapping[Key, tuple[Field, ...]] = {
    (0x84, None, None): rows(bodies.GET_CHALLENGE_ANSWER),
    (0x70, None, None): rows(bodies.INIT_SAM_FOR_PURCHASE_ANSWER),
    **{
        (0xFA, mode.value, None): (
            (Field("MAC", "", 0),) if mode.is_mac else (Field("密文", "enciphered data", 0),)
        )
        for mode in CipherMode
    },
}
"""PSAM response data (Part 9 §9.8–§9.9)."""
