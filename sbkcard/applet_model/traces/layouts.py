"""The data fields of commands and responses, as the standard's tables lay them out.

Trace decoding (:mod:`sbkcard.applet_model.traces`) reads the data of the purse,
authentication and PSAM commands with these declarations: one :class:`Field` per row of
the standard's "命令报文数据域" / "响应报文数据域" tables, in order, with its length and how
to show its value.  File contents are not here: they come from the data-item
declarations (:mod:`sbkcard.applet_model.data_items`) through the typed records.

Sources: user card Part 5 §6.4, §6.5, §6.7 (authentication), §7 tables 51–71 (purse);
PSAM Part 9 §9.3, §9.7–§9.10.  A table is keyed by ``(INS, P1, P2)``, ``None``
matching any value; :func:`layout_of` picks the most specific entry.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

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


# -- shared rows ---------------------------------------------------------------------------

_AUTH = (
    Field("鉴别数据", "authentication data", 8),
    Field("原始信息", "original data", 8),
    Field("密钥版本号", "key version", 1, Render.NUMBER, optional=True),
)
_INTERNAL = (
    Field("内部认证过程因子", "session-key input", 8),
    Field("原始信息", "original data", 8),
    Field("密钥版本号", "key version", 1, Render.NUMBER, optional=True),
)
_KEY_INDEX = Field("密钥索引号", "key index", 1, Render.NUMBER)
_TERMINAL = Field("终端机编号", "terminal number", 6)
_ACCOUNT = Field("个人帐户支付金额", "personal account payment", 4, Render.FEN)
_SELF_PAID = Field("个人自付金额", "self-paid amount", 4, Render.FEN)
_POOLED = Field("统筹基金支付金额", "pooled-fund payment", 4, Render.FEN)
_BALANCE = Field("CIA 余额", "account balance", 4, Render.FEN)
_KEY_VERSION = Field("密钥版本号", "key version", 1, Render.NUMBER)
_ALGORITHM = Field("算法标识", "algorithm", 1, Render.ALGORITHM)
_RANDOM = Field("伪随机数", "card random", 4)
_YEAR = Field("支付年度", "payment year", 2)
_MAC1 = Field("MAC1", "", 4)
_MAC2 = Field("MAC2", "", 4)
_TAC = Field("TAC", "", 4)
_CHALLENGE = (Field("随机数", "challenge", 0),)

CARD_COMMANDS: Mapping[Key, tuple[Field, ...]] = {
    (0x82, None, None): _AUTH,
    (0x88, None, None): _INTERNAL,
    (0x28, 0x00, None): (_KEY_INDEX, Field("交易金额", "amount", 4, Render.FEN), _TERMINAL),
    (0x28, 0x01, None): (_KEY_INDEX, _ACCOUNT, _SELF_PAID, _POOLED, _TERMINAL),
    (0x2A, None, None): (Field("交易时间（主机）", "host time", 7, Render.TIME), _MAC2),
    (0x2C, None, None): (
        Field("终端交易序号", "terminal sequence number", 4, Render.NUMBER),
        Field("交易时间", "transaction time", 7, Render.TIME),
        _MAC1,
    ),
    (0x2E, None, None): (Field("交易序号", "transaction sequence number", 2, Render.NUMBER),),
    (0x56, 0x00, None): (Field("年度起始日期", "year start (MMDD)", 2),),
}
"""User card command data (Part 5 §6.4, §6.7, tables 51, 55, 62, 66, 70)."""

CARD_RESPONSES: Mapping[Key, tuple[Field, ...]] = {
    (0x84, None, None): _CHALLENGE,
    (0x88, None, None): (Field("鉴别数据", "authentication data", 8),),
    (0x28, 0x00, None): (
        _BALANCE,
        Field("CIA 划入交易序号", "load sequence number", 2, Render.NUMBER),
        _KEY_VERSION,
        _ALGORITHM,
        _RANDOM,
        _MAC1,
    ),
    (0x28, 0x01, None): (
        _BALANCE,
        Field("SPIP 金额", "year's self-paid total", 4, Render.FEN),
        Field("SPFP 金额", "year's pooled-fund total", 4, Render.FEN),
        _YEAR,
        Field("医疗消费交易序号", "purchase sequence number", 2, Render.NUMBER),
        _KEY_VERSION,
        _ALGORITHM,
        _RANDOM,
    ),
    (0x2A, None, None): (_TAC,),
    (0x2C, None, None): (_TAC, _MAC2),
    (0x26, None, 0x01): (_BALANCE,),
    (0x26, None, 0x02): (Field("SPIP 金额", "year's self-paid total", 4, Render.FEN), _YEAR),
    (0x26, None, 0x03): (Field("SPFP 金额", "year's pooled-fund total", 4, Render.FEN), _YEAR),
    (0x2E, None, None): (Field("MAC", "", 4), _TAC),
    (0x56, 0x01, None): (Field("年度起始日期", "year start (MMDD)", 2),),
}
"""User card response data (Part 5 §6.5, §6.7, tables 52, 56, 59, 63, 67, 71)."""

PSAM_COMMANDS: Mapping[Key, tuple[Field, ...]] = {
    (0x82, None, None): _AUTH,
    (0xEC, None, None): (Field("卡识别码首字节", "first byte of the card ID", 1),),
    (0x70, 0x01, None): (
        Field("用户卡随机数", "card random", 4),
        Field("用户卡交易序号", "card purchase sequence number", 2, Render.NUMBER),
        _ACCOUNT,
        _SELF_PAID,
        _POOLED,
        Field("交易类型标识", "transaction type", 1, Render.TEXT),
        Field("交易日期", "date", 4, Render.DATE),
        Field("交易时间", "time (hhmmss)", 3),
        _KEY_VERSION,
        _ALGORITHM,
        Field("分散因子", "diversification factors", 0),
    ),
    (0x72, None, None): (_MAC2,),
}
"""PSAM command data (Part 9 §9.3, tables 27, 31)."""

PSAM_RESPONSES: Mapping[Key, tuple[Field, ...]] = {
    (0x84, None, None): _CHALLENGE,
    (0x70, None, None): (
        Field("终端交易序号", "terminal sequence number", 4, Render.NUMBER),
        _MAC1,
    ),
    **{
        (0xFA, mode.value, None): (
            (Field("MAC", "", 0),) if mode.is_mac else (Field("密文", "enciphered data", 0),)
        )
        for mode in CipherMode
    },
}
"""PSAM response data (Part 9 §9.8–§9.9)."""
