"""A personalisation machine's chip station, simulated: blank chips fed one at a time.

:class:`BlankStock` is a delivery of blank chips as the chip maker hands them over:
COS activated (Part 10 §5.1), each with the batch's transport key as MF master key and
its own ATR (Part 10 §5.1.2), whose T8–T9 hold the first four digits of the region the
stock was ordered for and TA–TD the chip's serial (Part 2 §8.4, table 16), counted up
from ``first_serial``.  The serial is the chip's from manufacture: the issuing line
reads it from the ATR and records it with the card (the card identification code's
serial, S2 §8.1.1.1), so every card key, diversified from the ATR, follows the chip.

:class:`PersonalisationMachine` is the card a :class:`~sbkcard.simulator.vpcd.VpcdSlot`
serves: the chip now in the station.  The machine's eject command
(:mod:`sbkcard.apdu.machine`, ``FF E7 P1 00``) takes it out, writes its image to
``out_dir/<serial>.json`` (finished) or ``out_dir/set-aside/<serial>.json`` (reject
bin), and inserts the next chip; once the stock is used up the reader stays empty.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sbkcard.apdu.machine import EJECT_INS, MACHINE_CLA, Bin
from sbkcard.applet_model.user_card.personalise import blank_card_content, card_atr
from sbkcard.applet_model.user_card.profile import Profile
from sbkcard.identifiers.card_id import CardId
from sbkcard.simulator.card import SimulatedCard
from sbkcard.simulator.image import save_image
from sbkcard.simulator.vpcd import VpcdSlot

__all__ = ["SET_ASIDE_DIR", "BlankStock", "PersonalisationMachine"]

SET_ASIDE_DIR = "set-aside"
"""The reject bin: chips ejected with ``Bin.REJECT``."""
TEAR_AFTER = 40
"""NVM write steps after which a faulty chip loses power (mid-personalisation)."""
SWAP_SECONDS = 0.5
"""The station stays empty this long between chips: pcscd polls vpcd for presence every
~400 ms, and must see the reader empty once to take the next chip for a new card."""
_NO_AUTH_CODE = b"\xff" * 4
_SW_OK = b"\x90\x00"
_SW_WRONG_P1P2 = b"\x6a\x86"
_SW_NO_CARD = b"\x6f\x00"

log = logging.getLogger(__name__)


@dataclass
class BlankStock:
    """``count`` blank chips of ``profile`` for ``region``, serials from ``first_serial``.

    The chips numbered in ``faulty`` (1 = the first) lose power :data:`TEAR_AFTER`
    write steps into their personalisation, as a chip with a weak cell or a bad contact.
    """

    count: int
    profile: Profile
    region: str
    transport_key: bytes = field(repr=False)
    first_serial: int = 1
    faulty: frozenset[int] = frozenset()
    taken: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        count, first = self.count, self.first_serial
        if count < 0 or not 0 <= first <= 0xFFFFFFFF - max(count, 1) + 1:
            raise ValueError(f"a stock of {count} chips from serial {first} is impossible")
        CardId(self.region, bytes(4), _NO_AUTH_CODE)  # checks the region code

    def __len__(self) -> int:
        return self.count - self.taken

    def next(self) -> SimulatedCard | None:
        """The next blank chip, or ``None`` when the stock is used up."""
        if self.taken >= self.count:
            return None
        serial = (self.first_serial + self.taken).to_bytes(4, "big")
        self.taken += 1
        atr = card_atr(self.profile, CardId(self.region, serial, _NO_AUTH_CODE))
        algorithm = self.profile.algorithm
        content = blank_card_content(self.transport_key, atr=atr, algorithm=algorithm)
        chip = SimulatedCard.create("user-card", content, atr, profile=self.profile.generation)
        if self.taken in self.faulty:
            chip.nvm.cut_power_after(TEAR_AFTER)
        return chip


class PersonalisationMachine:
    """The chip in the station (a :class:`~sbkcard.simulator.vpcd.Card`), fed from ``stock``."""

    def __init__(self, stock: BlankStock, out_dir: Path) -> None:
        self.stock = stock
        self.out_dir = out_dir
        self.slot: VpcdSlot | None = None
        """The slot serving this machine (set before it starts)."""
        self.finished = 0
        self.set_aside = 0
        self._lock = threading.Lock()
        self._bin = Bin.OUTPUT
        self.chip = stock.next()

    @property
    def atr(self) -> bytes:
        """The chip's ATR (``b""`` with the station empty)."""
        chip = self.chip
        return chip.atr if chip is not None else b""

    def power_on(self) -> bytes:
        """Cold reset of the chip in the station."""
        return self.chip.power_on() if self.chip is not None else b""

    def reset(self) -> bytes:
        """Warm reset of the chip in the station."""
        return self.chip.reset() if self.chip is not None else b""

    def power_off(self) -> None:
        """Power the chip off."""
        if self.chip is not None:
            self.chip.power_off()

    def transmit(self, apdu: bytes) -> bytes:
        """The eject command for the machine, every other command for the chip."""
        if apdu[:2] == bytes([MACHINE_CLA, EJECT_INS]) and len(apdu) in (4, 5):
            if apdu[2] not in tuple(Bin) or apdu[3] != 0:
                return _SW_WRONG_P1P2
            if self.slot is None or self.chip is None:
                return _SW_NO_CARD
            self._bin = Bin(apdu[2])
            self.slot.remove_after_reply(self._feed)
            return _SW_OK
        if self.chip is None:
            return _SW_NO_CARD
        return self.chip.transmit(apdu)

    def _feed(self) -> bool:
        """The ejected chip to its image, the next one in (whether there is one)."""
        with self._lock:
            chip = self.chip
            if chip is None:
                return False
            serial = chip.atr[-4:].hex().upper()
            if self._bin is Bin.OUTPUT:
                path = self.out_dir / f"{serial}.json"
                self.finished += 1
            else:
                path = self.out_dir / SET_ASIDE_DIR / f"{serial}.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                self.set_aside += 1
            save_image(chip, path)
            log.info("chip %s ejected to %s", serial, path)
            self.chip = self.stock.next()
        if self.chip is None:
            return False
        time.sleep(SWAP_SECONDS)
        return True
