"""The an / cn / b formats and dates (S2 §7)."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sbkcard.identifiers import (
    FormatError,
    IdentifierError,
    decode_an,
    decode_b,
    decode_cn,
    decode_date,
    encode_an,
    encode_b,
    encode_cn,
    encode_date,
)

H = bytes.fromhex


def _gbk(char: str) -> bool:
    try:
        char.encode("gbk")
    except UnicodeEncodeError:
        return False
    return char != "\x00"


gbk_text = st.text(st.characters(codec="utf-8").filter(_gbk), max_size=15)


def test_spec_examples() -> None:
    assert encode_an("1", 1, field="card_type") == b"1"
    assert encode_an("2.00", 4, field="version") == b"2.00"
    assert decode_an(H("322E3000")) == "2.0"  # a real card stores "2.0" + 00
    assert encode_an("张三", 0x1E, field="name") == "张三".encode("gbk") + bytes(26)
    assert encode_cn("410100", 3, field="birthplace") == H("410100")
    assert decode_date(H("FFFFFFFF")) is None  # empty birth date
    assert encode_date(datetime.date(2018, 4, 3), field="issue_date") == H("20180403")
    assert encode_cn("123456", 8, field="pin") == H("123456FFFFFFFFFF")


@given(gbk_text, st.integers(0, 10))
def test_an_round_trip(text: str, extra: int) -> None:
    length = len(text.encode("gbk")) + extra
    encoded = encode_an(text, length, field="an")
    assert len(encoded) == length
    assert decode_an(encoded) == text


@given(st.text("0123456789", max_size=20), st.integers(0, 4))
def test_cn_round_trip(digits: str, extra: int) -> None:
    length = (len(digits) + 1) // 2 + extra
    encoded = encode_cn(digits, length, field="cn")
    assert len(encoded) == length
    assert decode_cn(encoded) == digits


@given(st.one_of(st.none(), st.dates(datetime.date(1000, 1, 1))))
def test_date_round_trip(d: datetime.date | None) -> None:
    assert decode_date(encode_date(d, field="date")) == d


@pytest.mark.parametrize(
    ("call", "field", "reason"),
    [
        (lambda: encode_an("张三丰", 4, field="name"), "name", "do not fit an 4"),
        (lambda: encode_an("\U0001f600", 4, field="name"), "name", "GBK"),
        (lambda: encode_an("a\x00b", 4, field="name"), "name", "NUL"),
        (lambda: encode_cn("12a", 2, field="pin"), "pin", "decimal digits"),
        (lambda: encode_cn("12345", 2, field="pin"), "pin", "do not fit cn 2"),
        (lambda: encode_b(b"\x01", 2, field="seq"), "seq", "b 2 needs 2 bytes"),
        (lambda: decode_cn(H("12A4"), field="region"), "region", "BCD"),
        (lambda: decode_an(H("FFFF"), field="name"), "name", "GBK"),
        (lambda: decode_date(H("20230230"), field="expiry"), "expiry", "calendar date"),
        (lambda: decode_date(H("2023"), field="expiry"), "expiry", "cn 4"),
        (lambda: decode_date(H("2023FFFF"), field="expiry"), "expiry", "CCYYMMDD"),
    ],
)
def test_errors_name_field_and_reason(call: object, field: str, reason: str) -> None:
    assert callable(call)
    with pytest.raises(FormatError) as caught:
        call()
    assert caught.value.field == field and reason in caught.value.reason
    assert isinstance(caught.value, IdentifierError) and isinstance(caught.value, ValueError)
    assert str(caught.value).startswith(f"{field}: ")


def test_b_round_trip() -> None:
    assert decode_b(encode_b(H("0102"), 2, field="b"), 2) == H("0102")
