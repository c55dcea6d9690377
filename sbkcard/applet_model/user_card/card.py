"""The user card's operating system: every command of Part 5 over a :class:`Storage`.

:class:`UserCard` answers any byte string with ``data ‖ SW1 SW2`` (Part 5) and keeps
all persistent state in its storage (:mod:`.fcp` lists the keys). Each command's writes
are one storage transaction; a retry counter is decremented in a transaction of its own
*before* a PIN or cryptogram is compared, so that a power cut costs a try instead of
giving one away.

Transmission is contact T=0: a command that sends data and gets data back (a case-4
command such as SELECT by name or INTERNAL AUTHENTICATE) answers ``61xx`` and the data
follow with GET RESPONSE (Part 2 §9.3.2); a case-2 command with a wrong Le answers ``6Cxx``
where Part 5 says so (READ RECORD, READ BINARY, GET RESPONSE) and ``6700`` where it
says "Le 长度错" (GET CHALLENGE, GET BALANCE).

Order of checks for every command: card blocked (``6A81``, Part 5 §6.2.1), malformed
APDU (``6700``), application blocked (``9303`` to everything but SELECT, which
answers ``9303`` too unless it selects another application, Part 7 §13.2), CLA
(``6E00``; a command that needs secure messaging sent without it: ``6987``), INS
(``6D00``), then the command's own P1/P2 (``6A86``), lengths (``6700``), security
(``6982``) and data checks.

The commands live in one mixin per group, all over :class:`.core.CardCore`:
:mod:`.file_commands` (SELECT, READ/UPDATE BINARY and RECORD), :mod:`.pin_commands`,
:mod:`.auth_commands`, :mod:`.block_commands`, :mod:`.personalisation_commands` and
:mod:`.purse_commands`; this module keeps :class:`UserCard`, its dispatch and GET RESPONSE.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from sbkcard.apdu.command import CommandAPDU
from sbkcard.apdu.errors import ApduFormatError
from sbkcard.apdu.status import SW, more_data, wrong_le
from sbkcard.applet_model.applet import CardRefusal, log_fault
from sbkcard.applet_model.storage import Storage
from sbkcard.applet_model.user_card.auth_commands import AuthCommands
from sbkcard.applet_model.user_card.block_commands import BlockCommands
from sbkcard.applet_model.user_card.core import ATR_KEY, LIFE_KEY, Reply, sw_only
from sbkcard.applet_model.user_card.file_commands import FileCommands
from sbkcard.applet_model.user_card.personalisation_commands import PersonalisationCommands
from sbkcard.applet_model.user_card.pin_commands import PinCommands
from sbkcard.applet_model.user_card.purse_commands import PurseCommands
from sbkcard.applet_model.user_card.session import Session

__all__ = ["ATR_KEY", "LIFE_KEY", "UserCard"]

_log = logging.getLogger(__name__)

_CLASSES = frozenset((0x00, 0x04, 0x80, 0x84, 0xB0))


class UserCard(
    FileCommands,
    PinCommands,
    AuthCommands,
    BlockCommands,
    PersonalisationCommands,
    PurseCommands,
):
    """The social security user card (implements :class:`~sbkcard.applet_model.applet.Applet`).

    ``storage`` holds everything the card remembers; build it with
    :func:`~sbkcard.applet_model.user_card.personalise.user_card_content` or
    :func:`~sbkcard.applet_model.user_card.personalise.blank_card_content`. ``random``
    supplies the card's challenges and purse randoms (``os.urandom`` unless a test
    wants them reproducible).

    The card indexes its files and keys from the storage at :meth:`power_on`; whoever
    changes the storage behind its back (restoring a snapshot, loading an image) powers
    it on again.
    """

    def __init__(self, storage: Storage, *, random: Callable[[int], bytes] = os.urandom) -> None:
        self.storage = storage
        self._random = random
        self._session = Session()
        self._headers = {}
        self._children = {}
        self._named = []
        self._sfis = {}
        self._keys = {}
        self._masters = {}
        self._pins = set()
        self._blocked = set()
        self._card_blocked = False
        self.power_on()

    # -- the Applet protocol ---------------------------------------------------------------

    @property
    def atr(self) -> bytes:
        """The answer to reset stored at COS activation (Part 10 §5.1.2)."""
        return self.storage.read(ATR_KEY) or b""

    @property
    def session(self) -> Session:
        """The volatile state (for tests and tools; commands change it)."""
        return self._session

    def power_on(self) -> None:
        """Power-up or reset: volatile state cleared, the MF current (Part 7 §5.8)."""
        self._session = Session()
        self._load_index()

    def process(self, apdu: bytes) -> bytes:
        """One command APDU → response data ‖ SW1 SW2; never raises but ``PowerLoss``.

        A fault inside the COS (a bug, or storage that fails) answers ``6F00`` and is
        logged on this module's logger with where it happened, never with the command's
        data (it may hold a PIN or a key).
        """
        try:
            data, sw = self._dispatch(bytes(apdu))
        except Exception as exc:
            log_fault(_log, apdu, exc)
            self._session.response = b""
            self._session.purse_idle()
            return SW.UNKNOWN.to_bytes(2, "big")
        return data + sw.to_bytes(2, "big")

    # -- dispatch ------------------------------------------------------------------------------

    def _dispatch(self, apdu: bytes) -> Reply:
        s = self._session
        if self._card_blocked:
            return sw_only(SW.FUNCTION_NOT_SUPPORTED)
        try:  # short length only (Part 5 §5.1): a 00 at offset 4 would start an extended one
            cmd = None if len(apdu) > 5 and not apdu[4] else CommandAPDU.from_bytes(apdu)
        except ApduFormatError:
            cmd = None
        if cmd is None:
            s.response = b""
            s.purse_idle()
            return sw_only(SW.WRONG_LENGTH)
        if cmd.ins != 0xA4 and self._blocked_df(s.df):
            s.response = b""
            s.purse_idle()
            return sw_only(SW.APP_BLOCKED)
        if cmd.ins == 0xC0 and cmd.cla == 0x00:
            return self._get_response(cmd)
        s.response = b""
        if cmd.cla not in _CLASSES:
            s.purse_idle()
            return sw_only(SW.CLA_NOT_SUPPORTED)
        entry = _COMMANDS.get(cmd.ins)
        if entry is None:
            s.purse_idle()
            return sw_only(SW.INS_NOT_SUPPORTED)
        classes, handler, purse_command = entry
        if not purse_command:
            s.purse_idle()
        if cmd.cla not in classes:
            s.purse_idle()
            return sw_only(SW.SM_MISSING if cmd.cla | 0x04 in classes else SW.CLA_NOT_SUPPORTED)
        try:
            data, sw = handler(self, cmd)
        except CardRefusal as refusal:
            s.purse_idle()
            return sw_only(refusal.sw)
        if sw == SW.OK and data and cmd.data:
            s.response = data
            return b"", more_data(len(data))
        return data, sw

    def _get_response(self, cmd: CommandAPDU) -> Reply:
        """GET RESPONSE (Part 5 §6.6): the data a ``61xx`` announced."""
        s = self._session
        pending, s.response = s.response, b""
        if cmd.p1 or cmd.p2:
            return sw_only(SW.WRONG_P1P2)
        if cmd.data:
            return sw_only(SW.WRONG_LENGTH)
        if not pending:
            return sw_only(SW.UNKNOWN)
        le = 256 if cmd.le is None else cmd.le
        if le == len(pending):
            return pending, SW.OK
        if le > len(pending) or (le == 256 and cmd.le is not None):
            s.response = pending
            return sw_only(wrong_le(len(pending)))
        s.response = pending[le:]
        return pending[:le], more_data(len(s.response))


Handler = Callable[[UserCard, CommandAPDU], Reply]

_COMMANDS: dict[int, tuple[frozenset[int], Handler, bool]] = {
    0xA4: (frozenset({0x00}), UserCard._select, False),
    0xB0: (frozenset({0x00}), UserCard._read_binary, False),
    0xD6: (frozenset({0x00, 0x04}), UserCard._update_binary, False),
    0xB2: (frozenset({0x00}), UserCard._read_record, False),
    0xDC: (frozenset({0x00, 0x04}), UserCard._update_record, False),
    0x20: (frozenset({0x00}), UserCard._verify, False),
    0x5E: (frozenset({0x80}), UserCard._change_pin, False),
    0x24: (frozenset({0x84}), UserCard._pin_unblock, False),
    0x84: (frozenset({0x00}), UserCard._get_challenge, False),
    0x82: (frozenset({0x00}), UserCard._external_auth, False),
    0x88: (frozenset({0x00}), UserCard._internal_auth, False),
    0x1E: (frozenset({0x84}), UserCard._application_block, False),
    0x16: (frozenset({0x84}), UserCard._card_block, False),
    0xE0: (frozenset({0x80}), UserCard._create_file, False),
    0xD4: (frozenset({0x84}), UserCard._write_key, False),
    0x28: (frozenset({0xB0}), UserCard._initialize, True),
    0x2A: (frozenset({0xB0}), UserCard._credit, True),
    0x2C: (frozenset({0xB0}), UserCard._debit, True),
    0x26: (frozenset({0xB0}), UserCard._get_balance, True),
    0x2E: (frozenset({0xB0}), UserCard._get_proof, True),
    0x56: (frozenset({0xB0}), UserCard._starting_day, False),
}
"""INS → (CLAs accepted, handler, whether it is a purse command of Part 5 table 49)."""
