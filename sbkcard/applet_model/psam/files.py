"""Typed contents of the PSAM's transparent files (Part 9 §5.2–5.7, tables 2–7).

Each class decodes the bytes a READ BINARY returns (``from_bytes``) and encodes them
back (``to_bytes``); the two are inverse for every valid content.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import ClassVar, Self

from sbkcard.applet_model.psam.errors import PsamError
from sbkcard.identifiers.formats import decode_cn, decode_date, encode_cn, encode_date

__all__ = [
    "SEQUENCE_LENGTH",
    "ApplicationInfo",
    "PublicInfo",
    "TerminalInfo",
    "decode_sequence",
    "encode_sequence",
]

SEQUENCE_LENGTH = 4
"""File 0019, the terminal transaction sequence: b 4 (Part 9 table 4)."""


def _check_length(data: bytes, size: int, what: str) -> None:
    if len(data) != size:
        raise PsamError(what, f"is {size} bytes, got {len(data)}")


def _byte(value: int, where: str) -> int:
    if not 0 <= value <= 0xFF:
        raise PsamError(where, f"is one byte (0..255), got {value}")
    return value


@dataclass(frozen=True)
class PublicInfo:
    """EF 0015, 卡片公共信息 (Part 9 table 2), 15 bytes.

    Example (a real PSAM): ``43 | 43990020120619810006 | 22 | 44 | 0000``.
    """

    SIZE: ClassVar[int] = 15

    issuer_id: int
    """发行机构标识, b 1."""
    serial: str
    """PSAM 序列号, cn 10 (up to 20 digits)."""
    version: int
    """PSAM 版本号, b 1."""
    key_card_type: int
    """密钥卡类型, b 1."""
    issuer_data: bytes
    """发卡方自定义 FCI 数据, b 2 (returned in the DDF's FCI as tag ``9F0C``)."""

    def __post_init__(self) -> None:
        _byte(self.issuer_id, "0015 issuer ID")
        _byte(self.version, "0015 version")
        _byte(self.key_card_type, "0015 key-card type")
        if len(self.issuer_data) != 2:
            raise PsamError("0015 issuer FCI data", f"is 2 bytes, got {len(self.issuer_data)}")
        encode_cn(self.serial, 10, field="0015 PSAM serial")

    def to_bytes(self) -> bytes:
        """The 15 bytes of the file."""
        return (
            bytes((self.issuer_id,))
            + encode_cn(self.serial, 10, field="0015 PSAM serial")
            + bytes((self.version, self.key_card_type))
            + self.issuer_data
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Decode the file; :class:`PsamError` or ``FormatError`` if it is malformed."""
        _check_length(data, cls.SIZE, "0015 public information")
        serial = decode_cn(data[1:11], field="0015 PSAM serial")
        return cls(data[0], serial, data[11], data[12], bytes(data[13:15]))


@dataclass(frozen=True)
class TerminalInfo:
    """EF 0016, 终端信息 (Part 9 table 3): the terminal number, cn 6 (12 digits).

    The first six digits are the issuing city's region code, the other six are
    assigned by the PSAM's issuer (Part 9 §7.3.3).
    """

    SIZE: ClassVar[int] = 6

    terminal_number: str

    def __post_init__(self) -> None:
        number = self.terminal_number
        if len(number) != 2 * self.SIZE or not (number.isascii() and number.isdigit()):
            raise PsamError("0016 terminal number", f"is 12 decimal digits, got {number!r}")

    @property
    def region(self) -> str:
        """The city code: the first six digits."""
        return self.terminal_number[:6]

    def to_bytes(self) -> bytes:
        """The 6 BCD bytes of the file."""
        return encode_cn(self.terminal_number, self.SIZE, field="0016 terminal number")

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Decode the file."""
        _check_length(data, cls.SIZE, "0016 terminal information")
        return cls(decode_cn(data, field="0016 terminal number"))


@dataclass(frozen=True)
class ApplicationInfo:
    """EF 001A / 001B / 001C, national / provincial / city application information.

    Part 9 tables 5–7, 10 bytes: purchase key index, authentication key version, start
    and expiry dates (``cn 4``; ``None`` is ``FFFFFFFF``).
    """

    SIZE: ClassVar[int] = 10

    purchase_key_index: int
    auth_key_version: int
    start: datetime.date | None
    expiry: datetime.date | None

    def __post_init__(self) -> None:
        _byte(self.purchase_key_index, "application info purchase key index")
        _byte(self.auth_key_version, "application info authentication key version")

    def to_bytes(self) -> bytes:
        """The 10 bytes of the file."""
        return (
            bytes((self.purchase_key_index, self.auth_key_version))
            + encode_date(self.start, field="application info start date")
            + encode_date(self.expiry, field="application info expiry date")
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Decode the file."""
        _check_length(data, cls.SIZE, "application information")
        return cls(
            data[0],
            data[1],
            decode_date(data[2:6], field="application info start date"),
            decode_date(data[6:10], field="application info expiry date"),
        )


def encode_sequence(value: int) -> bytes:
    """File 0019: the terminal transaction sequence as 4 bytes, big-endian."""
    if not 0 <= value <= 0xFFFFFFFF:
        raise PsamError("0019 terminal sequence", f"is 4 bytes (0..4294967295), got {value}")
    return value.to_bytes(SEQUENCE_LENGTH, "big")


def decode_sequence(data: bytes) -> int:
    """The terminal transaction sequence held in file 0019."""
    _check_length(data, SEQUENCE_LENGTH, "0019 terminal sequence")
    return int.from_bytes(data, "big")
