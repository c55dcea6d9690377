"""The card registry: one person, one card, one number (一人一卡一号).

The registry is the issuing line's memory.  It guarantees, in the database itself:

* at most one *live* card per SSN (a partial unique index over every status but
  ``replaced``), so two issuing processes cannot both give a person a card;
* card numbers allocated from a counter, each with its check character (S2 App. A);
  card numbers and card identification codes unique (region ‖ RID ‖ serial ‖
  authentication code, S2 §8.1.1.1);
* a card's life: ``personalising`` → ``issued`` → ``active``; ``lost`` (挂失) and
  ``replaced`` (补卡, the old card of a replacement).

A card is *reserved* (``personalising``) before its chip is written and marked
``issued`` only after the terminal read it back; a batch that dies in between finds
the reservation again (:meth:`SqlRegistry.reserve` is idempotent per SSN) and
finishes it, so nobody is issued twice and no card is lost.

:class:`Registry` is the small repository interface; :class:`SqlRegistry` implements
it on SQLite (an embedded file, the default) or PostgreSQL (a ``postgresql://`` URL,
for a province's issuing lines sharing one registry), through
:class:`~sbkcard.database.Database`.  The schema is :data:`MIGRATIONS`, one portable
declaration; ``sbkcard_migrations`` records the steps applied.
"""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Protocol

from sbkcard.database import ConstraintViolation, Database, Migration, shown
from sbkcard.errors import SbkcardError
from sbkcard.identifiers.card_id import CardId
from sbkcard.identifiers.card_number import make_card_number
from sbkcard.identifiers.regions import validate_region

__all__ = [
    "CardRecord",
    "CardStatus",
    "DuplicateCardError",
    "Registry",
    "RegistryError",
    "SqlRegistry",
]

UNSET_AUTH_CODE = b"\xff" * 4
"""The card-ID authentication code left ``FFFFFFFF``, as on many issued cards (S2 §8.1.1.1)."""


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

    def bind_chip(self, card_number: str, serial: bytes) -> CardRecord:
        """Give the reserved card the serial of the chip it goes on (its ATR's, set at COS
        activation, Part 10 §5.1.2): its card identification code changes accordingly."""
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


MIGRATIONS = (
    Migration.portable(
        1,
        "cards and counters; one live card per SSN",
        """
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
)""",
        """
CREATE UNIQUE INDEX IF NOT EXISTS cards_one_live_card_per_ssn
    ON cards(ssn) WHERE status <> 'replaced'""",
        """
CREATE TABLE IF NOT EXISTS counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
)""",
    ),
    Migration.portable(
        2,
        "cards bound to a chip's own serial (issuing into readers)",
        """
CREATE TABLE IF NOT EXISTS bound_chips (
    card_number TEXT PRIMARY KEY REFERENCES cards(card_number)
)""",
    ),
)
"""The registry's schema, step by step (SQL both dialects accept; ``IF NOT EXISTS`` so
that step 1 adopts a registry made before migrations were recorded)."""
TABLES = frozenset({"cards", "counters", "bound_chips"})
LIVE_CARD_INDEX = "cards_one_live_card_per_ssn"

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


