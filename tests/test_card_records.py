"""Typed file contents: every declared item encodes, decodes and encodes back byte for byte.

The strategies are derived from the item declarations (S2 table 9), so every file of
the tree and every item (B-TLV groups and repeated items included) is exercised.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sbkcard.applet_model.data_items import FILE_ITEMS, DataItem, Kind, file_items, one_of
from sbkcard.applet_model.records import (
    _GROUPS,
    ABSENT,
    CONTENT_TYPES,
    Cardholder,
    Extra,
    FileContent,
    Group,
    IssuerData,
    NationalityAndAffiliation,
    OfflineSettlement,
    Pension,
    RecordError,
    StatusAndEmployer,
    TlvFile,
    decode_file,
    encode_file,
    split_name,
)
from sbkcard.applet_model.ssse import Layout
from sbkcard.identifiers import CardId

_TEXT = "张三李四王五赵钱孙社会保障郑州ABCXYZabc0189 -·"


def _value(it: DataItem) -> st.SearchStrategy[Any]:
    kind = it.kind
    if kind is Kind.TEXT:
        return st.text(st.sampled_from(_TEXT), max_size=it.length).filter(
            lambda s: len(s.encode("gbk")) <= it.length
        )
    if kind is Kind.DIGITS:
        return st.text(st.sampled_from("0123456789"), max_size=2 * it.length)
    if kind is Kind.DATE:
        return st.none() | st.dates(min_value=datetime.date(1000, 1, 1))
    if kind is Kind.DATETIME:
        return st.none() | st.datetimes(min_value=datetime.datetime(1000, 1, 1)).map(
            lambda d: d.replace(microsecond=0)
        )
    if kind is Kind.AMOUNT:
        return st.integers(0, (1 << (8 * it.length)) - 1)
    if kind is Kind.BYTES:
        return st.binary(min_size=it.length, max_size=it.length)
    if kind is Kind.CARD_ID:
        regions = st.text(st.sampled_from("0123456789"), min_size=6, max_size=6)
        four = st.binary(min_size=4, max_size=4)
        return st.none() | st.builds(CardId, regions, four, four)
    group = st.builds(_GROUPS[it.field], **{m.field: _value(m) for m in it.members})
    return st.lists(group, min_size=it.repeat, max_size=it.repeat).map(tuple)


def _content(path: str) -> st.SearchStrategy[Any]:
    cls = CONTENT_TYPES[path]
    items = FILE_ITEMS[path]
    if "records" in {f.name for f in dataclasses.fields(cls)}:
        record_cls = cls.RECORD  # type: ignore[attr-defined]
        record = st.builds(record_cls, **{it.field: _value(it) for it in items})
        return st.builds(cls, st.lists(record, max_size=5).map(tuple))
    fields = {
        it.field: _value(it) | st.just(ABSENT) if one_of(path, it.tag) else _value(it)
        for it in items
    }
    if cls is Cardholder:
        del fields["name_ext"]
        fields["name"] = st.text(st.sampled_from(_TEXT), max_size=50).filter(
            lambda s: len(s.encode("gbk")) <= 50
        )
    return st.builds(cls, **fields)


@pytest.mark.parametrize("path", sorted(CONTENT_TYPES))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.large_base_example])
@given(data=st.data())
def test_every_file_round_trips(path: str, data: st.DataObject) -> None:
    content = data.draw(_content(path))
    body = encode_file(path, content)
    assert decode_file(path, body) == content
    assert encode_file(path, decode_file(path, body)) == body


@pytest.mark.parametrize("path", sorted(CONTENT_TYPES))
def test_empty_content_has_the_declared_size(path: str) -> None:
    cls = CONTENT_TYPES[path]
    items = FILE_ITEMS[path]
    body = encode_file(path, cls())
    if "records" in {f.name for f in dataclasses.fields(cls)}:
        assert body == b""  # a cyclic file starts with no record
    elif items[0].tag is None:
        assert len(body) == items[0].length
    else:  # every item, but 60 of DF03 EF05 (new content keeps it in DF02 EF06, S2 §7)
        held = [it for it in items if getattr(cls(), it.field, None) is not ABSENT]
        assert len(body) == sum(it.tlv_size * it.repeat for it in held)


def test_every_content_class_has_the_items_of_its_file() -> None:
    for path, cls in CONTENT_TYPES.items():
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        items = FILE_ITEMS[path]
        if "records" in names:
            names = {f.name for f in dataclasses.fields(cls.RECORD)}  # type: ignore[attr-defined]
        declared = {it.field for it in items}
        if cls is Cardholder:
            declared -= {"name_ext"}
        assert names == declared, path
    for field, group in _GROUPS.items():
        (it,) = [i for items in FILE_ITEMS.values() for i in items if i.field == field]
        assert {f.name for f in dataclasses.fields(group)} == {m.field for m in it.members}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            'hukou_type: str = ""\n    hukou_address: str = ""\n    extra: Extra = ()',
            "hukou_region",
        ),
        (
            'hukou_type: str = ""\n    hukou_region: str = ""\n    hukou_address: str = ""',
            "hukou_address",
        ),
        ('hukou_type: str = ""\n    hukou_address: str = ""\n    hukou_region: int = 0', "'str'"),
        ('hukou_type: str = ""\n    hukou_address: str = "x"\n    hukou_region: str = ""', "''"),
        ('hukou_type: str = ""\n    hukou_address: str = ""\n    hukou_region: str = ""', "extra"),
    ],
    ids=["missing", "order", "type", "default", "no extra"],
)
def test_a_class_that_drifts_from_the_declarations_is_refused(body: str, message: str) -> None:
    """The classes are views of table 9: each is checked against it when it is made."""
    source = (
        "from __future__ import annotations\n"
        f'class Drifted(TlvFile, path="SSSE/DF01/EF05"):\n    {body}\n'
    )
    namespace = {"TlvFile": TlvFile, "Extra": Extra}
    with pytest.raises(TypeError, match=f"Drifted: SSSE/DF01/EF05 wants .*{message}"):
        exec(source, namespace)
    with pytest.raises(TypeError, match="simple-TLV records: a TlvFile"):
        exec(
            'class Positional(FileContent, path="SSSE/EF05"):\n    x: str = ""\n',
            {"FileContent": FileContent},
        )
    with pytest.raises(TypeError, match="B-TLV 40"):
        exec('class Degreeish(Group, item="degrees"):\n    school: str = ""\n', {"Group": Group})
    assert CONTENT_TYPES["SSSE/DF01/EF05"].__name__ == "HouseholdRegistration"
    assert _GROUPS["degrees"].__name__ == "Degree"


def test_issuer_data_of_a_real_card() -> None:
    """EF05 tag 01 as read from a Sichuan card (S2 §8.1.1.1): region 519900, auth code FF."""
    record = bytes.fromhex("0110519900D15600000510000B26FFFFFFFF")
    body = IssuerData(version="3.00").encode()
    body = record + body[18:]
    issuer = IssuerData.decode(body)
    assert issuer.card_id == CardId("519900", bytes.fromhex("10000B26"), b"\xff" * 4)
    assert issuer.layout is Layout.V3
    assert issuer.encode() == body


def test_the_name_is_09_joined_with_4e() -> None:
    long_name = "欧阳" * 7 + "A" + "张" * 9  # 14 + 1 + 18 = 33 GBK bytes... and more
    head, rest = split_name(long_name)
    assert len(head.encode("gbk")) == 29  # a 2-byte character does not fit in byte 30
    assert head + rest == long_name
    holder = Cardholder(name=long_name)
    body = holder.encode()
    assert body[52:54] == b"\x4e\x14"  # 08 (20 bytes) ‖ 09 (32) ‖ 4E
    assert Cardholder.decode(body).name == long_name
    with pytest.raises(RecordError, match="50 GBK bytes"):
        Cardholder(name="张" * 26).encode()
    with pytest.raises(RecordError, match="30 GBK bytes"):
        Cardholder(name="张" * 16).encode(Layout.V1)


def test_a_1_00_card_has_no_name_extension() -> None:
    holder = Cardholder(ssn="410102199003071230", name="张三", gender="1")
    body = holder.encode(Layout.V1)
    assert 0x4E not in [body[i] for i in (0, 20, 52)]
    assert len(body) == 91 - 22
    assert Cardholder.decode(body, Layout.V1) == holder


def test_reused_tags_on_1_00_cards_use_the_trailing_ee_rule() -> None:
    """S2 appendix C: ``32`` was an 3 (单位经济类型), now an 2 (人员身份类别)."""
    new = StatusAndEmployer(employer_name="单位", person_category="11")
    body = new.encode(Layout.V1)
    assert body.endswith(b"\x32\x03" + b"11\xee")
    assert StatusAndEmployer.decode(body, Layout.V1) == new
    old = body[:-5] + b"\x32\x03" + b"123"
    decoded = StatusAndEmployer.decode(old, Layout.V1)
    assert decoded.person_category == "" and decoded.extra == ((0x32, b"123"),)
    assert decoded.encode(Layout.V1) == old
    nationality = NationalityAndAffiliation(nationality="CHN", political_status="13")
    v1 = nationality.encode(Layout.V1)
    assert v1 == bytes.fromhex("3704") + b"CHN\xee" + bytes.fromhex("3804") + b"13\xee\xee"
    assert NationalityAndAffiliation.decode(v1, Layout.V1) == nationality


def test_a_redefined_tag_follows_the_tag_that_tells_it_apart() -> None:
    """S2 appendix C, DF04 EF06: ``92`` is 脱网医保结算累计金额 when ``90`` is new."""
    # a 1.00 card: 90 account balance, 92 annual self-paid, 93 annual pooled (cn 4 each)
    old = bytes.fromhex("9004 00152300 9204 00034500 9304 00120000")
    decoded = OfflineSettlement.decode(old, Layout.V1)
    assert decoded == OfflineSettlement(
        extra=(
            (0x90, bytes.fromhex("00152300")),
            (0x92, bytes.fromhex("00034500")),
            (0x93, bytes.fromhex("00120000")),
        )
    )
    assert decoded.encode(Layout.V1) == old
    # re-written by the new definition: 90 "1" and 93 "03" E-padded, 92 as it is
    new = OfflineSettlement(offline_allowed="1", offline_total="00012350", offline_count="03")
    body = bytes.fromhex("9004 31EEEEEE 9204 00012350 9304 3033EEEE")
    assert new.encode(Layout.V1) == body
    assert OfflineSettlement.decode(body, Layout.V1) == new
    # 92 with 90 empty: 90 is written all the same, empty and E-padded (as iWriteCard
    # writes it), or 92 would be lost; read back and written again, byte for byte
    lone = OfflineSettlement(offline_total="00012350")
    body = bytes.fromhex("9004 00EEEEEE 9204 00012350")
    assert lone.encode(Layout.V1) == body
    assert OfflineSettlement.decode(body, Layout.V1) == lone
    written = bytes.fromhex("9004 00EEEEEE 9204 123FFFFF 9304 3132EEEE")  # by iWriteCard
    assert OfflineSettlement.decode(written, Layout.V1).encode(Layout.V1) == written


def test_items_whose_definition_changed_follow_their_leader_on_1_00_cards() -> None:
    """S2 appendix C, DF03 EF07: ``70`` and ``6F`` are rewritten with ``71`` and read by it."""
    pension = Pension(scheme="110", region="410100", benefit_date=datetime.date(2024, 1, 1))
    v1 = pension.encode(Layout.V1)
    assert v1.startswith(bytes.fromhex("70033131307104410100EE"))
    assert bytes.fromhex("6F0420240101") in v1
    assert Pension.decode(v1, Layout.V1) == pension
    # a 1.00 card: 70 养老保险费累计缴纳月数 "120", 71 a stored sum, 6F an account change
    old = bytes.fromhex("70033132307104001234566E04199601016C04FFFFFFFF6F0420050101730420100101")
    decoded = Pension.decode(old, Layout.V1)
    assert (decoded.scheme, decoded.region, decoded.benefit_date) == ("", "", None)
    assert [tag for tag, _ in decoded.extra] == [0x70, 0x71, 0x6F]
    assert decoded.account_date == datetime.date(1996, 1, 1)


def test_unknown_records_are_kept_after_the_declared_ones() -> None:
    body = IssuerData(card_number="A00000011").encode() + bytes.fromhex("0C03414243")
    issuer = IssuerData.decode(body)
    assert issuer.extra == ((0x0C, b"ABC"),)
    assert issuer.encode() == body


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("SSSE/EF05", bytes.fromhex("0203313233"), "an 01 but 3 bytes"),
        ("SSSE/EF05", bytes.fromhex("0505"), "needs 5 bytes"),
        ("SSSE/EF05", bytes.fromhex("0504 20241301"), "not a calendar date"),
        ("SSSE/EF06", bytes.fromhex("0B01AF"), "F-padded BCD"),
        ("SSSE/DF04/EF08", bytes(27), "whole 28-byte records"),
        ("SSSE/EF05", bytes.fromhex("0110") + bytes(16), "RID"),
        ("SSSE/EF02", b"", "no data items"),
    ],
)
def test_bad_content_is_a_record_error_naming_the_item(
    path: str, body: bytes, message: str
) -> None:
    with pytest.raises(RecordError, match=message):
        decode_file(path, body)


def test_layout_of_version_strings() -> None:
    assert Layout.of("3.00") is Layout.V3
    assert Layout.of("2.0\x00") is Layout.V2
    assert Layout.of("") is Layout.V1
    assert Layout.of("\x00\x00\x00\x00") is Layout.V1
    assert Layout.of("1.01") is Layout.V1
    with pytest.raises(ValueError, match=r"1\.0x, 2\.0x or 3\.0x"):
        Layout.of("4.00")


# S2 table 9, the medical-insurance area (DF04) as printed: every item's name and whether
# it carries the ★ of the V2.0 additions to LB002-2000.
TABLE_9_DF04: dict[str, tuple[tuple[str, bool], ...]] = {
    "SSSE/DF04/EF15": (("交易序号", True), ("结算类别", True)),
    "SSSE/DF04/EF08": (
        ("交易序号", False),
        ("交易类型", False),
        ("终端机编号", False),
        ("交易时间", False),
        ("个人账户交易金额", False),
        ("个人自付金额", False),
        ("统筹基金支付金额", False),
    ),
    "SSSE/DF04/EF06": (
        ("准许脱网医保结算标识", True),
        ("脱网医保结算累计金额", True),
        ("脱网医保结算累计次数", True),
    ),
}


@pytest.mark.parametrize("path", sorted(TABLE_9_DF04))
def test_v2_additions_follow_the_stars_of_table_9(path: str) -> None:
    """S2 table 9 marks DF04 EF15 (特殊医疗结算记录★) and its fields as V2.0 additions."""
    declared = tuple((it.zh, it.added) for it in file_items(path))
    assert declared == TABLE_9_DF04[path]
