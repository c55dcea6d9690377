"""The user card's blocking commands: APPLICATION BLOCK and CARD BLOCK (Part 5 §6.1–§6.2)."""

from __future__ import annotations

from sbkcard.apdu.command import CommandAPDU
from sbkcard.apdu.status import SW
from sbkcard.applet_model.applet import CardRefusal
from sbkcard.applet_model.user_card.core import LIFE_KEY, CardCore, Reply, sw_only
from sbkcard.applet_model.user_card.fcp import LIFE_BLOCKED, MF, DfHeader, block_key

__all__ = ["BlockCommands"]


class BlockCommands(CardCore):
    """APPLICATION BLOCK and CARD BLOCK, both with a MAC (Part 5 §6.1–§6.2; Part 7 §13.2)."""

    def _application_block(self, cmd: CommandAPDU) -> Reply:
        """APPLICATION BLOCK ``84 1E 00 01`` (Part 5 §6.1; Part 7 §13.2)."""
        if cmd.p1 != 0x00 or cmd.p2 != 0x01:
            raise CardRefusal(SW.WRONG_P1P2)
        if len(cmd.data) != 4:
            raise CardRefusal(SW.WRONG_LENGTH)
        df = self._session.df
        header = self._headers[df]
        if df == MF or not isinstance(header, DfHeader):
            raise CardRefusal(SW.CONDITIONS_NOT_SATISFIED)
        if not self._allowed(header.block, df):
            raise CardRefusal(SW.SECURITY_NOT_SATISFIED)
        self._check_mac(cmd, self._mac_key(df))
        self._write({block_key(df): b"\x01"})
        self._blocked.add(df)
        return sw_only(SW.OK)

    def _card_block(self, cmd: CommandAPDU) -> Reply:
        """CARD BLOCK ``84 16 00 00`` (Part 5 §6.2): every later command answers ``6A81``."""
        if cmd.p1 or cmd.p2:
            raise CardRefusal(SW.WRONG_P1P2)
        if len(cmd.data) != 4:
            raise CardRefusal(SW.WRONG_LENGTH)
        s = self._session
        env = s.df.partition("/")[0]
        header = self._headers[env]
        if env == MF or not isinstance(header, DfHeader):
            raise CardRefusal(SW.CONDITIONS_NOT_SATISFIED)
        if not self._allowed(header.block, s.df):
            raise CardRefusal(SW.SECURITY_NOT_SATISFIED)
        self._check_mac(cmd, self._mac_key(env))
        self._write({LIFE_KEY: LIFE_BLOCKED})
        self._card_blocked = True
        return sw_only(SW.OK)
