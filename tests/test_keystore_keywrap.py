"""Key wrapping under a transport key: RFC 3394 vectors, AES and SM4, integrity."""

import pytest
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap
from hypothesis import given, settings
from hypothesis import strategies as st

from sbkcard.keys.keywrap import from_transport_form, kw_unwrap, kw_wrap, transport_form
from sbkcard.keys.store import KeyAlgorithm, TamperedError, UnsupportedKeyError

KEK_256 = bytes(range(32))
DATA_256 = bytes.fromhex("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F")

# RFC 3394 §4.1, §4.2, §4.3, §4.4, §4.6
RFC3394 = [
    (KEK_256[:16], DATA_256[:16], "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"),
    (KEK_256[:24], DATA_256[:16], "96778B25AE6CA435F92B5B97C050AED2468AB8A17AD84E5D"),
    (KEK_256, DATA_256[:16], "64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7"),
    (
        KEK_256[:24],
        DATA_256[:24],
        "031D33264E15D33268F24EC260743EDCE1C6C7DDEE725A936BA814915C6762D2",
    ),
    (
        KEK_256,
        DATA_256,
        "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21",
    ),
]


@pytest.mark.parametrize(("kek", "data", "wrapped"), RFC3394)
def test_rfc3394_vectors(kek: bytes, data: bytes, wrapped: str) -> None:
    assert kw_wrap(bytearray(kek), KeyAlgorithm.AES, bytearray(data)).hex().upper() == wrapped
    assert kw_unwrap(bytearray(kek), KeyAlgorithm.AES, bytes.fromhex(wrapped)) == data


@settings(max_examples=40, deadline=None)
@given(
    kek=st.sampled_from([16, 24, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
    blocks=st.integers(min_value=2, max_value=6),
    seed=st.binary(min_size=48, max_size=48),
)
def test_aes_kw_equals_cryptography(kek: bytes, blocks: int, seed: bytes) -> None:
    data = seed[: 8 * blocks]
    wrapped = kw_wrap(bytearray(kek), KeyAlgorithm.AES, bytearray(data))
    assert wrapped == aes_key_wrap(kek, data)
    assert aes_key_unwrap(kek, wrapped) == data


@settings(max_examples=30, deadline=None)
@given(kek=st.binary(min_size=16, max_size=16), data=st.binary(min_size=16, max_size=16))
def test_sm4_kw_round_trip(kek: bytes, data: bytes) -> None:
    wrapped = kw_wrap(bytearray(kek), KeyAlgorithm.SM4, bytearray(data))
    assert len(wrapped) == 24
    assert kw_unwrap(bytearray(kek), KeyAlgorithm.SM4, wrapped) == data


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.AES, KeyAlgorithm.SM4])
def test_altered_ciphertext_or_wrong_kek_fails(algorithm: KeyAlgorithm) -> None:
    kek = bytearray(range(16))
    wrapped = kw_wrap(kek, algorithm, bytearray(DATA_256[:16]))
    for position in range(len(wrapped)):
        altered = bytearray(wrapped)
        altered[position] ^= 0x01
        with pytest.raises(TamperedError, match="integrity check failed"):
            kw_unwrap(kek, algorithm, bytes(altered))
    with pytest.raises(TamperedError):
        kw_unwrap(bytearray(16), algorithm, wrapped)


def test_des_kek_and_short_keys_refused() -> None:
    with pytest.raises(UnsupportedKeyError, match="128-bit block cipher"):
        kw_wrap(bytearray(16), KeyAlgorithm.DES, bytearray(16))
    with pytest.raises(UnsupportedKeyError, match="16 bytes or more"):
        kw_wrap(bytearray(16), KeyAlgorithm.AES, bytearray(8))
    with pytest.raises(TamperedError):
        kw_unwrap(bytearray(16), KeyAlgorithm.AES, bytes(20))


def test_single_des_travels_as_double_length() -> None:
    key = bytearray.fromhex("0123456789ABCDEF")
    travelling = transport_form(key)
    assert travelling == key + key
    assert from_transport_form(travelling, 8) == key
    with pytest.raises(TamperedError, match="do not carry"):
        from_transport_form(bytearray(range(16)), 8)
