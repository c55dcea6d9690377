"""The registry: one live card per SSN, numbers with check characters, unique card IDs."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from sbkcard.identifiers.card_number import validate_card_number
from sbkcard.issuance.registry import (
    CardStatus,
    DuplicateCardError,
    RegistryError,
    SqliteRegistry,
)

SSN_A = "410102198101011110"
SSN_B = "41010519900520222X"


@pytest.fixture
def reg(tmp_path: Path) -> SqliteRegistry:
    return SqliteRegistry(tmp_path / "r.db")


def test_reserve_allocates_checked_number_and_unique_id(reg: SqliteRegistry) -> None:
    a = reg.reserve(SSN_A, "张三", "410100")
    b = reg.reserve(SSN_B, "李四", "410100")
    assert validate_card_number(a.card_number) == a.card_number
    assert a.card_number != b.card_number
    assert a.card_id.hex != b.card_id.hex
    assert a.card_id.region == "410100"
    assert a.status is CardStatus.PERSONALISING


def test_reserve_is_idempotent_until_issued(reg: SqliteRegistry) -> None:
    a = reg.reserve(SSN_A, "张三", "410100")
    assert reg.reserve(SSN_A, "张三", "410100") == a
    reg.mark_issued(a.card_number)
    with pytest.raises(DuplicateCardError, match="already holds"):
        reg.reserve(SSN_A, "张三", "410100")


def test_replacement_retires_old_card(reg: SqliteRegistry) -> None:
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


def test_bad_transitions(reg: SqliteRegistry) -> None:
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
        SqliteRegistry(bad)


def _issue_many(path: str, worker: int, ssns: list[str]) -> list[str]:
    reg = SqliteRegistry(path)
    got = []
    for ssn in ssns:
        with contextlib.suppress(DuplicateCardError):
            got.append(reg.reserve(ssn, f"w{worker}", "410100", owner=f"w{worker}").card_number)
    return got


def test_concurrent_processes_keep_one_card_per_ssn(tmp_path: Path) -> None:
    path = str(tmp_path / "r.db")
    SqliteRegistry(path).close()
    ssns = [f"41010219810101{n:03d}0" for n in range(40)]
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        results = pool.starmap(_issue_many, [(path, w, ssns) for w in range(4)])
    reg = SqliteRegistry(path)
    cards = reg.cards()
    assert len(cards) == len(ssns)
    assert len({c.ssn for c in cards}) == len(ssns)
    assert len({c.card_id.hex for c in cards}) == len(ssns)
    assert sorted(n for r in results for n in r) == [c.card_number for c in cards]


def test_other_owner_cannot_take_a_reservation(reg: SqliteRegistry) -> None:
    reg.reserve(SSN_A, "张三", "410100", owner="line-1")
    with pytest.raises(DuplicateCardError, match="being personalised by 'line-1'"):
        reg.reserve(SSN_A, "张三", "410100", owner="line-2")


def test_the_registry_and_its_journals_are_owner_only(tmp_path: Path) -> None:
    """Names and SSNs: the database and SQLite's side files are created 0600 (not 0644)."""
    previous = os.umask(0o022)
    try:
        registry = SqliteRegistry(tmp_path / "registry.db")
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
