"""The data formats of the card's records: ``an``, ``cn``, ``b`` and dates (S2 §7).

- ``an``: text in GBK, left-aligned, right-padded with ``00`` (Part 10 §5.4.1);
- ``cn``: compressed BCD, left-aligned, right-padded with ``F`` nibbles;
- ``b``: binary, exactly the field's length;
- dates: ``CCYYMMDD`` as ``cn 4``; an absent date is ``FFFFFFFF``.
"""

from __future__ import annotations

import datetime

from sbkcard.identifiers.errors import FormatError

__all__ = [
    "DATE_LENGTH",
    "FormatError",
    "decode_an",
    "decode_b",
    "decode_cn",
    "decode_date",
    "encode_an",
    "encode_b",
    "encode_cn",
    "encode_date",
]

DATE_LENGTH = 4
_NO_DATE = b"\xff" * DATE_LENGTH


def encode_an(text: str, length: int, *, field: str) -> bytes:
    """``text`` in GBK, left-aligned and ``00``-padded to ``length`` bytes.

    >>> encode_an("张三", 6, field="name").hex()
    'd5c5c8fd0000'
    """
    try:
        raw = text.encode("gbk")
    except UnicodeEncodeError as exc:
        raise FormatError(
            field, f"character {text[exc.start]!r} cannot be written in GBK (an)"
        ) from None
    if b"\x00" in raw:
        raise FormatError(field, "an text cannot contain NUL, which is the padding")
    if len(raw) > length:
        raise FormatError(field, f"{len(raw)} GBK bytes do not fit an {length} field")
    return raw + bytes(length - len(raw))


def decode_an(data: bytes, *, field: str = "an") -> str:
    """The text of an ``an`` field, trailing ``00`` padding removed."""
    try:
        return data.rstrip(b"\x00").decode("gbk")
    except UnicodeDecodeError:
        raise FormatError(field, f"{data.hex().upper()} is not GBK text") from None


def encode_cn(digits: str, length: int, *, field: str) -> bytes:
    """Decimal ``digits`` as BCD, left-aligned and ``F``-padded to ``length`` bytes.

    >>> encode_cn("12345", 4, field="pin").hex()
    '12345fff'
    """
    if not (digits.isascii() and digits.isdigit()) and digits:
        raise FormatError(field, f"cn holds decimal digits only, got {digits!r}")
    if len(digits) > 2 * length:
        raise FormatError(field, f"{len(digits)} digits do not fit cn {length}")
    return bytes.fromhex(digits.ljust(2 * length, "F"))


def decode_cn(data: bytes, *, field: str = "cn") -> str:
    """The digits of a ``cn`` field, trailing ``F`` padding removed."""
    text = data.hex().upper().rstrip("F")
    if not text.isdigit() and text:
        raise FormatError(field, f"{data.hex().upper()} is not F-padded BCD")
    return text


def encode_b(data: bytes, length: int, *, field: str) -> bytes:
    """``data`` unchanged if it is exactly ``length`` bytes (format ``b``)."""
    if len(data) != length:
        raise FormatError(field, f"b {length} needs {length} bytes, got {len(data)}")
    return bytes(data)


def decode_b(data: bytes, length: int, *, field: str = "b") -> bytes:
    """The bytes of a ``b`` field of ``length`` bytes."""
    return encode_b(data, length, field=field)


def encode_date(d: datetime.date | None, *, field: str) -> bytes:
    """``CCYYMMDD`` as ``cn 4``; ``None`` (no date) is ``FFFFFFFF``.

    >>> encode_date(datetime.date(2018, 4, 3), field="issue_date").hex()
    '20180403'
    """
    if d is None:
        return _NO_DATE
    if d.year < 1000:
        raise FormatError(field, f"year {d.year} does not fit CCYY")
    return encode_cn(d.strftime("%Y%m%d"), DATE_LENGTH, field=field)


def decode_date(data: bytes, *, field: str = "date") -> datetime.date | None:
    """The date of a ``cn 4`` field; ``FFFFFFFF`` gives ``None``."""
    if len(data) != DATE_LENGTH:
        raise FormatError(field, f"a date is cn {DATE_LENGTH}, got {len(data)} bytes")
    if data == _NO_DATE:
        return None
    digits = decode_cn(data, field=field)
    if len(digits) != 2 * DATE_LENGTH:
        raise FormatError(field, f"{data.hex().upper()} is not CCYYMMDD")
    try:
        return datetime.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise FormatError(field, f"{digits} is not a calendar date") from None
