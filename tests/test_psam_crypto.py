"""DELIVERY SESSION KEY + CIPHER DATA give the key hierarchy's session keys, MACs and auth data.

The PSAM holds a key at depth 1, 2 or 3 (Part 9 §7.3, §8); whatever the depth, the
session key it delivers for a card must be ``session_key(diversify(root, [province,
city, card]), challenge)`` (Part 9 §7.3; Part 4 §8.4), the key the card itself holds.
"""

from __future__ import annotations

import random

import pytest
from Crypto.Cipher import DES, DES3

from sbkcard.applet_model.psam import KeyAlgorithm, KeyRecord, KeyType, Psam, psam_content
from sbkcard.applet_model.storage import MemoryStorage
from sbkcard.identifiers import make_atr
from sbkcard.keys import (
    Algorithm,
    auth_data,
    card_factor,
    city_factor,
    diversify,
    encrypt_block,
    mac,
    province_factor,
    session_key,
    sm3,
)
from sbkcard.keys.hierarchy import card_key, demo_keyset, derive_card_keys
from sbkcard.keys.padding import fold, pad80

REGION = "410105"
ATR = make_atr(REGION, bytes.fromhex("00C0FFEE"))
SX = {
    Algorithm.DES: "7378312E73682EC9E7BBE1B1A3D5CF",
    Algorithm.SM4: "7378322E73682EC9E7BBE1B1A3D5CF",
}


def send(psam: Psam, apdu: bytes | str) -> tuple[bytes, int]:
    raw = bytes.fromhex(apdu) if isinstance(apdu, str) else apdu
    response = psam.process(raw)
    return response[:-2], int.from_bytes(response[-2:])


def ok(psam: Psam, apdu: bytes | str) -> bytes:
    """Send a command, fetch its data with GET RESPONSE if it answers 61xx."""
    data, status = send(psam, apdu)
    if status >> 8 == 0x61:
        data, status = send(psam, f"00C00000{status & 0xFF:02X}")
    assert status == 0x9000, f"{status:04X}"
    return data


def psam_in_adf(cipher: Algorithm, level: int, **options: object) -> Psam:
    content = psam_content(
        demo_keyset(cipher), level=level, terminal_number=REGION + "000009", **options
    )
    psam = Psam(MemoryStorage(content), random=random.Random(1).randbytes)
    ok(psam, "00A404000F" + SX[cipher])
    ok(psam, "00A4040006D15600000590")
    return psam


def chain(level: int, region: str = REGION, atr: bytes = ATR) -> list[bytes]:
    """The factors DELIVERY SESSION KEY carries: card level first (Part 9 §9.7)."""
    return [card_factor(atr), city_factor(region), province_factor(region)][:level]


def delivery(name: str, level: int, factor: bytes) -> bytes:
    spec = card_key(name)
    assert spec.psam_usage is not None and spec.psam_id is not None
    data = b"".join(chain(level)) + factor
    usage = level << 5 | spec.psam_usage & 0x1F
    return bytes((0xBF, 0xDE, usage, spec.psam_id, len(data))) + data


CASES = [(cipher, level) for cipher in (Algorithm.DES, Algorithm.SM4) for level in (1, 2, 3)]


@pytest.mark.parametrize(("cipher", "level"), CASES)
def test_authentication_data_of_the_card_key(cipher: Algorithm, level: int) -> None:
    """Encryption through the PSAM is the card's auth data under its session key."""
    psam = psam_in_adf(cipher, level)
    root = demo_keyset(cipher).root("IRK")
    card = diversify(root, [province_factor(REGION), city_factor(REGION), card_factor(ATR)], cipher)
    assert derive_card_keys(demo_keyset(cipher), REGION, ATR)["IRK"] == card
    challenge = bytes.fromhex("32D9E876")
    factor = challenge + bytes(cipher.block_size - 4)
    original = bytes.fromhex("DBF7A936D0D18C9E")
    ok(psam, delivery("IRK", level, factor))
    block = original if cipher is Algorithm.DES else original + bytes(8)
    out = ok(psam, b"\x80\xfa\x00\x00" + bytes((len(block),)) + block)
    expected_session = session_key(card, challenge, cipher)
    assert out == encrypt_block(expected_session, block, cipher)
    auth = out if cipher is Algorithm.DES else fold(out, 8)
    assert auth == auth_data(expected_session, original, cipher)


@pytest.mark.parametrize(("cipher", "level"), CASES)
def test_mac_of_the_card_key(cipher: Algorithm, level: int) -> None:
    """CIPHER DATA P1 05 (IV first) is the card's secure-messaging MAC (Part 4 §8.2)."""
    psam = psam_in_adf(cipher, level)
    size = cipher.block_size
    card = derive_card_keys(demo_keyset(cipher), REGION, ATR)["STKSSSE"]
    challenge = bytes.fromhex("2AFD6A015D2D9BAC")
    command = bytes.fromhex("841E000104")  # APPLICATION BLOCK, Lc counting the MAC
    ok(psam, delivery("STKSSSE", level, challenge + bytes(size - 8)))
    data = bytes(size) + pad80(command, size)
    got = ok(psam, b"\x80\xfa\x05\x00" + bytes((len(data),)) + data)
    assert got == mac(session_key(card, challenge, cipher), command, cipher)


