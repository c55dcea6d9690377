"""The user card's operating system: every command of SPEC §3 over a :class:`Storage`.

:class:`UserCard` answers any byte string with ``data ‖ SW1 SW2`` (Part 5) and keeps
all persistent state in its storage (:mod:`.fcp` lists the keys). Each command's writes
are one storage transaction; a retry counter is decremented in a transaction of its own
*before* a PIN or cryptogram is compared, so that a power cut costs a try instead of
giving one away.

Transmission is contact T=0: a command that sends data and gets data back (a case-4
command such as SELECT by name or INTERNAL AUTHENTICATE) answers ``61xx`` and the data
follow with GET RESPONSE (SPEC §1.1); a case-2 command with a wrong Le answers ``6Cxx``
where Part 5 says so (READ RECORD, READ BINARY, GET RESPONSE) and ``6700`` where it
says "Le 长度错" (GET CHALLENGE, GET BALANCE).

Order of checks for every command: card blocked (``6A81``, Part 5 §6.2.1), malformed
APDU (``6700``), application blocked (``9303`` to everything but SELECT and
APPLICATION BLOCK, Part 7 §13.2), CLA (``6E00``; a command that needs secure messaging
sent without it: ``6987``), INS (``6D00``), then the command's own P1/P2 (``6A86``),
lengths (``6700``), security (``6982``) and data checks.
"""

from __future__ import annotations

import bisect
import datetime
import hmac
import logging
import os
from collections.abc import Callable, Container
from dataclasses import dataclass

from sbkcard.apdu.status import SW, more_data, tries_left, wrong_le
from sbkcard.applet_model.applet import log_fault
from sbkcard.applet_model.ssse import PURSE_SIZE
from sbkcard.applet_model.storage import Storage
from sbkcard.applet_model.tree import Rule, Structure
from sbkcard.applet_model.user_card import purse as P
from sbkcard.applet_model.user_card import recordfile
from sbkcard.applet_model.user_card.fcp import (
    COS_KIDS,
    LIFE_BLOCKED,
    MF,
    MF_FID,
    Condition,
    DfHeader,
    EfHeader,
    HeaderError,
    KeyRecord,
    Role,
    block_key,
    body_key,
    counter_key,
    decode_header,
    header_key,
    key_record_key,
    parent,
    pin_key,
    proof_key,
)
from sbkcard.applet_model.user_card.session import PurseContext, Session, home_of
from sbkcard.keys import CryptoError, auth_data, decrypt_data, mac, session_key

__all__ = ["ATR_KEY", "LIFE_KEY", "UserCard"]

ATR_KEY = "cos:atr"
LIFE_KEY = "cos:life"

_log = logging.getLogger(__name__)

AUTH_FAILED = SW.WARNING_NV_CHANGED
"""``6300``: EXTERNAL AUTHENTICATE with a key that has no retry counter failed."""

Reply = tuple[bytes, int]
_CLASSES = frozenset((0x00, 0x04, 0x80, 0x84, 0xB0))
_MULTI_RECORD_MAX = 256


def _sw(sw: int) -> Reply:
    return b"", sw


def _tries(left: int) -> int:
    """``63Cx``, a counter read from storage capped at the 15 tries one nibble holds."""
    return tries_left(min(left, 0x0F))


@dataclass(frozen=True, slots=True)
class _Command:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    le: int | None

    @property
    def mac_header(self) -> bytes:
        """CLA INS P1 P2 Lc, the start of the MAC input (Part 4 §8.2.4)."""
        return bytes((self.cla, self.ins, self.p1, self.p2, len(self.data)))


def _parse(apdu: bytes) -> _Command | None:
    """A short-length command APDU, or ``None`` (extended length is not supported)."""
    n = len(apdu)
    if n < 4:
        return None
    cla, ins, p1, p2 = apdu[0], apdu[1], apdu[2], apdu[3]
    if n == 4:
        return _Command(cla, ins, p1, p2, b"", None)
    if n == 5:
        return _Command(cla, ins, p1, p2, b"", apdu[4] or 256)
    lc = apdu[4]
    if lc == 0:
        return None
    if n == 5 + lc:
        return _Command(cla, ins, p1, p2, apdu[5:], None)
    if n == 6 + lc:
        return _Command(cla, ins, p1, p2, apdu[5:-1], apdu[-1] or 256)
    return None


def _pin_bytes(data: bytes) -> bytes | None:
    """``data`` if it is a ``cn`` PIN of 4–16 digits (only the last nibble may be F)."""
    digits = data.hex().upper()
    if digits.endswith("F"):
        digits = digits[:-1]
    if not (4 <= len(digits) <= 16 and digits.isdigit()):
        return None
    return data


def _bcd_time(raw: bytes) -> datetime.datetime | None:
    """A ``cn 7`` CCYYMMDDhhmmss, or ``None`` if it is not one."""
    try:
        return datetime.datetime.strptime(raw.hex(), "%Y%m%d%H%M%S")
    except ValueError:
        return None


