"""Secure messaging (Part 4 §8.2–8.3): MACs checked against an independent computation.

The reference MACs here are computed from the standard's own description (Part 4 §8.2.4,
Part 9 §7.1.3) with other libraries than the one :mod:`sbkcard.keys` uses: pycryptodome
for DES/3DES and Tongsuo (tongsuopy) for SM4.
"""

from __future__ import annotations

import pytest
from Crypto.Cipher import DES, DES3
from hypothesis import given, settings
from hypothesis import strategies as st

from sbkcard.apdu import builders as b
from sbkcard.apdu.command import CommandAPDU
from sbkcard.apdu.errors import SecureMessagingError
from sbkcard.apdu.secure_messaging import (
    attach_mac,
    encipher,
    mac_input,
    unwrap,
    verify_mac,
    wrap,
    wrap_mac,
)
from sbkcard.keys import Algorithm

try:  # Tongsuo's SM4, independent of the OpenSSL build behind `cryptography` (extra "sm2")
    from tongsuopy.crypto.ciphers import Cipher, algorithms, modes
except ImportError:  # pragma: no cover - the SM4 reference tests skip
    Cipher = None

STK_DES = bytes.fromhex("0123456789ABCDEF FEDCBA9876543210")
STK_SM4 = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
CHALLENGE = bytes.fromhex("2AFD6A01")


# -- an independent implementation of the standard's algorithms ---------------------------


def pad80(data: bytes, size: int) -> bytes:
    data += b"\x80"
    return data + bytes(-len(data) % size)


def need_tongsuo() -> None:
    if Cipher is None:
        pytest.skip("tongsuopy (the independent SM4) is not installed")


def sm4_ecb(key: bytes, data: bytes) -> bytes:
    need_tongsuo()
    c = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    return bytes(c.update(data) + c.finalize())


def sm4_cbc(key: bytes, data: bytes, iv: bytes) -> bytes:
    need_tongsuo()
    c = Cipher(algorithms.SM4(key), modes.CBC(iv)).encryptor()
    return bytes(c.update(data) + c.finalize())


def des_session_key(key16: bytes, random4: bytes) -> bytes:
    """Part 4 figure 8: 3DES-EDE of the random padded with 00 to 8 bytes."""
    return bytes(DES3.new(key16, DES3.MODE_ECB).encrypt(random4 + bytes(4)))


def sm4_session_key(key: bytes, random4: bytes) -> bytes:
    """Part 4 §8.4.2: SM4 of the random padded with 00 to 16 bytes."""
    return sm4_ecb(key, random4 + bytes(12))


def des_mac(key8: bytes, data: bytes, iv: bytes = bytes(8)) -> bytes:
    """Part 4 figure 1: CBC-DES, left 4 bytes of the last block."""
    return bytes(DES.new(key8, DES.MODE_CBC, iv=iv).encrypt(pad80(data, 8))[-8:][:4])


def retail_mac(key16: bytes, data: bytes, iv: bytes) -> bytes:
    """Part 9 figure 5 B: CBC-DES under KL, then D(KR), E(KL) on the last block."""
    last = DES.new(key16[:8], DES.MODE_CBC, iv=iv).encrypt(pad80(data, 8))[-8:]
    last = DES.new(key16[8:], DES.MODE_ECB).decrypt(last)
    return bytes(DES.new(key16[:8], DES.MODE_ECB).encrypt(last)[:4])


def sm4_mac(key: bytes, data: bytes) -> bytes:
    """Part 4 figure 2: CBC-SM4, the last 16 bytes XOR-folded into 4."""
    last = sm4_cbc(key, pad80(data, 16), bytes(16))[-16:]
    out = bytes(4)
    for i in range(0, 16, 4):
        out = bytes(x ^ y for x, y in zip(out, last[i : i + 4], strict=True))
    return out


def des_encrypt(key: bytes, plain: bytes) -> bytes:
    """Part 4 §8.3.3.1: LD ‖ data, 80-padded only if unaligned, ECB."""
    block = bytes([len(plain)]) + plain
    if len(block) % 8:
        block = pad80(block, 8)
    cipher = DES.new(key, DES.MODE_ECB) if len(key) == 8 else DES3.new(key, DES3.MODE_ECB)
    return bytes(cipher.encrypt(block))


def sm4_encrypt(key: bytes, plain: bytes) -> bytes:
    block = bytes([len(plain)]) + plain
    if len(block) % 16:
        block = pad80(block, 16)
    return sm4_ecb(key, block)


# -- the user card's secure messaging --------------------------------------------------------


