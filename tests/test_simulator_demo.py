"""demo_card and demo_psam: the demo user card and PSAM in one call each."""

from __future__ import annotations

import pytest

from sbkcard.apdu import builders as b
from sbkcard.simulator import demo_card, demo_psam
from sbkcard.terminal import Terminal, read_basic_info


@pytest.mark.parametrize(("generation", "version"), [(2, "2.00"), (3, "3.00")])
def test_demo_card_is_the_demo_cardholders_card_of_its_generation(
    generation: int, version: str
) -> None:
    card = demo_card(generation)
    assert card.profile == generation
    with Terminal(card, psam_reader=demo_psam()).session() as conn:
        info = read_basic_info(conn)
    assert (info.holder.name, info.issuer.version, info.genuine) == ("张三", version, True)


def test_demo_card_without_pin_answers_verify_as_a_card_with_no_pin() -> None:
    with_pin, without = demo_card(pin="123456"), demo_card(pin=None)
    for card in (with_pin, without):
        card.power_on()
        card.transmit(bytes(b.select_ssse()))
    assert with_pin.transmit(bytes(b.verify("123456")))[-2:] == b"\x90\x00"
    assert without.transmit(bytes(b.verify("123456")))[-2:] != b"\x90\x00"


def test_demo_card_names_a_generation_it_does_not_know() -> None:
    with pytest.raises(ValueError, match="generation must be one of"):
        demo_card(4)


def test_demo_psam_carries_its_terminal_number() -> None:
    psam = demo_psam(level=2, terminal_number="371700000001")
    psam.power_on()
    answer = psam.transmit(bytes(b.read_binary(sfi=0x16, le=6)))
    assert answer == bytes.fromhex("371700000001") + b"\x90\x00"
