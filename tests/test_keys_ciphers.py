"""Block ciphers, KCV and SM3 against published known answers (GB/T 32907, GB/T 32905)."""

from __future__ import annotations

import warnings

import pytest

from sbkcard.keys import (
    Algorithm,
    DataLengthError,
    KeyLengthError,
    UnsupportedAlgorithmError,
    decrypt_block,
    encrypt_block,
    kcv,
    mac,
    sm3,
)
from sbkcard.keys.ciphers import cipher
from sbkcard.keys.padding import xor

H = bytes.fromhex
SM4_KEY = H("0123456789ABCDEFFEDCBA9876543210")


def test_sm4_single_block_gb_t_32907() -> None:
    # GB/T 32907-2016 appendix A, example 1
    assert encrypt_block(SM4_KEY, SM4_KEY, Algorithm.SM4) == H("681EDF34D206965E86B3E94F536E4246")
    assert decrypt_block(SM4_KEY, H("681EDF34D206965E86B3E94F536E4246"), Algorithm.SM4) == SM4_KEY


def test_sm4_one_million_encryptions_gb_t_32907() -> None:
    # GB/T 32907-2016 appendix A, example 2: encrypt the block 1,000,000 times
    encryptor = cipher(SM4_KEY, Algorithm.SM4).encryptor()
    block = SM4_KEY
    for _ in range(1_000_000):
        block = encryptor.update(block)
    assert block == H("595298C7C6FD271F0402F804C33D3F66")


@pytest.mark.parametrize(
    ("key", "plain", "expected"),
    [
        # FIPS 81 appendix B, ECB example ("Now is t")
        ("0123456789ABCDEF", "4E6F772069732074", "3FA40E8A984D4815"),
        # NIST SP 800-20 table A.1, variable plaintext known answer test, rounds 1-3
        ("0101010101010101", "8000000000000000", "95F8A5E5DD31D900"),
        ("0101010101010101", "4000000000000000", "DD7F121CA5015619"),
        ("0101010101010101", "2000000000000000", "2E8653104F3834EA"),
        # NIST SP 800-20 table A.2, variable key known answer test, round 1
        ("8001010101010101", "0000000000000000", "95A8D72813DAA94D"),
    ],
)
def test_single_des_known_answers(key: str, plain: str, expected: str) -> None:
    assert encrypt_block(H(key), H(plain), Algorithm.DES) == H(expected)
    assert decrypt_block(H(key), H(expected), Algorithm.DES) == H(plain)
    # a double-length key with equal halves is single DES (EDE2 with KL = KR)
    assert encrypt_block(H(key) * 2, H(plain), Algorithm.DES) == H(expected)


def test_two_key_triple_des_icao_9303() -> None:
    # ICAO Doc 9303 part 11 appendix D.3 (BAC worked example): E_IFD = 3DES-CBC(K_Enc, S),
    # IV zero, chained here block by block through the ECB primitive.
    k_enc = H("AB94FDECF2674FDFB9B391F85D7F76F2")
    s = H("781723860C06C2264608F919887022120B795240CB7049B01C19B33E32804F0B")
    e_ifd = H("72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2")
    previous = bytes(8)
    for i in range(0, len(s), 8):
        block = encrypt_block(k_enc, xor(s[i : i + 8], previous), Algorithm.DES)
        assert block == e_ifd[i : i + 8]
        assert xor(decrypt_block(k_enc, block, Algorithm.DES), previous) == s[i : i + 8]
        previous = block
    # appendix D.4: DO'87' of SELECT EF.COM, data 011E padded, under KS_Enc
    ks_enc = H("979EC13B1CBFE9DCD01AB0FED307EAE5")
    assert encrypt_block(ks_enc, H("011E800000000000"), Algorithm.DES) == H("6375432908C044F6")


def test_kcv() -> None:
    # DES(0123456789ABCDEF, 0) = D5D44FF720683D0D, the usual KCV example
    assert kcv(H("0123456789ABCDEF"), Algorithm.DES) == H("D5D44F")
    assert kcv(SM4_KEY, Algorithm.SM4) == encrypt_block(SM4_KEY, bytes(16), Algorithm.SM4)[:3]


@pytest.mark.parametrize(
    ("message", "digest"),
    [
        (b"abc", "66C7F0F462EEEDD9D1F2D46BDC10E4E24167C4875CF2F7A2297DA02B8F4BA8E0"),
        (b"abcd" * 16, "DEBE9FF92275B8A138604889C18E5A4D6FDB70E5387E5765293DCBA39C0C5732"),
    ],
)
def test_sm3_gb_t_32905(message: bytes, digest: str) -> None:
    assert sm3(message) == H(digest)


def test_ssf33_is_named_but_unsupported() -> None:
    with pytest.raises(UnsupportedAlgorithmError, match="SSF33"):
        encrypt_block(bytes(16), bytes(16), Algorithm.SSF33)
    with pytest.raises(UnsupportedAlgorithmError):
        mac(bytes(16), b"", Algorithm.SSF33)
    assert Algorithm.SSF33.block_size == 16
    assert [a.value for a in Algorithm] == [1, 2, 3]


@pytest.mark.parametrize(
    ("algorithm", "length"), [(Algorithm.DES, 24), (Algorithm.DES, 7), (Algorithm.SM4, 8)]
)
def test_wrong_key_length_is_named(algorithm: Algorithm, length: int) -> None:
    with pytest.raises(KeyLengthError, match=f"got {length} bytes"):
        encrypt_block(bytes(length), bytes(16), algorithm)


def test_partial_block_is_rejected() -> None:
    with pytest.raises(DataLengthError, match="whole 16-byte blocks, got 15"):
        encrypt_block(SM4_KEY, bytes(15), Algorithm.SM4)


def test_no_deprecation_warning_from_des() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        encrypt_block(bytes(8), bytes(8), Algorithm.DES)
        encrypt_block(bytes(16), bytes(8), Algorithm.DES)
