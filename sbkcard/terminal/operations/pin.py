"""The PIN: verify, change, reload (重置) and unblock (解锁) (Part 7 §5.6–5.8, §9, §13.3).

Each function takes the PIN(s) as :class:`~sbkcard.terminal.operations.pinpad.Pin` values or asks
the terminal's PIN pad for them with the standard's prompts (S3 §4–§7); a PIN is never
printed, logged or traced (its APDUs are marked secret).

* :func:`verify_pin` — VERIFY; a wrong PIN is
  :class:`~sbkcard.terminal.errors.WrongPinError` with the tries left (code -51), a
  blocked one :class:`~sbkcard.terminal.errors.PinBlockedError` (-52).
* :func:`pin_tries` — VERIFY with no data (Part 7 §5.6): the tries left.
* :func:`change_pin` — CHANGE PIN ``80 5E 01 00`` old ‖ ``FF`` ‖ new (the cardholder's).
* :func:`reload_pin` and :func:`unblock_pin` — the issuer's PIN CHANGE/UNBLOCK ``84 24``
  under secure messaging: external authentication with the PIN unblock key (PUK) first
  (Part 7 §13), then GET CHALLENGE and the command with the new PIN enciphered (reload)
  and the MAC of the maintenance key STKSSSE (Part 4 §8.2–8.3; a real SM4 card's trace: key address
  ``0173``), both computed by the PSAM or HSM.
"""

from __future__ import annotations

from dataclasses import dataclass

from sbkcard.apdu import builders as b
from sbkcard.apdu.status import SW, parse_tries_left
from sbkcard.keys.hierarchy import card_key
from sbkcard.terminal.connection import SSSE, Connection, check_pin_status
from sbkcard.terminal.errors import CardStatusError
from sbkcard.terminal.operations.pinpad import Pin, PinPrompt, enter_new_pin, enter_pin

AUTH_KEY = "PUK"
MAC_KEY = "STKSSSE"


@dataclass(frozen=True)
class PinResult:
    """A PIN operation that succeeded: which, and the tries the card reports now."""

    operation: str
    tries_left: int | None = None


def pin_tries(conn: Connection) -> int | None:
    """Tries left (VERIFY with Lc 0, Part 7 §5.6); ``None`` if the card needs no PIN."""
    conn.select(SSSE)
    response = conn.card.send(b.verify(None))
    if response.sw == SW.OK:
        return None
    if response.sw == SW.AUTH_BLOCKED:
        return 0
    left = parse_tries_left(response.sw)
    if left is not None:
        return left
    raise CardStatusError(response.sw, "VERIFY (tries left)")


def verify_pin(conn: Connection, pin: Pin | None = None) -> PinResult:
    """VERIFY the PIN (from the PIN pad when ``pin`` is None)."""
    conn.select(SSSE)
    conn.verify_pin(pin)
    return PinResult("verify")


def change_pin(conn: Connection, old: Pin | None = None, new: Pin | None = None) -> PinResult:
    """CHANGE PIN: the cardholder's old PIN and a new one typed twice (S3 §5.1.3)."""
    if old is None or new is None:
        pad = conn.pad()
        old = old or enter_pin(pad, PinPrompt.OLD)
        new = new or enter_new_pin(pad)
    conn.select(SSSE)
    with conn.card.during("PIN change"):
        response = conn.card.send(b.change_pin(old.reveal(), new.reveal()))
    check_pin_status(response.sw, "CHANGE PIN")
    conn.pin_verified = True
    return PinResult("change")


def _maintenance(conn: Connection, p2: int, new: Pin | None, what: str) -> None:
    conn.select(SSSE)
    conn.authenticate(AUTH_KEY)
    module = conn.module
    mac_key = card_key(MAC_KEY)
    plaintext = None if new is None else new.encode()
    size = conn.ctx.algorithm.block_size
    body_length = 0 if plaintext is None else enciphered_length(len(plaintext), size)
    header = bytes([0x84, 0x24, 0x00, p2, body_length + 4])
    with conn.card.during(what):
        challenge = conn.card.call(b.get_challenge(4), "GET CHALLENGE")
        data = module.secure_message(conn.ctx, mac_key, 1, challenge, header, plaintext)
        command = b.pin_reload(data[:-4], data[-4:]) if new else b.pin_unblock(data[-4:])
        conn.card.call(command, what)


def enciphered_length(length: int, block: int) -> int:
    """Bytes of ``LD ‖ data`` after 80-padding to whole blocks (Part 4 §8.3.2)."""
    total = length + 1
    return total if total % block == 0 else (total // block + 1) * block


def reload_pin(conn: Connection, new: Pin | None = None) -> PinResult:
    """PIN reload (重置): a new PIN (typed twice on the pad) set by the issuer's keys."""
    if new is None:
        new = enter_new_pin(conn.pad())
    _maintenance(conn, b.PinOperation.RELOAD, new, "PIN CHANGE/UNBLOCK (reload)")
    return PinResult("reload")


def unblock_pin(conn: Connection) -> PinResult:
    """PIN unblock (解锁): the tries counter back to its maximum, the PIN unchanged."""
    _maintenance(conn, b.PinOperation.UNBLOCK, None, "PIN CHANGE/UNBLOCK (unblock)")
    return PinResult("unblock", pin_tries(conn))
