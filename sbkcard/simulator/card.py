"""The in-process card: an applet on journaled NVM, with power, ATR and ``transmit``.

:class:`SimulatedCard` is the transport interface of the terminal (``power_on``,
``reset``, ``power_off``, ``transmit``, ``atr``) plus the reader's view of a card
(``remove``/``insert``).  Power-up runs the NVM's journal recovery before the applet
sees its storage, as a COS does at boot; a power cut injected into the NVM (see
:meth:`JournaledNVM.cut_power_after`) ends the command with no answer and reaches the
caller as :class:`~sbkcard.errors.CardRemovedError`, as a real reader reports a card
that lost contact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from sbkcard.applet_model.applet import Applet
from sbkcard.applet_model.storage import PowerLoss
from sbkcard.errors import CardRemovedError, NoCardError
from sbkcard.simulator.applets import applet_kind, kind_of
from sbkcard.simulator.nvm import JournaledNVM, Recovery


@dataclass(frozen=True)
class CardSnapshot:
    """A card's persistent state at one moment (:meth:`SimulatedCard.snapshot`)."""

    storage: Mapping[str, bytes]
    atr: bytes


class SimulatedCard:
    """A card in a reader: inserted and unpowered at first.

    ``applet`` must run on ``nvm`` (its ``storage``); ``kind`` is the registry name of
    the applet (found from the applet's class when omitted) and ``profile`` the card
    profile it was personalised for (1, 2 or 3 for a user card), both kept in images.
    """

    def __init__(
        self,
        applet: Applet,
        nvm: JournaledNVM,
        atr: bytes,
        *,
        kind: str | None = None,
        profile: int | None = None,
    ) -> None:
        if applet.storage is not nvm:
            raise ValueError("SimulatedCard: the applet must run on the card's own NVM")
        self.applet = applet
        self.nvm = nvm
        self.atr = bytes(atr)
        self.kind = kind if kind is not None else kind_of(applet)
        self.profile = profile
        self.inserted = True
        self.powered = False
        self.last_recovery = Recovery.CLEAN
        """What the NVM journal recovery found at the last power-up."""

    @classmethod
    def create(
        cls,
        kind: str,
        content: Mapping[str, bytes],
        atr: bytes,
        *,
        profile: int | None = None,
    ) -> SimulatedCard:
        """A new card of applet ``kind`` (``"user-card"``, ``"psam"``) holding ``content``."""
        nvm = JournaledNVM(content)
        applet = applet_kind(kind).create(nvm)
        return cls(applet, nvm, atr, kind=kind, profile=profile)

    def __repr__(self) -> str:
        state = "powered" if self.powered else "inserted" if self.inserted else "removed"
        return f"SimulatedCard({self.kind}, ATR {self.atr.hex().upper()}, {state})"

    # -- power ----------------------------------------------------------------------------

    def power_on(self) -> bytes:
        """Cold reset: NVM recovery, then the applet's power-on; returns the ATR."""
        self._require_inserted()
        self.powered = False
        try:
            self.last_recovery = self.nvm.recover()
        except PowerLoss as exc:
            raise CardRemovedError("card lost power during power-up (NVM recovery)") from exc
        self.applet.power_on()
        self.powered = True
        return self.atr

    def reset(self) -> bytes:
        """Warm reset: the COS restarts as at power-up (volatile state cleared); the ATR."""
        return self.power_on()

    def power_off(self) -> None:
        """Remove power: the applet's volatile state is lost."""
        self.powered = False

    def remove(self) -> None:
        """Take the card out of the reader (unpowered)."""
        self.powered = False
        self.inserted = False

    def insert(self) -> None:
        """Put the card (back) in the reader, unpowered."""
        self.inserted = True

    # -- commands -------------------------------------------------------------------------

    def transmit(self, apdu: bytes) -> bytes:
        """Send one command APDU; returns response data ‖ SW1 SW2.

        Raises :class:`~sbkcard.errors.NoCardError` when the card is out of the reader or
        not powered, and :class:`~sbkcard.errors.CardRemovedError` when power is cut
        during the command (the card is then unpowered; its NVM recovers at power-up).
        """
        if not self.powered:
            self._require_inserted()
            raise NoCardError("card not powered: call power_on() first")
        nvm = self.nvm
        try:
            response = self.applet.process(bytes(apdu))
            if nvm.power_cut_armed:
                nvm.check_power()
        except PowerLoss as exc:
            self.powered = False
            raise CardRemovedError(
                f"card lost power during command {bytes(apdu[:4]).hex().upper()} (no answer)"
            ) from exc
        return response

    # -- state for tests ------------------------------------------------------------------

    def snapshot(self) -> CardSnapshot:
        """The persistent state now (recovering the NVM first if a journal is pending)."""
        if self.nvm.needs_recovery:
            self.nvm.recover()
        return CardSnapshot(MappingProxyType(self.nvm.contents()), self.atr)

    def restore(self, snapshot: CardSnapshot) -> None:
        """Go back to ``snapshot``: NVM content and ATR restored, the card unpowered."""
        self.nvm.load(snapshot.storage)
        self.atr = snapshot.atr
        self.powered = False

    def _require_inserted(self) -> None:
        if not self.inserted:
            raise NoCardError("no card in the reader")