class SqlRegistry:
    """:class:`Registry` in an SQLite file (or ``":memory:"``) or on PostgreSQL (a
    ``postgresql://`` URL).

    ``number_prefix`` is the two letters that open every card number this line
    allocates (the body is prefix + 6-digit sequence, then the check character).
    Writes are transactions: on SQLite ``BEGIN IMMEDIATE`` serialises concurrent
    issuing processes on the file lock (``timeout`` is how long one waits for another);
    on PostgreSQL each reservation locks its SSN (an advisory lock) and the counters'
    rows, and :data:`LIVE_CARD_INDEX` refuses a second live card whatever the code does.
    """

    def __init__(
        self, target: Path | str, *, number_prefix: str = "HA", timeout: float = 30.0
    ) -> None:
        if len(number_prefix) != 2 or not number_prefix.isascii() or not number_prefix.isalpha():
            raise RegistryError(f"number_prefix must be two letters, got {number_prefix!r}")
        self.prefix = number_prefix.upper()
        self.path = shown(target)
        self._db = Database(target, name="registry", error=RegistryError, timeout=timeout)
        try:
            self._db.migrate("registry", MIGRATIONS, tables=TABLES)
        except BaseException:
            self._db.close()
            raise

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._db.dialect

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def _next(self, name: str) -> int:
        row = self._db.first(
            "INSERT INTO counters (name, value) VALUES (?, 1) "
            "ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value",
            (name,),
        )
        assert row is not None
        return int(row[0])

    def _taken(self, column: str, value: str) -> bool:
        return self._db.first(f"SELECT 1 FROM cards WHERE {column} = ?", (value,)) is not None

    def _number(self) -> str:
        """The next card number no card holds (numbers taken elsewhere, say imported from
        another line, are passed over)."""
        while True:
            sequence = self._next(f"card_number/{self.prefix}")
            if sequence > 999_999:
                raise RegistryError(f"card numbers with prefix {self.prefix} are exhausted")
            number = make_card_number(f"{self.prefix}{sequence:06d}")
            if not self._taken("card_number", number):
                return number

    def _card_id(self, region: str) -> CardId:
        while True:
            serial = self._next(f"card_serial/{region}")
            if serial > 0xFFFFFFFF:
                raise RegistryError(f"card serials of region {region} are exhausted")
            card_id = CardId(region, serial.to_bytes(4, "big"), UNSET_AUTH_CODE)
            if not self._taken("card_id", card_id.hex):
                return card_id

    def _live(self, ssn: str) -> CardRecord | None:
        row = self._db.first(
            f"SELECT {_COLUMNS} FROM cards WHERE ssn = ? AND status <> 'replaced'", (ssn,)
        )
        return None if row is None else _record(row)

    def _insert(
        self, ssn: str, name: str, region: str, replaces: str | None, owner: str
    ) -> CardRecord:
        validate_region(region)
        record = CardRecord(
            self._number(),
            ssn,
            name,
            region,
            self._card_id(region),
            CardStatus.PERSONALISING,
            _now(),
            None,
            replaces,
            owner,
        )
        try:
            self._db.execute(
                f"INSERT INTO cards ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.card_number,
                    ssn,
                    name,
                    region,
                    record.card_id.hex,
                    record.status.value,
                    record.created_at,
                    None,
                    replaces,
                    owner,
                ),
                action="reserve",
            )
        except ConstraintViolation as exc:
            if exc.constraint in (LIVE_CARD_INDEX, "cards.ssn"):
                raise DuplicateCardError(
                    f"SSN {ssn} already holds a live card ({exc.constraint})"
                ) from None
            raise RegistryError(
                f"card {record.card_number} ({record.card_id.hex}) for SSN {ssn}: {exc}"
            ) from None
        return record

    def _claim(self, live: CardRecord, owner: str) -> CardRecord:
        if live.owner != owner:
            raise DuplicateCardError(
                f"SSN {live.ssn}: card {live.card_number} is being personalised by {live.owner!r}"
            )
        return live

    def reserve(self, ssn: str, name: str, region: str, *, owner: str = "") -> CardRecord:
        with self._db.transaction("reserve"):
            self._db.lock(f"ssn/{ssn}")
            live = self._live(ssn)
            if live is not None:
                if live.status is CardStatus.PERSONALISING and live.replaces is None:
                    return self._claim(live, owner)
                raise DuplicateCardError(
                    f"SSN {ssn} already holds card {live.card_number} "
                    f"({live.status.value}, {live.owner!r})"
                )
            return self._insert(ssn, name, region, None, owner)

    def reserve_replacement(
        self, ssn: str, name: str, region: str, *, owner: str = ""
    ) -> tuple[CardRecord, CardRecord]:
        with self._db.transaction("reserve replacement"):
            self._db.lock(f"ssn/{ssn}")
            live = self._live(ssn)
            if live is None:
                raise RegistryError(f"SSN {ssn} has no card to replace")
            if live.status is CardStatus.PERSONALISING:
                if live.replaces is None:
                    raise RegistryError(f"SSN {ssn}: card {live.card_number} is not yet issued")
                self._claim(live, owner)
                return self._get(live.replaces), live
            self._db.execute(
                "UPDATE cards SET status = ? WHERE card_number = ?",
                (CardStatus.REPLACED.value, live.card_number),
            )
            old = dataclasses.replace(live, status=CardStatus.REPLACED)
            return old, self._insert(ssn, name, region, live.card_number, owner)

    def _move(self, card_number: str, status: CardStatus, allowed: set[CardStatus]) -> CardRecord:
        """Set ``status`` if the card is in one of ``allowed`` (checked in the update itself,
        so two processes cannot both move it)."""
        issued = _now() if status is CardStatus.ISSUED else None
        marks = ", ".join("?" for _ in allowed)
        with self._db.transaction(f"set card {card_number} {status.value}"):
            moved = self._db.execute(
                "UPDATE cards SET status = ?, issued_at = coalesce(?, issued_at) "
                f"WHERE card_number = ? AND status IN ({marks}) RETURNING {_COLUMNS}",
                (status.value, issued, card_number, *sorted(s.value for s in allowed)),
            )
            if moved:
                return _record(moved[0])
            record = self._get(card_number)
        wanted = " or ".join(sorted(s.value for s in allowed))
        raise RegistryError(
            f"card {card_number} is {record.status.value}, not {wanted}; "
            f"cannot become {status.value}"
        )

    def mark_issued(self, card_number: str) -> CardRecord:
        return self._move(card_number, CardStatus.ISSUED, {CardStatus.PERSONALISING})

    def bind_chip(self, card_number: str, serial: bytes) -> CardRecord:
        """Until bound, a reservation's card identification code is provisional: a chip
        whose serial it holds takes it, and the reservation gets the next free one."""
        record = self._get(card_number)
        card_id = dataclasses.replace(record.card_id, serial=serial)
        with self._db.transaction(f"bind card {card_number} to chip {serial.hex().upper()}"):
            holder = self._db.first(
                "SELECT card_number, status, EXISTS (SELECT 1 FROM bound_chips b WHERE "
                "b.card_number = cards.card_number) FROM cards WHERE card_id = ?",
                (card_id.hex,),
            )
            if holder is not None and holder[0] != card_number:
                if holder[1] != CardStatus.PERSONALISING.value or holder[2]:
                    raise RegistryError(
                        f"chip serial {serial.hex().upper()} (card identification code "
                        f"{card_id.hex}) belongs to card {holder[0]}: the chip is not new"
                    )
                self._db.execute(
                    "UPDATE cards SET card_id = ? WHERE card_number = ?",
                    (self._card_id(record.region).hex, holder[0]),
                )
            rows = self._db.execute(
                f"UPDATE cards SET card_id = ? WHERE card_number = ? AND status = ? "
                f"RETURNING {_COLUMNS}",
                (card_id.hex, card_number, CardStatus.PERSONALISING.value),
                action="bind chip",
            )
            if rows:
                self._db.execute(
                    "INSERT INTO bound_chips (card_number) VALUES (?) ON CONFLICT DO NOTHING",
                    (card_number,),
                )
        if not rows:
            raise RegistryError(f"card {card_number} is {record.status.value}, not personalising")
        return _record(rows[0])

    def set_status(self, card_number: str, status: CardStatus) -> CardRecord:
        allowed = {
            CardStatus.ACTIVE: {CardStatus.ISSUED, CardStatus.LOST},
            CardStatus.LOST: {CardStatus.ISSUED, CardStatus.ACTIVE},
        }
        if status not in allowed:
            raise RegistryError(
                f"status {status.value} is set by issuing or replacing, not directly"
            )
        return self._move(card_number, status, allowed[status])

    def _get(self, card_number: str) -> CardRecord:
        row = self._db.first(f"SELECT {_COLUMNS} FROM cards WHERE card_number = ?", (card_number,))
        if row is None:
            raise RegistryError(f"no card {card_number} in the registry")
        return _record(row)

    def get(self, card_number: str) -> CardRecord:
        return self._get(card_number)

    def live_card(self, ssn: str) -> CardRecord | None:
        return self._live(ssn)

    def cards(self, status: CardStatus | None = None) -> list[CardRecord]:
        if status is None:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM cards ORDER BY card_number")
        else:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM cards WHERE status = ? ORDER BY card_number",
                (status.value,),
            )
        return [_record(row) for row in rows]
