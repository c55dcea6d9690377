"""CREATE KEY / CHANGE KEY: ciphertext + retail MAC under the ADF master key (Part 9 §7.1.2–7.1.3,
§7.2.2–7.2.3, §9.5–9.6).

The commands are built here independently of :mod:`sbkcard.keys`: PyCryptodome's DES
for the DES environment (ISO/IEC 9797-1 MAC algorithm 3, the "retail MAC", with the
challenge as IV) and ``cryptography``'s SM4 for the SM4 environment (CBC, then the
16-byte result XOR-folded into 4 bytes).
"""

from __future__ import annotations

import random
from functools import reduce

import pytest
from Crypto.Cipher import DES, DES3
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from test_psam_commands import exchange, send, sw

from sbkcard.applet_model.psam import (
    Authority,
    KeyAlgorithm,
    KeyRecord,
    KeyType,
    Psam,
    demo_admin_keys,
    psam_content,
)
from sbkcard.applet_model.psam.layout import DES_ENVIRONMENT, SM4_ENVIRONMENT
from sbkcard.applet_model.storage import MemoryStorage
from sbkcard.keys import Algorithm, auth_data, session_key

SX = {
    Algorithm.DES: "7378312E73682EC9E7BBE1B1A3D5CF",
    Algorithm.SM4: "7378322E73682EC9E7BBE1B1A3D5CF",
}
NEW_KEY = bytes.fromhex("00112233445566778899AABBCCDDEEFF")


# -- an independent implementation of Part 9 §7.1.2–7.2.3 ----------------------------------------


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def _sm4(key: bytes) -> Cipher[modes.ECB]:
    return Cipher(algorithms.SM4(key), modes.ECB())


def encipher(cipher: Algorithm, key: bytes, plaintext: bytes) -> bytes:
    """LD ‖ data, ``80 00…`` only when not aligned, ECB (Part 9 §7.1.2 / §7.2.2)."""
    size = cipher.block_size
    block = bytes((len(plaintext),)) + plaintext
    if len(block) % size:
        block += b"\x80" + bytes(-(len(block) + 1) % size)
    if cipher is Algorithm.SM4:
        enc = _sm4(key).encryptor()
        return enc.update(block) + enc.finalize()
    return DES3.new(key + key[:8], DES3.MODE_ECB).encrypt(block)


def retail_mac(cipher: Algorithm, key: bytes, data: bytes, challenge: bytes) -> bytes:
    """Part 9 §7.1.3 (figure 5 B) and §7.2.3 (figure 10): IV = challenge ‖ 00…."""
    size = cipher.block_size
    data += b"\x80" + bytes(-(len(data) + 1) % size)
    chain = challenge + bytes(size - len(challenge))
    blocks = [data[i : i + size] for i in range(0, len(data), size)]
    if cipher is Algorithm.SM4:
        for block in blocks:
            enc = _sm4(key).encryptor()
            chain = enc.update(_xor(chain, block)) + enc.finalize()
        return reduce(_xor, (chain[i : i + 4] for i in range(0, 16, 4)))
    left, right = DES.new(key[:8], DES.MODE_ECB), DES.new(key[8:], DES.MODE_ECB)
    for block in blocks:
        chain = left.encrypt(_xor(chain, block))
    return left.encrypt(right.decrypt(chain))[:4]


def key_command(
    psam: Psam,
    cipher: Algorithm,
    p1: int,
    key_file: int,
    plaintext: bytes,
    *,
    master: bytes | None = None,
) -> bytes:
    """GET CHALLENGE, then CREATE (P1 00) or CHANGE (P1 01) KEY for ``plaintext``."""
    challenge, status = send(psam, "0084000004")
    assert status == 0x9000
    master = master or demo_admin_keys(cipher).master
    body = encipher(cipher, master, plaintext)
    header = bytes((0x84, 0xD4, p1, key_file, len(body) + 4))
    return header + body + retail_mac(cipher, master, header + body, challenge)


def authenticate(psam: Psam, cipher: Algorithm, kid: int, key: bytes | None = None) -> int:
    challenge, _ = send(psam, "0084000008")
    original = bytes.fromhex("0F1E2D3C4B5A6978")
    key = key or demo_admin_keys(cipher).auth[kid - 1]
    auth = auth_data(session_key(key, challenge, cipher), original, cipher)
    return sw(psam, bytes((0x00, 0x82, 0x00, kid, 0x10)) + auth + original)


