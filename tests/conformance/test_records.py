"""READ RECORD on the SSSE's EF05 and EF06 (S2 §7–§8; Part 3 §5.3; Part 5 §6.10)."""

from __future__ import annotations

import pytest

from sbkcard.apdu import parse_simple_tlv
from sbkcard.applet_model.records import Cardholder, IssuerData
from sbkcard.applet_model.ssse import Layout
from sbkcard.applet_model.user_card.personalise import (
    DEMO_CARD_ID,
    DEMO_CARD_NUMBER,
    DEMO_CARDHOLDER,
)
from sbkcard.identifiers import validate_ssn

from .conftest import Target, applies
from .standard import (
    BY_NUMBER,
    EF05_ALL,
    EF05_ITEMS,
    EF06_ALL,
    EF06_ITEMS,
    FIRST,
    FROM_P1_TO_LAST,
    LAST,
    LAST_TO_P1,
    NEXT,
    PREVIOUS,
    SFI_EF05,
    SFI_EF06,
    VERSION,
    demo_ef05,
    demo_ef06,
    record_p2,
    records_length,
    tlv,
)

READ_EF05_ALL = bytes((0x00, 0xB2, 0x01, record_p2(SFI_EF05, FROM_P1_TO_LAST), EF05_ALL))
READ_EF06_ALL = bytes((0x00, 0xB2, 0x01, record_p2(SFI_EF06, FROM_P1_TO_LAST), EF06_ALL))


def _layout(target: Target) -> Layout:
    return Layout.V3 if target.generation == 3 else Layout.V2


def _read_ef06(target: Target) -> bytes:
    """EF06 read whole: free on 2.00 cards, after RKSSSE on 3.00 cards (S3 §10.2)."""
    if target.generation == 2:
        return target.ok(READ_EF06_ALL)
    with target.session() as conn:
        conn.authenticate("RKSSSE")
        return target.ok(READ_EF06_ALL)


def test_declared_lengths_add_up() -> None:
    """S2 table 9: the items of EF05 and EF06 (S2 §8.1.1, §8.1.2) make 0x40 and 0x5B bytes."""
    assert records_length(EF05_ITEMS) == EF05_ALL
    assert records_length(EF06_ITEMS) == EF06_ALL


def test_read_all_records_of_ef05(target: Target) -> None:
    """Part 5 §6.10: ``00 B2 01 2D 40`` (SFI 5, P1 to last) answers the 0x40 bytes of
    records 01–07, each ``tag len value`` at its declared length (S2 table 9)."""
    target.select_ssse()
    data = target.ok(READ_EF05_ALL)
    assert len(data) == EF05_ALL
    assert [(tag, len(value)) for tag, value in parse_simple_tlv(data)] == list(EF05_ITEMS)
    if target.simulated:
        assert data == demo_ef05(target.generation)


def test_read_all_records_of_ef06(target: Target) -> None:
    """Part 5 §6.10: ``00 B2 01 35 5B`` answers the 0x5B bytes of EF06, records in the order
    08 09 4E 0A 0B 0C 0D (S2 table 3); on 3.00 cards after RKSSSE (S3 §10.2)."""
    target.select_ssse()
    data = _read_ef06(target)
    assert len(data) == EF06_ALL
    assert [(tag, len(value)) for tag, value in parse_simple_tlv(data)] == list(EF06_ITEMS)
    if target.simulated:
        assert data == demo_ef06()


@applies("EF06 is free on 2.00 cards", generation=3)
def test_ef06_needs_rkssse_on_3_00_cards(target: Target) -> None:
    """S3 §10.2: EF06 of a 3.0 card is read under RKSSSE: ``6982`` without it."""
    target.select_ssse()
    assert target.sw(READ_EF06_ALL) == "6982"
    assert target.sw("00 B2 08 30 14") == "6982"


