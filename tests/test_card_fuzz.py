"""Fuzzing the card: 100,000 random and mutated APDUs, each answered by a valid status word.

Any byte string sent through :meth:`UserCard.process` gets a status word of the standard
and never an exception. The card's last resort, ``6F00`` for a fault inside the COS, must
never be needed: it is logged, and the only ``6F00`` the fuzz may see is the standard's
own, GET RESPONSE with nothing to get (Part 5 §6.6.4). Afterwards the card must be
consistent: without credentials nothing but retry counters may have changed (and those
only downwards); with the PIN and write keys authenticated, every file must still be
well formed for its header.
"""

from __future__ import annotations

import logging
import random

import pytest
from test_card_driver import DF_AIDS, PROFILES, SSSE_AID, Driver

from sbkcard.applet_model.storage import MemoryStorage
from sbkcard.applet_model.tree import Structure
from sbkcard.applet_model.user_card import Profile, UserCard
from sbkcard.applet_model.user_card.fcp import DfHeader, EfHeader, KeyRecord, decode_header
from sbkcard.applet_model.user_card.recordfile import split, valid_tlv_record

ROUNDS = 25_000
"""APDUs per (profile, phase): 2 profiles × 2 phases × 25,000 = 100,000."""

FIXED = {
    0x9000, 0x6300, 0x6700, 0x6901, 0x6981, 0x6982, 0x6983, 0x6984, 0x6985, 0x6986, 0x6987,
    0x6988, 0x6A80, 0x6A81, 0x6A82, 0x6A83, 0x6A84, 0x6A85, 0x6A86, 0x6A88, 0x6B00, 0x6D00,
    0x6E00, 0x6F00, 0x9302, 0x9303, 0x9401, 0x9402, 0x9403, 0x9406,
}  # fmt: skip


INSTRUCTIONS = bytes.fromhex("A4B0B2D6DC205E24848288C01E16E0D4282A2C262E56")
CARD_LOG = "sbkcard.applet_model.user_card.card"


def valid_sw(sw: int) -> bool:
    return sw in FIXED or sw >> 8 in (0x61, 0x6C) or sw & 0xFFF0 == 0x63C0


def send(card: UserCard, apdu: bytes) -> tuple[bytes, int]:
    """One APDU through the card's public entry point: (data, SW), checked."""
    response = card.process(apdu)
    assert len(response) >= 2, apdu.hex()
    data, sw = response[:-2], int.from_bytes(response[-2:])
    assert valid_sw(sw), f"{apdu.hex()} → {sw:04X}"
    assert sw != 0x6F00 or apdu[:2] == b"\x00\xc0", f"{apdu.hex()} → 6F00"
    return data, sw


