"""Simple-TLV records and BER-TLV (the SSSE FCI of Part 5 §6.11)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sbkcard.apdu.errors import ApduFormatError, TlvError
from sbkcard.apdu.tlv import (
    BerTlv,
    build_ber_tlv,
    build_simple_tlv,
    build_simple_tlvs,
    encode_length,
    encode_tag,
    find_ber_tlv,
    find_simple_tlv,
    parse_ber_tlv,
    parse_simple_tlv,
)

SSSE = bytes.fromhex("7378312E73682EC9E7BBE1B1A3D5CF")
FCI = bytes.fromhex("6F1C840F" + SSSE.hex() + "A50988011E9F0C03860103")


def test_ssse_fci() -> None:
    assert len(FCI) == 30
    (fci,) = parse_ber_tlv(FCI)
    assert fci.tag == 0x6F and fci.constructed
    name, proprietary = fci.children
    assert (name.tag, name.value) == (0x84, SSSE)
    assert proprietary.tag == 0xA5
    sfi, issuer = proprietary.children
    assert (sfi.tag, sfi.value) == (0x88, b"\x1e")
    assert issuer.tag == 0x9F0C and not issuer.constructed
    # 9F0C is primitive by its tag, but its value holds 86 01 xx (the algorithm).
    assert parse_ber_tlv(issuer.value) == [BerTlv(0x86, b"\x03")]
    assert fci.find(0x88) == BerTlv(0x88, b"\x1e")
    assert find_ber_tlv(FCI, 0x9F0C) == issuer
    assert fci.find(0x5F2D) is None


def test_fci_builds_byte_exact() -> None:
    built = BerTlv.of(
        0x6F,
        BerTlv(0x84, SSSE),
        BerTlv.of(0xA5, BerTlv(0x88, b"\x1e"), BerTlv(0x9F0C, build_ber_tlv(0x86, b"\x03"))),
    )
    assert bytes(built) == FCI


@pytest.mark.parametrize(
    ("length", "encoded"),
    [
        (0, "00"),
        (0x7F, "7F"),
        (0x80, "8180"),
        (0xFF, "81FF"),
        (0x100, "820100"),
        (0x10000, "83010000"),
    ],
)
def test_lengths(length: int, encoded: str) -> None:
    assert encode_length(length).hex().upper() == encoded
    value = bytes(length)
    assert parse_ber_tlv(build_ber_tlv(0xC1, value)) == [BerTlv(0xC1, value)]


@pytest.mark.parametrize(
    ("tag", "valid"),
    [
        (0x84, True),
        (0x9F0C, True),
        (0x5F2D, True),
        (0xBF0C, True),
        (0x9F8101, True),
        (0x1F, False),
        (0x9F, False),
        (0x849F, False),
        (0x9F0C01, False),
        (0x00, False),
        (0xFF, False),
        (0x9F818181, False),
    ],
)
def test_tag_forms(tag: int, valid: bool) -> None:
    if valid:
        assert int.from_bytes(encode_tag(tag)) == tag
    else:
        with pytest.raises(TlvError):
            encode_tag(tag)


@pytest.mark.parametrize(
    ("hexa", "offset", "words"),
    [
        ("9F", 1, "tag truncated"),
        ("84", 1, "length missing"),
        ("8405AABB", 1, "announces 5 value bytes but only 2 follow"),
        ("8480", 1, "indefinite length"),
        ("8485", 1, "announces 5 length bytes"),
        ("848201", 2, "long-form length truncated"),
        ("6F03840500", 3, "tag 84 announces 5"),
        ("9F81818101", 0, "longer than 4 bytes"),
    ],
)
def test_ber_errors_name_offset(hexa: str, offset: int, words: str) -> None:
    with pytest.raises(TlvError) as info:
        parse_ber_tlv(bytes.fromhex(hexa))
    assert info.value.offset == offset
    assert words in info.value.reason
    assert isinstance(info.value, ApduFormatError)


def test_ber_padding_skipped() -> None:
    assert parse_ber_tlv(bytes.fromhex("00 8401AA FFFF 00")) == [BerTlv(0x84, b"\xaa")]


def test_primitive_has_no_children() -> None:
    with pytest.raises(TlvError, match="primitive"):
        _ = BerTlv(0x84, b"").children
    with pytest.raises(TlvError, match="primitive"):
        BerTlv.of(0x84)
    assert BerTlv(0x84, b"").find(0x84) is None


tags = st.sampled_from([0x84, 0x88, 0x9F0C, 0x5F20, 0xC1, 0x9F8101])
ctags = st.sampled_from([0x6F, 0xA5, 0xBF0C, 0x70, 0x61])
ber = st.recursive(
    st.builds(BerTlv, tags, st.binary(max_size=300)),
    lambda inner: st.builds(
        lambda t, kids: BerTlv.of(t, *kids), ctags, st.lists(inner, max_size=4)
    ),
    max_leaves=10,
)


@given(st.lists(ber, max_size=5))
def test_ber_round_trip(objects: list[BerTlv]) -> None:
    encoded = b"".join(bytes(o) for o in objects)
    assert parse_ber_tlv(encoded) == objects


@given(st.binary(max_size=200))
def test_any_bytes_parse_or_raise_tlv_error(raw: bytes) -> None:
    try:
        parse_ber_tlv(raw)
    except TlvError as exc:
        assert exc.offset is not None and 0 <= exc.offset <= len(raw)
    try:
        records = parse_simple_tlv(raw)
    except TlvError as exc:
        assert exc.offset is not None and 0 <= exc.offset <= len(raw)
    else:
        rebuilt = build_simple_tlvs(records)
        assert parse_simple_tlv(rebuilt) == records
        assert len(rebuilt) <= len(raw)  # the short length form whenever it fits


# -- simple-TLV ---------------------------------------------------------------------------

EF05 = bytes.fromhex("0110" + "00" * 16 + "0201" + "02" + "0304" + "33303030")


def test_simple_tlv_records() -> None:
    records = parse_simple_tlv(EF05)
    assert [t for t, _ in records] == [0x01, 0x02, 0x03]
    assert find_simple_tlv(EF05, 0x03) == b"3000"
    assert find_simple_tlv(EF05, 0x04) is None
    assert build_simple_tlvs(records) == EF05


def test_simple_tlv_long_length() -> None:
    value = bytes(300)
    encoded = build_simple_tlv(0x20, value)
    assert encoded[:4] == bytes.fromhex("20FF012C")
    assert parse_simple_tlv(encoded) == [(0x20, value)]


@pytest.mark.parametrize(
    ("hexa", "offset", "words"),
    [
        ("01", 1, "no length byte"),
        ("0105AA", 1, "announces 5 value bytes but only 1 follow"),
        ("01FF01", 1, "three-byte length truncated"),
        ("0101AA00", 3, "tag 00 is not allowed"),
    ],
)
def test_simple_tlv_errors(hexa: str, offset: int, words: str) -> None:
    with pytest.raises(TlvError) as info:
        parse_simple_tlv(bytes.fromhex(hexa))
    assert info.value.offset == offset and words in info.value.reason


def test_simple_tlv_padding_of_unused_space() -> None:
    assert parse_simple_tlv(bytes.fromhex("0101AA0000"), allow_padding=True) == [(1, b"\xaa")]
    assert parse_simple_tlv(bytes.fromhex("0101AAFFFF"), allow_padding=True) == [(1, b"\xaa")]
    with pytest.raises(TlvError):
        parse_simple_tlv(bytes.fromhex("0101AA00FF"), allow_padding=True)


@pytest.mark.parametrize("tag", [0x00, 0xFF, 0x100])
def test_simple_tlv_bad_tags(tag: int) -> None:
    with pytest.raises(TlvError, match=r"01\.\.FE"):
        build_simple_tlv(tag, b"")


@given(st.lists(st.tuples(st.integers(1, 0xFE), st.binary(max_size=300)), max_size=6))
def test_simple_tlv_round_trip(records: list[tuple[int, bytes]]) -> None:
    assert parse_simple_tlv(build_simple_tlvs(records)) == records
