"""The MAC and TAC of Part 4 §8.2 (ISO/IEC 9797-1 algorithms 1 and 3, the SM4 fold)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sbkcard.keys import Algorithm, DataLengthError, encrypt_block, mac, tac
from sbkcard.keys.mac import cbc_chain, mac_of_chain
from sbkcard.keys.padding import fold, pad80, xor

H = bytes.fromhex


def test_retail_mac_icao_9303_mutual_authentication() -> None:
    # ICAO Doc 9303 part 11 appendix D.3: M_IFD = MAC(K_MAC, E_IFD) with ISO/IEC 9797-1
    # MAC algorithm 3, padding method 2; the standard keeps the left 4 bytes.
    k_mac = H("7962D9ECE03D1ACD4C76089DCE131543")
    e_ifd = H("72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2")
    assert mac(k_mac, e_ifd, Algorithm.DES) == H("5F1448EE")


def test_retail_mac_icao_9303_secure_messaging() -> None:
    # ICAO Doc 9303 part 11 appendix D.4, SELECT EF.COM: MAC over SSC ‖ padded header ‖ DO'87'
    ks_mac = H("F1CB1F1FB5ADF208806B89DC579DC1F8")
    n = H("887022120C06C2270CA4020C800000008709016375432908C044F6")
    assert mac(ks_mac, n, Algorithm.DES) == H("BF8B92D6")


def test_mac_algorithm_1_fips_81_cbc() -> None:
    # FIPS 81 appendix C, CBC example: key 0123456789ABCDEF, IV 1234567890ABCDEF,
    # "Now is the time for all " -> last ciphertext block 683788499A7C05F6. Padding
    # method 2 adds one block 80 00…, so the MAC is DES(K, C3 XOR 8000000000000000).
    key, iv = H("0123456789ABCDEF"), H("1234567890ABCDEF")
    last = xor(H("683788499A7C05F6"), H("8000000000000000"))
    expected = encrypt_block(key, last, Algorithm.DES)[:4]
    assert mac(key, b"Now is the time for all ", Algorithm.DES, iv=iv) == expected


@given(st.binary(min_size=8, max_size=8), st.binary(max_size=64))
def test_retail_mac_with_equal_halves_is_algorithm_1(key: bytes, data: bytes) -> None:
    assert mac(key + key, data, Algorithm.DES) == mac(key, data, Algorithm.DES)


@given(st.binary(min_size=16, max_size=16), st.binary(max_size=80))
def test_sm4_mac_is_cbc_then_fold(key: bytes, data: bytes) -> None:
    # Part 4 §8.2.4.2, figure 2, written out block by block with the ECB primitive
    state = bytes(16)
    for i in range(0, len(pad80(data, 16)), 16):
        state = encrypt_block(key, xor(state, pad80(data, 16)[i : i + 16]), Algorithm.SM4)
    assert mac(key, data, Algorithm.SM4) == fold(state, 4)


@given(
    st.sampled_from(((Algorithm.DES, 8), (Algorithm.SM4, 16))),
    st.binary(min_size=16, max_size=16),
    st.binary(max_size=80),
    st.data(),
)
def test_a_mac_chained_over_several_commands_is_the_mac(
    cipher: tuple[Algorithm, int], key16: bytes, data: bytes, draw: st.DataObject
) -> None:
    """CIPHER DATA 07/03/01 (Part 9 §9.8.2): chaining block runs gives the one-shot MAC."""
    algorithm, size = cipher
    key = key16[:size]
    padded = pad80(data, size)
    blocks = len(padded) // size
    cut = draw.draw(st.integers(0, blocks)) * size
    chain = cbc_chain(key, bytes(size), padded[:cut], algorithm)
    chain = cbc_chain(key, chain, padded[cut:], algorithm)
    assert mac_of_chain(chain, algorithm) == mac(key, data, algorithm)
    with pytest.raises(DataLengthError, match="whole"):
        cbc_chain(key, chain, padded[:-1], algorithm)


def test_padding_is_always_added() -> None:
    key = H("0123456789ABCDEF")
    aligned = bytes(8)
    # 8 bytes of data MAC over two blocks: data, then 80 00…
    expected = encrypt_block(
        key, xor(encrypt_block(key, aligned, Algorithm.DES), H("8000000000000000")), Algorithm.DES
    )
    assert mac(key, aligned, Algorithm.DES) == expected[:4]


def test_psam_iv_is_challenge_padded_with_zeros() -> None:
    # Part 9 §7.1.3 step 1: a 4-byte challenge right-padded with 00 00 00 00
    key, challenge = H("0123456789ABCDEF"), H("11223344")
    assert mac(key, b"\x84\xd4", Algorithm.DES, iv=challenge) == mac(
        key, b"\x84\xd4", Algorithm.DES, iv=challenge + bytes(4)
    )
    with pytest.raises(DataLengthError, match="MAC IV"):
        mac(key, b"", Algorithm.DES, iv=bytes(9))


def test_tac_des_uses_xor_of_dtk_halves() -> None:
    # Part 7 §15: for 8-byte blocks the TAC key is DTK_L XOR DTK_R
    dtk = H("0123456789ABCDEFFEDCBA9876543210")
    data = H("00000064 00000000 00000000 01 112233445566 20240101120000")
    assert tac(dtk, data, Algorithm.DES) == mac(xor(dtk[:8], dtk[8:]), data, Algorithm.DES)
    assert tac(dtk, data, Algorithm.SM4) == mac(dtk, data, Algorithm.SM4)