def test_mac_input_counts_the_mac_in_lc() -> None:
    assert mac_input(b.application_block()) == bytes.fromhex("841E000104")
    assert mac_input(b.card_block()) == bytes.fromhex("8416000004")
    assert mac_input(b.update_binary(b"\x01\x02", sfi=7)) == bytes.fromhex("04D68700060102")


def test_application_block_des() -> None:
    sk = des_session_key(STK_DES, CHALLENGE)
    wrapped = wrap_mac(b.application_block(), sk, Algorithm.DES)
    expected = des_mac(sk, bytes.fromhex("841E000104"))
    assert bytes(wrapped) == bytes.fromhex("841E000104") + expected
    assert wrapped == b.application_block(expected)
    assert verify_mac(wrapped, sk, Algorithm.DES)


def test_card_block_sm4() -> None:
    sk = sm4_session_key(STK_SM4, CHALLENGE)
    wrapped = wrap_mac(b.card_block(), sk, Algorithm.SM4)
    assert bytes(wrapped) == bytes.fromhex("8416000004") + sm4_mac(sk, bytes.fromhex("8416000004"))
    assert verify_mac(wrapped, sk, Algorithm.SM4)


def test_update_binary_gets_cla_04() -> None:
    sk = des_session_key(STK_DES, CHALLENGE)
    wrapped = wrap_mac(b.update_binary(b"\xaa\xbb", sfi=7, offset=1), sk, Algorithm.DES)
    assert wrapped.header == bytes.fromhex("04D68701")
    assert wrapped.data[-4:] == des_mac(sk, bytes.fromhex("04D6870106AABB"))


@pytest.mark.parametrize(
    ("algorithm", "stk", "lc"), [(Algorithm.DES, STK_DES, 0x0C), (Algorithm.SM4, STK_SM4, 0x14)]
)
def test_pin_reload_encrypted_then_maced(algorithm: Algorithm, stk: bytes, lc: int) -> None:
    """Part 4 §8.3 / a real SM4 card: ``84 24 00 01 0C|14`` = enc(03 12 34 56 80 00…) ‖ MAC."""
    if algorithm is Algorithm.DES:
        sk = des_session_key(stk, CHALLENGE)
        cipher, mac = des_encrypt(sk, bytes.fromhex("123456")), des_mac
    else:
        sk = sm4_session_key(stk, CHALLENGE)
        cipher, mac = sm4_encrypt(sk, bytes.fromhex("123456")), sm4_mac
    wrapped = wrap(b.pin_reload(b.encode_pin("123456")), sk, algorithm, encrypt=True)
    header = bytes([0x84, 0x24, 0x00, 0x01, lc])
    assert bytes(wrapped) == header + cipher + mac(sk, header + cipher)
    assert wrapped == b.pin_reload(cipher, mac(sk, header + cipher))
    plain = unwrap(wrapped, sk, algorithm, encrypted=True)
    assert plain == CommandAPDU(0x80, 0x24, 0x00, 0x01, bytes.fromhex("123456"))


# -- the PSAM's key commands (Part 9 §7.1.2–7.1.3, §9.5–9.6) ---------------------------------


@pytest.mark.parametrize(
    ("key", "record", "p1", "lc"),
    [
        (bytes(8), "create", 0x00, 0x1C),
        (bytes(16), "create", 0x00, 0x24),
        (bytes(8), "change", 0x01, 0x14),
        (bytes(16), "change", 0x01, 0x1C),
    ],
)
def test_psam_key_commands_des(key: bytes, record: str, p1: int, lc: int) -> None:
    master = bytes.fromhex("404142434445464748494A4B4C4D4E4F")
    challenge = bytes.fromhex("01020304")
    new_key = bytes(range(1, 1 + len(key)))
    if record == "create":
        alg = b.PsamKeyAlgorithm.DES if len(key) == 8 else b.PsamKeyAlgorithm.TRIPLE_DES
        cmd = b.create_key(0x11, b.create_key_record(0x26, 0x09, alg, new_key))
    else:
        cmd = b.change_key(0x11, b.change_key_record(0x26, 0x09, new_key))
    wrapped = wrap(cmd, master, Algorithm.DES, encrypt=True, iv=challenge)
    assert wrapped.header == bytes([0x84, 0xD4, p1, 0x11]) and len(wrapped.data) == lc
    cipher = des_encrypt(master, cmd.data)
    head = bytes([0x84, 0xD4, p1, 0x11, lc])
    assert bytes(wrapped) == head + cipher + retail_mac(master, head + cipher, challenge + bytes(4))
    assert unwrap(wrapped, master, Algorithm.DES, encrypted=True, iv=challenge).data == cmd.data


