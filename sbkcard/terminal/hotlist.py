"""The hotlist (黑名单) of cards reported lost or replaced, in SQLite (Part 8 §7, Part 7 §5.4).

A terminal checks every card against the hotlist before it does anything that matters
with it (Part 7 §5.4: "该卡是否在终端存储的黑名单之列（使用卡的标识码和卡号）").
Part 8 §7.1 asks for two kinds of record: one card (card identification code and card
number) and a range of card numbers; both are here.

The API other parts call (issuance calls :meth:`Hotlist.report` and
:meth:`Hotlist.replace`):

* ``Hotlist(path)`` opens (and creates) the database; ``":memory:"`` for tests.  Several
  processes may create the same new file at once: the schema and its version are made in
  one transaction.
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
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Final

from sbkcard.keys.private import create_private
from sbkcard.terminal.errors import HotlistedCardError, HotlistError, InvalidInputError

SCHEMA_VERSION: Final = 1

_SCHEMA: Final = (
    """
CREATE TABLE hotlist (
    card_number TEXT NOT NULL,
    card_id     TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('lost', 'replaced')),
    reason      TEXT NOT NULL,
    listed_at   TEXT NOT NULL,
    replaced_by TEXT,
    PRIMARY KEY (card_number, card_id)
)""",
    "CREATE INDEX hotlist_by_id ON hotlist (card_id)",
    """
CREATE TABLE hotlist_range (
    first_number TEXT NOT NULL,
    last_number  TEXT NOT NULL,
    reason       TEXT NOT NULL,
    listed_at    TEXT NOT NULL,
    PRIMARY KEY (first_number, last_number)
)""",
    """
