"""T=0 handling (Part 2 §9.3.2): 61xx → GET RESPONSE, 6Cxx → resend with Le = xx."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sbkcard.apdu import builders as b
from sbkcard.apdu.errors import ApduFormatError
from sbkcard.apdu.t0 import T0Error, t0_transmitter, transmit_t0

FCI = bytes.fromhex("6F1C840F7378312E73682EC9E7BBE1B1A3D5CFA50988011E9F0C03860103")


class FakeCard:
    """Answers from a script: {command hex: answer hex}, and records what it was sent."""

    def __init__(self, script: dict[str, str]) -> None:
        self.script = {k.replace(" ", "").upper(): bytes.fromhex(v) for k, v in script.items()}
        self.sent: list[str] = []

    def __call__(self, apdu: bytes) -> bytes:
        self.sent.append(apdu.hex().upper())
        return self.script[apdu.hex().upper()]


def test_select_ssse_on_t0() -> None:
    """As real cards do: the card answers 61 1E; GET RESPONSE 00 C0 00 00 1E returns the FCI."""
    select = bytes(b.select_ssse())
    card = FakeCard({select.hex(): "611E", "00C000001E": FCI.hex() + "9000"})
    assert transmit_t0(card, select) == FCI + b"\x90\x00"
    assert card.sent == [select.hex().upper(), "00C000001E"]


def test_repeated_61xx_concatenates() -> None:
    card = FakeCard(
        {
            "80FA000008 1122334455667788": "6108",
            "00C0000008": "0102030405060708 6104",
            "00C0000004": "0A0B0C0D 9000",
        }
    )
    answer = transmit_t0(card, bytes.fromhex("80FA0000081122334455667788"))
    assert answer == bytes.fromhex("01020304050607080A0B0C0D9000")


def test_61xx_with_data_keeps_it() -> None:
    card = FakeCard({"00B0000000": "AABB 6102", "00C0000002": "CCDD 9000"})
    assert transmit_t0(card, bytes.fromhex("00B0000000")) == bytes.fromhex("AABBCCDD9000")


def test_6cxx_resends_with_exact_le() -> None:
    """Part 5 §6.10.4: READ RECORD with Le 00 answers 6Cxx with the record's length."""
    card = FakeCard({"00B2010500": "6C40", "00B2010540": "11" * 0x40 + "9000"})
    assert (
        transmit_t0(card, bytes(b.read_record(1, mode=b.RecordMode.FROM_RECORD_TO_LAST)))[-2:]
        == b"\x90\x00"
    )
    assert card.sent == ["00B2010500", "00B2010540"]


def test_6c00_means_256() -> None:
    card = FakeCard({"00B000000A": "6C00", "00B0000000": "00" * 256 + "9000"})
    assert len(transmit_t0(card, bytes.fromhex("00B000000A"))) == 258


def test_6cxx_then_61xx() -> None:
    card = FakeCard(
        {
            "00C0000000": "6C1E",
            "00C000001E": FCI.hex() + "9000",
            "00A404000F7378312E73682EC9E7BBE1B1A3D5CF": "6100",
        }
    )
    answer = transmit_t0(card, bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF"))
    assert answer == FCI + b"\x90\x00"


@pytest.mark.parametrize("sw", ["9000", "6A82", "63C2", "6283"])
def test_other_answers_pass_through(sw: str) -> None:
    card = FakeCard({"0020000003123456": sw})
    assert transmit_t0(card, bytes.fromhex("0020000003123456")).hex().upper() == sw
    assert len(card.sent) == 1


def test_a_card_stuck_in_61xx_is_stopped() -> None:
    card = FakeCard({"00C0000001": "00 6101", "00B0000001": "6101"})
    with pytest.raises(T0Error, match="61xx/6Cxx"):
        transmit_t0(card, bytes.fromhex("00B0000001"), max_exchanges=10)
    assert len(card.sent) == 10


def test_a_short_answer_is_a_format_error() -> None:
    with pytest.raises(ApduFormatError, match="SW1 SW2"):
        transmit_t0(lambda apdu: b"\x90", bytes.fromhex("00B0000001"))


def test_transmitter_wrapper() -> None:
    card = FakeCard({"0084000004": "6104", "00C0000004": "01020304 9000"})
    send = t0_transmitter(card)
    assert send(bytes(b.get_challenge())) == bytes.fromhex("010203049000")


@given(st.binary(min_size=1, max_size=700), st.integers(1, 256))
def test_any_length_fetched_in_chunks(payload: bytes, chunk: int) -> None:
    """A card that hands out ``payload`` ``chunk`` bytes at a time: T=0 gets all of it."""
    state = {"left": payload}

    def card(apdu: bytes) -> bytes:
        if apdu[1] != 0xC0:
            return bytes([0x61, min(chunk, len(state["left"])) % 256])
        n = apdu[4] or 256
        part, state["left"] = state["left"][:n], state["left"][n:]
        more = len(state["left"])
        return part + (bytes([0x61, min(chunk, more) % 256]) if more else b"\x90\x00")

    assert transmit_t0(card, bytes.fromhex("80FA000008" + "00" * 8)) == payload + b"\x90\x00"
