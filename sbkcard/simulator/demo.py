"""A demo card and a demo PSAM in one call each, for a first transaction and for tests.

Both carry the **published demo keys** (never a real key): the user card is the demo
cardholder 张三 (card number ``A00000011``, PIN ``123456``) of the second (DES, "2.00")
or third (SM4, "3.00") generation; the PSAM holds the demo key sets of both algorithms
at a key level of its own (3: national roots, 2: a province's keys, 1: a city's).

    >>> from sbkcard.simulator import demo_card, demo_psam
    >>> card, psam = demo_card(), demo_psam()
    >>> card.profile, len(psam.atr) > 0
    (3, True)
"""

from __future__ import annotations

from sbkcard.applet_model.psam import psam_atr, psam_content
from sbkcard.applet_model.psam.content import DEMO_TERMINAL_NUMBER
from sbkcard.applet_model.user_card import PROFILES
from sbkcard.applet_model.user_card.personalise import (
    DEMO_CARD_ID,
    DEMO_PIN,
    card_atr,
    demo_card_content,
)
from sbkcard.simulator.card import SimulatedCard

__all__ = ["demo_card", "demo_psam"]


def demo_card(generation: int = 3, *, pin: str | None = DEMO_PIN) -> SimulatedCard:
    """The demo user card of ``generation`` (1: DES "1.00", 2: DES "2.00", 3: SM4 "3.00"),
    powered off.

    ``pin=None`` makes a card without a PIN.
    """
    if generation not in PROFILES:
        raise ValueError(f"generation must be one of {sorted(PROFILES)}, not {generation!r}")
    profile = PROFILES[generation]
    content = demo_card_content(profile, pin=pin)
    return SimulatedCard.create(
        "user-card", content, card_atr(profile, DEMO_CARD_ID), profile=generation
    )


def demo_psam(level: int = 3, terminal_number: str = DEMO_TERMINAL_NUMBER) -> SimulatedCard:
    """A PSAM with the demo key sets (DES and SM4) held at ``level`` (3: national roots)."""
    content = psam_content(level=level, terminal_number=terminal_number)
    return SimulatedCard.create("psam", content, psam_atr(terminal_number))
