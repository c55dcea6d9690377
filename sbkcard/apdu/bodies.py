"""The data fields of the standard's commands and responses, each declared once.

One :mod:`construct` ``Struct`` per "命令报文数据域" / "响应报文数据域" table, named for the
command (``INITIALIZE_FOR_PURCHASE``, ``INITIALIZE_FOR_PURCHASE_ANSWER``), and the
purse file and cryptogram inputs the purse commands share.  The builders
(:mod:`sbkcard.apdu.builders`), both card models, the terminal and the trace decoder
read and write the bytes through these declarations: :func:`parse`, :func:`build` and
``sizeof`` come from the one declaration.

Each field carries its Chinese and English names (the trace decoder shows them); the
field types say how a value is shown: :data:`Fen` amounts, :class:`Bcd` ``cn`` digits
(:data:`Time` ``CCYYMMDDhhmmss``, :data:`Date` ``CCYYMMDD``), :data:`TextCode` ``an 1``
codes, :data:`AlgorithmId` the algorithm identifier of the SSSE FCI (tag ``86``).

Sources: user card Part 5 §6.4, §6.5, §6.7 (authentication), §7 tables 51–71 (purse);
the purse file S2 §7; cryptogram inputs Part 7 §11–§12; PSAM Part 9 §9.3, §9.9, §9.10.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import Any

from construct import (
    Adapter,
    Bytes,
    Construct,
    ConstructError,
    Container,
    FormatField,
    GreedyBytes,
    GreedyRange,
    Int8ub,
    Int16ub,
    Int32ub,
    Optional,
    Renamed,
    Select,
    SizeofError,
    Struct,
)

from sbkcard.errors import SbkcardError

__all__ = [
    "ALL",
    "CREDIT_FOR_LOAD",
    "CREDIT_FOR_LOAD_ANSWER",
    "CREDIT_SAM_FOR_PURCHASE",
    "DEBIT_FOR_PURCHASE",
    "DEBIT_FOR_PURCHASE_ANSWER",
    "EXTERNAL_AUTHENTICATE",
    "GET_BALANCE_ANSWER",
    "GET_CHALLENGE_ANSWER",
    "GET_SPFP_ANSWER",
    "GET_SPIP_ANSWER",
    "GET_TRANSACTION_PROOF",
    "GET_TRANSACTION_PROOF_ANSWER",
    "INITIALIZE_ENVIRONMENT",
    "INITIALIZE_FOR_LOAD",
    "INITIALIZE_FOR_LOAD_ANSWER",
    "INITIALIZE_FOR_PURCHASE",
    "INITIALIZE_FOR_PURCHASE_ANSWER",
    "INIT_SAM_FOR_PURCHASE",
    "INIT_SAM_FOR_PURCHASE_ANSWER",
    "INTERNAL_AUTHENTICATE",
    "INTERNAL_AUTHENTICATE_ANSWER",
    "LOAD_MAC1_INPUT",
    "LOAD_MAC2_INPUT",
    "LOAD_SESSION_INPUT",
    "LOAD_TAC_INPUT",
    "PURCHASE_AMOUNTS",
    "PURCHASE_MAC1_INPUT",
    "PURCHASE_SESSION_INPUT",
    "PURCHASE_TAC_INPUT",
    "PURSE",
    "STARTING_DAY",
    "TRANSACTION_PROOF_RECORD",
    "AlgorithmId",
    "Bcd",
    "BodyError",
    "Date",
    "Fen",
    "TextCode",
    "Time",
    "build",
    "field",
    "names",
    "parse",
]


class BodyError(SbkcardError, ValueError):
    """Bytes that do not fit a declared body, or values that cannot be built into one."""


class Bcd(Adapter):  # type: ignore[misc]
    """``cn n``: n bytes of packed decimal digits, as the string of its ``2n`` digits."""

    def __init__(self, length: int) -> None:
        super().__init__(Bytes(length))
        self.length = length

    def _decode(self, obj: bytes, context: Any, path: str) -> str:
        digits = obj.hex()
        if not digits.isdigit():
            raise BodyError(f"{obj.hex().upper()} is not cn {self.length} (BCD digits)")
        return digits

    def _encode(self, obj: str, context: Any, path: str) -> bytes:
        if not isinstance(obj, str) or len(obj) != 2 * self.length or not obj.isdigit():
            raise BodyError(f"{obj!r} is not {2 * self.length} digits (cn {self.length})")
        return bytes.fromhex(obj)


Fen = FormatField(">", "L")
"""An amount in fen (分), ``b 4``."""
TextCode = FormatField(">", "B")
"""An ``an 1`` code, e.g. the transaction type ``'2'`` (S2 table 51)."""
AlgorithmId = FormatField(">", "B")
"""The algorithm identifier (FCI tag ``86``)."""
Time = Bcd(7)
"""``cn 7`` ``CCYYMMDDhhmmss``."""
Date = Bcd(4)
"""``cn 4`` ``CCYYMMDD``."""


def field(name: str, subcon: Construct, zh: str, en: str = "") -> Construct:
    """One row of a data-field table: the name in code, the standard's and English names."""
    return Renamed(subcon, newname=name, newdocs=f"{zh}|{en}")


