"""One database connection for the registry and the hotlist: an SQLite file or PostgreSQL.

A *target* is a file path (SQLite, the embedded default; ``":memory:"`` for a private
one) or a ``postgresql://`` URL (a provincial server, through ``psycopg``).  The rest of
the code writes SQL once, with ``?`` placeholders, and calls:

* :meth:`Database.execute` (rows of a query, or of ``… RETURNING``);
* :meth:`Database.transaction`, one write transaction: SQLite's ``BEGIN IMMEDIATE``
  serialises writers on the file lock; on PostgreSQL, :meth:`Database.lock` takes a
  transaction-scoped advisory lock where a check-then-insert must not interleave;
* :meth:`Database.migrate`, the versioned schema: the ``sbkcard_migrations`` table
  records which :class:`Migration` of each component (``registry``, ``hotlist``) is
  applied; the missing ones run in one transaction, so processes opening a new database
  at once never see half a schema.

A failure names the database and its cause (a password in a URL is never shown);
constraint violations raise :class:`ConstraintViolation`, every other failure the
component's own error class.
"""

from __future__ import annotations

import datetime
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from sbkcard.errors import SbkcardError
from sbkcard.keys.private import create_private

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "MIGRATIONS_TABLE",
    "ConstraintViolation",
    "Database",
    "Dialect",
    "Migration",
    "is_url",
    "shown",
]

Dialect = Literal["sqlite", "postgresql"]
Row = tuple[Any, ...]
MIGRATIONS_TABLE = "sbkcard_migrations"
_URL_SCHEMES = ("postgresql://", "postgres://")
_MIGRATIONS_DDL = f"""
CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (
    component  TEXT NOT NULL,
    version    INTEGER NOT NULL,
    summary    TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (component, version)
)"""


class ConstraintViolation(SbkcardError):
    """A write broke a constraint of the schema (``constraint`` names it, if known)."""

    def __init__(self, message: str, constraint: str) -> None:
        super().__init__(message)
        self.constraint = constraint


@dataclass(frozen=True)
class Migration:
    """One step of a component's schema: ``statements`` per dialect, run in order."""

    version: int
    summary: str
    statements: Mapping[Dialect, Sequence[str]]

    @classmethod
    def portable(cls, version: int, summary: str, *statements: str) -> Migration:
        """A step written once in SQL both dialects accept."""
        return cls(version, summary, {"sqlite": statements, "postgresql": statements})


def is_url(target: str | Path) -> bool:
    """Whether ``target`` names a PostgreSQL server rather than an SQLite file."""
    return isinstance(target, str) and target.startswith(_URL_SCHEMES)