@pytest.mark.parametrize("cipher", [Algorithm.DES, Algorithm.SM4])
def test_chained_mac_and_encryption_equal_the_single_forms(cipher: Algorithm) -> None:
    size = cipher.block_size
    message = bytes(range(5 * size))
    iv = bytes.fromhex("0102030405060708090A0B0C0D0E0F10")[:size]
    factor = bytes(size)

    psam = psam_in_adf(cipher, 3)
    ok(psam, delivery("PUK", 3, factor))  # usage 48: MAC and encryption
    single = ok(psam, b"\x80\xfa\x05\x00" + bytes((size + len(message),)) + iv + message)
    whole = ok(psam, b"\x80\xfa\x00\x00" + bytes((len(message),)) + message)

    ok(psam, delivery("PUK", 3, factor))
    assert ok(psam, b"\x80\xfa\x07\x00" + bytes((2 * size,)) + iv + message[:size]) == b""
    assert ok(psam, b"\x80\xfa\x03\x00" + bytes((2 * size,)) + message[size : 3 * size]) == b""
    last = message[3 * size :]
    assert ok(psam, b"\x80\xfa\x01\x00" + bytes((len(last),)) + last) == single
    parts = [ok(psam, b"\x80\xfa\x02\x00" + bytes((size,)) + message[:size])]
    parts.append(ok(psam, b"\x80\xfa\x00\x00" + bytes((4 * size,)) + message[size:]))
    assert b"".join(parts) == whole

    card = derive_card_keys(demo_keyset(cipher), REGION, ATR)["PUK"]
    sk = session_key(card, factor, cipher)
    assert whole == encrypt_block(sk, message, cipher)
    assert len(single) == 4


def test_the_real_trace_shape() -> None:
    """Observed: ``BF DE 48 5D 18 | card | "371700sx" | R`` then ``80 FA 00 00 08`` + GET RESPONSE.

    Key 5D is a provincial application key (Part 9 table A1) of type 8 held as a
    provincial root (usage 48: two levels), as a province's own key is installed.
    """
    region = "371700"
    atr = make_atr(region, bytes.fromhex("00000123"))
    national = sm3(b"test root of provincial key 5D")[:16]
    provincial = diversify(national, [province_factor(region)], Algorithm.DES)
    record = KeyRecord(KeyType.MAC_ENCRYPTION, 2, 0x5D, KeyAlgorithm.TDES, provincial)
    content = psam_content(
        demo_keyset(Algorithm.DES), terminal_number="371700000001", extra_keys=[record]
    )
    psam = Psam(MemoryStorage(content))
    ok(psam, "00A4040006D15600000590")
    card_random = bytes.fromhex("A1B2C3D4") + bytes(4)
    city = bytes.fromhex("3337313730307378")
    assert city == city_factor(region) == b"371700sx"
    apdu = bytes.fromhex("BFDE485D18") + card_factor(atr) + city + card_random
    assert send(psam, apdu) == (b"", 0x9000)
    original = bytes.fromhex("1122334455667788")
    assert send(psam, "80FA000008" + original.hex()) == (b"", 0x6108)
    answer, status = send(psam, "00C0000008")
    assert status == 0x9000
    card_key_5d = diversify(
        national, [province_factor(region), city, card_factor(atr)], Algorithm.DES
    )
    assert answer == auth_data(
        session_key(card_key_5d, card_random, Algorithm.DES), original, Algorithm.DES
    )


def test_probing_the_depth_finds_the_level() -> None:
    """Part 9 §8 方案一: a terminal tries depths until the PSAM stops answering 6A80."""
    assert card_key("RKSSSE").psam_id == 0x0A
    for level in (1, 2, 3):
        psam = psam_in_adf(Algorithm.DES, level)
        answers = {}
        for depth in (3, 2, 1):
            data = b"".join(chain(depth)) + bytes(8)
            apdu = bytes((0xBF, 0xDE, depth << 5 | 7, 0x0A, len(data))) + data
            answers[depth] = send(psam, apdu)[1]
        assert answers == {d: 0x9000 if d == level else 0x6A80 for d in (3, 2, 1)}


def _des(key: bytes, block: bytes) -> bytes:
    if len(key) == 8:
        return DES.new(key, DES.MODE_ECB).encrypt(block)
    return DES3.new(key + key[:8], DES3.MODE_ECB).encrypt(block)


def test_against_an_independent_des_implementation() -> None:
    """The whole chain recomputed with PyCryptodome from Part 9 §7.1 and Part 4 §8–§9."""
    psam = psam_in_adf(Algorithm.DES, 3)
    key = demo_keyset(Algorithm.DES).root("RKSSSE")
    for factor in (province_factor(REGION), city_factor(REGION), card_factor(ATR)):
        inverted = bytes(b ^ 0xFF for b in factor)
        key = _des(key, factor) + _des(key, inverted)
    challenge = bytes.fromhex("0102030405060708")
    session = _des(key, challenge)
    original = bytes.fromhex("F0E1D2C3B4A59687")
    spec = card_key("RKSSSE")
    data = b"".join(chain(3)) + challenge
    ok(psam, bytes((0xBF, 0xDE, 0x67, spec.psam_id or 0, len(data))) + data)
    assert ok(psam, "80FA000008" + original.hex()) == _des(session, original)