def names(row: Construct) -> tuple[str, str]:
    """The Chinese and English names of a :func:`field`."""
    zh, _, en = str(row.docs).partition("|")
    return zh, en


# -- shared rows -------------------------------------------------------------------------

_KEY_INDEX = field("key_index", Int8ub, "密钥索引号", "key index")
_KEY_VERSION = field("key_version", Int8ub, "密钥版本号", "key version")
_ALGORITHM = field("algorithm", AlgorithmId, "算法标识", "algorithm")
_TERMINAL = field("terminal", Bytes(6), "终端机编号", "terminal number")
_ACCOUNT = field("account", Fen, "个人帐户支付金额", "personal account payment")
_SELF_PAID = field("self_paid", Fen, "个人自付金额", "self-paid amount")
_POOLED = field("pooled", Fen, "统筹基金支付金额", "pooled-fund payment")
_BALANCE = field("balance", Fen, "CIA 余额", "account balance")
_SPIP = field("spip", Fen, "SPIP 金额", "year's self-paid total")
_SPFP = field("spfp", Fen, "SPFP 金额", "year's pooled-fund total")
_YEAR = field("year", Bcd(2), "支付年度", "payment year")
_RANDOM = field("random", Bytes(4), "伪随机数", "card random")
_TYPE = field("kind", TextCode, "交易类型标识", "transaction type")
_TERMINAL_SEQ = field("terminal_seq", Int32ub, "终端交易序号", "terminal sequence number")
_MAC1 = field("mac1", Bytes(4), "MAC1")
_MAC2 = field("mac2", Bytes(4), "MAC2")
_TAC = field("tac", Bytes(4), "TAC")
_START = field("start", Bcd(2), "年度起始日期", "year start (MMDD)")


def _auth(first: Construct) -> Construct:
    return Struct(
        first,
        field("original", Bytes(8), "原始信息", "original data"),
        field("version", Optional(Int8ub), "密钥版本号", "key version"),
    )


# -- authentication (Part 5 §6.4, §6.5, §6.7; Part 9 §9.4) ---------------------------------

EXTERNAL_AUTHENTICATE = _auth(field("auth", Bytes(8), "鉴别数据", "authentication data"))
"""EXTERNAL AUTHENTICATE ``00 82``: auth data 8 ‖ original 8 [‖ key version]."""
INTERNAL_AUTHENTICATE = _auth(field("factor", Bytes(8), "内部认证过程因子", "session-key input"))
"""INTERNAL AUTHENTICATE ``00 88``: session-key input 8 ‖ original 8 [‖ key version]."""
INTERNAL_AUTHENTICATE_ANSWER = Struct(field("auth", Bytes(8), "鉴别数据", "authentication data"))
"""INTERNAL AUTHENTICATE's answer: the authentication data."""
GET_CHALLENGE_ANSWER = Struct(field("challenge", GreedyBytes, "随机数", "challenge"))
"""GET CHALLENGE's answer: 4, 8 or 16 random bytes."""

# -- the medical purse (Part 5 §7, tables 51–71) -------------------------------------------

