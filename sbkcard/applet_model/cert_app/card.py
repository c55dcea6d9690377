"""The third-generation card: the SSSE user card, the certificate application, a bank's.

:class:`ThirdGenerationCard` is one chip's COS hosting three applications over one
storage: SELECT by name of the certificate application's DDF or ADF makes it current,
so does SELECT of the financial application's PSE or AID; SELECT of the MF (``3F00``)
or of any other name goes to the user card.  Each other command goes to the current
application, which alone sees its files (Part 3 §5: applications reached by their own
AIDs).  Power-up makes the user card current.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from sbkcard.applet_model.cert_app.applet import CertApplication
from sbkcard.applet_model.cert_app.financial import FinancialApplication
from sbkcard.applet_model.cert_app.profile import KIOSK_PROFILE, CertProfile
from sbkcard.applet_model.storage import Storage
from sbkcard.applet_model.user_card import UserCard

__all__ = ["ThirdGenerationCard"]

_MF = b"\x3f\x00"


class ThirdGenerationCard:
    """The SSSE, the certificate application and the financial application on one chip."""

    def __init__(
        self,
        storage: Storage,
        *,
        random: Callable[[int], bytes] = os.urandom,
        profile: CertProfile = KIOSK_PROFILE,
    ) -> None:
        self.storage = storage
        self.user = UserCard(storage, random=random)
        self.cert = CertApplication(storage, profile, random=random)
        self.bank = FinancialApplication(storage)
        self._current: UserCard | CertApplication | FinancialApplication = self.user

    def power_on(self) -> None:
        """Power-up: every application's volatile state cleared, the user card current."""
        self.user.power_on()
        self.cert.power_on()
        self.bank.leave()
        self._current = self.user

    def process(self, apdu: bytes) -> bytes:
        """Route one command APDU to the application it is for; data ‖ SW1 SW2."""
        apdu = bytes(apdu)
        if len(apdu) > 5 and apdu[0] == 0x00 and apdu[1] == 0xA4:
            name = apdu[5 : 5 + apdu[4]]
            target: UserCard | CertApplication | FinancialApplication = self.user
            if apdu[2] == 0x04 and self.cert.owns(name):
                target = self.cert
            elif apdu[2] == 0x04 and self.bank.owns(name):
                target = self.bank
            elif apdu[2] != 0x04 and self._current is not self.user and name != _MF:
                target = self._current
            if target is not self._current:
                self.cert.leave()
                self.bank.leave()
                self._current = target
        return self._current.process(apdu)
