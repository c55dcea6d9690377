"""The user card's authentication: GET CHALLENGE, EXTERNAL and INTERNAL AUTHENTICATE.

Part 5 §6.4, §6.5, §6.7: a challenge is good for one command, a key's counter is
spent before its cryptogram is compared.
"""

from __future__ import annotations

import hmac

from sbkcard.apdu import bodies
from sbkcard.apdu.command import CommandAPDU
from sbkcard.apdu.status import SW
from sbkcard.applet_model.applet import CardRefusal
from sbkcard.applet_model.user_card.core import CardCore, Reply, capped_tries, sw_only
from sbkcard.applet_model.user_card.fcp import Role, counter_key
from sbkcard.applet_model.user_card.session import home_of
from sbkcard.keys import auth_data, session_key

__all__ = ["AUTH_FAILED", "AuthCommands"]

AUTH_FAILED = SW.WARNING_NV_CHANGED
"""``6300``: EXTERNAL AUTHENTICATE with a key that has no retry counter failed."""


class AuthCommands(CardCore):
    """GET CHALLENGE, EXTERNAL AUTHENTICATE, INTERNAL AUTHENTICATE (Part 5 §6.4, §6.5, §6.7)."""

    def _get_challenge(self, cmd: CommandAPDU) -> Reply:
        """GET CHALLENGE (Part 5 §6.5): 4, 8 or 16 bytes, good for one use."""
        if cmd.p1 or cmd.p2:
            raise CardRefusal(SW.WRONG_P1P2)
        if cmd.data or cmd.le not in (4, 8, 16):
            raise CardRefusal(SW.WRONG_LENGTH)
        challenge = self._random(cmd.le)
        self._session.challenge = challenge
        return challenge, SW.OK

    def _external_auth(self, cmd: CommandAPDU) -> Reply:
        """EXTERNAL AUTHENTICATE (Part 5 §6.4): auth(8) ‖ original(8) ‖ [version].

        Part 7 §6.6: a key whose counter is 0 is locked (``6983``) whatever else the
        command holds; the challenge is consumed all the same.
        """
        s = self._session
        if cmd.p1:
            raise CardRefusal(SW.WRONG_P1P2)
        if len(cmd.data) not in (16, 17):
            raise CardRefusal(SW.WRONG_LENGTH)
        kid = cmd.p2
        data = bodies.parse(bodies.EXTERNAL_AUTHENTICATE, cmd.data)
        record = self._key(s.df, kid, data.version)
        if record is None or record.role not in (Role.AUTH, Role.MASTER, Role.UNBLOCK):
            raise CardRefusal(SW.REF_NOT_FOUND)
        home = home_of(s.df, kid)
        challenge = s.take_challenge()
        counter = counter_key(home, kid)
        if record.tries and self._left(counter) == 0:
            raise CardRefusal(SW.AUTH_BLOCKED)
        if challenge is None or len(challenge) > record.algorithm.block_size:
            raise CardRefusal(SW.REF_DATA_INVALID)
        left = 0
        if record.tries:
            spent = self._spend_try(counter)
            if spent is None:
                raise CardRefusal(SW.AUTH_BLOCKED)
            left = spent
        sk = session_key(record.key, challenge, record.algorithm)
        expected = auth_data(sk, data.original, record.algorithm)
        if not hmac.compare_digest(expected, data.auth):
            s.revoke(home, kid)
            return sw_only(capped_tries(left) if record.tries else AUTH_FAILED)
        if record.tries:
            self._write({counter: bytes((record.tries,))})
        s.grant(home, kid)
        return sw_only(SW.OK)

    def _internal_auth(self, cmd: CommandAPDU) -> Reply:
        """INTERNAL AUTHENTICATE (Part 5 §6.7): R1 (session input) ‖ R2 ‖ [version] → auth(R2)."""
        if cmd.p1:
            raise CardRefusal(SW.WRONG_P1P2)
        if len(cmd.data) not in (16, 17):
            raise CardRefusal(SW.WRONG_LENGTH)
        data = bodies.parse(bodies.INTERNAL_AUTHENTICATE, cmd.data)
        record = self._key(self._session.df, cmd.p2, data.version)
        if record is None or record.role is not Role.INTERNAL:
            raise CardRefusal(SW.REF_NOT_FOUND)
        sk = session_key(record.key, data.factor, record.algorithm)
        answer = auth_data(sk, data.original, record.algorithm)
        return bodies.build(bodies.INTERNAL_AUTHENTICATE_ANSWER, auth=answer), SW.OK