def make_psam(cipher: Algorithm = Algorithm.DES) -> tuple[Psam, MemoryStorage]:
    storage = MemoryStorage(psam_content())
    psam = Psam(storage, random=random.Random(3).randbytes)
    assert sw(psam, "00A404000F" + SX[cipher] + "00") == 0x611D
    assert sw(psam, "00A4040006D1560000059000") == 0x610A
    return psam, storage


def delivery_auth(psam: Psam, usage: int, kid: int, cipher: Algorithm) -> bytes:
    """Auth data of ``00…`` under the session key of key ``kid`` with no factors and R = 0."""
    size = cipher.block_size
    assert sw(psam, bytes((0xBF, 0xDE, usage, kid, size)) + bytes(size)) == 0x9000
    out, status = exchange(psam, bytes((0x80, 0xFA, 0x00, 0x00, size)) + bytes(size) + b"\x00")
    assert status == 0x9000
    return out


# -- CREATE KEY ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cipher", "algorithm", "key", "lc"),
    [
        (Algorithm.DES, KeyAlgorithm.TDES, NEW_KEY, 0x24),
        (Algorithm.DES, KeyAlgorithm.DES, NEW_KEY[:8], 0x1C),
        (Algorithm.SM4, KeyAlgorithm.SM4, NEW_KEY, 0x24),
    ],
)
def test_create_key(cipher: Algorithm, algorithm: KeyAlgorithm, key: bytes, lc: int) -> None:
    psam, storage = make_psam(cipher)
    record = KeyRecord(KeyType.MAC_ENCRYPTION, 0, 0x5D, algorithm, key)
    assert authenticate(psam, cipher, 2) == 0x9000
    apdu = key_command(psam, cipher, 0x00, 0x12, record.to_bytes())
    assert apdu[4] == lc
    assert sw(psam, apdu) == 0x9000
    env = DES_ENVIRONMENT if cipher is Algorithm.DES else SM4_ENVIRONMENT
    stored = storage.read(env.key_record_key(Authority.PROVINCIAL, KeyType.MAC_ENCRYPTION, 0x5D))
    assert stored == record.to_bytes()
    session = session_key(key, bytes(cipher.block_size), cipher)
    if cipher is Algorithm.SM4:
        expected = _sm4(session).encryptor().update(bytes(16))
    else:
        expected = DES.new(session, DES.MODE_ECB).encrypt(bytes(8))
    assert delivery_auth(psam, 0x08, 0x5D, cipher) == expected


def test_create_a_purchase_key_version() -> None:
    psam, _ = make_psam()
    record = KeyRecord(KeyType.PURCHASE, 1, 0x02, KeyAlgorithm.TDES, NEW_KEY)
    assert authenticate(psam, Algorithm.DES, 3) == 0x9000
    assert sw(psam, key_command(psam, Algorithm.DES, 0x00, 0x13, record.to_bytes())) == 0x9000


@pytest.mark.parametrize(
    ("record", "key_file"),
    [
        (KeyRecord(KeyType.ENCRYPTION, 3, 0x08, KeyAlgorithm.TDES, NEW_KEY), 0x11),  # IRK exists
        (KeyRecord(KeyType.MAC, 1, 0x20, KeyAlgorithm.TDES, NEW_KEY), 0x12),  # national ID
        (KeyRecord(KeyType.MAC, 1, 0xC0, KeyAlgorithm.TDES, NEW_KEY), 0x13),  # reserved
        (KeyRecord(KeyType.MAC, 1, 0x05, KeyAlgorithm.TDES, NEW_KEY), 0x11),  # PSAM's own range
        (KeyRecord(KeyType.MAINTENANCE, 0, 0x0E, KeyAlgorithm.TDES, NEW_KEY), 0x11),
        (KeyRecord(KeyType.MASTER, 0, 0x00, KeyAlgorithm.TDES, NEW_KEY), 0x11),
        (KeyRecord(KeyType.MAC, 1, 0x30, KeyAlgorithm.SM4, NEW_KEY), 0x11),  # SM4 key, DES env
    ],
)
def test_create_key_refuses_bad_records(record: KeyRecord, key_file: int) -> None:
    psam, storage = make_psam()
    before = dict(storage.data)
    assert authenticate(psam, Algorithm.DES, key_file - 0x10) == 0x9000
    apdu = key_command(psam, Algorithm.DES, 0x00, key_file, record.to_bytes())
    assert sw(psam, apdu) == 0x6A80
    assert storage.data == before