def test_sfi_read_of_the_card_number(target: Target) -> None:
    """Part 5 §6.10: ``00 B2 07 2C 0B`` reads record 7 of SFI 5: ``07 09`` + card number."""
    target.select_ssse()
    data = target.ok("00 B2 07 2C 0B")
    assert data[:2] == b"\x07\x09"
    whole = dict(parse_simple_tlv(target.ok(READ_EF05_ALL)))
    assert data[2:] == whole[0x07]
    if target.simulated:
        assert data[2:] == DEMO_CARD_NUMBER.encode("ascii")


def test_read_record_le_00_answers_6cxx_then_resend(target: Target) -> None:
    """Part 5 §6.10.4: READ RECORD with Le 00 answers ``6Cxx`` with the length; the
    same command with Le xx returns the record(s)."""
    target.select_ssse()
    assert target.sw("00 B2 01 2D 00") == f"6C{EF05_ALL:02X}"
    assert len(target.ok(READ_EF05_ALL)) == EF05_ALL
    assert target.sw("00 B2 07 2C 00") == "6C0B"
    assert target.ok("00 B2 07 2C 0B")[:2] == b"\x07\x09"


@pytest.mark.parametrize("p1", [3, 5, 7])
@pytest.mark.parametrize("mode", [FROM_P1_TO_LAST, LAST_TO_P1], ids=["p1-to-last", "last-to-p1"])
def test_read_a_range_of_records(target: Target, mode: int, p1: int) -> None:
    """Part 5 table 32: 101 reads from record P1 to the last, 110 from the last back to
    record P1, concatenated in that order (EF05: records 01–07, as real cards answer)."""
    target.select_ssse()
    items = EF05_ITEMS[p1 - 1 :] if mode == FROM_P1_TO_LAST else EF05_ITEMS[p1 - 1 :][::-1]
    data = target.read(bytes((0x00, 0xB2, p1, record_p2(SFI_EF05, mode))))
    assert [(tag, len(value)) for tag, value in parse_simple_tlv(data)] == list(items)
    if target.simulated:
        records = dict(parse_simple_tlv(demo_ef05(target.generation)))
        assert data == b"".join(tlv(tag, records[tag]) for tag, _ in items)


@pytest.mark.parametrize(("tag", "length"), EF05_ITEMS)
def test_record_numbers_of_ef05_are_its_tags(target: Target, tag: int, length: int) -> None:
    """As real cards answer: in EF05 record number = tag (records 01…07 in order)."""
    target.select_ssse()
    data = target.read(bytes((0x00, 0xB2, tag, record_p2(SFI_EF05, BY_NUMBER))))
    assert (data[0], data[1], len(data)) == (tag, length, 2 + length)


def test_ef06_record_3_is_the_name_extension(target: Target) -> None:
    """As real cards answer: EF06 records are positional (08 09 4E 0A …): record #3 is tag 4E,
    the same record as the first occurrence of identifier 4E."""
    target.select_ssse()
    if target.generation == 2:
        by_number = target.ok("00 B2 03 34 16")
        by_tag = target.ok("00 B2 4E 30 16")
    else:
        with target.session() as conn:
            conn.authenticate("RKSSSE")
            by_number = target.ok("00 B2 03 34 16")
            by_tag = target.ok("00 B2 4E 30 16")
    assert by_number[:2] == b"\x4e\x14"
    assert by_tag == by_number


def test_read_by_identifier_first_and_last(target: Target) -> None:
    """Part 5 table 32, Part 3 §5.3.1: the first and the last occurrence of an identifier
    present once are that record (``00 B2 07 28``, ``00 B2 07 29``)."""
    target.select_ssse()
    record7 = target.ok("00 B2 07 2C 0B")
    for mode in (FIRST, LAST):
        assert target.ok(bytes((0x00, 0xB2, 0x07, record_p2(SFI_EF05, mode), 0x0B))) == record7


