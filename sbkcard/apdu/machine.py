"""The personalisation machine's own command: eject the card in its chip station.

A personalisation machine's chip station is a PC/SC reader; its driver takes commands
for the machine itself as pseudo-APDUs of class ``FF``, the class PC/SC Part 3 reserves
for the reader (the card never sees them).  The issuing line ends each card with one::

    FF E7 P1 00      P1 = 00: finished, to the output stack
                     P1 = 01: set aside, to the reject bin

The machine answers ``9000``, moves the card out and feeds the next blank chip from its
hopper; ``6A86`` for another P1.  (``SCardDisconnect(SCARD_EJECT_CARD)`` cannot say
which bin.)
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["EJECT_INS", "MACHINE_CLA", "Bin", "eject_command"]

MACHINE_CLA = 0xFF
"""The class PC/SC Part 3 reserves for commands the reader handles itself."""
EJECT_INS = 0xE7


class Bin(IntEnum):
    """Where an ejected card goes (P1)."""

    OUTPUT = 0x00
    REJECT = 0x01


def eject_command(where: Bin) -> bytes:
    """``FF E7 P1 00``: eject the card to ``where``."""
    return bytes([MACHINE_CLA, EJECT_INS, where, 0x00])
