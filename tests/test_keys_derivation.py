"""Diversification, factors, session keys and authentication data (Part 9 §7; Part 4 §8.4, §9.3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sbkcard.identifiers import IdentifierError
from sbkcard.keys import (
    Algorithm,
    DataLengthError,
    KeyHierarchyError,
    auth_data,
    card_factor,
    city_factor,
    decrypt_block,
    diversify,
    diversify_batch,
    encrypt_block,
    province_factor,
    session_key,
)
from sbkcard.keys.factors import factors_for
from sbkcard.keys.padding import xor

H = bytes.fromhex
NOT = bytes([0xFF] * 8)
REAL_ATR = H("3B6D000000814A444686605199000001AC")  # a real card's ATR

factor = st.binary(min_size=8, max_size=8)
# (algorithm, parent key): DES single and double length, SM4
parents = st.one_of(
    st.tuples(st.just(Algorithm.DES), st.binary(min_size=8, max_size=8)),
    st.tuples(st.just(Algorithm.DES), st.binary(min_size=16, max_size=16)),
    st.tuples(st.just(Algorithm.SM4), st.binary(min_size=16, max_size=16)),
)


# -- factors (Part 9 §7.3, S3 §10.3) ------------------------------------------------------


def test_province_and_city_factors_spec_examples() -> None:
    assert province_factor("650100") == b"650000sh" == H("363530303030 7368")
    assert city_factor("650100") == b"650100sx" == H("363530313030 7378")
    # a real PSAM trace: BF DE 48 5D 18 | card | 33 37 31 37 30 30 73 78 | R
    assert city_factor("371700") == H("3337313730307378")


def test_zhejiang_city_factor_uses_four_digits() -> None:
    # S3 §10.3: 3301 → "33 33 30 31" + "30 30 73 78"
    assert city_factor("330102") == H("33333031") + H("30307378")
    assert city_factor("330100") == b"330100sx"
    assert city_factor("320102") == b"320102sx"


def test_card_factor_is_t6_to_td() -> None:
    assert card_factor(REAL_ATR) == H("86605199000001AC")  # Part 9 §7.3.3
    assert card_factor(REAL_ATR) == REAL_ATR[-8:]


def test_card_factor_skips_interface_bytes() -> None:
    # T0 = E... announces TB1, TC1, TD1; TD1 = 81 announces TD2; TD2 = 31 → TA3, TB3
    history = H("00814A4446866051990000 01AC")
    atr = H("3BED0000813 1FE45".replace(" ", "")) + history
    assert card_factor(atr) == H("86605199000001AC")


def test_factor_errors_name_the_field() -> None:
    with pytest.raises(IdentifierError, match="region"):
        province_factor("65010")
    with pytest.raises(IdentifierError, match="atr"):
        card_factor(H("3B6200000081"))
    with pytest.raises(KeyHierarchyError):
        factors_for("650100", REAL_ATR, 4)


def test_factors_for_levels() -> None:
    chain = [b"650000sh", b"650100sx", H("86605199000001AC")]
    assert [factors_for("650100", REAL_ATR, n) for n in range(4)] == [
        [],
        chain[2:],
        chain[1:],
        chain,
    ]


# -- diversification (Part 9 §7.1.1, §7.2.1) ----------------------------------------------


def test_diversify_known_answer_fips_81() -> None:
    # a double-length parent with equal halves is single DES: the left half of the child
    # is the FIPS 81 ECB example, the right half DES of the inverted factor
    key = H("0123456789ABCDEF") * 2
    child = diversify(key, [b"Now is t"], Algorithm.DES)
    assert child[:8] == H("3FA40E8A984D4815")
    assert decrypt_block(key[:8], child[8:], Algorithm.DES) == xor(b"Now is t", NOT)


@given(parents, factor)
def test_diversify_construction(parent: tuple[Algorithm, bytes], f: bytes) -> None:
    algorithm, key = parent
    child = diversify(key, [f], algorithm)
    assert len(child) == len(key)
    if algorithm is Algorithm.DES and len(key) == 8:
        assert child == encrypt_block(key, f, algorithm)
    elif algorithm is Algorithm.DES:
        expected = encrypt_block(key, f, algorithm) + encrypt_block(key, xor(f, NOT), algorithm)
        assert child == expected
    else:
        assert child == encrypt_block(key, f + xor(f, NOT), algorithm)


@given(parents, st.lists(factor, max_size=3), st.lists(factor, max_size=3))
def test_diversify_levels_compose(
    parent: tuple[Algorithm, bytes], first: list[bytes], then: list[bytes]
) -> None:
    algorithm, key = parent
    assert diversify(key, first + then, algorithm) == diversify(
        diversify(key, first, algorithm), then, algorithm
    )


@given(parents, st.lists(factor, max_size=40))
def test_batch_equals_per_card(parent: tuple[Algorithm, bytes], factors: list[bytes]) -> None:
    algorithm, key = parent
    assert diversify_batch(key, factors, algorithm) == [
        diversify(key, [f], algorithm) for f in factors
    ]


def test_batch_across_chunk_boundaries() -> None:
    key = H("00112233445566778899AABBCCDDEEFF")
    factors = [i.to_bytes(8, "big") for i in range(4096 * 2 + 3)]
    for algorithm in (Algorithm.DES, Algorithm.SM4):
        batch = diversify_batch(key, factors, algorithm)
        assert len(batch) == len(factors)
        for i in (0, 4095, 4096, 8191, 8192, len(factors) - 1):
            assert batch[i] == diversify(key, [factors[i]], algorithm)


def test_bad_factor_is_located() -> None:
    with pytest.raises(DataLengthError, match="factor 2 of 2"):
        diversify(bytes(16), [bytes(8), bytes(7)], Algorithm.SM4)
    with pytest.raises(DataLengthError, match="card #1"):
        diversify_batch(bytes(16), [bytes(8), bytes(9), bytes(7)], Algorithm.SM4)


# -- session keys and authentication data (Part 4 §8.4, §9.3) ------------------------------


def test_des_session_key_figure_8() -> None:
    # double-length key: DEA(e) with KL, DEA(d) with KR, DEA(e) with KL; single-length result
    key, r4 = H("0123456789ABCDEFFEDCBA9876543210"), H("DBF7A936")
    r8 = r4 + bytes(4)
    left, right = key[:8], key[8:]
    step = encrypt_block(left, r8, Algorithm.DES)
    step = decrypt_block(right, step, Algorithm.DES)
    expected = encrypt_block(left, step, Algorithm.DES)
    assert session_key(key, r4, Algorithm.DES) == expected
    assert session_key(key, r8, Algorithm.DES) == expected
    assert len(expected) == 8


def test_sm4_session_key_pads_to_16() -> None:
    key = H("0123456789ABCDEFFEDCBA9876543210")
    for random in (H("32D9E876"), H("32D9E876ADB31BBF"), bytes(range(16))):
        assert session_key(key, random, Algorithm.SM4) == encrypt_block(
            key, random + bytes(16 - len(random)), Algorithm.SM4
        )
    with pytest.raises(DataLengthError, match="session-key input"):
        session_key(key, bytes(17), Algorithm.SM4)


@given(st.binary(min_size=16, max_size=16), st.binary(min_size=8, max_size=8))
def test_auth_data(key: bytes, original: bytes) -> None:
    t = encrypt_block(key, original + bytes(8), Algorithm.SM4)
    assert auth_data(key, original, Algorithm.SM4) == xor(t[:8], t[8:])
    assert auth_data(key[:8], original, Algorithm.DES) == encrypt_block(
        key[:8], original, Algorithm.DES
    )


def test_external_authentication_round_trip_spec_4_4() -> None:
    # Part 7 §6.6, a real SM4 card's trace: the session key comes from the card's last challenge,
    # the original data travels in clear; terminal and card agree on the 8 bytes.
    root = H("00112233445566778899AABBCCDDEEFF")
    rk = diversify(root, factors_for("519900", REAL_ATR, 3), Algorithm.SM4)
    challenge, original = H("32D9E876ADB31BBF"), H("DBF7A936D0D18C9E")
    terminal = auth_data(session_key(rk, challenge, Algorithm.SM4), original, Algorithm.SM4)
    command = H("0082000A10") + terminal + original
    card_side = auth_data(session_key(rk, challenge, Algorithm.SM4), command[13:], Algorithm.SM4)
    assert command[5:13] == card_side and len(command) == 5 + 16


def test_auth_data_length_is_checked() -> None:
    with pytest.raises(DataLengthError, match="8 bytes, got 4"):
        auth_data(bytes(16), bytes(4), Algorithm.SM4)
