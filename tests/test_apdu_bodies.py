"""Every declared command and response body: parse, build and size agree (round trips).

One generic test walks :data:`sbkcard.apdu.bodies.ALL`: known vectors (the builders'
command data of Part 5 §6–7 and Part 9 §9, the internal-authentication example of the
standard) and bytes generated from each declaration give ``build(parse(b)) == b``,
``parse(build(x)) == x`` and ``sizeof() == len(b)`` for fixed-size bodies.
"""

from __future__ import annotations

from typing import Any

import pytest
from construct import (
    Bytes,
    Construct,
    FormatField,
    GreedyBytes,
    GreedyRange,
    Renamed,
    Select,
    SizeofError,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from sbkcard.apdu import bodies

VECTORS: dict[str, list[str]] = {
    "INTERNAL_AUTHENTICATE": ["32D9E876ADB31BBF DBF7A936D0D18C9E", "00" * 16 + "03"],
    "EXTERNAL_AUTHENTICATE": ["1122334455667788 0102030405060708 01"],
    "INITIALIZE_FOR_LOAD": ["01 00002710 371700000001"],
    "INITIALIZE_FOR_PURCHASE": ["01 000005DC 000000C8 00000BB8 371700000001"],
    "CREDIT_FOR_LOAD": ["20240301093005 11223344"],
    "DEBIT_FOR_PURCHASE": ["00000012 20240301093005 11223344"],
    "GET_TRANSACTION_PROOF": ["0102"],
    "STARTING_DAY": ["0101", "1231"],
    "INITIALIZE_ENVIRONMENT": ["37"],
    "INIT_SAM_FOR_PURCHASE": [
        "0A0B0C0D 0005 000005DC 000000C8 00000BB8 32 20240301 093005 01 03"
        " 0102030405060708 1112131415161718 2122232425262728"
    ],
    "CREDIT_SAM_FOR_PURCHASE": ["11223344"],
    "PURSE": ["0001 0002 00000064 00000000 00000000 2024 0101"],
}


def _size(body: Construct) -> int | None:
    try:
        return int(body.sizeof())
    except SizeofError:
        return None


def _check(body: Construct, raw: bytes) -> None:
    value = bodies.parse(body, raw)
    assert bodies.build(body, **value) == raw
    again = bodies.parse(body, bodies.build(body, **value))
    assert {k: v for k, v in again.items() if not k.startswith("_")} == {
        k: v for k, v in value.items() if not k.startswith("_")
    }
    size = _size(body)
    assert size is None or size == len(raw)


@pytest.mark.parametrize(
    ("name", "raw"), [(n, bytes.fromhex(v)) for n, vs in VECTORS.items() for v in vs]
)
def test_known_vectors_round_trip(name: str, raw: bytes) -> None:
    _check(bodies.ALL[name], raw)


def _field(row: Construct) -> st.SearchStrategy[bytes]:
    """Bytes that fit one row of a declaration."""
    inner = row.subcon if isinstance(row, Renamed) else row
    if isinstance(inner, bodies.Bcd):
        return st.text("0123456789", min_size=2 * inner.length, max_size=2 * inner.length).map(
            bytes.fromhex
        )
    if isinstance(inner, Select):
        return st.one_of(st.just(b""), _field(inner.subcons[0]))
    if inner is GreedyBytes:
        return st.binary(max_size=16)
    if isinstance(inner, GreedyRange):
        return st.lists(_field(inner.subcon), max_size=3).map(b"".join)
    assert isinstance(inner, Bytes | FormatField), row
    return st.binary(min_size=inner.sizeof(), max_size=inner.sizeof())


def _body_bytes(body: Construct) -> st.SearchStrategy[bytes]:
    rows = list(body.subcons)
    parts = [_field(row) for row in rows]
    # Only a trailing row may be optional or greedy: earlier ones are fixed.
    return st.tuples(*parts).map(b"".join)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
@pytest.mark.parametrize("name", sorted(bodies.ALL))
def test_every_body_round_trips(name: str, data: Any) -> None:
    body = bodies.ALL[name]
    _check(body, data.draw(_body_bytes(body)))


def test_every_body_is_named_and_every_row_has_the_standards_name() -> None:
    assert len(bodies.ALL) >= 30
    for name, body in bodies.ALL.items():
        for row in body.subcons:
            zh, _ = bodies.names(row)
            assert zh, f"{name}.{row.name} has no name from the standard"


def test_bytes_that_do_not_fit_name_the_problem() -> None:
    with pytest.raises(bodies.BodyError, match="left over"):
        bodies.parse(bodies.PURSE, bytes(21))
    with pytest.raises(bodies.BodyError, match="not cn 7"):
        bodies.parse(
            bodies.DEBIT_FOR_PURCHASE, bytes(4) + bytes.fromhex("2024AA01120000") + bytes(4)
        )
    with pytest.raises(bodies.BodyError):
        bodies.parse(bodies.DEBIT_FOR_PURCHASE, bytes(14))
    with pytest.raises(bodies.BodyError, match="14 digits"):
        bodies.build(bodies.CREDIT_FOR_LOAD, time="2024", mac2=bytes(4))
