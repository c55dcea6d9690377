"""The registry: one live card per SSN, numbers with check characters, unique card IDs.

Every test runs on SQLite and on PostgreSQL (the ``database`` fixture).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sqlite3
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sbkcard.database import MIGRATIONS_TABLE, ConstraintViolation, Database
from sbkcard.identifiers.card_id import CardId
from sbkcard.identifiers.card_number import make_card_number, validate_card_number
from sbkcard.issuance.registry import (
    LIVE_CARD_INDEX,
    MIGRATIONS,
    CardStatus,
    DuplicateCardError,
    RegistryError,
    SqlRegistry,
)

SSN_A = "410102198101011110"
SSN_B = "41010519900520222X"


@pytest.fixture
def reg(database: Callable[[str], str]) -> Iterator[SqlRegistry]:
    registry = SqlRegistry(database("registry"))
    yield registry
    registry.close()


def test_reserve_allocates_checked_number_and_unique_id(reg: SqlRegistry) -> None:
    a = reg.reserve(SSN_A, "张三", "410100")
    b = reg.reserve(SSN_B, "李四", "410100")
    assert validate_card_number(a.card_number) == a.card_number
    assert a.card_number != b.card_number
    assert a.card_id.hex != b.card_id.hex
    assert a.card_id.region == "410100"
    assert a.status is CardStatus.PERSONALISING


def test_reserve_is_idempotent_until_issued(reg: SqlRegistry) -> None:
    a = reg.reserve(SSN_A, "张三", "410100")
    assert reg.reserve(SSN_A, "张三", "410100") == a
    reg.mark_issued(a.card_number)
    with pytest.raises(DuplicateCardError, match="already holds"):
        reg.reserve(SSN_A, "张三", "410100")


def test_replacement_retires_old_card(reg: SqlRegistry) -> None:
    a = reg.reserve(SSN_A, "张三", "410100")
    reg.mark_issued(a.card_number)
    reg.set_status(a.card_number, CardStatus.LOST)
    old, new = reg.reserve_replacement(SSN_A, "张三", "410100")
    assert old.card_number == a.card_number and old.status is CardStatus.REPLACED
    assert new.replaces == a.card_number
    assert reg.reserve_replacement(SSN_A, "张三", "410100") == (old, new)  # resumable
    reg.mark_issued(new.card_number)
    assert reg.live_card(SSN_A) == reg.get(new.card_number)
    assert [c.status for c in reg.cards()] == [CardStatus.REPLACED, CardStatus.ISSUED]


def test_bad_transitions(reg: SqlRegistry) -> None:
    with pytest.raises(RegistryError, match="no card to replace"):
        reg.reserve_replacement(SSN_A, "张三", "410100")
    a = reg.reserve(SSN_A, "张三", "410100")
    with pytest.raises(RegistryError, match="cannot become lost"):
        reg.set_status(a.card_number, CardStatus.LOST)
    with pytest.raises(RegistryError, match="no card X"):
        reg.get("X")


def test_bad_database_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a database" * 100)
    with pytest.raises(RegistryError, match=r"bad\.db"):
        SqlRegistry(bad)


def _issue_many(path: str, worker: int, ssns: list[str]) -> list[str]:
    reg = SqlRegistry(path)
    got = []
    for ssn in ssns:
        with contextlib.suppress(DuplicateCardError):
            got.append(reg.reserve(ssn, f"w{worker}", "410100", owner=f"w{worker}").card_number)
    return got


def test_concurrent_processes_keep_one_card_per_ssn(database: Callable[[str], str]) -> None:
    path = database("registry")
    SqlRegistry(path).close()
    ssns = [f"41010219810101{n:03d}0" for n in range(40)]
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        results = pool.starmap(_issue_many, [(path, w, ssns) for w in range(4)])
    reg = SqlRegistry(path)
    cards = reg.cards()
    assert len(cards) == len(ssns)
    assert len({c.ssn for c in cards}) == len(ssns)
    assert len({c.card_id.hex for c in cards}) == len(ssns)
    assert sorted(n for r in results for n in r) == [c.card_number for c in cards]


def test_other_owner_cannot_take_a_reservation(reg: SqlRegistry) -> None:
    reg.reserve(SSN_A, "张三", "410100", owner="line-1")
    with pytest.raises(DuplicateCardError, match="being personalised by 'line-1'"):
        reg.reserve(SSN_A, "张三", "410100", owner="line-2")


def test_the_registry_and_its_journals_are_owner_only(tmp_path: Path) -> None:
    """Names and SSNs: the database and SQLite's side files are created 0600 (not 0644)."""
    previous = os.umask(0o022)
    try:
        registry = SqlRegistry(tmp_path / "registry.db")
        registry.reserve(SSN_A, "张三", "410100")
        with contextlib.closing(sqlite3.connect(tmp_path / "registry.db")) as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("CREATE TABLE probe (x)")
            journal = tmp_path / "registry.db-journal"
            assert stat.S_IMODE(journal.stat().st_mode) == 0o600
            db.rollback()
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("CREATE TABLE probe (x)")
            assert stat.S_IMODE((tmp_path / "registry.db-wal").stat().st_mode) == 0o600
        registry.close()
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "registry.db").stat().st_mode) == 0o600