def shown(target: str | Path) -> str:
    """``target`` as it may be printed: a URL's password replaced by ``***``."""
    text = str(target)
    if not is_url(text):
        return text
    parts = urlsplit(text)
    if parts.password is None:
        return text
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def _cause(exc: BaseException) -> str:
    """The driver's message on one line (libpq's run over several)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return "; ".join(lines) or type(exc).__name__


def _constraint(exc: BaseException) -> str:
    diag = getattr(exc, "diag", None)
    name = getattr(diag, "constraint_name", None)
    if isinstance(name, str):
        return name
    text = str(exc)  # SQLite: "UNIQUE constraint failed: cards.ssn"
    return text.split(":", 1)[1].strip() if ":" in text else text


class Database:
    """A connection to ``target`` for the component called ``name``.

    ``error`` is the exception class raised on failure; ``timeout`` (seconds) bounds
    the wait for another writer's lock (SQLite) or for the server to answer.
    """

    def __init__(
        self, target: str | Path, *, name: str, error: type[SbkcardError], timeout: float
    ) -> None:
        self.name = name
        self.where = shown(target)
        self._error = error
        self._sqlite: sqlite3.Connection | None = None
        self._pg: psycopg.Connection[Row] | None = None
        self.dialect: Dialect
        if is_url(target):
            import psycopg

            self.dialect = "postgresql"
            self._driver_errors: tuple[type[Exception], ...] = (psycopg.Error,)
            self._integrity: type[Exception] = psycopg.IntegrityError
            try:
                # the URL's own connect_timeout wins; else the caller's, from 2 to 10 s
                conninfo = str(target)
                if "connect_timeout" not in psycopg.conninfo.conninfo_to_dict(conninfo):
                    wait = max(2, min(10, round(timeout)))
                    conninfo = psycopg.conninfo.make_conninfo(conninfo, connect_timeout=wait)
                self._pg = psycopg.connect(conninfo, autocommit=True)
            except psycopg.Error as exc:
                raise self._fail(f"cannot open {name} {self.where}: {_cause(exc)}") from None
        else:
            self.dialect = "sqlite"
            self._driver_errors = (sqlite3.Error,)
            self._integrity = sqlite3.IntegrityError
            try:
                create_private(target)  # personal data: owner only, as are -journal and -wal
                self._sqlite = sqlite3.connect(str(target), timeout=timeout, isolation_level=None)
            except OSError as exc:
                raise self._fail(f"cannot open {name} {self.where}: {exc.strerror}") from None
            except sqlite3.Error as exc:
                raise self._fail(f"cannot open {name} {self.where}: {_cause(exc)}") from None

    def _fail(self, message: str) -> SbkcardError:
        return self._error(message)

    def close(self) -> None:
        """Close the connection."""
        if self._sqlite is not None:
            self._sqlite.close()
        if self._pg is not None:
            self._pg.close()

    @contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        try:
            yield
        except self._driver_errors as exc:
            message = f"{self.name} {self.where}: {action} failed: {_cause(exc)}"
            if isinstance(exc, self._integrity):
                raise ConstraintViolation(message, _constraint(exc)) from None
            raise self._fail(message) from None

    def execute(
        self, sql: str, params: Sequence[object] = (), *, action: str = "query"
    ) -> list[Row]:
        """Run one statement (``?`` placeholders); the rows it returns."""
        with self._translated(action):
            if self._sqlite is not None:
                return self._sqlite.execute(sql, tuple(params)).fetchall()
            assert self._pg is not None
            cur = self._pg.execute(sql.replace("?", "%s"), tuple(params))
            return cur.fetchall() if cur.description is not None else []

    def first(
        self, sql: str, params: Sequence[object] = (), *, action: str = "query"
    ) -> Row | None:
        """The first row of a query, or ``None``."""
        rows = self.execute(sql, params, action=action)
        return rows[0] if rows else None

    @contextmanager
    def transaction(self, action: str) -> Iterator[None]:
        """One write transaction: committed at the end, rolled back on any exception."""
        if self._sqlite is not None:
            db = self._sqlite
            with self._translated(action):
                db.execute("BEGIN IMMEDIATE")
            try:
                yield
                with self._translated(f"{action} (commit)"):
                    db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    with suppress(sqlite3.Error):  # the first failure is the one to report
                        db.execute("ROLLBACK")
                raise
            return
        assert self._pg is not None
        with self._translated(action), self._pg.transaction():
            yield

    def lock(self, key: str) -> None:
        """Serialise this transaction with others that lock ``key`` (PostgreSQL; SQLite's
        ``BEGIN IMMEDIATE`` already serialises every writer)."""
        if self.dialect == "postgresql":
            self.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (key,))

    def tables(self) -> frozenset[str]:
        """The names of the tables in the database (this schema, for PostgreSQL)."""
        if self.dialect == "sqlite":
            sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
        else:
            sql = (
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema()"
            )
        return frozenset(str(row[0]) for row in self.execute(sql, action="open"))

    def version(self, component: str) -> int:
        """The last migration of ``component`` applied here (0: none)."""
        if MIGRATIONS_TABLE not in self.tables():
            return 0
        row = self.first(
            f"SELECT max(version) FROM {MIGRATIONS_TABLE} WHERE component = ?",
            (component,),
            action="open",
        )
        return int(row[0]) if row is not None and row[0] is not None else 0

    def migrate(
        self, component: str, migrations: Sequence[Migration], *, tables: frozenset[str]
    ) -> None:
        """Apply the ``migrations`` of ``component`` this database lacks.

        ``tables`` are the component's own: a database holding other tables and no
        migrations table is not this component's, and is refused.
        """
        latest = migrations[-1].version
        if self._checked_version(component, latest) == latest:
            return
        with self.transaction(f"migrate {component}"):
            self.lock(MIGRATIONS_TABLE)
            found = self.tables()
            strangers = found - tables - {"sqlite_sequence"}
            if MIGRATIONS_TABLE not in found and strangers:
                raise self._fail(
                    f"{self.where} is not a {component} database (tables {sorted(strangers)})"
                )
            self.execute(_MIGRATIONS_DDL, action=f"migrate {component}")
            applied = self._checked_version(component, latest)
            now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
            for step in migrations:
                if step.version <= applied:
                    continue
                for statement in step.statements[self.dialect]:
                    self.execute(statement, action=f"migration {component} {step.version}")
                self.execute(
                    f"INSERT INTO {MIGRATIONS_TABLE} (component, version, summary, applied_at) "
                    "VALUES (?, ?, ?, ?)",
                    (component, step.version, step.summary, now),
                    action=f"migration {component} {step.version}",
                )

    def _checked_version(self, component: str, latest: int) -> int:
        applied = self.version(component)
        if applied > latest:
            raise self._fail(
                f"{self.where}: {component} schema version {applied} is newer than this "
                f"sbkcard knows ({latest}); upgrade sbkcard"
            )
        return applied