def test_create_key_with_bad_plaintext_structure() -> None:
    psam, _ = make_psam()
    assert authenticate(psam, Algorithm.DES, 1) == 0x9000
    rfu = KeyRecord(KeyType.MAC, 1, 0x30, KeyAlgorithm.TDES, NEW_KEY).to_bytes()
    rfu = rfu[:2] + b"\x01" + rfu[3:]
    assert sw(psam, key_command(psam, Algorithm.DES, 0x00, 0x11, rfu)) == 0x6A80
    # a well-MACed ciphertext whose LD does not fit: not an enciphered key record
    challenge, _ = send(psam, "0084000004")
    master = demo_admin_keys(Algorithm.DES).master
    body = DES3.new(master + master[:8], DES3.MODE_ECB).encrypt(b"\xff" + bytes(31))
    header = bytes((0x84, 0xD4, 0x00, 0x11, 0x24))
    apdu = header + body + retail_mac(Algorithm.DES, master, header + body, challenge)
    assert sw(psam, apdu) == 0x6A80


# -- CHANGE KEY ------------------------------------------------------------------------------


@pytest.mark.parametrize("cipher", [Algorithm.DES, Algorithm.SM4])
def test_change_key(cipher: Algorithm) -> None:
    psam, storage = make_psam(cipher)
    env = DES_ENVIRONMENT if cipher is Algorithm.DES else SM4_ENVIRONMENT
    irk = KeyRecord.from_bytes(
        storage.read(env.key_record_key(Authority.NATIONAL, KeyType.ENCRYPTION, 0x08)) or b""
    )
    changed = KeyRecord(KeyType.ENCRYPTION, 0, 0x08, irk.algorithm, NEW_KEY)
    assert authenticate(psam, cipher, 1) == 0x9000
    apdu = key_command(psam, cipher, 0x01, 0x11, changed.change_data())
    assert apdu[4] == (0x1C if cipher is Algorithm.DES else 0x24)
    assert sw(psam, apdu) == 0x9000
    stored = storage.read(env.key_record_key(Authority.NATIONAL, KeyType.ENCRYPTION, 0x08))
    assert stored == changed.to_bytes()
    assert sw(psam, bytes((0xBF, 0xDE, 0x67, 0x08, 0x08)) + bytes(8)) != 0x9000  # 0 levels now
    size = cipher.block_size
    assert len(delivery_auth(psam, 0x07, 0x08, cipher)) == size


def test_change_a_single_des_key_has_lc_14() -> None:
    psam, storage = make_psam()
    stk = KeyRecord.from_bytes(
        storage.read(DES_ENVIRONMENT.key_record_key(Authority.NATIONAL, KeyType.MAC, 0x09)) or b""
    )
    assert stk.algorithm is KeyAlgorithm.DES  # STK keys are single length in DES
    changed = KeyRecord(KeyType.MAC, 1, 0x09, KeyAlgorithm.DES, NEW_KEY[:8])
    assert authenticate(psam, Algorithm.DES, 1) == 0x9000
    apdu = key_command(psam, Algorithm.DES, 0x01, 0x11, changed.change_data())
    assert apdu[4] == 0x14
    assert sw(psam, apdu) == 0x9000
    wrong_length = KeyRecord(KeyType.MAC, 1, 0x09, KeyAlgorithm.TDES, NEW_KEY).change_data()
    assert sw(psam, key_command(psam, Algorithm.DES, 0x01, 0x11, wrong_length)) == 0x6A80


def test_change_an_authentication_key() -> None:
    psam, _ = make_psam()
    new = KeyRecord(KeyType.MAINTENANCE, 0, 0x01, KeyAlgorithm.TDES, NEW_KEY)
    assert authenticate(psam, Algorithm.DES, 1) == 0x9000
    assert sw(psam, key_command(psam, Algorithm.DES, 0x01, 0x11, new.change_data())) == 0x9000
    assert authenticate(psam, Algorithm.DES, 1) == 0x63C2
    assert authenticate(psam, Algorithm.DES, 1, NEW_KEY) == 0x9000