def _raw(target: str) -> Database:
    """A second connection to the registry's database, past the registry's own checks."""
    return Database(target, name="test", error=RegistryError, timeout=5)


LIVE_ROW = "INSERT INTO cards VALUES (?, ?, 'x', '410100', ?, ?, '2024', NULL, NULL, 'raw')"


def test_the_database_itself_refuses_a_second_live_card(database: Callable[[str], str]) -> None:
    target = database("registry")
    reg = SqlRegistry(target)
    a = reg.reserve(SSN_A, "张三", "410100")
    raw = _raw(target)
    other_id = "410100D1560000059999999AFFFFFFFF"
    with pytest.raises(ConstraintViolation) as exc:
        raw.execute(LIVE_ROW, ("HA9999990", SSN_A, other_id, "issued"))
    assert exc.value.constraint in (LIVE_CARD_INDEX, "cards.ssn")
    # a replaced card does not count: the person may have any number of those
    raw.execute(LIVE_ROW, ("HA9999990", SSN_A, other_id, "replaced"))
    with pytest.raises(ConstraintViolation):  # card number unique
        raw.execute(LIVE_ROW, (a.card_number, SSN_B, "410100D156000005999999AAFFFFFFFF", "issued"))
    with pytest.raises(ConstraintViolation):  # card identification code unique
        raw.execute(LIVE_ROW, ("HA9999981", SSN_B, a.card_id.hex, "issued"))
    raw.close()
    assert [c.card_number for c in reg.cards()] == [a.card_number, "HA9999990"]


def test_numbers_taken_elsewhere_are_passed_over(database: Callable[[str], str]) -> None:
    target = database("registry")
    reg = SqlRegistry(target)
    first = reg.reserve(SSN_A, "张三", "410100")
    # the next number and serial, already used by a card imported from another line
    taken_number = make_card_number("HA000002")
    taken_id = CardId("410100", (2).to_bytes(4, "big"), b"\xff" * 4).hex
    raw = _raw(target)
    raw.execute(LIVE_ROW, (taken_number, "410102198101010011", taken_id, "issued"))
    raw.close()
    second = reg.reserve(SSN_B, "李四", "410100")
    assert second.card_number == make_card_number("HA000003")
    assert second.card_id.hex not in (first.card_id.hex, taken_id)


def test_migrations_are_recorded_once(database: Callable[[str], str]) -> None:
    target = database("registry")
    SqlRegistry(target).close()
    SqlRegistry(target).close()
    raw = _raw(target)
    assert raw.version("registry") == MIGRATIONS[-1].version
    rows = raw.execute(f"SELECT component, version FROM {MIGRATIONS_TABLE}")
    assert rows == [("registry", m.version) for m in MIGRATIONS]
    raw.execute(
        f"INSERT INTO {MIGRATIONS_TABLE} VALUES ('registry', ?, 'from the future', 'now')",
        (MIGRATIONS[-1].version + 1,),
    )
    raw.close()
    with pytest.raises(RegistryError, match="newer than this sbkcard knows"):
        SqlRegistry(target)


def test_a_server_that_does_not_answer(tmp_path: Path) -> None:
    url = f"postgresql://issuer:s3cret@/registry?host={tmp_path}&connect_timeout=2"
    with pytest.raises(RegistryError) as exc:
        SqlRegistry(url)
    message = str(exc.value)
    assert message.startswith("cannot open registry postgresql://issuer:***@/registry")
    assert "s3cret" not in message
    assert str(tmp_path) in message  # libpq names the socket it tried