class UserCard:
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
        self._headers: dict[str, EfHeader | DfHeader] = {}
        self._children: dict[str, list[str]] = {}
        self._named: list[tuple[str, bytes]] = []
        self._sfis: dict[tuple[str, int], str] = {}
        self._keys: dict[tuple[str, int], dict[int, KeyRecord]] = {}
        self._masters: dict[str, int] = {}
        self._pins: set[str] = set()
        self._blocked: set[str] = set()
        self._card_blocked = False
        self.power_on()

    # -- the Applet protocol ---------------------------------------------------------------

    @property
    def atr(self) -> bytes:
        """The answer to reset stored at COS activation (SPEC §7)."""
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

    # -- the index of files and keys (derived from storage) ---------------------------------

    def _load_index(self) -> None:
        """Index every header, key, PIN and blocked flag in storage (at power-on).

        The commands that write what the index holds (CREATE FILE, WRITE KEY, APPLICATION
        BLOCK, CARD BLOCK) add it themselves, after their transaction has committed.
        """
        read = self.storage.read
        self._headers = {}
        self._children = {}
        self._named = []
        self._sfis = {}
        self._keys = {}
        self._masters = {}
        for name in self.storage.keys("fs:"):
            try:
                self._index_file(name[3:], decode_header(read(name) or b""))
            except (HeaderError, IndexError):
                continue
        if MF not in self._headers:
            self._index_file(MF, DfHeader(MF_FID, b"", None, 0, Condition(Rule.NEVER)))
        for path in sorted(self._headers):
            if path != MF and parent(path) in self._children:
                self._children[parent(path)].append(path)
        for name in self.storage.keys("key:"):
            df, _, ident = name[4:].rpartition("/")
            try:
                kid, version = (int(part, 16) for part in ident.split("."))
                record = KeyRecord.from_bytes(read(name) or b"")
            except (HeaderError, ValueError):
                continue
            self._index_key(df, kid, version, record)
        self._pins = {name[4:] for name in self.storage.keys("pin:")}
        self._blocked = {name[4:] for name in self.storage.keys("blk:")}
        self._card_blocked = read(LIFE_KEY) == LIFE_BLOCKED

    def _index_file(self, path: str, header: EfHeader | DfHeader) -> None:
        """Add one file to the index (its parent's children are the caller's business)."""
        self._headers[path] = header
        self._children[path] = []
        if isinstance(header, DfHeader) and header.aid:
            bisect.insort(self._named, (path, header.aid))
        elif isinstance(header, EfHeader) and header.sfi is not None:
            self._sfis.setdefault((parent(path), header.sfi), path)

    def _index_key(self, df: str, kid: int, version: int, record: KeyRecord) -> None:
        """Add one key record to the index; a DF's master key is its highest master KID."""
        versions = self._keys.setdefault((df, kid), {})
        versions[version] = record
        if any(r.role is Role.MASTER for r in versions.values()):
            self._masters[df] = max(kid, self._masters.get(df, kid))
        elif self._masters.get(df) == kid:
            del self._masters[df]
            for (home, other), held in self._keys.items():
                if home == df and any(r.role is Role.MASTER for r in held.values()):
                    self._masters[df] = max(other, self._masters.get(df, other))

    def _key(self, df: str, kid: int, version: int | None = None) -> KeyRecord | None:
        versions = self._keys.get((home_of(df, kid), kid))
        if not versions:
            return None
        if version is None:
            return versions[min(versions)]
        return versions.get(version)

    @staticmethod
    def _nearest(df: str, holders: Container[str]) -> str | None:
        """``df`` or the nearest DF above it that is in ``holders`` (up to the MF)."""
        path = df
        while path not in holders:
            if path == MF:
                return None
            path = parent(path)
        return path

    def _blocked_df(self, df: str) -> bool:
        return self._nearest(df, self._blocked) is not None

    def _child(self, df: str, predicate: Callable[[EfHeader | DfHeader], bool]) -> str | None:
        for path in self._children.get(df, ()):
            if predicate(self._headers[path]):
                return path
        return None

    def _ef_by_sfi(self, sfi: int) -> str | None:
        return self._sfis.get((self._session.df, sfi))

    def _master_df(self, df: str) -> str | None:
        """The nearest DF (``df`` or above) holding a master key: the one in control."""
        return self._nearest(df, self._masters)

    def _pin_home(self, df: str) -> str | None:
        return self._nearest(df, self._pins)

    def _pin_record(self, home: str) -> tuple[int, bytes]:
        raw = self.storage.read(pin_key(home)) or b"\x00"
        return raw[0], raw[1:]

    # -- security ------------------------------------------------------------------------------

    def _pin_satisfied(self, df: str) -> bool:
        """A verified PIN, or no PIN at all (Part 5 §7.3: "如果持卡人设置")."""
        home = self._pin_home(df)
        if home is None:
            return True
        _, pin = self._pin_record(home)
        return not pin or home in self._session.pin_ok

    def _allowed(self, cond: Condition, df: str) -> bool:
        rule = cond.rule
        if rule is Rule.FREE:
            return True
        if rule is Rule.NEVER:
            return False
        if rule is Rule.PIN:
            return self._pin_satisfied(df)
        authed = self._session.authenticated(df, cond.kid)
        if rule is Rule.KEY:
            return authed
        if rule is Rule.PIN_OR_KEY:
            return authed or self._pin_satisfied(df)
        return authed and self._pin_satisfied(df)

    def _left(self, name: str) -> int:
        """The tries a stored counter has left (0 when it is missing)."""
        return (self.storage.read(name) or b"\x00")[0]

    def _spend_try(self, name: str) -> int | None:
        """Decrement a counter in its own transaction; ``None`` if it is already 0."""
        left = self._left(name)
        if left == 0:
            return None
        with self.storage.transaction() as tx:
            tx.write(name, bytes((left - 1,)))
        return left - 1

    def _write(self, values: dict[str, bytes]) -> None:
        with self.storage.transaction() as tx:
            for name, value in values.items():
                tx.write(name, value)

    def _mac_key(self, df: str) -> KeyRecord | None:
        header = self._headers.get(df)
        if not isinstance(header, DfHeader):
            return None
        record = self._key(df, header.mac_kid)
        if record is None or record.role is not Role.MAC:
            return None
        return record

    def _check_mac(self, cmd: _Command, key: KeyRecord | None, body: bytes) -> int:
        """Check a command's MAC under the session key of ``key`` and the challenge."""
        if key is None:
            return SW.REF_NOT_FOUND
        challenge = self._session.take_challenge()
        if challenge is None or len(challenge) > key.algorithm.block_size:
            return SW.REF_DATA_INVALID
        sk = session_key(key.key, challenge, key.algorithm)
        expected = mac(sk, cmd.mac_header + body, key.algorithm)
        return SW.OK if hmac.compare_digest(expected, cmd.data[-4:]) else SW.SM_INCORRECT

    def _unwrap(self, cmd: _Command) -> bytes | int:
        """The data of a CLA ``04`` command with its MAC checked and removed (Part 4 §8)."""
        if len(cmd.data) < 5:
            return SW.SM_MISSING
        body = cmd.data[:-4]
        sw = self._check_mac(cmd, self._mac_key(self._session.df), body)
        return body if sw == SW.OK else sw

    # -- dispatch ------------------------------------------------------------------------------

    def _dispatch(self, apdu: bytes) -> Reply:
        s = self._session
        if self._card_blocked:
            return _sw(SW.FUNCTION_NOT_SUPPORTED)
        cmd = _parse(apdu)
        if cmd is None:
            s.response = b""
            s.purse_idle()
            return _sw(SW.WRONG_LENGTH)
        if cmd.ins == 0xC0 and cmd.cla == 0x00:
            return self._get_response(cmd)
        s.response = b""
        if cmd.ins not in (0xA4, 0x1E) and self._blocked_df(s.df):
            s.purse_idle()
            return _sw(SW.APP_BLOCKED)
        if cmd.cla not in _CLASSES:
            s.purse_idle()
            return _sw(SW.CLA_NOT_SUPPORTED)
        entry = _COMMANDS.get(cmd.ins)
        if entry is None:
            s.purse_idle()
            return _sw(SW.INS_NOT_SUPPORTED)
        classes, handler, purse_command = entry
        if not purse_command:
            s.purse_idle()
        if cmd.cla not in classes:
            s.purse_idle()
            return _sw(SW.SM_MISSING if cmd.cla | 0x04 in classes else SW.CLA_NOT_SUPPORTED)
        data, sw = handler(self, cmd)
        if sw == SW.OK and data and cmd.data:
            s.response = data
            return b"", more_data(len(data))
        return data, sw

    def _get_response(self, cmd: _Command) -> Reply:
        """GET RESPONSE (Part 5 §6.6): the data a ``61xx`` announced."""
        s = self._session
        pending, s.response = s.response, b""
        if cmd.p1 or cmd.p2:
            return _sw(SW.WRONG_P1P2)
        if cmd.data:
            return _sw(SW.WRONG_LENGTH)
        if not pending:
            return _sw(SW.UNKNOWN)
        le = 256 if cmd.le is None else cmd.le
        if le == len(pending):
            return pending, SW.OK
        if le > len(pending) or (le == 256 and cmd.le is not None):
            s.response = pending
            return _sw(wrong_le(len(pending)))
        s.response = pending[le:]
        return pending[:le], more_data(len(s.response))

    # -- SELECT -----------------------------------------------------------------------------------

    def _select(self, cmd: _Command) -> Reply:
        """SELECT (Part 5 §6.11): MF/DF by FID, EF under the current DF, DF by name."""
        s = self._session
        if cmd.p2 not in (0x00, 0x02) or (cmd.p2 == 0x02 and cmd.p1 != 0x04):
            return _sw(SW.WRONG_P1P2)
        if cmd.p1 == 0x04:
            if not 5 <= len(cmd.data) <= 16:
                return _sw(SW.WRONG_LENGTH)
            return self._select_name(cmd.data, following=cmd.p2 == 0x02)
        if cmd.p1 == 0x00:
            if not cmd.data or cmd.data == b"\x3f\x00":
                return self._enter(MF)
            if len(cmd.data) != 2:
                return _sw(SW.WRONG_LENGTH)
            fid = int.from_bytes(cmd.data, "big")
            path = self._find_fid(fid)
        elif cmd.p1 == 0x02:
            if len(cmd.data) != 2:
                return _sw(SW.WRONG_LENGTH)
            fid = int.from_bytes(cmd.data, "big")
            path = self._child(s.df, lambda h: isinstance(h, EfHeader) and h.fid == fid)
        else:
            return _sw(SW.WRONG_P1P2)
        if path is None:
            return _sw(SW.FILE_NOT_FOUND)
        if isinstance(self._headers[path], DfHeader):
            return self._enter(path)
        s.select_ef(path)
        return _sw(SW.OK)

    def _find_fid(self, fid: int) -> str | None:
        df = self._session.df
        path = self._child(df, lambda h: h.fid == fid)
        if path is not None or df == MF:
            return path
        up = parent(df)
        path = self._child(up, lambda h: isinstance(h, DfHeader) and h.fid == fid)
        if path is None and self._headers[up].fid == fid:
            return up
        return path

    def _select_name(self, name: bytes, *, following: bool) -> Reply:
        current = self._session.df
        for path, aid in self._named:
            if aid.startswith(name) and (not following or path > current):
                return self._enter(path)
        return _sw(SW.FILE_NOT_FOUND)

    def _enter(self, path: str) -> Reply:
        self._session.enter_df(path)
        if self._blocked_df(path):
            return _sw(SW.APP_BLOCKED)
        header = self._headers[path]
        assert isinstance(header, DfHeader)
        return header.fci(), SW.OK

    # -- files ---------------------------------------------------------------------------------

    def _target(self, sfi: int) -> str | int:
        """The EF a command addresses: by SFI (then current) or the current EF."""
        s = self._session
        if sfi == 0:
            return s.ef if s.ef is not None else SW.NO_CURRENT_EF
        path = self._ef_by_sfi(sfi)
        if path is None:
            return SW.FILE_NOT_FOUND
        s.select_ef(path)
        return path

    def _binary_address(self, cmd: _Command) -> tuple[str, EfHeader, int] | int:
        if cmd.p1 & 0x80:
            if cmd.p1 & 0x60 or not cmd.p1 & 0x1F:
                return SW.WRONG_P1P2
            target = self._target(cmd.p1 & 0x1F)
            offset = cmd.p2
        else:
            target = self._target(0)
            offset = (cmd.p1 << 8) | cmd.p2
        if isinstance(target, int):
            return target
        header = self._headers[target]
        assert isinstance(header, EfHeader)
        if header.structure is not Structure.TRANSPARENT:
            return SW.INCOMPATIBLE_FILE
        return target, header, offset

    def _read_binary(self, cmd: _Command) -> Reply:
        """READ BINARY (Part 5 §6.9)."""
        if cmd.data:
            return _sw(SW.WRONG_LENGTH)
        address = self._binary_address(cmd)
        if isinstance(address, int):
            return _sw(address)
        path, header, offset = address
        if not self._allowed(header.read, parent(path)):
            return _sw(SW.SECURITY_NOT_SATISFIED)
        body = self.storage.read(body_key(path)) or b""
        if offset >= len(body):
            return _sw(SW.WRONG_OFFSET)
        remaining = len(body) - offset
        if cmd.le is None or cmd.le == 256:
            count = min(256, remaining)
        elif cmd.le > remaining:
            return _sw(wrong_le(remaining))
        else:
            count = cmd.le
        return body[offset : offset + count], SW.OK

    def _update_binary(self, cmd: _Command) -> Reply:
        """UPDATE BINARY (Part 5 §6.12), CLA ``04`` with a MAC under the DF's STK."""
        data = self._unwrap(cmd) if cmd.cla == 0x04 else cmd.data
        if isinstance(data, int):
            return _sw(data)
        if not data:
            return _sw(SW.WRONG_LENGTH)
        address = self._binary_address(cmd)
        if isinstance(address, int):
            return _sw(address)
        path, header, offset = address
        if not self._allowed(header.write, parent(path)):
            return _sw(SW.SECURITY_NOT_SATISFIED)
        body = self.storage.read(body_key(path)) or b""
        if offset >= len(body):
            return _sw(SW.WRONG_OFFSET)
        if offset + len(data) > len(body):
            return _sw(SW.WRONG_LENGTH)
        self._write({body_key(path): body[:offset] + data + body[offset + len(data) :]})
        return _sw(SW.OK)

    def _record_file(self, cmd: _Command) -> tuple[str, EfHeader] | int:
        if cmd.p2 >> 3 == 0x1F or cmd.p2 & 0x07 == 0x07:
            return SW.WRONG_P1P2
        target = self._target(cmd.p2 >> 3)
        if isinstance(target, int):
            return target
        header = self._headers[target]
        assert isinstance(header, EfHeader)
        if not header.structure.records:
            return SW.INCOMPATIBLE_FILE
        return target, header

    def _read_record(self, cmd: _Command) -> Reply:
        """READ RECORD (Part 5 §6.10): by number, P1 to last, last to P1, by identifier."""
        if cmd.data:
            return _sw(SW.WRONG_LENGTH)
        found = self._record_file(cmd)
        if isinstance(found, int):
            return _sw(found)
        path, header = found
        if not self._allowed(header.read, parent(path)):
            return _sw(SW.SECURITY_NOT_SATISFIED)
        s = self._session
        records = recordfile.split(
            header.structure, header.record_length, self.storage.read(body_key(path)) or b""
        )
        mode = cmd.p2 & 0x07
        if mode >= 4:
            start = cmd.p1 - 1 if cmd.p1 else s.record
            if start is None or start >= len(records):
                return _sw(SW.RECORD_NOT_FOUND)
            if mode == 4:
                out = records[start]
            else:
                chosen = records[start:] if mode == 5 else records[start:][::-1]
                out = b""
                for record in chosen:
                    if len(out) + len(record) > _MULTI_RECORD_MAX:
                        break
                    out += record
            index = s.record
        else:
            hit = recordfile.find(records, cmd.p1, mode, s.record)
            if hit is None:
                return _sw(SW.RECORD_NOT_FOUND)
            index = hit
            out = records[hit]
        if cmd.le is None or cmd.le > len(out) or (cmd.le == 256 and len(out) != 256):
            return _sw(wrong_le(len(out)))
        s.record = index
        return out[: cmd.le], SW.OK

    def _update_record(self, cmd: _Command) -> Reply:
        """UPDATE RECORD (Part 5 §6.13): replace or append; cyclic files append on "previous"."""
        data = self._unwrap(cmd) if cmd.cla == 0x04 else cmd.data
        if isinstance(data, int):
            return _sw(data)
        if not data:
            return _sw(SW.WRONG_LENGTH)
        mode = cmd.p2 & 0x07
        if mode > 4:
            return _sw(SW.WRONG_P1P2)
        found = self._record_file(cmd)
        if isinstance(found, int):
            return _sw(found)
        path, header = found
        if not self._allowed(header.write, parent(path)):
            return _sw(SW.SECURITY_NOT_SATISFIED)
        s = self._session
        records = recordfile.split(
            header.structure, header.record_length, self.storage.read(body_key(path)) or b""
        )
        structure = header.structure
        if structure is Structure.LINEAR_VARIABLE:
            if not recordfile.valid_tlv_record(data):
                return _sw(SW.LC_TLV_INCONSISTENT)
            if mode < 4 and cmd.p1 and data[0] != cmd.p1:
                return _sw(SW.WRONG_DATA)
        elif len(data) != header.record_length:
            return _sw(SW.WRONG_LENGTH)
        if mode == 4:
            index = cmd.p1 - 1 if cmd.p1 else s.record
            if index is None:
                return _sw(SW.RECORD_NOT_FOUND)
        elif structure is Structure.CYCLIC and mode == recordfile.PREVIOUS:
            index = -1
        else:
            index = recordfile.find(records, cmd.p1, mode, s.record)
            if index is None:
                if structure is not Structure.LINEAR_VARIABLE:
                    return _sw(SW.RECORD_NOT_FOUND)
                index = len(records)
        if index == -1:
            records = [data, *records][: header.records]
            index = 0
        elif index < len(records):
            records[index] = data
        elif index == len(records) and structure is Structure.LINEAR_VARIABLE:
            records.append(data)
        else:
            return _sw(SW.RECORD_NOT_FOUND)
        body = recordfile.join(records)
        if len(body) > header.capacity:
            return _sw(SW.NO_SPACE)
        self._write({body_key(path): body})
        if mode < 4 or not cmd.p1:
            s.record = index
        return _sw(SW.OK)

    # -- PIN -------------------------------------------------------------------------------------

    def _verify(self, cmd: _Command) -> Reply:
        """VERIFY (Part 5 §6.14; Part 7 §5.6–5.8); empty data asks for the tries left."""
        if cmd.p1 or cmd.p2:
            return _sw(SW.WRONG_P1P2)
        home = self._pin_home(self._session.df)
        if home is None:
            return _sw(SW.REF_NOT_FOUND)
        counter = counter_key(home, None)
        _, stored = self._pin_record(home)
        if not cmd.data:
            if not stored:
                return _sw(SW.OK)
            return _sw(_tries(self._left(counter)))
        if not 2 <= len(cmd.data) <= 8:
            return _sw(SW.WRONG_LENGTH)
        if self._left(counter) == 0:
            return _sw(SW.AUTH_BLOCKED)
        entered = _pin_bytes(cmd.data)
        if entered is None:
            return _sw(SW.WRONG_DATA)
        return self._compare_pin(home, entered, stored, None)

    def _compare_pin(self, home: str, entered: bytes, stored: bytes, new: bytes | None) -> Reply:
        """Spend a try, compare, then reset the counter (and set ``new``) on success."""
        counter = counter_key(home, None)
        left = self._spend_try(counter)
        if left is None:
            return _sw(SW.AUTH_BLOCKED)
        if not (stored and hmac.compare_digest(entered, stored)) and (entered or stored):
            self._session.pin_ok.discard(home)
            return _sw(_tries(left))
        allowed, _ = self._pin_record(home)
        writes = {counter: bytes((allowed,))}
        if new is not None:
            writes[pin_key(home)] = bytes((allowed,)) + new
        self._write(writes)
        self._session.pin_ok.add(home)
        return _sw(SW.OK)

    def _change_pin(self, cmd: _Command) -> Reply:
        """CHANGE PIN ``80 5E 01 00``: old PIN ‖ ``FF`` ‖ new PIN in clear (Part 5 §6.3)."""
        if cmd.p1 != 0x01 or cmd.p2 != 0x00:
            return _sw(SW.WRONG_P1P2)
        if not 3 <= len(cmd.data) <= 0x11:
            return _sw(SW.WRONG_LENGTH)
        home = self._pin_home(self._session.df)
        if home is None:
            return _sw(SW.REF_NOT_FOUND)
        old, sep, new = cmd.data.partition(b"\xff")
        if not sep or (old and _pin_bytes(old) is None) or (new and _pin_bytes(new) is None):
            return _sw(SW.WRONG_DATA)
        if self._left(counter_key(home, None)) == 0:
            return _sw(SW.AUTH_BLOCKED)
        _, stored = self._pin_record(home)
        return self._compare_pin(home, old, stored, new)

    def _pin_unblock(self, cmd: _Command) -> Reply:
        """PIN CHANGE/UNBLOCK ``84 24 00 P2`` (Part 5 §6.8): MAC, and a new PIN encrypted."""
        if cmd.p1 or cmd.p2 not in (0x00, 0x01):
            return _sw(SW.WRONG_P1P2)
        s = self._session
        home = self._pin_home(s.df)
        stk = self._mac_key(home) if home is not None else None
        if home is None or stk is None:
            return _sw(SW.REF_NOT_FOUND)
        size = stk.algorithm.block_size
        body = cmd.data[:-4]
        if cmd.p2 == 0x00 and len(cmd.data) != 4:
            return _sw(SW.WRONG_LENGTH)
        if cmd.p2 == 0x01 and (not body or len(body) % size):
            return _sw(SW.WRONG_LENGTH)
        unblock = [kid for (df, kid) in s.auths if df == home and self._is_unblock(df, kid)]
        if not unblock:
            return _sw(SW.SECURITY_NOT_SATISFIED)
        challenge = s.challenge
        sw = self._check_mac(cmd, stk, body)
        if sw != SW.OK:
            return _sw(sw)
        allowed, _ = self._pin_record(home)
        writes = {counter_key(home, None): bytes((allowed,))}
        if cmd.p2 == 0x01:
            assert challenge is not None
            sk = session_key(stk.key, challenge, stk.algorithm)
            try:
                new = decrypt_data(sk, body, stk.algorithm)
            except CryptoError:
                return _sw(SW.WRONG_DATA)
            if new and _pin_bytes(new) is None:
                return _sw(SW.WRONG_DATA)
            writes[pin_key(home)] = bytes((allowed,)) + new
        self._write(writes)
        return _sw(SW.OK)

    def _is_unblock(self, df: str, kid: int) -> bool:
        versions = self._keys.get((df, kid), {})
        return any(r.role is Role.UNBLOCK for r in versions.values())

    # -- authentication ------------------------------------------------------------------------

    def _get_challenge(self, cmd: _Command) -> Reply:
        """GET CHALLENGE (Part 5 §6.5): 4, 8 or 16 bytes, good for one use."""
        if cmd.p1 or cmd.p2:
            return _sw(SW.WRONG_P1P2)
        if cmd.data or cmd.le not in (4, 8, 16):
            return _sw(SW.WRONG_LENGTH)
        challenge = self._random(cmd.le)
        self._session.challenge = challenge
        return challenge, SW.OK

    def _external_auth(self, cmd: _Command) -> Reply:
        """EXTERNAL AUTHENTICATE (Part 5 §6.4): auth(8) ‖ original(8) ‖ [version].

        Part 7 §6.6: a key whose counter is 0 is locked (``6983``) whatever else the
        command holds; the challenge is consumed all the same.
        """
        s = self._session
        if cmd.p1:
            return _sw(SW.WRONG_P1P2)
        if len(cmd.data) not in (16, 17):
            return _sw(SW.WRONG_LENGTH)
        kid = cmd.p2
        version = cmd.data[16] if len(cmd.data) == 17 else None
        record = self._key(s.df, kid, version)
        if record is None or record.role not in (Role.AUTH, Role.MASTER, Role.UNBLOCK):
            return _sw(SW.REF_NOT_FOUND)
        home = home_of(s.df, kid)
        challenge = s.take_challenge()
        counter = counter_key(home, kid)
        if record.tries and self._left(counter) == 0:
            return _sw(SW.AUTH_BLOCKED)
        if challenge is None or len(challenge) > record.algorithm.block_size:
            return _sw(SW.REF_DATA_INVALID)
        left = 0
        if record.tries:
            spent = self._spend_try(counter)
            if spent is None:
                return _sw(SW.AUTH_BLOCKED)
            left = spent
        sk = session_key(record.key, challenge, record.algorithm)
        expected = auth_data(sk, cmd.data[8:16], record.algorithm)
        if not hmac.compare_digest(expected, cmd.data[:8]):
            s.revoke(home, kid)
            return _sw(_tries(left) if record.tries else AUTH_FAILED)
        if record.tries:
            self._write({counter: bytes((record.tries,))})
        s.grant(home, kid)
        return _sw(SW.OK)

    def _internal_auth(self, cmd: _Command) -> Reply:
        """INTERNAL AUTHENTICATE (Part 5 §6.7): R1 (session input) ‖ R2 ‖ [version] → auth(R2)."""
        if cmd.p1:
            return _sw(SW.WRONG_P1P2)
        if len(cmd.data) not in (16, 17):
            return _sw(SW.WRONG_LENGTH)
        version = cmd.data[16] if len(cmd.data) == 17 else None
        record = self._key(self._session.df, cmd.p2, version)
        if record is None or record.role is not Role.INTERNAL:
            return _sw(SW.REF_NOT_FOUND)
        sk = session_key(record.key, cmd.data[:8], record.algorithm)
        return auth_data(sk, cmd.data[8:16], record.algorithm), SW.OK

    # -- blocking ------------------------------------------------------------------------------

    def _application_block(self, cmd: _Command) -> Reply:
        """APPLICATION BLOCK ``84 1E 00 01`` (Part 5 §6.1; Part 7 §13.2)."""
        if cmd.p1 != 0x00 or cmd.p2 != 0x01:
            return _sw(SW.WRONG_P1P2)
        if len(cmd.data) != 4:
            return _sw(SW.WRONG_LENGTH)
        df = self._session.df
        header = self._headers[df]
        if df == MF or not isinstance(header, DfHeader):
            return _sw(SW.CONDITIONS_NOT_SATISFIED)
        if not self._allowed(header.block, df):
            return _sw(SW.SECURITY_NOT_SATISFIED)
        sw = self._check_mac(cmd, self._mac_key(df), b"")
        if sw != SW.OK:
            return _sw(sw)
        self._write({block_key(df): b"\x01"})
        self._blocked.add(df)
        return _sw(SW.OK)

    def _card_block(self, cmd: _Command) -> Reply:
        """CARD BLOCK ``84 16 00 00`` (Part 5 §6.2): every later command answers ``6A81``."""
        if cmd.p1 or cmd.p2:
            return _sw(SW.WRONG_P1P2)
        if len(cmd.data) != 4:
            return _sw(SW.WRONG_LENGTH)
        s = self._session
        env = s.df.partition("/")[0]
        header = self._headers[env]
        if env == MF or not isinstance(header, DfHeader):
            return _sw(SW.CONDITIONS_NOT_SATISFIED)
        if not self._allowed(header.block, s.df):
            return _sw(SW.SECURITY_NOT_SATISFIED)
        sw = self._check_mac(cmd, self._mac_key(env), b"")
        if sw != SW.OK:
            return _sw(sw)
        self._write({LIFE_KEY: LIFE_BLOCKED})
        self._card_blocked = True
        return _sw(SW.OK)

    # -- personalisation -----------------------------------------------------------------------

    def _create_file(self, cmd: _Command) -> Reply:
        """CREATE FILE ``80 E0 00 00`` (COS-specific; Part 10 §5.2.2–5.2.4)."""
        s = self._session
        if cmd.p1 or cmd.p2:
            return _sw(SW.WRONG_P1P2)
        if not cmd.data:
            return _sw(SW.WRONG_LENGTH)
        authority = self._master_df(s.df)
        if authority is None:
            return _sw(SW.CONDITIONS_NOT_SATISFIED)
        if (authority, self._masters[authority]) not in s.auths:
            return _sw(SW.SECURITY_NOT_SATISFIED)
        try:
            header = decode_header(cmd.data)
        except (HeaderError, IndexError):
            return _sw(SW.WRONG_DATA)
        if header.fid == MF_FID:
            return _sw(SW.WRONG_DATA)
        path = header.name if s.df == MF else f"{s.df}/{header.name}"
        if self._conflicts(s.df, path, header):
            return _sw(SW.FILE_NOT_FOUND)
        writes = {header_key(path): cmd.data}
        if isinstance(header, EfHeader):
            writes[body_key(path)] = header.initial_body()
        self._write(writes)
        self._index_file(path, header)
        bisect.insort(self._children[s.df], path)
        return _sw(SW.OK)

    def _conflicts(self, df: str, path: str, header: EfHeader | DfHeader) -> bool:
        if path in self._headers:
            return True
        for sibling in self._children.get(df, ()):
            other = self._headers[sibling]
            if header.fid is not None and other.fid == header.fid:
                return True
            if (
                isinstance(header, EfHeader)
                and isinstance(other, EfHeader)
                and header.sfi is not None
                and header.sfi == other.sfi
            ):
                return True
        if isinstance(header, DfHeader) and header.aid:
            return any(aid == header.aid for _, aid in self._named)
        return False

    def _write_key(self, cmd: _Command) -> Reply:
        """WRITE KEY ``84 D4 P1 P2`` (COS-specific; Part 10 §5.2.5–5.2.6, §6.1.2).

        P1 ``00``: a key, P2 its KID; P1 ``01``: the PIN of the current DF. The data is
        the plaintext encrypted under the master key in control (LD ‖ data, ``80``-padded,
        ECB; SPEC §5.2), then a MAC under the same key with the card's challenge as IV
        (as the PSAM's key commands, Part 9 §7.1.3).
        """
        s = self._session
        if cmd.p1 not in (0x00, 0x01) or (cmd.p1 == 0x01 and cmd.p2):
            return _sw(SW.WRONG_P1P2)
        authority = self._master_df(s.df)
        if authority is None:
            return _sw(SW.CONDITIONS_NOT_SATISFIED)
        master = self._key(authority, self._masters[authority])
        assert master is not None
        size = master.algorithm.block_size
        body = cmd.data[:-4]
        if not body or len(body) % size:
            return _sw(SW.WRONG_LENGTH)
        challenge = s.take_challenge()
        if challenge is None or len(challenge) > size:
            return _sw(SW.REF_DATA_INVALID)
        expected = mac(master.key, cmd.mac_header + body, master.algorithm, iv=challenge)
        if not hmac.compare_digest(expected, cmd.data[-4:]):
            return _sw(SW.SM_INCORRECT)
        try:
            plain = decrypt_data(master.key, body, master.algorithm)
        except CryptoError:
            return _sw(SW.WRONG_DATA)
        if cmd.p1 == 0x01:
            if (
                not plain
                or not 1 <= plain[0] <= 0x0F
                or (plain[1:] and _pin_bytes(plain[1:]) is None)
            ):
                return _sw(SW.WRONG_DATA)
            self._write({pin_key(s.df): plain, counter_key(s.df, None): plain[:1]})
            self._pins.add(s.df)
            return _sw(SW.OK)
        try:
            record = KeyRecord.from_bytes(plain)
        except HeaderError:
            return _sw(SW.WRONG_DATA)
        home = home_of(s.df, cmd.p2)
        if home not in self._headers:
            return _sw(SW.FILE_NOT_FOUND)
        writes = {key_record_key(home, cmd.p2, record.version): plain}
        if record.tries:
            writes[counter_key(home, cmd.p2)] = bytes((record.tries,))
        self._write(writes)
        self._index_key(home, cmd.p2, record.version, record)
        return _sw(SW.OK)

    # -- the medical purse ---------------------------------------------------------------------

    def _purse_path(self) -> str | None:
        return self._child(
            self._session.df,
            lambda h: isinstance(h, EfHeader) and h.structure is Structure.PURSE,
        )

    def _purse_key(self, name: str, version: int | None = None) -> KeyRecord | None:
        return self._key(self._session.df, COS_KIDS[name], version)

    def _purse_step(self, command: P.Command) -> P.State | None:
        """The purse state after ``command`` per table 49, or ``None`` (then ``6901``)."""
        s = self._session
        after = P.TRANSITIONS.get((s.purse, command))
        if after is None:
            s.purse_idle()
        return after

    def _fail(self, sw: int) -> Reply:
        self._session.purse_idle()
        return _sw(sw)

    def _initialize(self, cmd: _Command) -> Reply:
        """INITIALIZE FOR LOAD ``B0 28 00 01`` / FOR PURCHASE ``B0 28 01 01`` (Part 5 §7.5–7.6)."""
        s = self._session
        if cmd.p1 not in (0x00, 0x01) or cmd.p2 != 0x01:
            return self._fail(SW.WRONG_P1P2)
        purchase = cmd.p1 == 0x01
        step = P.Command.INITIALIZE_FOR_PURCHASE if purchase else P.Command.INITIALIZE_FOR_LOAD
        after = self._purse_step(step)
        if after is None:
            return _sw(SW.INVALID_STATE)
        if len(cmd.data) != (0x13 if purchase else 0x0B):
            return self._fail(SW.WRONG_LENGTH)
        path = self._purse_path()
        if path is None:
            return self._fail(SW.CONDITIONS_NOT_SATISFIED)
        if not self._pin_satisfied(s.df):
            return self._fail(SW.SECURITY_NOT_SATISFIED)
        key = self._purse_key("DPK" if purchase else "DLK", cmd.data[0])
        if key is None:
            return self._fail(SW.KEY_INDEX_NOT_SUPPORTED)
        purse = P.PurseData.from_bytes(self.storage.read(body_key(path)) or b"")
        random = self._random(4)
        head = bytes((key.version, key.algorithm.value))
        if purchase:
            amounts = (
                int.from_bytes(cmd.data[1:5], "big"),
                int.from_bytes(cmd.data[5:9], "big"),
                int.from_bytes(cmd.data[9:13], "big"),
            )
            if purse.purchase_seq >= P.COUNTER_MAX:
                return self._fail(SW.COUNTER_MAX)
            if amounts[0] > purse.balance:
                return self._fail(SW.INSUFFICIENT_FUNDS)
            context = PurseContext(
                key.version, random, purse.purchase_seq, cmd.data[13:19], amounts
            )
            reply = (
                purse.balance.to_bytes(4, "big")
                + purse.spip.to_bytes(4, "big")
                + purse.spfp.to_bytes(4, "big")
                + purse.year_bytes
                + purse.purchase_seq.to_bytes(2, "big")
                + head
                + random
            )
        else:
            amount = int.from_bytes(cmd.data[1:5], "big")
            terminal = cmd.data[5:11]
            if purse.load_seq >= P.COUNTER_MAX:
                return self._fail(SW.COUNTER_MAX)
            if purse.balance + amount > P.BALANCE_MAX:
                return self._fail(SW.CONDITIONS_NOT_SATISFIED)
            seslk = P.load_session_key(key.key, random, purse.load_seq, key.algorithm)
            mac1 = P.load_mac1(seslk, purse.balance, amount, terminal, key.algorithm)
            context = PurseContext(
                key.version, random, purse.load_seq, terminal, (amount, 0, 0), seslk
            )
            reply = (
                purse.balance.to_bytes(4, "big")
                + purse.load_seq.to_bytes(2, "big")
                + head
                + random
                + mac1
            )
        s.purse = after
        s.purse_context = context
        return reply, SW.OK

    def _log(self, path: str, record: bytes) -> tuple[str, bytes] | None:
        """The purse DF's EF08 with ``record`` added as the newest (Part 7 §11.8, §12.6)."""
        log = self._child(parent(path), lambda h: isinstance(h, EfHeader) and h.fid == 0xEF08)
        if log is None:
            return None
        header = self._headers[log]
        assert isinstance(header, EfHeader)
        records = recordfile.split(
            header.structure, header.record_length, self.storage.read(body_key(log)) or b""
        )
        records = [record[: header.record_length], *records][: header.records]
        return body_key(log), recordfile.join(records)

    def _dtk(self) -> KeyRecord | None:
        return self._purse_key("DTK")

    def _debit(self, cmd: _Command) -> Reply:
        """DEBIT FOR PURCHASE ``B0 2C 01 00``: terminal seq ‖ time ‖ MAC1 → TAC ‖ MAC2."""
        s = self._session
        if cmd.p1 != 0x01 or cmd.p2 != 0x00:
            return self._fail(SW.WRONG_P1P2)
        if self._purse_step(P.Command.DEBIT_FOR_PURCHASE) is None:
            return _sw(SW.INVALID_STATE)
        if len(cmd.data) != 0x0F:
            return self._fail(SW.WRONG_LENGTH)
        context, path = s.purse_context, self._purse_path()
        terminal_seq, time, mac1 = cmd.data[0:4], cmd.data[4:11], cmd.data[11:15]
        when = _bcd_time(time)
        if when is None:
            return self._fail(SW.WRONG_DATA)
        dpk = self._purse_key("DPK", context.key_version) if context else None
        dtk = self._dtk()
        if context is None or path is None or dpk is None or dtk is None:
            return self._fail(SW.CONDITIONS_NOT_SATISFIED)
        alg = dpk.algorithm
        sespk = P.purchase_session_key(dpk.key, context.random, context.seq, terminal_seq, alg)
        expected = P.purchase_mac1(sespk, context.amounts, context.terminal, time, alg)
        if not hmac.compare_digest(expected, mac1):
            return self._fail(SW.MAC_INVALID)
        purse = P.PurseData.from_bytes(self.storage.read(body_key(path)) or b"")
        account, self_paid, pooled = context.amounts
        if account > purse.balance:
            return self._fail(SW.INSUFFICIENT_FUNDS)
        purse = P.settle_year(purse, when.date(), self_paid, pooled)
        if max(purse.spip, purse.spfp) > P.BALANCE_MAX:  # b 4, as the balance (S2 §7)
            return self._fail(SW.CONDITIONS_NOT_SATISFIED)
        purse = P.PurseData(
            purse.load_seq,
            purse.purchase_seq + 1,
            purse.balance - account,
            purse.spip,
            purse.spfp,
            purse.year,
            purse.start,
        )
        mac2 = P.purchase_mac2(sespk, context.amounts, alg)
        tac = P.purchase_tac(dtk.key, context.amounts, context.terminal, terminal_seq, time, alg)
        record = (
            context.seq.to_bytes(2, "big")
            + P.PURCHASE
            + context.terminal
            + time
            + account.to_bytes(4, "big")
            + self_paid.to_bytes(4, "big")
            + pooled.to_bytes(4, "big")
        )
        self._commit_transaction(path, purse, record, P.PURCHASE, context.seq, mac2, tac)
        s.purse_idle()
        return tac + mac2, SW.OK

    def _commit_transaction(
        self,
        path: str,
        purse: P.PurseData,
        record: bytes,
        kind: bytes,
        seq: int,
        mac_value: bytes,
        tac: bytes,
    ) -> None:
        df = parent(path)
        writes = {
            body_key(path): purse.to_bytes(),
            proof_key(df): kind + seq.to_bytes(2, "big") + mac_value + tac,
        }
        log = self._log(path, record)
        if log is not None:
            writes[log[0]] = log[1]
        self._write(writes)

    def _credit(self, cmd: _Command) -> Reply:
        """CREDIT FOR LOAD ``B0 2A 00 00``: host time ‖ MAC2 → TAC (Part 5 §7.1)."""
        s = self._session
        if cmd.p1 or cmd.p2:
            return self._fail(SW.WRONG_P1P2)
        if self._purse_step(P.Command.CREDIT_FOR_LOAD) is None:
            return _sw(SW.INVALID_STATE)
        if len(cmd.data) != 0x0B:
            return self._fail(SW.WRONG_LENGTH)
        context, path, dtk = s.purse_context, self._purse_path(), self._dtk()
        time, mac2 = cmd.data[:7], cmd.data[7:11]
        if _bcd_time(time) is None:
            return self._fail(SW.WRONG_DATA)
        if context is None or path is None or dtk is None:
            return self._fail(SW.CONDITIONS_NOT_SATISFIED)
        amount = context.amounts[0]
        alg = dtk.algorithm
        expected = P.load_mac2(context.session_key, amount, context.terminal, time, alg)
        if not hmac.compare_digest(expected, mac2):
            return self._fail(SW.MAC_INVALID)
        purse = P.PurseData.from_bytes(self.storage.read(body_key(path)) or b"")
        if purse.balance + amount > P.BALANCE_MAX:
            return self._fail(SW.CONDITIONS_NOT_SATISFIED)
        balance = purse.balance + amount
        purse = P.PurseData(
            purse.load_seq + 1,
            purse.purchase_seq,
            balance,
            purse.spip,
            purse.spfp,
            purse.year,
            purse.start,
        )
        tac = P.load_tac(dtk.key, balance, context.seq, amount, context.terminal, time, alg)
        record = (
            context.seq.to_bytes(2, "big")
            + P.LOAD
            + context.terminal
            + time
            + amount.to_bytes(4, "big")
            + bytes(8)
        )
        self._commit_transaction(path, purse, record, P.LOAD, context.seq, mac2, tac)
        s.purse_idle()
        return tac, SW.OK

    def _get_balance(self, cmd: _Command) -> Reply:
        """GET BALANCE ``B0 26 00 01/02/03`` (Part 5 §7.3): CIA, or SPIP/SPFP ‖ year."""
        if cmd.p1 or cmd.p2 not in (0x01, 0x02, 0x03):
            return self._fail(SW.WRONG_P1P2)
        after = self._purse_step(P.Command.GET_BALANCE)
        if after is None:
            return _sw(SW.INVALID_STATE)
        if cmd.data or cmd.le != (4 if cmd.p2 == 0x01 else 6):
            return self._fail(SW.WRONG_LENGTH)
        path = self._purse_path()
        if path is None:
            return self._fail(SW.CONDITIONS_NOT_SATISFIED)
        if not self._pin_satisfied(self._session.df):
            return self._fail(SW.SECURITY_NOT_SATISFIED)
        purse = P.PurseData.from_bytes(self.storage.read(body_key(path)) or b"")
        if cmd.p2 == 0x01:
            return purse.balance.to_bytes(4, "big"), SW.OK
        total = purse.spip if cmd.p2 == 0x02 else purse.spfp
        return total.to_bytes(4, "big") + purse.year_bytes, SW.OK

    def _get_proof(self, cmd: _Command) -> Reply:
        """GET TRANSACTION PROOF ``B0 2E 00 type 02 seq`` → MAC ‖ TAC (Part 5 §7.4; Part 7 §14)."""
        if cmd.p1:
            return self._fail(SW.WRONG_P1P2)
        if self._purse_step(P.Command.GET_TRANSACTION_PROOF) is None:
            return _sw(SW.INVALID_STATE)
        if len(cmd.data) != 2:
            return self._fail(SW.WRONG_LENGTH)
        path = self._purse_path()
        if path is None:
            return self._fail(SW.CONDITIONS_NOT_SATISFIED)
        proof = self.storage.read(proof_key(parent(path)))
        if proof is None or proof[0] != cmd.p2 or proof[1:3] != cmd.data:
            return self._fail(SW.MAC_NOT_AVAILABLE)
        return proof[3:11], SW.OK

    def _starting_day(self, cmd: _Command) -> Reply:
        """UPDATE STARTING DAY ``B0 56 00 00`` (DSK) / GET STARTING DAY ``B0 56 01 00``."""
        s = self._session
        if cmd.p2 or cmd.p1 not in (0x00, 0x01):
            return _sw(SW.WRONG_P1P2)
        path = self._purse_path()
        if cmd.p1 == 0x01:
            if cmd.data or cmd.le != 2:
                return _sw(SW.WRONG_LENGTH)
            if path is None:
                return _sw(SW.CONDITIONS_NOT_SATISFIED)
            if not self._pin_satisfied(s.df):
                return _sw(SW.SECURITY_NOT_SATISFIED)
            return (self.storage.read(body_key(path)) or bytes(PURSE_SIZE))[18:20], SW.OK
        if len(cmd.data) != 2:
            return _sw(SW.WRONG_LENGTH)
        if path is None:
            return _sw(SW.CONDITIONS_NOT_SATISFIED)
        if not s.authenticated(s.df, COS_KIDS["DSK"]):
            return _sw(SW.SECURITY_NOT_SATISFIED)
        try:
            datetime.date(2000, int(cmd.data.hex()[:2]), int(cmd.data.hex()[2:]))
        except ValueError:
            return _sw(SW.WRONG_DATA)
        body = self.storage.read(body_key(path)) or bytes(PURSE_SIZE)
        self._write({body_key(path): body[:18] + cmd.data})
        return _sw(SW.OK)


Handler = Callable[[UserCard, _Command], Reply]

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
