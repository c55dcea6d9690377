"""The user card's PIN commands: VERIFY, CHANGE PIN, PIN CHANGE/UNBLOCK (Part 5 §6.3, §6.8, §6.14).

A PIN try is spent in a transaction of its own before the PIN is compared (Part 7 §5.6–5.8).
"""

from __future__ import annotations

import hmac

from sbkcard.apdu.command import CommandAPDU
from sbkcard.apdu.status import SW
from sbkcard.applet_model.applet import CardRefusal
from sbkcard.applet_model.user_card.core import CardCore, Reply, capped_tries, sw_only
from sbkcard.applet_model.user_card.fcp import Role, counter_key, pin_key
from sbkcard.keys import CryptoError, decrypt_data, session_key

__all__ = ["PinCommands", "pin_bytes"]


def pin_bytes(data: bytes, *, shortest: int = 4) -> bytes | None:
    """``data`` if it is a ``cn`` PIN of ``shortest``–16 digits (only the last nibble may be F).

    A PIN set by CHANGE PIN or reloaded has at least 4 digits (Part 5 §6.3.1); VERIFY
    compares any well-formed PIN (``shortest=1``).
    """
    digits = data.hex().upper()
    if digits.endswith("F"):
        digits = digits[:-1]
    if not (shortest <= len(digits) <= 16 and digits.isdigit()):
        return None
    return data


class PinCommands(CardCore):
    """VERIFY, CHANGE PIN and PIN CHANGE/UNBLOCK (Part 5 §6.3, §6.8, §6.14)."""

    def _verify(self, cmd: CommandAPDU) -> Reply:
        """VERIFY (Part 5 §6.14; Part 7 §5.6–5.8); empty data asks for the tries left.

        A well-formed PIN that does not match answers ``63Cx`` whatever its length:
        table 48 has no ``6A80``, so a PIN shorter than CHANGE PIN's 4 digits costs a
        try like any other wrong PIN (Part 5 §6.14.5).
        """
        if cmd.p1 or cmd.p2:
            raise CardRefusal(SW.WRONG_P1P2)
        home = self._pin_home(self._session.df)
        if home is None:
            raise CardRefusal(SW.REF_NOT_FOUND)
        counter = counter_key(home, None)
        _, stored = self._pin_record(home)
        if not cmd.data:
            if not stored:
                return sw_only(SW.OK)
            return sw_only(capped_tries(self._left(counter)))
        if not 2 <= len(cmd.data) <= 8:
            raise CardRefusal(SW.WRONG_LENGTH)
        if self._left(counter) == 0:
            raise CardRefusal(SW.AUTH_BLOCKED)
        entered = pin_bytes(cmd.data, shortest=1)
        if entered is None:
            raise CardRefusal(SW.WRONG_DATA)
        return self._compare_pin(home, entered, stored, None)

    def _compare_pin(self, home: str, entered: bytes, stored: bytes, new: bytes | None) -> Reply:
        """Spend a try, compare, then reset the counter (and set ``new``) on success."""
        counter = counter_key(home, None)
        left = self._spend_try(counter)
        if left is None:
            raise CardRefusal(SW.AUTH_BLOCKED)
        if not (stored and hmac.compare_digest(entered, stored)) and (entered or stored):
            self._session.pin_ok.discard(home)
            return sw_only(capped_tries(left))
        allowed, _ = self._pin_record(home)
        writes = {counter: bytes((allowed,))}
        if new is not None:
            writes[pin_key(home)] = bytes((allowed,)) + new
        self._write(writes)
        self._session.pin_ok.add(home)
        return sw_only(SW.OK)

    def _change_pin(self, cmd: CommandAPDU) -> Reply:
        """CHANGE PIN ``80 5E 01 00``: old PIN ‖ ``FF`` ‖ new PIN in clear (Part 5 §6.3)."""
        if cmd.p1 != 0x01 or cmd.p2 != 0x00:
            raise CardRefusal(SW.WRONG_P1P2)
        if not 3 <= len(cmd.data) <= 0x11:
            raise CardRefusal(SW.WRONG_LENGTH)
        home = self._pin_home(self._session.df)
        if home is None:
            raise CardRefusal(SW.REF_NOT_FOUND)
        old, sep, new = cmd.data.partition(b"\xff")
        if not sep or (old and pin_bytes(old) is None) or (new and pin_bytes(new) is None):
            raise CardRefusal(SW.WRONG_DATA)
        if self._left(counter_key(home, None)) == 0:
            raise CardRefusal(SW.AUTH_BLOCKED)
        _, stored = self._pin_record(home)
        return self._compare_pin(home, old, stored, new)

    def _pin_unblock(self, cmd: CommandAPDU) -> Reply:
        """PIN CHANGE/UNBLOCK ``84 24 00 P2`` (Part 5 §6.8): MAC, and a new PIN encrypted."""
        if cmd.p1 or cmd.p2 not in (0x00, 0x01):
            raise CardRefusal(SW.WRONG_P1P2)
        s = self._session
        home = self._pin_home(s.df)
        stk = self._mac_key(home) if home is not None else None
        if home is None or stk is None:
            raise CardRefusal(SW.REF_NOT_FOUND)
        size = stk.algorithm.block_size
        body = cmd.data[:-4]
        if cmd.p2 == 0x00 and len(cmd.data) != 4:
            raise CardRefusal(SW.WRONG_LENGTH)
        if cmd.p2 == 0x01 and (not body or len(body) % size):
            raise CardRefusal(SW.WRONG_LENGTH)
        unblock = [kid for (df, kid) in s.auths if df == home and self._is_unblock(df, kid)]
        if not unblock:
            raise CardRefusal(SW.SECURITY_NOT_SATISFIED)
        challenge = s.challenge
        self._check_mac(cmd, stk)
        allowed, _ = self._pin_record(home)
        writes = {counter_key(home, None): bytes((allowed,))}
        if cmd.p2 == 0x01:
            assert challenge is not None
            sk = session_key(stk.key, challenge, stk.algorithm)
            try:
                new = decrypt_data(sk, body, stk.algorithm)
            except CryptoError:
                raise CardRefusal(SW.WRONG_DATA) from None
            if new and pin_bytes(new) is None:
                raise CardRefusal(SW.WRONG_DATA)
            writes[pin_key(home)] = bytes((allowed,)) + new
        self._write(writes)
        return sw_only(SW.OK)

    def _is_unblock(self, df: str, kid: int) -> bool:
        versions = self._keys.get((df, kid), {})
        return any(r.role is Role.UNBLOCK for r in versions.values())
