"""Status words: every SW of Part 5 table 5 has its meaning and kind."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sbkcard.apdu.status import (
    STATUS_TABLE,
    SW,
    Kind,
    describe,
    kind,
    more_data,
    parse_more_data,
    parse_tries_left,
    parse_wrong_le,
    tries_left,
    wrong_le,
)

# The fixed status words of Part 5 §5.4, with the words of Part 5 table 5's meaning.
SPEC_SECTION_3 = {
    0x6581: "内存错误",
    0x6700: "Lc 错",
    0x6901: "无效状态",
    0x6981: "命令与文件结构不相容",
    0x6982: "不满足安全状态",
    0x6983: "验证方法锁定",
    0x6984: "引用数据无效",
    0x6985: "使用条件不满足",
    0x6986: "无当前基本文件",
    0x6987: "安全报文",
    0x6988: "安全报文数据项不正确",
    0x6A80: "数据域参数不正确",
    0x6A81: "功能不支持",
    0x6A82: "未找到文件",
    0x6A83: "未找到记录",
    0x6A84: "空间",
    0x6A85: "TLV",
    0x6A86: "P1、P2 错",
    0x6A88: "未找到引用数据",
    0x6B00: "偏移地址超出了 EF",
    0x6D00: "命令不存在",
    0x6E00: "CLA 错",
    0x6F00: "数据无效",
    0x9302: "MAC 无效",
    0x9303: "应用被永久锁定",
    0x9401: "金额不足",
    0x9402: "交易计数器达到最大值",
    0x9403: "密钥索引不支持",
    0x9406: "所需 MAC 不可用",
}


@pytest.mark.parametrize("sw", sorted(SPEC_SECTION_3))
def test_every_spec_status_word_has_its_meaning(sw: int) -> None:
    assert sw in STATUS_TABLE
    info = describe(sw)
    assert info.sw == sw
    assert SPEC_SECTION_3[sw] in info.zh
    assert info.en
    assert info.kind is Kind.ERROR


def test_every_sw_enum_member_is_described_specifically() -> None:
    for member in SW:
        info = describe(member)
        assert "未定义" not in info.zh and "unknown" not in info.en, member


def test_success_and_warnings() -> None:
    assert describe(0x9000).kind is Kind.SUCCESS
    assert describe(0x6283).kind is Kind.WARNING
    assert kind(0x6281) is Kind.WARNING
    assert str(describe(0x6A82)) == "6A82 file not found (未找到文件)"
    assert describe(0x6A82).hex == "6A82"


@pytest.mark.parametrize("count", range(16))
def test_tries_left_family(count: int) -> None:
    sw = tries_left(count)
    assert parse_tries_left(sw) == count
    info = describe(sw)
    assert f"{count} tries left" in info.en and f"{count} 次" in info.zh
    assert info.kind is Kind.WARNING


def test_tries_left_range() -> None:
    with pytest.raises(ValueError, match=r"0\.\.15"):
        tries_left(16)


@given(st.integers(1, 256))
def test_more_data_and_wrong_le_families(n: int) -> None:
    assert parse_more_data(more_data(n)) == n
    assert parse_wrong_le(wrong_le(n)) == n
    assert describe(more_data(n)).kind is Kind.SUCCESS
    assert f"{n} more bytes" in describe(more_data(n)).en
    assert f"exact length is {n}" in describe(wrong_le(n)).en
    assert describe(wrong_le(n)).kind is Kind.ERROR


def test_family_parsers_reject_other_words() -> None:
    assert parse_more_data(0x9000) is None
    assert parse_wrong_le(0x6A82) is None
    assert parse_tries_left(0x6300) is None


def test_command_specific_meaning() -> None:
    assert describe(0x63CF).en == "verification failed, 15 tries left"
    mac2 = describe(SW.PSAM_MAC2_INVALID, ins=0x72)
    assert mac2.zh == "MAC2 校验失败" and mac2.kind is Kind.ERROR
    assert describe(0x6A82, ins=0x72) == describe(0x6A82)


@given(st.integers(0, 0xFFFF))
def test_every_word_has_a_meaning(sw: int) -> None:
    info = describe(sw)
    assert info.sw == sw and info.zh and info.en and isinstance(info.kind, Kind)


@pytest.mark.parametrize(
    ("sw", "expected"),
    [
        (0x6299, Kind.WARNING),
        (0x6312, Kind.WARNING),
        (0x6A99, Kind.ERROR),
        (0x9123, Kind.ERROR),
        (0x1234, Kind.ERROR),
    ],
)
def test_unknown_words_fall_back_on_their_class(sw: int, expected: Kind) -> None:
    assert describe(sw).kind is expected


def test_describe_rejects_non_words() -> None:
    with pytest.raises(ValueError, match="two bytes"):
        describe(0x10000)
