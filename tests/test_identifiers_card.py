"""Card identification code, region codes and the ATR (S2 §8.1.1.1; Part 2 §8.4)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sbkcard.identifiers import (
    REGIONS,
    CardId,
    IdentifierError,
    historical_bytes,
    make_atr,
    region_name,
    validate_region,
)
from sbkcard.identifiers.regions import is_province_level_issuance, province_code

H = bytes.fromhex


# -- card identification code -------------------------------------------------------------


def test_spec_card_ids() -> None:
    # a display example and the EF05 tag 01 value of a real card
    shown = CardId.from_hex("440300 D156000005 00506407 76EF3192")
    assert (shown.region, shown.serial, shown.auth_code) == ("440300", H("00506407"), H("76EF3192"))
    assert str(shown) == shown.hex == "440300D1560000050050640776EF3192"
    ef05 = CardId.from_bytes(H("519900D15600000510000B26FFFFFFFF"))
    assert ef05.auth_code == H("FFFFFFFF")
    assert ef05.to_bytes()[3:8] == H("D156000005")


four_bytes = st.binary(min_size=4, max_size=4)


@given(st.text("0123456789", min_size=6, max_size=6), four_bytes, four_bytes)
def test_card_id_round_trip(region: str, serial: bytes, auth: bytes) -> None:
    card = CardId(region, serial, auth)
    assert CardId.from_bytes(card.to_bytes()) == card
    assert CardId.from_hex(card.hex) == card
    assert len(card.hex) == 32 and card.hex == card.hex.upper()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("519900D15600000610000B26FFFFFFFF", "RID"),
        ("519900D15600000510000B26FFFFFF", "16 bytes"),
        ("5199A0D15600000510000B26FFFFFFFF", "BCD"),
        ("not hex", "hexadecimal"),
    ],
)
def test_card_id_errors(raw: str, reason: str) -> None:
    with pytest.raises(IdentifierError, match=reason) as caught:
        CardId.from_hex(raw)
    assert caught.value.field.startswith("card_id")


def test_card_id_fields_are_checked() -> None:
    with pytest.raises(IdentifierError, match="card_id serial"):
        CardId("410100", b"\x00", bytes(4))


# -- regions ------------------------------------------------------------------------------


def test_every_province_and_henan_prefecture() -> None:
    provinces = [code for code in REGIONS if code.endswith("0000")]
    assert len(provinces) == 34
    henan = [c for c in REGIONS if c.startswith("41") and c != "410000" and c.endswith("00")]
    assert len(henan) == 17
    assert REGIONS["410100"] == "郑州市" and REGIONS["411700"] == "驻马店市"
    assert region_name("410000") == "河南省"


def test_province_level_issuance_codes() -> None:
    for code, province in (("519900", "四川省"), ("639900", "青海省"), ("419900", "河南省")):
        assert validate_region(code) == code
        assert is_province_level_issuance(code)
        assert region_name(code) == f"{province}（省级发卡）"
    assert not is_province_level_issuance("410100")


def test_names_fall_back_to_prefecture_then_province() -> None:
    assert region_name("410105") == "河南省郑州市"  # a district of Zhengzhou
    assert region_name("440306") == "广东省深圳市"
    assert region_name("440106") == "广东省"  # Guangzhou is not tabulated
    assert province_code("410105") == "410000"


@pytest.mark.parametrize(
    ("code", "reason"),
    [("41010", "6 decimal digits"), ("990100", "province"), ("412500", "prefecture")],
)
def test_region_errors(code: str, reason: str) -> None:
    with pytest.raises(IdentifierError, match=reason) as caught:
        validate_region(code)
    assert caught.value.field == "region"


# -- ATR ----------------------------------------------------------------------------------


def test_make_atr_reproduces_the_real_card() -> None:
    atr = make_atr("519900", H("000001AC"), vendor=H("4A4446"))
    assert atr == H("3B6D000000814A444686605199000001AC")  # a real card's ATR
    assert historical_bytes(atr) == atr[4:]


def test_historical_bytes_of_a_t1_atr() -> None:
    # JCOP 41: 3B E9 00 00 81 31 FE 45 "JCOP41V22" TCK
    atr = H("3BE900008131FE45") + b"JCOP41V22" + H("4A")
    assert historical_bytes(atr) == b"JCOP41V22"


@pytest.mark.parametrize(
    ("atr", "reason"),
    [
        ("3B", "too short"),
        ("3A60", "TS"),
        ("3B6D0000008146", "only 3 follow"),
        ("3B80", "interface"),
    ],
)
def test_atr_errors(atr: str, reason: str) -> None:
    with pytest.raises(IdentifierError, match=reason) as caught:
        historical_bytes(H(atr))
    assert caught.value.field == "atr"


def test_make_atr_checks_lengths() -> None:
    with pytest.raises(IdentifierError, match="TA-TD"):
        make_atr("410100", bytes(3))