def test_change_a_missing_key() -> None:
    psam, _ = make_psam()
    missing = KeyRecord(KeyType.MAC, 1, 0x3E, KeyAlgorithm.TDES, NEW_KEY)
    assert authenticate(psam, Algorithm.DES, 1) == 0x9000
    assert sw(psam, key_command(psam, Algorithm.DES, 0x01, 0x11, missing.change_data())) == 0x6A88


# -- conditions and status words ------------------------------------------------------------


RECORD = KeyRecord(KeyType.MAC, 1, 0x3E, KeyAlgorithm.TDES, NEW_KEY).to_bytes()


def test_writing_needs_the_key_file_authority() -> None:
    psam, storage = make_psam()
    before = dict(storage.data)
    assert sw(psam, key_command(psam, Algorithm.DES, 0x00, 0x11, RECORD)) == 0x6982
    assert authenticate(psam, Algorithm.DES, 2) == 0x9000
    assert sw(psam, key_command(psam, Algorithm.DES, 0x00, 0x11, RECORD)) == 0x6982
    assert sw(psam, "00A40000023F0000") == 0x611D
    assert sw(psam, "00A4000002DF0100") == 0x610A  # a new DF: authentication forgotten
    assert authenticate(psam, Algorithm.DES, 1) == 0x9000
    assert sw(psam, "00A4000002DF0100") == 0x610A  # the same DF again keeps it
    assert sw(psam, key_command(psam, Algorithm.DES, 0x00, 0x11, RECORD)) == 0x9000
    assert len(storage.data) == len(before) + 1


def test_a_wrong_mac_writes_nothing() -> None:
    psam, storage = make_psam()
    assert authenticate(psam, Algorithm.DES, 1) == 0x9000
    apdu = bytearray(key_command(psam, Algorithm.DES, 0x00, 0x11, RECORD))
    apdu[-1] ^= 0x01
    before = dict(storage.data)
    assert sw(psam, bytes(apdu)) == 0x6988
    assert storage.data == before
    assert sw(psam, bytes(apdu)) == 0x6984  # the challenge is spent
    other = key_command(psam, Algorithm.DES, 0x00, 0x11, RECORD, master=NEW_KEY)
    assert sw(psam, other) == 0x6988  # not the master key


def test_key_command_status_words() -> None:
    psam, _ = make_psam()
    apdu = key_command(psam, Algorithm.DES, 0x00, 0x11, RECORD)
    assert sw(psam, "84D40011" + apdu[4:].hex()) == 0x6982
    assert authenticate(psam, Algorithm.DES, 1) == 0x9000
    assert sw(psam, apdu) == 0x6984  # the challenge went to EXTERNAL AUTHENTICATE
    assert sw(psam, b"\x84\xd4\x02\x11" + apdu[4:]) == 0x6A86
    assert sw(psam, b"\x84\xd4\x00\x14" + apdu[4:]) == 0x6A82
    assert sw(psam, b"\x80\xd4\x00\x11" + apdu[4:]) == 0x6E00
    assert sw(psam, b"\x84\xd4\x00\x11\x14" + apdu[5:25]) == 0x6700  # 14 is CHANGE's
    assert sw(psam, b"\x84\xd4\x01\x11\x24" + apdu[5:]) == 0x6700  # 24 is CREATE's
    assert sw(psam, "00A40000023F0000") == 0x611D
    assert sw(psam, apdu) == 0x6985


def test_sm4_environment_lengths() -> None:
    psam, _ = make_psam(Algorithm.SM4)
    assert authenticate(psam, Algorithm.SM4, 1) == 0x9000
    sm4 = KeyRecord(KeyType.MAC, 1, 0x3E, KeyAlgorithm.SM4, NEW_KEY).to_bytes()
    apdu = key_command(psam, Algorithm.SM4, 0x00, 0x11, sm4)
    assert sw(psam, b"\x84\xd4\x00\x11\x1c" + apdu[5:33]) == 0x6700
    assert sw(psam, apdu) == 0x9000
