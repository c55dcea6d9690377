"""Data encryption (Part 4 §8.3; Part 9 §7.1.2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sbkcard.keys import (
    Algorithm,
    DataLengthError,
    PaddingError,
    decrypt_block,
    decrypt_data,
    encrypt_block,
    encrypt_data,
)

H = bytes.fromhex
SM4_KEY = H("0123456789ABCDEFFEDCBA9876543210")

keys = st.one_of(
    st.tuples(st.just(Algorithm.DES), st.binary(min_size=8, max_size=8)),
    st.tuples(st.just(Algorithm.DES), st.binary(min_size=16, max_size=16)),
    st.tuples(st.just(Algorithm.SM4), st.binary(min_size=16, max_size=16)),
)


@given(keys, st.binary(max_size=255))
def test_round_trip(key: tuple[Algorithm, bytes], plaintext: bytes) -> None:
    algorithm, k = key
    ciphertext = encrypt_data(k, plaintext, algorithm)
    assert len(ciphertext) % algorithm.block_size == 0
    assert decrypt_data(k, ciphertext, algorithm) == plaintext


def test_pin_reload_block_spec_5_2() -> None:
    # real card: the new PIN 123456 is encrypted as 03 12 34 56 80 00…, 16 bytes for SM4 (Lc 14 =
    # 16 + 4 MAC) and 8 bytes for DES (Lc 0C = 8 + 4 MAC, S3 §8.25)
    pin = H("123456")
    sm4 = encrypt_data(SM4_KEY, pin, Algorithm.SM4)
    assert decrypt_block(SM4_KEY, sm4, Algorithm.SM4) == H("03123456800000000000000000000000")
    assert len(sm4) + 4 == 0x14
    des = encrypt_data(SM4_KEY, pin, Algorithm.DES)
    assert decrypt_block(SM4_KEY, des, Algorithm.DES) == H("0312345680000000")
    assert len(des) + 4 == 0x0C


def test_psam_key_record_lengths_spec_5_2() -> None:
    # CREATE KEY Lc 1C / 24: LD ‖ usage id 00 alg 00000000 ‖ key, encrypted, + 4-byte MAC
    key = H("0123456789ABCDEFFEDCBA9876543210")
    record8 = H("2609 00 01 00000000") + bytes(8)
    record16 = H("2609 00 00 00000000") + bytes(16)
    assert len(encrypt_data(key, record8, Algorithm.DES)) + 4 == 0x1C
    assert len(encrypt_data(key, record16, Algorithm.DES)) + 4 == 0x24


def test_aligned_block_is_not_padded() -> None:
    # LD + 7 bytes = 8: no 80 block is added (Part 4 §8.3.3.1 step 3)
    ciphertext = encrypt_data(SM4_KEY, bytes(7), Algorithm.DES)
    assert decrypt_block(SM4_KEY, ciphertext, Algorithm.DES) == H("0700000000000000")


def test_wrong_key_is_reported_as_padding_error() -> None:
    ciphertext = encrypt_data(SM4_KEY, H("123456"), Algorithm.SM4)
    with pytest.raises(PaddingError, match="wrong key"):
        decrypt_data(bytes(16), ciphertext, Algorithm.SM4)


def test_bad_ld_is_reported() -> None:
    ciphertext = encrypt_block(SM4_KEY, H("20") + bytes(15), Algorithm.SM4)
    with pytest.raises(PaddingError, match="LD = 32"):
        decrypt_data(SM4_KEY, ciphertext, Algorithm.SM4)


def test_lengths_are_checked() -> None:
    with pytest.raises(DataLengthError, match="at most 255"):
        encrypt_data(SM4_KEY, bytes(256), Algorithm.SM4)
    with pytest.raises(DataLengthError, match="ciphertext"):
        decrypt_data(SM4_KEY, bytes(15), Algorithm.SM4)
    with pytest.raises(DataLengthError, match="ciphertext"):
        decrypt_data(SM4_KEY, b"", Algorithm.SM4)