INITIALIZE_FOR_LOAD = Struct(_KEY_INDEX, field("amount", Fen, "交易金额", "amount"), _TERMINAL)
"""INITIALIZE FOR LOAD ``B0 28 00 01`` (table 66)."""
INITIALIZE_FOR_LOAD_ANSWER = Struct(
    _BALANCE,
    field("seq", Int16ub, "CIA 划入交易序号", "load sequence number"),
    _KEY_VERSION,
    _ALGORITHM,
    _RANDOM,
    _MAC1,
)
"""INITIALIZE FOR LOAD's answer (table 67)."""
INITIALIZE_FOR_PURCHASE = Struct(_KEY_INDEX, _ACCOUNT, _SELF_PAID, _POOLED, _TERMINAL)
"""INITIALIZE FOR PURCHASE ``B0 28 01 01`` (table 70)."""
INITIALIZE_FOR_PURCHASE_ANSWER = Struct(
    _BALANCE,
    _SPIP,
    _SPFP,
    _YEAR,
    field("seq", Int16ub, "医疗消费交易序号", "purchase sequence number"),
    _KEY_VERSION,
    _ALGORITHM,
    _RANDOM,
)
"""INITIALIZE FOR PURCHASE's answer (table 71)."""
CREDIT_FOR_LOAD = Struct(field("time", Time, "交易时间（主机）", "host time"), _MAC2)
"""CREDIT FOR LOAD ``B0 2A 00 00`` (table 51)."""
CREDIT_FOR_LOAD_ANSWER = Struct(_TAC)
"""CREDIT FOR LOAD's answer (table 52)."""
DEBIT_FOR_PURCHASE = Struct(
    _TERMINAL_SEQ, field("time", Time, "交易时间", "transaction time"), _MAC1
)
"""DEBIT FOR PURCHASE ``B0 2C 01 00`` (table 55)."""
DEBIT_FOR_PURCHASE_ANSWER = Struct(_TAC, _MAC2)
"""DEBIT FOR PURCHASE's answer (table 56)."""
GET_BALANCE_ANSWER = Struct(_BALANCE)
"""GET BALANCE ``01``'s answer: the account balance (table 59)."""
GET_SPIP_ANSWER = Struct(_SPIP, _YEAR)
"""GET BALANCE ``02``'s answer: the year's self-paid total and the payment year."""
GET_SPFP_ANSWER = Struct(_SPFP, _YEAR)
"""GET BALANCE ``03``'s answer: the year's pooled-fund total and the payment year."""
GET_TRANSACTION_PROOF = Struct(field("seq", Int16ub, "交易序号", "transaction sequence number"))
"""GET TRANSACTION PROOF ``B0 2E 00 type`` (table 62)."""
GET_TRANSACTION_PROOF_ANSWER = Struct(field("mac", Bytes(4), "MAC"), _TAC)
"""GET TRANSACTION PROOF's answer: the MAC2 (purchase) or MAC of the transaction and its TAC."""
STARTING_DAY = Struct(_START)
"""UPDATE STARTING DAY's data and GET STARTING DAY's answer: ``MMDD``."""

PURSE = Struct(
    field("load_seq", Int16ub, "联机交易序号", "load sequence number"),
    field("purchase_seq", Int16ub, "脱机交易序号", "purchase sequence number"),
    _BALANCE,
    _SPIP,
    _SPFP,
    _YEAR,
    _START,
)
"""The purse file, 20 bytes (S2 §7 "医疗保险金额文件")."""

TRANSACTION_PROOF_RECORD = Struct(
    _TYPE,
    field("seq", Int16ub, "交易序号", "transaction sequence number"),
    field("mac", Bytes(4), "MAC"),
    _TAC,
)
"""What the card keeps for GET TRANSACTION PROOF (Part 7 §14): type, seq, MAC, TAC."""

# -- cryptogram inputs (Part 7 §11–§12, §15) -----------------------------------------------

PURCHASE_AMOUNTS = Struct(_ACCOUNT, _SELF_PAID, _POOLED)
"""The three amounts of a purchase; MAC2's input (Part 7 §12.6)."""
PURCHASE_SESSION_INPUT = Struct(
    _RANDOM,
    field("seq", Int16ub, "医疗消费交易序号", "purchase sequence number"),
    field("terminal_seq", Bytes(2), "终端交易序号低两字节", "terminal sequence, last 2 bytes"),
)
"""SESPK's input: card random ‖ purchase seq ‖ terminal seq's last two bytes (§12.3)."""
PURCHASE_MAC1_INPUT = Struct(
    _ACCOUNT, _SELF_PAID, _POOLED, _TYPE, _TERMINAL, field("time", Time, "交易时间", "time")
)
"""MAC1's input of a purchase (Part 7 §12.3)."""
PURCHASE_TAC_INPUT = Struct(
    _ACCOUNT,
    _SELF_PAID,
    _POOLED,
    _TYPE,
    _TERMINAL,
    _TERMINAL_SEQ,
    field("time", Time, "交易时间", "time"),
)
"""TAC's input of a purchase (Part 7 §12.6, §15)."""
LOAD_SESSION_INPUT = Struct(
    _RANDOM,
    field("seq", Int16ub, "CIA 划入交易序号", "load sequence number"),
    field("pad", Int16ub, "填充", "padding 8000"),
)
"""SESLK's input: card random ‖ load seq ‖ ``80 00`` (Part 7 §11.2)."""
LOAD_MAC1_INPUT = Struct(_BALANCE, field("amount", Fen, "交易金额", "amount"), _TYPE, _TERMINAL)
"""MAC1's input of a load (Part 7 §11.2)."""
LOAD_MAC2_INPUT = Struct(
    field("amount", Fen, "交易金额", "amount"), _TYPE, _TERMINAL, field("time", Time, "主机时间")
)
"""MAC2's input of a load (Part 7 §11.5)."""
LOAD_TAC_INPUT = Struct(
    _BALANCE,
    field("seq", Int16ub, "CIA 划入交易序号", "load sequence number"),
    field("amount", Fen, "交易金额", "amount"),
    _TYPE,
    _TERMINAL,
    field("time", Time, "主机时间"),
)
"""TAC's input of a load: the new balance, the sequence before +1 (Part 7 §11.8)."""

