"""A host-side driver for the simulated user card, shared by the ``test_card_*`` modules.

The driver computes every cryptogram with :mod:`sbkcard.keys` itself (never through the
card's own code), so that the card is checked against an independent host.
"""

from __future__ import annotations

import itertools
import random as _random
from collections.abc import Callable

import pytest

from sbkcard.applet_model.storage import MemoryStorage
from sbkcard.applet_model.user_card import SECOND_GENERATION, THIRD_GENERATION, Profile, UserCard
from sbkcard.applet_model.user_card.fcp import key_kid
from sbkcard.applet_model.user_card.personalise import (
    DEMO_CARD_ID,
    DEMO_PIN,
    card_atr,
    demo_card_content,
)
from sbkcard.keys import auth_data, encrypt_data, mac, session_key
from sbkcard.keys.hierarchy import card_key, demo_keyset, derive_card_keys

PROFILES = (SECOND_GENERATION, THIRD_GENERATION)
SSSE_AID = bytes.fromhex("7378312E73682EC9E7BBE1B1A3D5CF")
DF_AIDS = {
    name: bytes.fromhex("D156000005") + bytes((n,))
    for n, name in enumerate(("DF01", "DF02", "DF03", "DF04", "DF07"))
}


def counter_random(seed: int = 1) -> Callable[[int], bytes]:
    """Reproducible card randoms."""
    rng = _random.Random(seed)
    return lambda n: bytes(rng.getrandbits(8) for _ in range(n))


_CONTENT: dict[int, dict[str, bytes]] = {}
_KEYS: dict[int, dict[str, bytes]] = {}


def demo_content(profile: Profile) -> dict[str, bytes]:
    """A fresh copy of the demo card's storage (built once per profile)."""
    if profile.generation not in _CONTENT:
        _CONTENT[profile.generation] = demo_card_content(profile)
    return dict(_CONTENT[profile.generation])


class Driver:
    """A demo card of one profile plus the host keys that go with it."""

    def __init__(self, profile: Profile, content: dict[str, bytes] | None = None) -> None:
        self.profile = profile
        self.algorithm = profile.algorithm
        self.storage = MemoryStorage(content if content is not None else demo_content(profile))
        self.card = UserCard(self.storage, random=counter_random())
        if profile.generation not in _KEYS:
            atr = card_atr(profile, DEMO_CARD_ID)
            keyset = demo_keyset(self.algorithm)
            _KEYS[profile.generation] = derive_card_keys(keyset, DEMO_CARD_ID.region, atr)
        self.keys = _KEYS[profile.generation]
        self._originals = itertools.count(1)

    # -- raw exchange -----------------------------------------------------------------

    def raw(self, apdu: bytes | str) -> tuple[bytes, int]:
        """One APDU, no T=0 help: (data, SW)."""
        if isinstance(apdu, str):
            apdu = bytes.fromhex(apdu.replace(" ", ""))
        response = self.card.process(apdu)
        return response[:-2], int.from_bytes(response[-2:], "big")

    def send(self, apdu: bytes | str) -> tuple[bytes, int]:
        """One APDU with GET RESPONSE after ``61xx`` (what a T=0 reader driver does)."""
        data, sw = self.raw(apdu)
        if sw >> 8 == 0x61:
            return self.raw(bytes((0x00, 0xC0, 0x00, 0x00, sw & 0xFF)))
        return data, sw

    def sw(self, apdu: bytes | str) -> int:
        return self.send(apdu)[1]

    def read(self, p1: int, p2: int) -> tuple[bytes, int]:
        """READ RECORD, asking again with the Le of a ``6Cxx``."""
        data, sw = self.raw(bytes((0x00, 0xB2, p1, p2, 0x00)))
        if sw >> 8 == 0x6C:
            return self.raw(bytes((0x00, 0xB2, p1, p2, sw & 0xFF)))
        return data, sw

    def ok(self, apdu: bytes | str) -> bytes:
        data, sw = self.send(apdu)
        assert sw == 0x9000, f"{apdu!r} answered {sw:04X}"
        return data

    # -- operations -----------------------------------------------------------------

    def select_ssse(self) -> bytes:
        return self.ok(b"\x00\xa4\x04\x00\x0f" + SSSE_AID)

    def select_df(self, name: str) -> int:
        if name == "SSSE":
            return self.send(b"\x00\xa4\x04\x00\x0f" + SSSE_AID)[1]
        aid = DF_AIDS[name]
        return self.send(b"\x00\xa4\x04\x00" + bytes((len(aid),)) + aid)[1]

    def verify(self, pin: str = DEMO_PIN) -> int:
        digits = pin + ("F" if len(pin) % 2 else "")
        data = bytes.fromhex(digits)
        return self.sw(b"\x00\x20\x00\x00" + bytes((len(data),)) + data)

    def challenge(self, length: int = 8) -> bytes:
        return self.ok(bytes((0x00, 0x84, 0x00, 0x00, length)))

    def key(self, name: str) -> bytes:
        return self.keys[card_key(name).name]

    def kid(self, name: str) -> int:
        return key_kid(card_key(name))

    def auth_apdu(self, name: str, challenge: bytes, *, key: bytes | None = None) -> bytes:
        original = next(self._originals).to_bytes(8, "big")
        sk = session_key(key if key is not None else self.key(name), challenge, self.algorithm)
        data = auth_data(sk, original, self.algorithm) + original
        return bytes((0x00, 0x82, 0x00, self.kid(name), 0x10)) + data

    def authenticate(self, name: str, *, key: bytes | None = None) -> int:
        challenge = self.challenge()
        return self.sw(self.auth_apdu(name, challenge, key=key))

    def session_has(self, name: str) -> bool:
        """Whether the card holds key ``name`` as authenticated."""
        spec = card_key(name)
        home = spec.df if spec.df in ("MF", "SSSE") else f"SSSE/{spec.df}"
        return (home, key_kid(spec)) in self.card.session.auths

    def secured(self, header: bytes, body: bytes, stk: str, *, enc: bytes | None = None) -> bytes:
        """``header`` (CLA INS P1 P2) with ``body`` (or ``enc`` encrypted) and the MAC."""
        challenge = self.challenge()
        sk = session_key(self.key(stk), challenge, self.algorithm)
        if enc is not None:
            body = encrypt_data(sk, enc, self.algorithm)
        head = header + bytes((len(body) + 4,))
        return head + body + mac(sk, head + body, self.algorithm)


@pytest.fixture(name="driver", params=PROFILES, ids=lambda p: f"gen{p.generation}")
def fixture_driver(request: pytest.FixtureRequest) -> Driver:
    """A fresh demo card of each profile."""
    return Driver(request.param)


def test_demo_card_answers_select_with_the_fci_of_spec_1_1(driver: Driver) -> None:
    fci = driver.select_ssse()
    alg = driver.algorithm.value
    expected = bytes.fromhex(f"6F1C840F{SSSE_AID.hex()}A50988011E9F0C038601{alg:02X}")
    assert fci == expected
    assert len(fci) == 30


def test_driver_authenticates_with_the_cards_diversified_keys(driver: Driver) -> None:
    driver.select_ssse()
    assert driver.authenticate("RKSSSE") == 0x9000
    assert driver.session_has("RKSSSE")
