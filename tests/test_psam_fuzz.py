"""20,000 random APDUs: the PSAM answers every one with a valid status word and keeps its keys."""

from __future__ import annotations

import random

from sbkcard.apdu import SW
from sbkcard.applet_model.psam import Psam, is_secret, psam_content
from sbkcard.applet_model.storage import MemoryStorage

COMMANDS = 20_000
PAIRS = (
    (0x00, 0xA4),
    (0x00, 0xB0),
    (0x00, 0xB2),
    (0x00, 0x84),
    (0x00, 0xC0),
    (0x00, 0x82),
    (0xBF, 0xEC),
    (0xBF, 0xDE),
    (0x80, 0xFA),
    (0x80, 0x70),
    (0x80, 0x72),
    (0x84, 0xD4),
)
"""(CLA, INS) of every command the PSAM knows."""
MOVES = (
    "00A40400067378312E73682EC9E7BBE1B1A3D5CF",
    "00A404000F7378322E73682EC9E7BBE1B1A3D5CF00",
    "00A4040006D15600000590",
    "00A4000002DF0100",
    "0084000004",
    "0084000008",
    "BFDE670820" + "00" * 32,
    "BFDE680828" + "11" * 40,
    "BFDE681020" + "22" * 32,
    "00C0000008",
)
"""Commands that move the PSAM into states a random command rarely reaches."""


def _valid(status: int) -> bool:
    family = status & 0xFF00
    if family in (0x6100, 0x6C00):
        return True
    if family == 0x6300:
        return status & 0xF0 == 0xC0
    return status in SW._value2member_map_ and status != SW.UNKNOWN


def _random_apdu(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.1:
        return bytes.fromhex(rng.choice(MOVES))
    if roll < 0.3:
        return rng.randbytes(rng.randrange(0, 48))
    cla, ins = rng.choice(PAIRS)
    if rng.random() < 0.1:
        cla, ins = rng.choice((cla, rng.randrange(256))), rng.choice((ins, rng.randrange(256)))
    p1 = rng.choice((0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x07, 0x95, 0x99, rng.randrange(256)))
    p2 = rng.choice((0x00, 0x01, 0x02, 0x08, 0x0C, 0x11, 0x12, 0x13, 0x5D, rng.randrange(256)))
    header = bytes((cla, ins, p1, p2))
    body = rng.randrange(4)
    data = rng.randbytes(rng.choice((1, 2, 4, 8, 16, 24, 28, 32, 36, 44, 52, rng.randrange(1, 80))))
    le = bytes((rng.choice((0x00, 0x04, 0x08, 0x10, rng.randrange(256))),))
    if body == 0:
        return header
    if body == 1:
        return header + le
    if body == 2:
        return header + bytes((len(data),)) + data
    return header + bytes((len(data),)) + data + le


def test_random_apdus_get_valid_status_words() -> None:
    content = psam_content()
    storage = MemoryStorage(content)
    psam = Psam(storage, random=random.Random(11).randbytes)
    rng = random.Random(20250314)
    seen: set[int] = set()
    for count in range(COMMANDS):
        apdu = _random_apdu(rng)
        response = psam.process(apdu)
        assert len(response) >= 2, apdu.hex()
        status = int.from_bytes(response[-2:])
        assert _valid(status), f"{apdu.hex().upper()} -> {status:04X}"
        if len(response) > 2:
            assert status == 0x9000 or status >> 8 == 0x61, apdu.hex()
        seen.add(status)
        if count % 5000 == 4999:
            psam.power_on()
    # the run reached deep into the command set, not only the first checks
    assert {0x9000, 0x6A86, 0x6700, 0x6E00, 0x6D00, 0x6A80, 0x6A88, 0x6985, 0x6901} <= seen
    # nothing but counters changed; every key is as it was personalised
    assert set(storage.data) == set(content)
    changed = {k for k in content if storage.data[k] != content[k]}
    assert all(k.endswith("/0019") or "/tries/" in k for k in changed), changed
    assert not any(is_secret(k) for k in changed)
