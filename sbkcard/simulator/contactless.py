"""The contactless interface of a dual-interface card (ISO/IEC 14443-4; PC/SC Part 3).

A third-generation card answers over contact and contactless from one chip (SPEC §7:
a contactless card returns the same historical bytes in its ATS as in its contact ATR).
:class:`ContactlessInterface` puts a :class:`~sbkcard.simulator.card.SimulatedCard`'s
chip in a contactless reader's field: the same applet, the same NVM, answering with an
ATS made from the contact ATR's historical bytes, and showing PC/SC the pseudo-ATR a
reader derives from the ATS, ``3B 8n 80 01 ‖ historical bytes ‖ TCK`` (PC/SC Part 3
§3.1.3.2.3.1).  Put it in a vpcd slot as a second reader, beside the contact one.
"""

from __future__ import annotations

from functools import reduce

from sbkcard.errors import NoCardError
from sbkcard.identifiers.atr import historical_bytes
from sbkcard.simulator.card import SimulatedCard

__all__ = ["ContactlessInterface", "ats_of", "pseudo_atr"]

_ATS_INTERFACE = bytes.fromhex("7880A002")
"""T0 (TA, TB, TC present; FSCI 8: 256-byte frames), TA 80, TB A0, TC 02 as on the
real contactless 3.00 card of SPEC §7 (``12 78 80 A0 02 ‖ …``)."""


def ats_of(historical: bytes) -> bytes:
    """The ATS ``TL T0 TA TB TC ‖ historical bytes`` (ISO/IEC 14443-4 §5.2)."""
    if len(historical) > 15:
        raise ValueError(f"at most 15 historical bytes fit a pseudo-ATR, got {len(historical)}")
    body = _ATS_INTERFACE + historical
    return bytes((len(body) + 1,)) + body


def pseudo_atr(ats: bytes) -> bytes:
    """The ATR PC/SC shows for an ISO 14443-4 card: ``3B 8n 80 01 ‖ T1…Tn ‖ TCK``."""
    if not ats or ats[0] != len(ats) or len(ats) < 2:
        raise ValueError("ATS: TL must give the ATS's length")
    t0 = ats[1]
    skip = 2 + sum(1 for bit in (0x10, 0x20, 0x40) if t0 & bit)
    historical = ats[skip:]
    if len(historical) > 15:
        raise ValueError(f"ATS: {len(historical)} historical bytes, a pseudo-ATR holds 15")
    body = bytes((0x80 | len(historical), 0x80, 0x01)) + historical
    return b"\x3b" + body + bytes((reduce(lambda a, b: a ^ b, body, 0),))


class ContactlessInterface:
    """A simulated card's chip in a contactless reader's field (the Transport interface)."""

    def __init__(self, card: SimulatedCard) -> None:
        self.card = card
        self.ats = ats_of(historical_bytes(card.atr))
        self.in_field = True

    def __repr__(self) -> str:
        state = "in the field" if self.in_field else "out of the field"
        return f"ContactlessInterface(ATS {self.ats.hex().upper()}, {state})"

    @property
    def atr(self) -> bytes:
        """The pseudo-ATR a PC/SC reader shows for the card."""
        return pseudo_atr(self.ats)

    @property
    def inserted(self) -> bool:
        """Whether the card is in the field (a reader's "card present")."""
        return self.in_field

    def power_on(self) -> bytes:
        """The card enters the field: the chip resets (RATS answered); the pseudo-ATR."""
        if not self.in_field:
            raise NoCardError("no card in the contactless field")
        contact_slot = self.card.inserted
        self.card.inserted = True  # the chip powers from the field, not from the contacts
        try:
            self.card.power_on()
        finally:
            self.card.inserted = contact_slot
        return self.atr

    def reset(self) -> bytes:
        """A new activation (field reset)."""
        return self.power_on()

    def power_off(self) -> None:
        """Field off (DESELECT)."""
        self.card.power_off()

    def transmit(self, apdu: bytes) -> bytes:
        """One command APDU over ISO 14443-4; response data ‖ SW1 SW2."""
        if not self.in_field:
            raise NoCardError("no card in the contactless field")
        return self.card.transmit(apdu)

    def remove(self) -> None:
        """Take the card out of the field."""
        self.in_field = False
        self.card.power_off()

    def insert(self) -> None:
        """Bring the card into the field (unpowered until :meth:`power_on`)."""
        self.in_field = True
