"""The state the user card's command groups share: index, access conditions, MAC checks.

:class:`CardCore` indexes what the card's storage holds (:mod:`.fcp` lists the keys),
answers whether an access condition is met and checks the MAC of a
secure-messaging command (Part 4 §8.2.4).  A command the card refuses raises
:class:`~sbkcard.applet_model.applet.CardRefusal` with its status word.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Container

from sbkcard.apdu.command import CommandAPDU
from sbkcard.apdu.secure_messaging import verify_mac
from sbkcard.apdu.status import SW, tries_left
from sbkcard.applet_model.applet import CardRefusal
from sbkcard.applet_model.storage import Storage
from sbkcard.applet_model.tree import Rule, permits
from sbkcard.applet_model.user_card.fcp import (
    LIFE_BLOCKED,
    MF,
    MF_FID,
    Condition,
    DfHeader,
    EfHeader,
    HeaderError,
    KeyRecord,
    Role,
    decode_header,
    parent,
    pin_key,
)
from sbkcard.applet_model.user_card.session import Session, home_of
from sbkcard.keys import session_key

__all__ = [
    "ATR_KEY",
    "LIFE_KEY",
    "RANGE_REFUSAL_KEY",
    "CardCore",
    "Reply",
    "capped_tries",
    "sw_only",
]

ATR_KEY = "cos:atr"
LIFE_KEY = "cos:life"
RANGE_REFUSAL_KEY = "cos:range-refusal"

Reply = tuple[bytes, int]
"""A response: data and the status word."""


def sw_only(sw: int) -> Reply:
    """A response with no data."""
    return b"", sw


def capped_tries(left: int) -> int:
    """``63Cx``, a counter read from storage capped at the 15 tries one nibble holds."""
    return tries_left(min(left, 0x0F))


class CardCore:
    """What every command group of :class:`~sbkcard.applet_model.user_card.card.UserCard` shares.

    The index of files, keys, PINs and blocked DFs (derived from storage at power-on),
    the access-condition checks and the MAC checks of secure messaging (Part 4 §8). The
    state itself is set up by :class:`~sbkcard.applet_model.user_card.card.UserCard`.
    """

    storage: Storage
    _random: Callable[[int], bytes]
    _session: Session
    _headers: dict[str, EfHeader | DfHeader]
    _children: dict[str, list[str]]
    _named: list[tuple[str, bytes]]
    _sfis: dict[tuple[str, int], str]
    _keys: dict[tuple[str, int], dict[int, KeyRecord]]
    _masters: dict[str, int]
    _pins: set[str]
    _blocked: set[str]
    _card_blocked: bool
    _range_refusal: int | None

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
        refusal = read(RANGE_REFUSAL_KEY)
        self._range_refusal = int.from_bytes(refusal) if refusal else None

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
        return bool(self._blocked) and self._nearest(df, self._blocked) is not None

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
        if cond.rule is Rule.FREE:  # the hot path of every free read: nothing to look up
            return True
        return permits(
            cond.rule,
            lambda: self._pin_satisfied(df),
            lambda: self._session.authenticated(df, cond.kid),
        )

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

    def _check_mac(self, cmd: CommandAPDU, key: KeyRecord | None) -> None:
        """Refuse a command whose MAC is wrong under the session key of ``key`` and the
        challenge (the MAC input starts with CLA INS P1 P2 Lc, Part 4 §8.2.4)."""
        if key is None:
            raise CardRefusal(SW.REF_NOT_FOUND)
        challenge = self._session.take_challenge()
        if challenge is None or len(challenge) > key.algorithm.block_size:
            raise CardRefusal(SW.REF_DATA_INVALID)
        sk = session_key(key.key, challenge, key.algorithm)
        if not verify_mac(cmd, sk, key.algorithm):
            raise CardRefusal(SW.SM_INCORRECT)

    def _unwrap(self, cmd: CommandAPDU) -> bytes:
        """The data of a CLA ``04`` command with its MAC checked and removed (Part 4 §8)."""
        if len(cmd.data) < 5:
            raise CardRefusal(SW.SM_MISSING)
        body = cmd.data[:-4]
        self._check_mac(cmd, self._mac_key(self._session.df))
        return body
