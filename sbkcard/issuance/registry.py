"""The card registry: one person, one card, one number (一人一卡一号).

The registry is the issuing line's memory.  It guarantees, in the database itself:

* at most one *live* card per SSN (a partial unique index over every status but
  ``replaced``), so two issuing processes cannot both give a person a card;
* card numbers allocated from a counter, each with its check character (SPEC §7);
* card identification codes unique (region ‖ RID ‖ serial ‖ authentication code);
* a card's life: ``personalising`` → ``issued`` → ``active``; ``lost`` (挂失) and
  ``replaced`` (补卡, the old card of a replacement).

A card is *reserved* (``personalising``) before its chip is written and marked
``issued`` only after the terminal read it back; a batch that dies in between finds
the reservation again (:meth:`SqliteRegistry.reserve` is idempotent per SSN) and
finishes it, so nobody is issued twice and no card is lost.

:class:`Registry` is the small repository interface; :class:`SqliteRegistry` is the
default implementation.  Its SQL is plain SQL-92 plus a partial index, which
PostgreSQL accepts as it is: a provincial deployment implements :class:`Registry`
over a DB-API connection to PostgreSQL (``psycopg``) with ``%s`` placeholders instead
of ``?`` and ``SELECT ... FOR UPDATE`` instead of ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import dataclasses
import datetime
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Protocol

from sbkcard.errors import SbkcardError
from sbkcard.identifiers.card_id import CardId
from sbkcard.identifiers.card_number import make_card_number
from sbkcard.identifiers.regions import validate_region
from sbkcard.keys.private import create_private

__all__ = [
    "CardRecord",
    "CardStatus",
    "DuplicateCardError",
    "Registry",
    "RegistryError",
    "SqliteRegistry",
]

UNSET_AUTH_CODE = b"\xff" * 4
"""The card-ID authentication code left ``FFFFFFFF``, as on many issued cards (SPEC §7)."""


class CardStatus(Enum):
    """Life of a card in the registry."""

    PERSONALISING = "personalising"
    ISSUED = "issued"
    ACTIVE = "active"
    LOST = "lost"
    REPLACED = "replaced"


class RegistryError(SbkcardError):
    """The registry refused an operation or its database failed."""


class DuplicateCardError(RegistryError):
    """The person already holds a live card (one person, one card)."""


@dataclass(frozen=True)
class CardRecord:
    """One card as the registry knows it."""

    card_number: str
    ssn: str
    name: str
    region: str
    card_id: CardId
    status: CardStatus
    created_at: str
    issued_at: str | None
    replaces: str | None
    owner: str


class Registry(Protocol):
    """What the issuing line needs from a registry."""

    def reserve(self, ssn: str, name: str, region: str, *, owner: str = "") -> CardRecord:
        """Reserve a new card for ``ssn``.

        Idempotent for the same ``owner`` (an issuing line or batch id) while the card
        is being personalised, so a batch resumes; another owner gets
        :class:`DuplicateCardError`.
        """
        ...

    def reserve_replacement(
        self, ssn: str, name: str, region: str, *, owner: str = ""
    ) -> tuple[CardRecord, CardRecord]:
        """Retire the live card of ``ssn`` and reserve its replacement: (old, new)."""
        ...

    def mark_issued(self, card_number: str) -> CardRecord:
        """The chip was written and read back: the card is issued."""
        ...

    def set_status(self, card_number: str, status: CardStatus) -> CardRecord:
        """Move a card to ``status`` (activate, report lost)."""
        ...

    def get(self, card_number: str) -> CardRecord:
        """The card with this number."""
        ...

    def live_card(self, ssn: str) -> CardRecord | None:
        """The person's card that is not replaced, if any."""
        ...

    def cards(self, status: CardStatus | None = None) -> list[CardRecord]:
        """Every card, or those with ``status``, by card number."""
        ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS cards (
    card_number TEXT PRIMARY KEY,
    ssn         TEXT NOT NULL,
    name        TEXT NOT NULL,
    region      TEXT NOT NULL,
    card_id     TEXT NOT NULL UNIQUE,
    status      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    issued_at   TEXT,
    replaces    TEXT REFERENCES cards(card_number),
    owner       TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS cards_one_live_card_per_ssn
    ON cards(ssn) WHERE status <> 'replaced';
CREATE TABLE IF NOT EXISTS counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

_COLUMNS = "card_number, ssn, name, region, card_id, status, created_at, issued_at, replaces, owner"


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _record(row: tuple[str, ...]) -> CardRecord:
    number, ssn, name, region, card_id, status, created, issued, replaces, owner = row
    return CardRecord(
        number,
        ssn,
        name,
        region,
        CardId.from_hex(card_id),
        CardStatus(status),
        created,
        issued,
        replaces,
        owner,
    )


class SqliteRegistry:
    """:class:`Registry` in an SQLite file (or ``":memory:"``).

    ``number_prefix`` is the two letters that open every card number this line
    allocates (the body is prefix + 6-digit sequence, then the check character).
    Every write runs in ``BEGIN IMMEDIATE``, so concurrent issuing processes serialise
    on the database lock; ``timeout`` is how long one waits for another.
    """

    def __init__(
        self, path: Path | str, *, number_prefix: str = "HA", timeout: float = 30.0
    ) -> None:
        if len(number_prefix) != 2 or not number_prefix.isascii() or not number_prefix.isalpha():
            raise RegistryError(f"number_prefix must be two letters, got {number_prefix!r}")
        self.prefix = number_prefix.upper()
        self.path = str(path)
        try:
            create_private(self.path)  # names and SSNs: owner only, as are -journal and -wal
            self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            self._db.executescript(_SCHEMA)
        except OSError as exc:
            raise RegistryError(f"registry database {self.path}: {exc.strerror}") from None
        except sqlite3.Error as exc:
            raise RegistryError(f"registry database {self.path}: {exc}") from None

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Cursor]:
        try:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise RegistryError(f"registry database {self.path}: {exc}") from None
        try:
            yield cur
        except BaseException:
            self._db.rollback()
            raise
        try:
            self._db.commit()
        except sqlite3.Error as exc:
            raise RegistryError(f"registry database {self.path}: commit failed: {exc}") from None

    def _next(self, cur: sqlite3.Cursor, name: str) -> int:
        cur.execute("SELECT value FROM counters WHERE name = ?", (name,))
        row = cur.fetchone()
        value = 1 if row is None else int(row[0]) + 1
        cur.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )
        return value

    def _live(self, cur: sqlite3.Cursor, ssn: str) -> CardRecord | None:
        cur.execute(f"SELECT {_COLUMNS} FROM cards WHERE ssn = ? AND status <> 'replaced'", (ssn,))
        row = cur.fetchone()
        return None if row is None else _record(row)

    def _insert(
        self,
        cur: sqlite3.Cursor,
        ssn: str,
        name: str,
        region: str,
        replaces: str | None,
        owner: str,
    ) -> CardRecord:
        validate_region(region)
        sequence = self._next(cur, f"card_number/{self.prefix}")
        if sequence > 999_999:
            raise RegistryError(f"card numbers with prefix {self.prefix} are exhausted")
        number = make_card_number(f"{self.prefix}{sequence:06d}")
        serial = self._next(cur, f"card_serial/{region}")
        if serial > 0xFFFFFFFF:
            raise RegistryError(f"card serials of region {region} are exhausted")
        card_id = CardId(region, serial.to_bytes(4, "big"), UNSET_AUTH_CODE)
        created = _now()
        try:
            cur.execute(
                f"INSERT INTO cards ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    number,
                    ssn,
                    name,
                    region,
                    card_id.hex,
                    CardStatus.PERSONALISING.value,
                    created,
                    None,
                    replaces,
                    owner,
                ),
            )
        except sqlite3.IntegrityError as exc:
            raise DuplicateCardError(f"SSN {ssn}: {exc}") from None
        return CardRecord(
            number,
            ssn,
            name,
            region,
            card_id,
            CardStatus.PERSONALISING,
            created,
            None,
            replaces,
            owner,
        )

    def _claim(self, live: CardRecord, owner: str) -> CardRecord:
        if live.owner != owner:
            raise DuplicateCardError(
                f"SSN {live.ssn}: card {live.card_number} is being personalised by {live.owner!r}"
            )
        return live

    def reserve(self, ssn: str, name: str, region: str, *, owner: str = "") -> CardRecord:
        with self._write() as cur:
            live = self._live(cur, ssn)
            if live is not None:
                if live.status is CardStatus.PERSONALISING and live.replaces is None:
                    return self._claim(live, owner)
                raise DuplicateCardError(
                    f"SSN {ssn} already holds card {live.card_number} ({live.status.value})"
                )
            return self._insert(cur, ssn, name, region, None, owner)

    def reserve_replacement(
        self, ssn: str, name: str, region: str, *, owner: str = ""
    ) -> tuple[CardRecord, CardRecord]:
        with self._write() as cur:
            live = self._live(cur, ssn)
            if live is None:
                raise RegistryError(f"SSN {ssn} has no card to replace")
            if live.status is CardStatus.PERSONALISING:
                if live.replaces is None:
                    raise RegistryError(f"SSN {ssn}: card {live.card_number} is not yet issued")
                self._claim(live, owner)
                return self._get(cur, live.replaces), live
            cur.execute(
                "UPDATE cards SET status = ? WHERE card_number = ?",
                (CardStatus.REPLACED.value, live.card_number),
            )
            old = dataclasses.replace(live, status=CardStatus.REPLACED)
            return old, self._insert(cur, ssn, name, region, live.card_number, owner)

    def mark_issued(self, card_number: str) -> CardRecord:
        with self._write() as cur:
            record = self._get(cur, card_number)
            if record.status is not CardStatus.PERSONALISING:
                raise RegistryError(
                    f"card {card_number} is {record.status.value}, not personalising"
                )
            issued = _now()
            cur.execute(
                "UPDATE cards SET status = ?, issued_at = ? WHERE card_number = ?",
                (CardStatus.ISSUED.value, issued, card_number),
            )
            return dataclasses.replace(record, status=CardStatus.ISSUED, issued_at=issued)

    def set_status(self, card_number: str, status: CardStatus) -> CardRecord:
        allowed = {
            CardStatus.ACTIVE: {CardStatus.ISSUED, CardStatus.LOST},
            CardStatus.LOST: {CardStatus.ISSUED, CardStatus.ACTIVE},
        }
        if status not in allowed:
            raise RegistryError(
                f"status {status.value} is set by issuing or replacing, not directly"
            )
        with self._write() as cur:
            record = self._get(cur, card_number)
            if record.status not in allowed[status]:
                raise RegistryError(
                    f"card {card_number} is {record.status.value}; cannot become {status.value}"
                )
            cur.execute(
                "UPDATE cards SET status = ? WHERE card_number = ?", (status.value, card_number)
            )
            return dataclasses.replace(record, status=status)

    def _get(self, cur: sqlite3.Cursor, card_number: str) -> CardRecord:
        cur.execute(f"SELECT {_COLUMNS} FROM cards WHERE card_number = ?", (card_number,))
        row = cur.fetchone()
        if row is None:
            raise RegistryError(f"no card {card_number} in the registry")
        return _record(row)

    def get(self, card_number: str) -> CardRecord:
        return self._get(self._db.cursor(), card_number)

    def live_card(self, ssn: str) -> CardRecord | None:
        return self._live(self._db.cursor(), ssn)

    def cards(self, status: CardStatus | None = None) -> list[CardRecord]:
        cur = self._db.cursor()
        if status is None:
            cur.execute(f"SELECT {_COLUMNS} FROM cards ORDER BY card_number")
        else:
            cur.execute(
                f"SELECT {_COLUMNS} FROM cards WHERE status = ? ORDER BY card_number",
                (status.value,),
            )
        return [_record(row) for row in cur.fetchall()]