@pytest.fixture
def faults(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The card's log of faults inside the COS (each one answered ``6F00``)."""
    caplog.set_level(logging.ERROR, logger=CARD_LOG)
    return caplog


def corpus(d: Driver) -> list[bytes]:
    """Well-formed commands of every kind, to mutate (none with a right PIN or MAC)."""
    challenge = bytes(8)
    out = [
        b"\x00\xa4\x04\x00\x0f" + SSSE_AID + b"\x00",
        b"\x00\xa4\x04\x00\x06" + DF_AIDS["DF04"],
        bytes.fromhex("00A40000023F00"),
        bytes.fromhex("00A4000002DF01"),
        bytes.fromhex("00A4020002EF05"),
        bytes.fromhex("00B2012D40"),
        bytes.fromhex("00B2010500"),
        bytes.fromhex("00B2072800"),
        bytes.fromhex("00B0870010"),
        bytes.fromhex("00D6870002AABB"),
        bytes.fromhex("00DC072C0B0709413030303030303131"),
        bytes.fromhex("00DC00AB03000131"),
        bytes.fromhex("0020000000"),
        bytes.fromhex("0020000003111111"),
        bytes.fromhex("805E010007111111FF654321"),
        bytes.fromhex("8424000004AABBCCDD"),
        bytes.fromhex("842400010C") + bytes(12),
        bytes.fromhex("0084000008"),
        bytes.fromhex("0084000010"),
        d.auth_apdu("RKSSSE", challenge),
        d.auth_apdu("RK1DF04", challenge),
        bytes.fromhex("0088000010") + bytes(16) + b"\x00",
        bytes.fromhex("00C0000010"),
        bytes.fromhex("841E000104AABBCCDD"),
        bytes.fromhex("8416000004AABBCCDD"),
        bytes.fromhex("80E000000A0301EF0C0C00400000FF00"),
        bytes.fromhex("84D4000214") + bytes(20),
        bytes.fromhex("B0280101130100000001000000000000000041010000000116"),
        bytes.fromhex("B02800010B0100000064410100000001"),
        bytes.fromhex("B02C01000F") + bytes(15),
        bytes.fromhex("B02A00000B") + bytes(11),
        bytes.fromhex("B026000104"),
        bytes.fromhex("B026000206"),
        bytes.fromhex("B02E00320200 0008"),
        bytes.fromhex("B056000002 0701"),
        bytes.fromhex("B056010002"),
    ]
    return out


def mutate(rng: random.Random, apdu: bytes) -> bytes:
    b = bytearray(apdu)
    for _ in range(rng.randint(1, 3)):
        choice = rng.random()
        if choice < 0.35 and b:
            b[rng.randrange(len(b))] = rng.getrandbits(8)
        elif choice < 0.5 and len(b) > 4:
            b[4] = rng.getrandbits(8)  # Lc or Le
        elif choice < 0.65:
            del b[rng.randrange(len(b) + 1) :]
        elif choice < 0.8:
            b += rng.randbytes(rng.randint(1, 8))
        elif len(b) >= 4:
            b[2], b[3] = rng.getrandbits(8), rng.getrandbits(8)
    return bytes(b)


def structured(rng: random.Random) -> bytes:
    cla = rng.choice((0x00, 0x04, 0x80, 0x84, 0xB0, rng.getrandbits(8)))
    ins = rng.choice(INSTRUCTIONS)
    head = bytes((cla, ins, rng.getrandbits(8), rng.getrandbits(8)))
    shape = rng.randrange(4)
    data = rng.randbytes(rng.randint(1, 32))
    if shape == 0:
        return head
    if shape == 1:
        return head + bytes((rng.getrandbits(8),))
    if shape == 2:
        return head + bytes((len(data),)) + data
    return head + bytes((len(data),)) + data + bytes((rng.getrandbits(8),))


def run(d: Driver, rng: random.Random, rounds: int) -> None:
    seeds = corpus(d)
    card = d.card
    for n in range(rounds):
        roll = rng.random()
        if roll < 0.25:
            apdu = rng.randbytes(rng.choice((rng.randint(0, 8), rng.randint(0, 270))))
        elif roll < 0.75:
            apdu = mutate(rng, rng.choice(seeds))
        else:
            apdu = structured(rng)
        data, sw = send(card, apdu)
        assert not data or sw == 0x9000 or sw >> 8 == 0x61, f"{apdu.hex()} → data with {sw:04X}"
        if n % 997 == 0:
            card.power_on()
        if n % 211 == 0:
            d.select_df(rng.choice(("SSSE", "DF01", "DF04")))


def check_well_formed(d: Driver) -> None:
    storage = d.storage
    for name in storage.keys("fs:"):
        header = decode_header(storage.read(name) or b"")
        if isinstance(header, DfHeader):
            continue
        assert isinstance(header, EfHeader)
        body = storage.read(name[3:])
        assert body is not None
        if header.structure in (Structure.TRANSPARENT, Structure.LINEAR_FIXED):
            assert len(body) == header.capacity, name
        elif header.structure is Structure.CYCLIC:
            assert len(body) % header.record_length == 0 and len(body) <= header.capacity
        elif header.structure is Structure.LINEAR_VARIABLE:
            assert len(body) <= header.capacity
            assert all(valid_tlv_record(r) for r in split(header.structure, 0, body)), name
        else:
            assert len(body) == 20
    for name in storage.keys("key:"):
        KeyRecord.from_bytes(storage.read(name) or b"")


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: f"gen{p.generation}")
def test_fuzz_without_credentials_changes_nothing_but_counters(
    profile: Profile, faults: pytest.LogCaptureFixture
) -> None:
    d = Driver(profile)
    before = dict(d.storage.data)
    run(d, random.Random(profile.generation), ROUNDS)
    assert not faults.records
    after = d.storage.data
    assert set(after) == set(before)
    for name, value in before.items():
        if name.startswith("ctr:"):
            assert after[name] <= value, name
        else:
            assert after[name] == value, name
    check_well_formed(d)
    d.card.power_on()
    assert d.select_ssse()[:2] == b"\x6f\x1c"


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: f"gen{p.generation}")
def test_fuzz_with_write_keys_keeps_every_file_well_formed(
    profile: Profile, faults: pytest.LogCaptureFixture
) -> None:
    d = Driver(profile)
    rng = random.Random(100 + profile.generation)
    for block in range(5):
        d.card.power_on()
        df = ("SSSE", "DF01", "DF04", "DF02", "DF03")[block]
        assert d.select_df(df) == 0x9000
        d.verify()
        for name in {"SSSE": ("UKSSSE", "RKSSSE"), "DF01": ("UK1DF01", "UK6DF01"),
                     "DF04": ("UK1DF04", "UK2DF04", "RK1DF04"), "DF02": ("UK3DF02",),
                     "DF03": ("UK8DF03",)}[df]:  # fmt: skip
            assert d.authenticate(name) == 0x9000
        seeds = corpus(d)
        sent = 0
        while sent < ROUNDS // 5:
            apdu = mutate(rng, rng.choice(seeds)) if rng.random() < 0.7 else structured(rng)
            if apdu[1:2] == b"\xa4":
                continue  # stay in the DF whose keys are authenticated
            send(d.card, apdu)
            sent += 1
    assert not faults.records
    check_well_formed(d)
    d.card.power_on()
    assert d.select_ssse()[:2] == b"\x6f\x1c"


class _FailingStorage(MemoryStorage):
    """Storage whose PIN records cannot be read (a worn-out NVM page)."""

    def read(self, key: str) -> bytes | None:
        if key.startswith("pin:"):
            raise OSError("NVM page unreadable")
        return super().read(key)


def test_a_fault_inside_the_cos_answers_6f00_and_is_logged_without_the_data(
    faults: pytest.LogCaptureFixture,
) -> None:
    """The last resort works, so the fuzz's silence means something; no PIN reaches the log."""
    d = Driver(PROFILES[0])
    card = UserCard(_FailingStorage(d.storage.data))
    assert card.process(b"\x00\xa4\x04\x00\x0f" + SSSE_AID)[-2] == 0x61
    assert card.process(bytes.fromhex("0020000003123456")) == b"\x6f\x00"
    (record,) = faults.records
    message = record.getMessage()
    assert "INS 20" in message and "OSError" in message and "6F00" in message
    assert "123456" not in message and "unreadable" not in message
    assert card.process(bytes.fromhex("00A40000023F00"))[-2:] == b"\x90\x00"
