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

from collections.abc import Callable

from sbkcard.apdu.status import SW
from sbkcard.applet_model.cert_app.profile import CertProfile
from sbkcard.terminal.connection import Connection
from sbkcard.terminal.errors import CardStatusError, UnsupportedCardError
from sbkcard.terminal.operations import pki
from sbkcard.terminal.operations.pin import PinResult
from sbkcard.terminal.operations.pinpad import Pin, PinPrompt, enter_new_pin, enter_pin
from sbkcard.terminal.transports.transport import ReaderSession

__all__ = ["change_user_pin", "unblock_user_pin"]

_Send = Callable[[ReaderSession, CertProfile, str, str], None]


def _new_pin(
    conn: Connection,
    proof: Pin | None,
    new: Pin | None,
    prompt: PinPrompt,
    send: _Send,
    operation: str,
) -> PinResult:
    """The new user PIN set with ``proof`` (each asked on the PIN pad when not given,
    once the card has shown it has the certificate application)."""
    try:
        pki.select_application(conn.card, pki.PROFILE)
    except CardStatusError as exc:
        if exc.sw != SW.FILE_NOT_FOUND:
            raise
        raise UnsupportedCardError(
            f"{exc}: the card has no certificate application (a third-generation card's, "
            "LD/T 6001.5 §7)"
        ) from None
    if proof is None or new is None:
        pad = conn.pad()
        proof = proof or enter_pin(pad, prompt)
        new = new or enter_new_pin(pad)
    with conn.card.during(f"certificate PIN {operation}"):
        send(conn.card, pki.PROFILE, proof.reveal(), new.reveal())
    return PinResult(f"cert-{operation}", pki.PROFILE.user_tries)


def change_user_pin(conn: Connection, old: Pin | None = None, new: Pin | None = None) -> PinResult:
    """The user PIN changed with the old one (asked on the PIN pad when not given)."""
    return _new_pin(conn, old, new, PinPrompt.OLD, pki.change_user_pin, "change")


def unblock_user_pin(
    conn: Connection, admin: Pin | None = None, new: Pin | None = None
) -> PinResult:
    """A new user PIN with all its tries, set by the administrator PIN (asked when not given)."""
    return _new_pin(conn, admin, new, PinPrompt.ADMIN, pki.unblock_user_pin, "unblock")