# -- PSAM (Part 9 §9.3, §9.9, §9.10) -------------------------------------------------------

INITIALIZE_ENVIRONMENT = Struct(
    field("province", Bytes(1), "卡识别码首字节", "first byte of the card ID")
)
"""INITIALIZE ENVIRONMENT ``BF EC``."""
INIT_SAM_FOR_PURCHASE = Struct(
    field("random", Bytes(4), "用户卡随机数", "card random"),
    field("seq", Int16ub, "用户卡交易序号", "card purchase sequence number"),
    _ACCOUNT,
    _SELF_PAID,
    _POOLED,
    _TYPE,
    field("date", Date, "交易日期", "date"),
    field("time", Bcd(3), "交易时间", "time (hhmmss)"),
    _KEY_VERSION,
    _ALGORITHM,
    field("factors", GreedyRange(Bytes(8)), "分散因子", "diversification factors"),
)
"""INIT SAM FOR PURCHASE ``80 70 01 00`` (table 27): factors card level first, 1–3."""
INIT_SAM_FOR_PURCHASE_ANSWER = Struct(_TERMINAL_SEQ, _MAC1)
"""INIT SAM FOR PURCHASE's answer: terminal sequence number ‖ MAC1."""
CREDIT_SAM_FOR_PURCHASE = Struct(_MAC2)
"""CREDIT SAM FOR PURCHASE ``80 72 00 00`` (table 31)."""

ALL: dict[str, Construct] = {
    name: value
    for name, value in sorted(globals().items())
    if name.isupper() and isinstance(value, Struct)
}
"""Every declared body by name (the round-trip test walks them)."""


@dataclass(frozen=True)
class _Fast:
    """A body's compiled form and what makes it safe to use (compiled code skips
    construct's length checks): the lengths the body can have, and the byte rows' lengths."""

    sizes: frozenset[int]
    byte_rows: tuple[tuple[str, int], ...]
    compiled: Construct


_FAST: dict[int, _Fast | None] = {}


def _fast(body: Construct) -> _Fast | None:
    """The compiled form of ``body``, or ``None`` if it has a greedy row."""
    if id(body) not in _FAST:
        sizes = {0}
        byte_rows = tuple(
            (row.name, row.subcon.length)
            for row in body.subcons
            if isinstance(row.subcon, Bytes) and isinstance(row.subcon.length, int)
        )
        for number, row in enumerate(body.subcons):
            inner = row.subcon if isinstance(row, Renamed) else row
            last = number == len(body.subcons) - 1
            try:
                if isinstance(inner, Select) and last:
                    sizes |= {s + inner.subcons[0].sizeof() for s in sizes}
                else:
                    sizes = {s + inner.sizeof() for s in sizes}
            except SizeofError:
                _FAST[id(body)] = None
                break
        else:
            _FAST[id(body)] = _Fast(frozenset(sizes), byte_rows, body.compile())
    return _FAST[id(body)]


def parse(body: Construct, data: bytes) -> Container:
    """``data`` read as ``body``, all of it; :class:`BodyError` if it does not fit."""
    fast = _fast(body)
    if fast is not None and len(data) in fast.sizes:  # no row can come up short
        try:
            return fast.compiled.parse(data)
        except ConstructError as exc:
            raise BodyError(str(exc)) from exc
    stream = io.BytesIO(data)
    try:
        value = body.parse_stream(stream)
    except ConstructError as exc:
        raise BodyError(str(exc)) from exc
    if stream.tell() != len(data):
        raise BodyError(f"{len(data) - stream.tell()} bytes left over after the body")
    return value


def build(body: Construct, **values: Any) -> bytes:
    """The bytes of ``body`` with ``values``; :class:`BodyError` naming what does not fit."""
    fast = _fast(body)
    if fast is not None and all(
        isinstance(values.get(name), bytes) and len(values[name]) == length
        for name, length in fast.byte_rows
    ):  # every byte row has its length: compiled code builds what construct would
        try:
            return bytes(fast.compiled.build(values))
        except (ConstructError, struct.error) as exc:
            raise BodyError(str(exc)) from exc
    try:
        return bytes(body.build(values))
    except ConstructError as exc:
        raise BodyError(str(exc)) from exc
