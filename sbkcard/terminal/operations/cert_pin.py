"""The certificate application's user PIN at the counter: change and unblock (GM/T 0016).

:func:`change_user_pin` is SKF_ChangePIN for the user PIN (the old PIN and the new one
typed twice); :func:`unblock_user_pin` is SKF_UnblockPIN (the administrator PIN and a
new user PIN typed twice), the way out for a card whose user PIN locked after its tries.
The PINs come from the terminal's PIN pad (or are given as
:class:`~sbkcard.terminal.operations.pinpad.Pin`); the card commands are
:func:`sbkcard.terminal.operations.pki.change_user_pin` and
:func:`~sbkcard.terminal.operations.pki.unblock_user_pin`, whose data a trace masks.
"""

from __future__ import annotations

from sbkcard.terminal.connection import Connection
from sbkcard.terminal.operations import pki
from sbkcard.terminal.operations.pin import PinResult
from sbkcard.terminal.operations.pinpad import Pin, PinPrompt, enter_new_pin, enter_pin

__all__ = ["change_user_pin", "unblock_user_pin"]


def change_user_pin(conn: Connection, old: Pin | None = None, new: Pin | None = None) -> PinResult:
    """The user PIN changed with the old one (asked on the PIN pad when not given)."""
    if old is None or new is None:
        pad = conn.pad()
        old = old or enter_pin(pad, PinPrompt.OLD)
        new = new or enter_new_pin(pad)
    pki.select_application(conn.card, pki.PROFILE)
    with conn.card.during("certificate PIN change"):
        pki.change_user_pin(conn.card, pki.PROFILE, old.reveal(), new.reveal())
    return PinResult("cert-change", pki.PROFILE.user_tries)


def unblock_user_pin(
    conn: Connection, admin: Pin | None = None, new: Pin | None = None
) -> PinResult:
    """A new user PIN with all its tries, set by the administrator PIN (asked when not given)."""
    if admin is None or new is None:
        pad = conn.pad()
        admin = admin or enter_pin(pad, PinPrompt.ADMIN)
        new = new or enter_new_pin(pad)
    pki.select_application(conn.card, pki.PROFILE)
    with conn.card.during("certificate PIN unblock"):
        pki.unblock_user_pin(conn.card, pki.PROFILE, admin.reveal(), new.reveal())
    return PinResult("cert-unblock", pki.PROFILE.user_tries)