def test_psam_change_key_sm4_lc() -> None:
    master = bytes(range(16))
    cmd = b.change_key(0x11, b.change_key_record(0x27, 0x24, bytes(16)))
    assert len(wrap(cmd, master, Algorithm.SM4, encrypt=True, iv=CHALLENGE).data) == 0x24


# -- card side: verification and unwrapping ---------------------------------------------------

KEYS = {Algorithm.DES: bytes.fromhex("0123456789ABCDEF"), Algorithm.SM4: STK_SM4}
plain_commands = st.builds(
    lambda cla, ins, p1, p2, data: CommandAPDU(cla, ins, p1, p2, data),
    st.sampled_from([0x00, 0x80, 0xB0]),
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 255),
    st.binary(max_size=200),
)


@settings(max_examples=60)
@given(plain_commands, st.sampled_from(list(KEYS)), st.booleans())
def test_unwrap_inverts_wrap(cmd: CommandAPDU, algorithm: Algorithm, encrypt: bool) -> None:
    key = KEYS[algorithm]
    wrapped = wrap(cmd, key, algorithm, encrypt=encrypt)
    assert wrapped.secure_messaging and wrapped.cla == cmd.cla | 0x04
    assert verify_mac(wrapped, key, algorithm)
    assert unwrap(wrapped, key, algorithm, encrypted=encrypt) == cmd


@settings(max_examples=60)
@given(plain_commands, st.sampled_from(list(KEYS)), st.data())
def test_any_changed_bit_fails_the_mac(
    cmd: CommandAPDU, algorithm: Algorithm, data: st.DataObject
) -> None:
    key = KEYS[algorithm]
    raw = bytearray(bytes(wrap_mac(cmd, key, algorithm)))
    position = data.draw(st.sampled_from([i for i in range(len(raw)) if i != 4]))
    raw[position] ^= 1 << data.draw(st.integers(0, 7))
    tampered = CommandAPDU.from_bytes(bytes(raw))
    assert not verify_mac(tampered, key, algorithm)
    with pytest.raises(SecureMessagingError, match="MAC"):
        unwrap(tampered, key, algorithm)


def test_verify_rejects_commands_without_mac() -> None:
    key = KEYS[Algorithm.DES]
    assert not verify_mac(CommandAPDU(0x84, 0x1E, 0x00, 0x01), key, Algorithm.DES)
    assert not verify_mac(CommandAPDU(0x84, 0x1E, 0x00, 0x01, b"\x00\x00"), key, Algorithm.DES)
    good = wrap_mac(b.application_block(), key, Algorithm.DES)
    assert not verify_mac(good.with_cla(0x80), key, Algorithm.DES)
    assert not verify_mac(good, bytes(8), Algorithm.DES)


def test_bad_plaintext_under_a_good_mac() -> None:
    key = KEYS[Algorithm.DES]
    garbage = attach_mac(
        CommandAPDU(0x84, 0x24, 0x00, 0x01, bytes(8)),
        des_mac(key, bytes.fromhex("842400010C") + bytes(8)),
    )
    assert verify_mac(garbage, key, Algorithm.DES)
    with pytest.raises(SecureMessagingError, match="842400"):
        unwrap(garbage, key, Algorithm.DES, encrypted=True)


def test_wrapping_limits() -> None:
    key = KEYS[Algorithm.DES]
    with pytest.raises(SecureMessagingError, match="no room for the MAC"):
        wrap_mac(CommandAPDU(0x00, 0xD6, 0, 0, bytes(252)), key, Algorithm.DES)
    wrap_mac(CommandAPDU(0x00, 0xD6, 0, 0, bytes(251)), key, Algorithm.DES)
    with pytest.raises(SecureMessagingError, match="low nibble"):
        wrap_mac(CommandAPDU(0x0C, 0xD6, 0, 0, b"x"), key, Algorithm.DES)
    with pytest.raises(SecureMessagingError, match="4 bytes"):
        attach_mac(b.card_block(), b"\x00")
    assert encipher(CommandAPDU(0, 0xD6, 0, 0, b"\x01"), key, Algorithm.DES).data == des_encrypt(
        key, b"\x01"
    )


def test_separate_mac_key() -> None:
    enc, mac_key = bytes(range(8)), bytes(range(8, 16))
    wrapped = wrap(
        b.pin_reload(b.encode_pin("1234")), enc, Algorithm.DES, encrypt=True, mac_key=mac_key
    )
    assert verify_mac(wrapped, mac_key, Algorithm.DES)
    assert unwrap(wrapped, enc, Algorithm.DES, encrypted=True, mac_key=mac_key).data == b"\x12\x34"
