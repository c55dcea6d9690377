"""A card without READ RECORD's range modes: the terminal reads it one record at a time.

READ RECORD "P1 to last" and "last to P1" (P2 b3–b1 ``101``, ``110``) are optional; a
COS that lacks them answers ``6A81`` (function not supported) or ``6A86`` (wrong P1-P2),
both in Part 5 table 33.  The terminal falls back to one record per command, remembers
the card type, and reads the card exactly as it reads a card with every mode.
"""

from __future__ import annotations

import dataclasses

import pytest
from terminal_support import CARD_INFO, psam, terminal, user_card

from sbkcard.apdu.command import CommandAPDU
from sbkcard.applet_model.user_card import SECOND_GENERATION
from sbkcard.applet_model.user_card.personalise import DEMO_CARD_ID, card_atr, demo_card_content
from sbkcard.applet_model.user_card.profile import ONE_RECORD_AT_A_TIME, Profile
from sbkcard.simulator import SimulatedCard
from sbkcard.terminal.national.interface import NationalInterface
from sbkcard.terminal.operations.basic import read_basic_info
from sbkcard.terminal.terminal import Terminal

READ_EF05_TO_LAST = bytes.fromhex("00B2012D00")  # SFI 05, mode 101 ("P1 to last")


def _card(profile: Profile) -> SimulatedCard:
    atr = card_atr(profile, DEMO_CARD_ID)
    return SimulatedCard.create("user-card", demo_card_content(profile), atr, profile=2)


def _same_atr(refusal: int) -> Profile:
    """The demo card's own chip and ATR, on a COS without the range modes."""
    return dataclasses.replace(SECOND_GENERATION, range_refusal=refusal)


def _range_reads(term: Terminal) -> int:
    return sum(
        1
        for entry in term.trace.entries
        if isinstance(entry.exchange.command, CommandAPDU)
        and entry.exchange.command.ins == 0xB2
        and entry.exchange.command.p2 & 0x07 in (0x05, 0x06)
    )


@pytest.mark.parametrize("refusal", [0x6A81, 0x6A86], ids=["6A81", "6A86"])
def test_the_card_refuses_the_range_modes_only(refusal: int) -> None:
    card = _card(_same_atr(refusal))
    card.power_on()
    assert card.transmit(bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF"))[-2] == 0x61
    assert card.transmit(READ_EF05_TO_LAST)[-2:] == refusal.to_bytes(2, "big")
    assert card.transmit(bytes.fromhex("00B2013D00"))[-2:] == refusal.to_bytes(2, "big")
    assert card.transmit(bytes.fromhex("00B2012C00"))[-2] == 0x6C  # one record: fine


@pytest.mark.parametrize("refusal", [0x6A81, 0x6A86], ids=["6A81", "6A86"])
def test_national_strings_are_those_of_a_full_card(refusal: int) -> None:
    full = NationalInterface(terminal(user_card(2), psam_card=psam(2)))
    lacking = NationalInterface(terminal(_card(_same_atr(refusal)), psam_card=psam(2)))
    address = "DF01EF0A|37|$DF04EF05|8F|$SSSEEF06|09|$SSSEEF05|$"
    for national in (full, lacking):
        assert national.iWriteCard(1, CARD_INFO, "DF01EF0A|37|$", "DF01EF0A|CHN|$") == (0, "")
    assert lacking.iReadCardBas(1) == full.iReadCardBas(1)
    assert lacking.iReadCardBas(3) == full.iReadCardBas(3)
    assert lacking.iReadCard(1, 1, CARD_INFO, address) == full.iReadCard(1, 1, CARD_INFO, address)
    assert lacking.iReadCard(1, 1, CARD_INFO, "DF01EF0A|37|$")[1] == "DF01EF0A|CHN|$"


def test_the_card_type_is_remembered() -> None:
    term = terminal(_card(ONE_RECORD_AT_A_TIME), psam_card=psam())
    with term.session() as conn:
        first = read_basic_info(conn)
    assert _range_reads(term) == 1  # tried once, refused
    with term.session() as conn:
        again = read_basic_info(conn)
    assert _range_reads(term) == 1  # this card type is now read one record at a time
    assert again.apdus < first.apdus
    with terminal(user_card(2), psam_card=psam()).session() as conn:
        reference = read_basic_info(conn)
    assert (first.issuer, first.holder) == (reference.issuer, reference.holder)
    assert (again.issuer, again.holder) == (reference.issuer, reference.holder)
    term.card_reader = user_card(2)  # a card of another type in the same terminal
    with term.session() as conn:
        read_basic_info(conn)
    assert _range_reads(term) == 3  # EF05 and EF06, each in one READ RECORD