def test_read_by_identifier_follows_the_record_pointer(target: Target) -> None:
    """Part 3 §5.3.1 (Part 5 table 32), on the current EF (P2 b8–b4 = 0): with no current
    record "next" is the first occurrence; an identifier read makes its record current
    and "next"/"previous" search after/before it; identifier ``00`` is any record."""
    target.select_ssse()
    assert target.sw("00 A4 02 00 02 EF 05") == "9000"

    def by_identifier(tag: int, mode: int, le: int) -> bytes:
        return bytes((0x00, 0xB2, tag, mode, le))

    assert target.ok(by_identifier(0x03, NEXT, 0x06))[:2] == b"\x03\x04"
    assert target.ok(by_identifier(0x00, NEXT, 0x0E))[:2] == b"\x04\x0c"
    assert target.ok(by_identifier(0x00, PREVIOUS, 0x06))[:2] == b"\x03\x04"
    assert target.ok(by_identifier(0x07, NEXT, 0x0B))[:2] == b"\x07\x09"
    assert target.sw(by_identifier(0x07, NEXT, 0x0B)) == "6A83"
    assert target.ok(by_identifier(0x01, PREVIOUS, 0x12))[:2] == b"\x01\x10"
    assert target.sw(by_identifier(0x01, PREVIOUS, 0x12)) == "6A83"


def test_read_by_number_leaves_the_record_pointer(target: Target) -> None:
    """Part 3 §5.3: "通过记录号引用应不影响记录指针" — after an identifier read of
    record 1, reading record 5 by number leaves record 1 current: "next" is record 2."""
    target.select_ssse()
    assert target.sw("00 A4 02 00 02 EF 05") == "9000"
    assert target.ok(bytes((0x00, 0xB2, 0x01, FIRST, 0x12)))[:1] == b"\x01"
    assert target.ok(bytes((0x00, 0xB2, 0x05, BY_NUMBER, 0x06)))[:1] == b"\x05"
    assert target.ok(bytes((0x00, 0xB2, 0x00, NEXT, 0x03)))[:1] == b"\x02"


def test_read_by_number_of_the_current_ef(target: Target) -> None:
    """Part 5 table 32: P2 b8–b4 = 0 addresses the current EF (SELECT EF05, Part 5 §6.11)."""
    target.select_ssse()
    assert target.sw("00 A4 02 00 02 EF 05") == "9000"
    assert target.ok("00 B2 07 04 0B") == target.ok("00 B2 07 2C 0B")


def test_missing_record_answers_6a83(target: Target) -> None:
    """Part 5 table 33: a record number past the last record answers ``6A83``."""
    target.select_ssse()
    assert target.sw("00 B2 08 2C 00") == "6A83"
    assert target.sw("00 B2 7F 28 00") == "6A83"


def test_unknown_sfi_answers_6a82(target: Target) -> None:
    """Part 5 table 33: READ RECORD of an SFI no EF of the SSSE has answers ``6A82``."""
    target.select_ssse()
    assert target.sw(bytes((0x00, 0xB2, 0x01, record_p2(0x1D, BY_NUMBER), 0x00))) == "6A82"


def test_records_decode_to_the_cardholder(target: Target) -> None:
    """S2 §8.1.1–§8.1.2 through :mod:`sbkcard.applet_model.records`: the bytes read decode
    to the card's data — on our cards the documented demo card and cardholder."""
    target.select_ssse()
    issuer = IssuerData.decode(target.ok(READ_EF05_ALL))
    holder = Cardholder.decode(_read_ef06(target), _layout(target))
    assert issuer.version[:1] == str(target.generation)
    assert issuer.layout is _layout(target)
    assert issuer.card_id is not None
    assert validate_ssn(holder.ssn) == holder.ssn
    if target.simulated:
        assert issuer.version == VERSION[target.generation]
        assert issuer.card_id == DEMO_CARD_ID
        assert issuer.card_number == DEMO_CARD_NUMBER
        assert holder == DEMO_CARDHOLDER
