"""Shared setup of the terminal tests: simulated demo cards, PSAMs and terminals.

Tests sit on top of everything, so they may use the simulator; the terminal itself only
sees the cards as transports.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable

from sbkcard.applet_model.psam import psam_atr, psam_content
from sbkcard.applet_model.user_card import PROFILES
from sbkcard.applet_model.user_card.personalise import (
    DEMO_CARD_ID,
    DEMO_CARD_NUMBER,
    DEMO_PIN,
    card_atr,
    demo_card_content,
)
from sbkcard.keys import Algorithm
from sbkcard.simulator import SimulatedCard
from sbkcard.terminal.hotlist import Hotlist
from sbkcard.terminal.operations.pinpad import CallbackPinPad, PinPrompt
from sbkcard.terminal.security.hsm import KeyService
from sbkcard.terminal.terminal import Terminal

CARD_ID = DEMO_CARD_ID.hex
CARD_NUMBER = DEMO_CARD_NUMBER
CARD_INFO = f"{CARD_ID}|{CARD_NUMBER}|"
PIN = DEMO_PIN
NOW = dt.datetime(2024, 6, 1, 10, 30, 0)


def user_card(generation: int) -> SimulatedCard:
    """The demo card (张三) of the 2nd (DES) or 3rd (SM4) generation, PIN 123456."""
    profile = PROFILES[generation]
    atr = card_atr(profile, DEMO_CARD_ID)
    return SimulatedCard.create("user-card", demo_card_content(profile), atr, profile=generation)


def psam(
    level: int = 3,
    *,
    algorithm: Algorithm | None = None,
    terminal_number: str = "410100000001",
) -> SimulatedCard:
    """A demo PSAM holding the card keys as ``level`` roots (both environments by default)."""
    content = psam_content(level=level, algorithm=algorithm, terminal_number=terminal_number)
    return SimulatedCard.create("psam", content, psam_atr(terminal_number))


def counter_rng() -> Callable[[int], bytes]:
    """Deterministic 'random' bytes, so that traces repeat from run to run."""
    state = {"n": 0}

    def rng(length: int) -> bytes:
        state["n"] += 1
        return hashlib.sha256(state["n"].to_bytes(4)).digest()[:length]

    return rng


class ScriptedPad(CallbackPinPad):
    """A PIN pad answering each prompt from a script (``None`` = the cardholder cancels)."""

    def __init__(self, answers: dict[PinPrompt, list[str | None]] | str | None = PIN) -> None:
        if isinstance(answers, str) or answers is None:
            answers = {prompt: [answers] * 50 for prompt in PinPrompt}
        self.answers = answers
        self.asked: list[PinPrompt] = []
        super().__init__(self._answer)

    def _answer(self, prompt: PinPrompt) -> str | None:
        self.asked.append(prompt)
        return self.answers[prompt].pop(0)


def terminal(
    card: SimulatedCard,
    *,
    psam_card: SimulatedCard | None = None,
    key_service: KeyService | None = None,
    hotlist: Hotlist | None = None,
    pad: ScriptedPad | None = None,
    terminal_number: str = "000000000000",
) -> Terminal:
    """A terminal wired to simulated cards, with a scripted PIN pad and fixed time."""
    return Terminal(
        card,
        psam_reader=psam_card,
        key_service=key_service,
        hotlist=hotlist,
        pinpad=pad if pad is not None else ScriptedPad(),
        rng=counter_rng(),
        clock=lambda: NOW,
        terminal_number=terminal_number,
    )
