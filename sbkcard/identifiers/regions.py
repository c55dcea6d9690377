"""Administrative region codes of GB/T 2260 as used on the card (S2 §8.1.1.1).

The table holds every province-level division and every prefecture-level division of
Henan (plus 济源市, a county-level city administered by the province), and the cities
that appear in the standard's examples. Codes ``xx9900`` are not in GB/T 2260: cards
issued by a province itself carry them (519900, 639900 in real traces; an inference) and
they are accepted as "province-level issuance".
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from sbkcard.identifiers.errors import IdentifierError

__all__ = [
    "PROVINCE_LEVEL_ISSUANCE",
    "REGIONS",
    "check_region_format",
    "is_province_level_issuance",
    "province_code",
    "region_name",
    "validate_region",
]

PROVINCE_LEVEL_ISSUANCE = "9900"

_PROVINCES = {
    "110000": "北京市",
    "120000": "天津市",
    "130000": "河北省",
    "140000": "山西省",
    "150000": "内蒙古自治区",
    "210000": "辽宁省",
    "220000": "吉林省",
    "230000": "黑龙江省",
    "310000": "上海市",
    "320000": "江苏省",
    "330000": "浙江省",
    "340000": "安徽省",
    "350000": "福建省",
    "360000": "江西省",
    "370000": "山东省",
    "410000": "河南省",
    "420000": "湖北省",
    "430000": "湖南省",
    "440000": "广东省",
    "450000": "广西壮族自治区",
    "460000": "海南省",
    "500000": "重庆市",
    "510000": "四川省",
    "520000": "贵州省",
    "530000": "云南省",
    "540000": "西藏自治区",
    "610000": "陕西省",
    "620000": "甘肃省",
    "630000": "青海省",
    "640000": "宁夏回族自治区",
    "650000": "新疆维吾尔自治区",
    "710000": "台湾省",
    "810000": "香港特别行政区",
    "820000": "澳门特别行政区",
}

_HENAN = {
    "410100": "郑州市",
    "410200": "开封市",
    "410300": "洛阳市",
    "410400": "平顶山市",
    "410500": "安阳市",
    "410600": "鹤壁市",
    "410700": "新乡市",
    "410800": "焦作市",
    "410900": "濮阳市",
    "411000": "许昌市",
    "411100": "漯河市",
    "411200": "三门峡市",
    "411300": "南阳市",
    "411400": "商丘市",
    "411500": "信阳市",
    "411600": "周口市",
    "411700": "驻马店市",
    "419001": "济源市",
}

_EXAMPLES = {
    "220100": "长春市",
    "330100": "杭州市",
    "371700": "菏泽市",
    "440300": "深圳市",
    "510100": "成都市",
    "650100": "乌鲁木齐市",
}

REGIONS: Mapping[str, str] = MappingProxyType({**_PROVINCES, **_HENAN, **_EXAMPLES})
"""Region code → name (GB/T 2260)."""

# Provinces whose prefecture-level divisions are all in the table: a code there must fall
# under one of them.
_COMPLETE = frozenset({"41"})


def check_region_format(code: str, *, field: str = "region") -> str:
    """Return ``code`` if it is six decimal digits, else raise :class:`IdentifierError`."""
    if not isinstance(code, str) or len(code) != 6 or not code.isascii() or not code.isdigit():
        raise IdentifierError(field, f"a region code is 6 decimal digits, got {code!r}")
    return code


def province_code(code: str) -> str:
    """The province-level code of ``code``: ``"410100"`` → ``"410000"``."""
    return check_region_format(code)[:2] + "0000"


def is_province_level_issuance(code: str) -> bool:
    """True for the ``xx9900`` codes of cards issued at province level (e.g. 519900)."""
    return check_region_format(code)[2:] == PROVINCE_LEVEL_ISSUANCE


def validate_region(code: str, *, field: str = "region") -> str:
    """Return ``code`` if it is a plausible card region code, else raise.

    The code must be six digits in a known province; ``xx9900`` is accepted as
    province-level issuance; in a province whose prefectures are all tabulated (Henan),
    the first four digits must name one of them.
    """
    check_region_format(code, field=field)
    if code[:2] + "0000" not in _PROVINCES:
        raise IdentifierError(field, f"{code}: {code[:2]} is not a GB/T 2260 province code")
    if code in REGIONS or code[2:] in ("0000", PROVINCE_LEVEL_ISSUANCE):
        return code
    if code[:2] in _COMPLETE and code[:4] + "00" not in REGIONS:
        raise IdentifierError(
            field, f"{code}: {code[:4]}00 is not a prefecture of {_PROVINCES[code[:2] + '0000']}"
        )
    return code


def region_name(code: str) -> str:
    """The most specific known name for ``code``.

    Exact entries first; ``xx9900`` reads "<province>（省级发卡）"; otherwise the
    prefecture of a county code, else the province.
    """
    validate_region(code)
    if code in REGIONS:
        return REGIONS[code]
    province = _PROVINCES[code[:2] + "0000"]
    if code[2:] == PROVINCE_LEVEL_ISSUANCE:
        return f"{province}（省级发卡）"
    prefecture = REGIONS.get(code[:4] + "00")
    return f"{province}{prefecture}" if prefecture else province
