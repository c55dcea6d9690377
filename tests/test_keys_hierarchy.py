"""The key table (Part 9 table B1) and the national hierarchy of Part 9 §7.3."""

from __future__ import annotations

from collections import Counter

import pytest

from sbkcard.identifiers import make_atr
from sbkcard.keys import (
    Algorithm,
    KeyHierarchyError,
    KeyLengthError,
    UnknownKeyError,
    card_factor,
    city_factor,
    diversify,
    kcv,
    province_factor,
)
from sbkcard.keys.hierarchy import (
    CARD_KEYS,
    PSAM_KEY_IDS,
    KeySet,
    Level,
    card_key,
    demo_keyset,
    derive_batch,
    derive_card_keys,
    level_key,
)

ATR = make_atr("410100", bytes.fromhex("00000042"))


def test_names_kids_psam_ids_and_addresses_are_unique() -> None:
    assert len({k.name for k in CARD_KEYS}) == len(CARD_KEYS)
    placed = Counter((k.df, k.card_kid) for k in CARD_KEYS if k.card_kid is not None)
    assert max(placed.values()) == 1
    for counted in ("psam_id", "hsm_address"):
        values = Counter(getattr(k, counted) for k in CARD_KEYS if getattr(k, counted))
        assert max(values.values()) == 1, counted


def test_df_local_bit() -> None:
    for spec in CARD_KEYS:
        if spec.card_kid is None:
            continue
        assert spec.local == spec.df.startswith("DF"), spec.name
        assert spec.card_kid & 0x1F == spec.card_kid & 0x7F  # b7–b6 unused


def test_spec_table_rows() -> None:
    # Part 9 table B1 / S3 appendix B
    irk, rk, stk = card_key("IRK"), card_key("RKSSSE"), card_key("STK")
    assert (irk.card_kid, irk.psam_usage, irk.psam_id, irk.hsm_address) == (0, 0x67, 8, "0170")
    assert (rk.card_kid, rk.psam_id, rk.hsm_address, rk.df) == (0x0A, 0x0A, "004C", "SSSE")
    assert (stk.name, stk.card_kid, stk.psam_usage, stk.psam_id) == ("STKSSSE", 2, 0x26, 9)
    assert card_key("UKMF") is card_key("UKSSSE")
    assert [card_key(f"STKDF0{i}").card_kid for i in range(1, 5)] == [0x82] * 4
    assert card_key("RK1DF04").card_kid == 0x84 and card_key("UK2DF04").psam_id == 0x2A
    assert irk.psam_levels == 3 and irk.key_type == 7 and stk.psam_levels == 1
    assert card_key("PUK").psam_levels == Level.PROVINCE


def test_psam_ids_follow_appendix_a() -> None:
    national = PSAM_KEY_IDS[("ddf", Level.NATIONAL)]
    assert card_key("IRK").psam_id in national and card_key("STKSSSE").psam_id in national
    provincial_ddf = PSAM_KEY_IDS[("ddf", Level.PROVINCE)]
    assert {card_key(n).psam_id for n in ("PUK", "BK", "UKSSSE")} <= set(provincial_ddf)


def test_key_lengths() -> None:
    assert card_key("STKDF01").length(Algorithm.DES) == 8
    assert card_key("STKDF01").length(Algorithm.SM4) == 16
    assert card_key("IRK").length(Algorithm.DES) == 16


def test_unknown_key_is_named() -> None:
    with pytest.raises(UnknownKeyError, match="'XYZ'"):
        card_key("XYZ")


@pytest.mark.parametrize("algorithm", [Algorithm.DES, Algorithm.SM4])
def test_demo_keyset_is_deterministic_and_masked(algorithm: Algorithm) -> None:
    keys = demo_keyset(algorithm)
    assert keys.roots == demo_keyset(algorithm).roots
    assert set(keys.roots) == {k.name for k in CARD_KEYS}
    shown = repr(keys) + str(keys)
    for root in keys.roots.values():
        assert root.hex() not in shown.lower()
    assert keys.kcvs()["IRK"] == kcv(keys.roots["IRK"], algorithm).hex().upper()
    assert "IRK:kcv=" in shown


def test_keyset_validates_roots() -> None:
    with pytest.raises(KeyHierarchyError, match="STKSSSE"):
        KeySet(Algorithm.DES, {"STKSSSE": bytes(16)})
    with pytest.raises(KeyHierarchyError, match="alias"):
        KeySet(Algorithm.SM4, {"STK": bytes(16)})
    with pytest.raises(KeyLengthError, match="root IRK"):
        KeySet(Algorithm.SM4, {"IRK": bytes(8)})
    with pytest.raises(UnknownKeyError, match="no root for IRK"):
        KeySet(Algorithm.SM4).root("IRK")


@pytest.mark.parametrize("algorithm", [Algorithm.DES, Algorithm.SM4])
def test_card_keys_follow_the_hierarchy(algorithm: Algorithm) -> None:
    keys = demo_keyset(algorithm)
    card = derive_card_keys(keys, "410100", ATR)
    assert list(card) == [k.name for k in CARD_KEYS]
    chain = [province_factor("410100"), city_factor("410100"), card_factor(ATR)]
    for name, value in card.items():
        assert value == diversify(keys.roots[name], chain, algorithm)
        assert len(value) == card_key(name).length(algorithm)
        # a PSAM holding the key at level n applies the last n factors
        for level in (Level.NATIONAL, Level.PROVINCE, Level.CITY):
            held = level_key(keys, name, "410100", level)
            assert diversify(held, chain[3 - level :], algorithm) == value


def test_card_keys_differ_between_cards_and_regions() -> None:
    keys = demo_keyset(Algorithm.SM4)
    one = derive_card_keys(keys, "410100", ATR, names=["RKSSSE"])
    other_card = derive_card_keys(keys, "410100", make_atr("410100", bytes(4)), names=["RKSSSE"])
    other_city = derive_card_keys(keys, "410200", ATR, names=["RKSSSE"])
    assert len({one["RKSSSE"], other_card["RKSSSE"], other_city["RKSSSE"]}) == 3


def test_batch_equals_single_cards() -> None:
    keys = demo_keyset(Algorithm.DES)
    atrs = [make_atr("410100", i.to_bytes(4, "big")) for i in range(5)]
    assert derive_batch(keys, "410100", atrs) == [
        derive_card_keys(keys, "410100", atr) for atr in atrs
    ]


def test_level_key_bounds() -> None:
    keys = demo_keyset(Algorithm.SM4)
    assert level_key(keys, "IRK", "410100", 3) == keys.roots["IRK"]
    with pytest.raises(KeyHierarchyError, match="1, 2 or 3"):
        level_key(keys, "IRK", "410100", 0)
