"""The hotlist (黑名单) of cards reported lost or replaced (Part 8 §7, Part 7 §5.4).

A terminal checks every card against the hotlist before it does anything that matters
with it (Part 7 §5.4: "该卡是否在终端存储的黑名单之列（使用卡的标识码和卡号）").
Part 8 §7.1 asks for two kinds of record: one card (card identification code and card
number) and a range of card numbers; both are here.

The API other parts call (issuance calls :meth:`Hotlist.report` and
:meth:`Hotlist.replace`):

* ``Hotlist(path)`` opens (and creates) the database: an SQLite file (``":memory:"`` for
  tests) or a ``postgresql://`` URL (:mod:`sbkcard.database`).  Several processes may
  create the same new hotlist at once: the schema (:data:`MIGRATIONS`) and its recorded
  version are made in one transaction.
* :meth:`~Hotlist.report` (挂失) lists a card with a reason; :meth:`~Hotlist.lift`
  (解挂) takes a lost card off the list again; :meth:`~Hotlist.replace` (补卡) lists the
  old card for good, naming its replacement; :meth:`~Hotlist.report_range` lists a range
  of card numbers.
* :meth:`~Hotlist.check` returns the matching :class:`HotlistEntry` or ``None``;
  :meth:`~Hotlist.ensure_clear` raises :class:`~sbkcard.terminal.errors.HotlistedCardError`.
* :meth:`~Hotlist.history` lists every report, lift and replacement, oldest first.

A database that cannot be opened, is not a hotlist, is corrupt or stays locked raises
:class:`~sbkcard.terminal.errors.HotlistError` naming the file: a broken hotlist never
lets a card through.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Final

from sbkcard.database import ConstraintViolation, Database, Migration, shown
from sbkcard.terminal.errors import HotlistedCardError, HotlistError, InvalidInputError

_HOTLIST: Final = """
CREATE TABLE IF NOT EXISTS hotlist (
    card_number TEXT NOT NULL,
    card_id     TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('lost', 'replaced')),
    reason      TEXT NOT NULL,
    listed_at   TEXT NOT NULL,
    replaced_by TEXT,
    PRIMARY KEY (card_number, card_id)
)"""
_BY_ID: Final = "CREATE INDEX IF NOT EXISTS hotlist_by_id ON hotlist (card_id)"
_RANGE: Final = """
CREATE TABLE IF NOT EXISTS hotlist_range (
    first_number TEXT NOT NULL,
    last_number  TEXT NOT NULL,
    reason       TEXT NOT NULL,
    listed_at    TEXT NOT NULL,
    PRIMARY KEY (first_number, last_number)
)"""
_EVENT: Final = """
CREATE TABLE IF NOT EXISTS hotlist_event (
    seq         {seq},
    at          TEXT NOT NULL,
    action      TEXT NOT NULL,
    card_number TEXT NOT NULL,
    card_id     TEXT NOT NULL,
    reason      TEXT NOT NULL
)"""
MIGRATIONS: Final = (
    Migration(
        1,
        "hotlist of cards and of card-number ranges, with its history",
        {
            "sqlite": (
                _HOTLIST,
                _BY_ID,
                _RANGE,
                _EVENT.format(seq="INTEGER PRIMARY KEY AUTOINCREMENT"),
            ),
            "postgresql": (
                _HOTLIST,
                _BY_ID,
                _RANGE,
                _EVENT.format(seq="BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"),
            ),
        },
    ),
)
"""The hotlist's schema, step by step; the dialects differ only in the history's
sequence column.  ``IF NOT EXISTS``: step 1 adopts a hotlist made before migrations
were recorded."""
SCHEMA_VERSION: Final = MIGRATIONS[-1].version
_TABLES: Final = frozenset({"hotlist", "hotlist_range", "hotlist_event"})


class Kind(Enum):
    """Why a card is listed."""

    LOST = "lost"
    REPLACED = "replaced"
    RANGE = "range"


@dataclass(frozen=True)
class HotlistEntry:
    """One listing that matches a card."""

    card_number: str
    card_id: str
    kind: Kind
    reason: str
    listed_at: dt.datetime
    replaced_by: str | None = None


@dataclass(frozen=True)
class HotlistEvent:
    """One line of the history: ``action`` is ``report``, ``lift``, ``replace`` or ``range``."""

    at: dt.datetime
    action: str
    card_number: str
    card_id: str
    reason: str


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


class Hotlist:
    """A hotlist kept in the SQLite database at ``path`` (``":memory:"`` for a private one)
    or on the PostgreSQL server of a ``postgresql://`` URL.

    ``timeout`` is how long (seconds) to wait for another process's lock (or for the
    server) before :class:`HotlistError`; ``clock`` gives the time recorded with each entry.
    """

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        timeout: float = 2.0,
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        self.path = shown(path)
        self._clock = clock
        self._db = Database(path, name="hotlist", error=HotlistError, timeout=timeout)
        try:
            self._db.migrate("hotlist", MIGRATIONS, tables=_TABLES)
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> Hotlist:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _log(self, action: str, number: str, card_id: str, reason: str) -> None:
        self._db.execute(
            "INSERT INTO hotlist_event (at, action, card_number, card_id, reason) "
            "VALUES (?, ?, ?, ?, ?)",
            (self._clock().isoformat(), action, number, card_id, reason),
            action=action,
        )

    def _kind(self, number: str, cid: str, action: str) -> str | None:
        row = self._db.first(
            "SELECT kind FROM hotlist WHERE card_number = ? AND card_id = ?",
            (number, cid),
            action=action,
        )
        return None if row is None else str(row[0])

    def report(self, card_number: str, card_id: str, reason: str) -> HotlistEntry:
        """挂失: list the card (card number and 32-hex card identification code) as lost."""
        number, cid = _norm(card_number, card_id)
        reason = _reason(reason)
        at = self._clock()
        try:
            with self._db.transaction("report"):
                self._db.lock(f"hotlist/{number}")
                kind = self._kind(number, cid, "report")
                if kind is not None:
                    raise HotlistError(f"card {number} ({cid}) is already listed ({kind})")
                self._db.execute(
                    "INSERT INTO hotlist (card_number, card_id, kind, reason, listed_at) "
                    "VALUES (?, ?, 'lost', ?, ?)",
                    (number, cid, reason, at.isoformat()),
                    action="report",
                )
                self._log("report", number, cid, reason)
        except ConstraintViolation as exc:
            raise HotlistError(f"card {number} ({cid}) is already listed: {exc}") from None
        return HotlistEntry(number, cid, Kind.LOST, reason, at)

    def lift(self, card_number: str, card_id: str, reason: str) -> None:
        """解挂: take a card reported lost off the list (a replaced card stays listed)."""
        number, cid = _norm(card_number, card_id)
        reason = _reason(reason)
        with self._db.transaction("lift"):
            self._db.lock(f"hotlist/{number}")
            kind = self._kind(number, cid, "lift")
            if kind is None:
                raise HotlistError(f"card {number} ({cid}) is not on the hotlist")
            if kind == Kind.REPLACED.value:
                raise HotlistError(f"card {number} ({cid}) was replaced: it stays on the hotlist")
            self._db.execute(
                "DELETE FROM hotlist WHERE card_number = ? AND card_id = ?",
                (number, cid),
                action="lift",
            )
            self._log("lift", number, cid, reason)

    def replace(
        self,
        old_card_number: str,
        old_card_id: str,
        new_card_number: str,
        new_card_id: str,
        reason: str = "补卡",
    ) -> HotlistEntry:
        """补卡: list the old card for good (whether or not it was reported lost)."""
        number, cid = _norm(old_card_number, old_card_id)
        new_number, new_cid = _norm(new_card_number, new_card_id)
        if (number, cid) == (new_number, new_cid):
            raise InvalidInputError(f"card {number} ({cid}) cannot replace itself")
        reason = _reason(reason)
        at = self._clock()
        replaced_by = f"{new_number}|{new_cid}"
        with self._db.transaction("replace"):
            self._db.execute(
                "INSERT INTO hotlist (card_number, card_id, kind, reason, listed_at, replaced_by) "
                "VALUES (?, ?, 'replaced', ?, ?, ?) "
                "ON CONFLICT (card_number, card_id) DO UPDATE SET kind = 'replaced', "
                "reason = excluded.reason, listed_at = excluded.listed_at, "
                "replaced_by = excluded.replaced_by",
                (number, cid, reason, at.isoformat(), replaced_by),
                action="replace",
            )
            self._log("replace", number, cid, f"{reason} → {replaced_by}")
        return HotlistEntry(number, cid, Kind.REPLACED, reason, at, replaced_by)

    def report_range(self, first_number: str, last_number: str, reason: str) -> None:
        """List every card number from ``first_number`` to ``last_number`` (Part 8 §7.1)."""
        first, last = first_number.strip().upper(), last_number.strip().upper()
        if len(first) != len(last) or not first or first > last:
            raise InvalidInputError(f"bad card-number range {first_number!r}..{last_number!r}")
        reason = _reason(reason)
        with self._db.transaction("report range"):
            self._db.execute(
                "INSERT INTO hotlist_range (first_number, last_number, reason, listed_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (first_number, last_number) DO UPDATE SET "
                "reason = excluded.reason, listed_at = excluded.listed_at",
                (first, last, reason, self._clock().isoformat()),
                action="report range",
            )
            self._log("range", f"{first}..{last}", "", reason)

    def check(self, card_number: str, card_id: str) -> HotlistEntry | None:
        """The listing that matches the card number or the card id, or ``None``."""
        number, cid = _norm(card_number, card_id)
        row = self._db.first(
            "SELECT card_number, card_id, kind, reason, listed_at, replaced_by FROM hotlist "
            "WHERE card_number = ? OR card_id = ? ORDER BY listed_at LIMIT 1",
            (number, cid),
            action="check",
        )
        if row is not None:
            return _entry(row)
        row = self._db.first(
            "SELECT reason, listed_at FROM hotlist_range WHERE ? BETWEEN first_number "
            "AND last_number AND length(first_number) = ? LIMIT 1",
            (number, len(number)),
            action="check",
        )
        if row is None:
            return None
        return HotlistEntry(number, cid, Kind.RANGE, row[0], dt.datetime.fromisoformat(row[1]))

    def ensure_clear(self, card_number: str, card_id: str) -> None:
        """Raise :class:`HotlistedCardError` if the card is listed."""
        entry = self.check(card_number, card_id)
        if entry is not None:
            raise HotlistedCardError(card_number, card_id, entry.reason, entry.kind.value)

    def entries(self) -> list[HotlistEntry]:
        """Every listed card, oldest first (ranges are in :meth:`history`)."""
        rows = self._db.execute(
            "SELECT card_number, card_id, kind, reason, listed_at, replaced_by FROM hotlist "
            "ORDER BY listed_at, card_number",
            action="list",
        )
        return [_entry(r) for r in rows]

    def history(self) -> list[HotlistEvent]:
        """Every report, lift, replacement and range, oldest first."""
        rows = self._db.execute(
            "SELECT at, action, card_number, card_id, reason FROM hotlist_event ORDER BY seq",
            action="history",
        )
        return [HotlistEvent(dt.datetime.fromisoformat(r[0]), r[1], r[2], r[3], r[4]) for r in rows]


def _entry(row: tuple[Any, ...]) -> HotlistEntry:
    number, cid, kind, reason, listed_at, replaced_by = row
    return HotlistEntry(
        number, cid, Kind(kind), reason, dt.datetime.fromisoformat(listed_at), replaced_by
    )


def _norm(card_number: str, card_id: str) -> tuple[str, str]:
    number = card_number.strip().upper()
    cid = card_id.strip().upper()
    if not number or len(number) > 20:
        raise InvalidInputError(f"bad card number {card_number!r}")
    if len(cid) != 32 or any(c not in "0123456789ABCDEF" for c in cid):
        raise InvalidInputError(
            f"card identification code must be 32 hex characters, got {card_id!r}"
        )
    return number, cid


def _reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise InvalidInputError("a hotlist entry needs a reason")
    return text