CREATE TABLE hotlist_event (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    action      TEXT NOT NULL,
    card_number TEXT NOT NULL,
    card_id     TEXT NOT NULL,
    reason      TEXT NOT NULL
)""",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)
"""The statements that make a new hotlist, run in one transaction (the version last)."""
_TABLES: Final = frozenset({"hotlist", "hotlist_range", "hotlist_event"})
_NEW: Final = (0, frozenset[str]())
"""What :meth:`Hotlist._inspect` finds in an empty database: user_version 0, no tables."""


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
    """A hotlist kept in the SQLite database at ``path`` (``":memory:"`` for a private one).

    ``timeout`` is how long (seconds) to wait for another process's lock before
    :class:`HotlistError`; ``clock`` gives the time recorded with each entry.
    """

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        timeout: float = 2.0,
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        self.path = str(path)
        self._clock = clock
        try:
            create_private(self.path)  # card numbers and reasons: owner only, with its journal
            self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        except OSError as exc:
            raise HotlistError(f"cannot open hotlist {self.path}: {exc.strerror}") from exc
        except sqlite3.Error as exc:
            raise HotlistError(f"cannot open hotlist {self.path}: {exc}") from exc
        with self._guard("open"):
            found = self._inspect()
            if found == _NEW:
                # schema and version in one transaction, the check repeated under its
                # lock: processes creating the same hotlist at once never see half of it
                with self._write("create") as db:
                    if self._inspect() == _NEW:
                        for statement in _SCHEMA:
                            db.execute(statement)
                found = self._inspect()
            if found is not None:
                version, user_tables = found
                raise HotlistError(
                    f"{self.path} is not a hotlist of schema {SCHEMA_VERSION} "
                    f"(user_version {version}, tables {sorted(user_tables)})"
                )

    def _inspect(self) -> tuple[int, frozenset[str]] | None:
        """``None`` for a hotlist of this schema, else its user_version and tables
        (:data:`_NEW` for an empty database), read in one statement: one snapshot."""
        rows = self._db.execute(
            "SELECT user_version, name FROM pragma_user_version "
            "LEFT JOIN sqlite_master ON type = 'table'"
        ).fetchall()
        version = rows[0][0]
        tables = {name for _, name in rows if name is not None}
        if version == SCHEMA_VERSION and tables >= _TABLES:
            return None
        return version, frozenset(tables - {"sqlite_sequence"})

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> Hotlist:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise HotlistError(f"hotlist {self.path}: {action} failed: {exc}") from exc

    @contextmanager
    def _write(self, action: str) -> Iterator[sqlite3.Connection]:
        with self._guard(action):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _log(
        self, db: sqlite3.Connection, action: str, number: str, card_id: str, reason: str
    ) -> None:
        db.execute(
            "INSERT INTO hotlist_event (at, action, card_number, card_id, reason) "
            "VALUES (?, ?, ?, ?, ?)",
            (self._clock().isoformat(), action, number, card_id, reason),
        )

    def report(self, card_number: str, card_id: str, reason: str) -> HotlistEntry:
        """挂失: list the card (card number and 32-hex card identification code) as lost."""
        number, cid = _norm(card_number, card_id)
        reason = _reason(reason)
        at = self._clock()
        with self._write("report") as db:
            row = db.execute(
                "SELECT kind FROM hotlist WHERE card_number = ? AND card_id = ?", (number, cid)
            ).fetchone()
            if row is not None:
                raise HotlistError(f"card {number} ({cid}) is already listed ({row[0]})")
            db.execute(
                "INSERT INTO hotlist (card_number, card_id, kind, reason, listed_at) "
                "VALUES (?, ?, 'lost', ?, ?)",
                (number, cid, reason, at.isoformat()),
            )
            self._log(db, "report", number, cid, reason)
        return HotlistEntry(number, cid, Kind.LOST, reason, at)

    def lift(self, card_number: str, card_id: str, reason: str) -> None:
        """解挂: take a card reported lost off the list (a replaced card stays listed)."""
        number, cid = _norm(card_number, card_id)
        reason = _reason(reason)
        with self._write("lift") as db:
            row = db.execute(
                "SELECT kind FROM hotlist WHERE card_number = ? AND card_id = ?", (number, cid)
            ).fetchone()
            if row is None:
                raise HotlistError(f"card {number} ({cid}) is not on the hotlist")
            if row[0] == Kind.REPLACED.value:
                raise HotlistError(f"card {number} ({cid}) was replaced: it stays on the hotlist")
            db.execute("DELETE FROM hotlist WHERE card_number = ? AND card_id = ?", (number, cid))
            self._log(db, "lift", number, cid, reason)

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
        with self._write("replace") as db:
            db.execute(
                "INSERT INTO hotlist (card_number, card_id, kind, reason, listed_at, replaced_by) "
                "VALUES (?, ?, 'replaced', ?, ?, ?) "
                "ON CONFLICT (card_number, card_id) DO UPDATE SET kind = 'replaced', "
                "reason = excluded.reason, listed_at = excluded.listed_at, "
                "replaced_by = excluded.replaced_by",
                (number, cid, reason, at.isoformat(), replaced_by),
            )
            self._log(db, "replace", number, cid, f"{reason} → {replaced_by}")
        return HotlistEntry(number, cid, Kind.REPLACED, reason, at, replaced_by)

    def report_range(self, first_number: str, last_number: str, reason: str) -> None:
        """List every card number from ``first_number`` to ``last_number`` (Part 8 §7.1)."""
        first, last = first_number.strip().upper(), last_number.strip().upper()
        if len(first) != len(last) or not first or first > last:
            raise InvalidInputError(f"bad card-number range {first_number!r}..{last_number!r}")
        reason = _reason(reason)
        with self._write("report range") as db:
            db.execute(
                "INSERT OR REPLACE INTO hotlist_range VALUES (?, ?, ?, ?)",
                (first, last, reason, self._clock().isoformat()),
            )
            self._log(db, "range", f"{first}..{last}", "", reason)

    def check(self, card_number: str, card_id: str) -> HotlistEntry | None:
        """The listing that matches the card number or the card id, or ``None``."""
        number, cid = _norm(card_number, card_id)
        with self._guard("check"):
            row = self._db.execute(
                "SELECT card_number, card_id, kind, reason, listed_at, replaced_by FROM hotlist "
                "WHERE card_number = ? OR card_id = ? ORDER BY listed_at LIMIT 1",
                (number, cid),
            ).fetchone()
            if row is not None:
                return HotlistEntry(
                    row[0], row[1], Kind(row[2]), row[3], dt.datetime.fromisoformat(row[4]), row[5]
                )
            row = self._db.execute(
                "SELECT reason, listed_at FROM hotlist_range WHERE ? BETWEEN first_number "
                "AND last_number AND length(first_number) = length(?) LIMIT 1",
                (number, number),
            ).fetchone()
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
        with self._guard("list"):
            rows = self._db.execute(
                "SELECT card_number, card_id, kind, reason, listed_at, replaced_by FROM hotlist "
                "ORDER BY listed_at, card_number"
            ).fetchall()
        return [
            HotlistEntry(r[0], r[1], Kind(r[2]), r[3], dt.datetime.fromisoformat(r[4]), r[5])
            for r in rows
        ]

    def history(self) -> list[HotlistEvent]:
        """Every report, lift, replacement and range, oldest first."""
        with self._guard("history"):
            rows = self._db.execute(
                "SELECT at, action, card_number, card_id, reason FROM hotlist_event ORDER BY seq"
            ).fetchall()
        return [HotlistEvent(dt.datetime.fromisoformat(r[0]), r[1], r[2], r[3], r[4]) for r in rows]


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
