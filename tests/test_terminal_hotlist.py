"""The hotlist: report, lift, replace, ranges, history; a broken database is an error.

The hotlist's behaviour is tested on SQLite and on PostgreSQL (the ``database``
fixture); what can go wrong with a file (not a database, locked, corrupt) on SQLite.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import sqlite3
import stat
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from sbkcard.database import MIGRATIONS_TABLE, Database
from sbkcard.terminal.errors import HotlistedCardError, HotlistError, InvalidInputError
from sbkcard.terminal.hotlist import SCHEMA_VERSION, Hotlist, Kind

CARD_ID = "410100D15600000500BF7C7A48FB4966"
OTHER_ID = "410100D156000005000000017A48FB49"
NEW_ID = "410100D15600000500BF7C7B00000000"


class Clock:
    """A clock that advances one minute per reading."""

    def __init__(self) -> None:
        self.now = dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(minutes=1)
        return self.now


@pytest.fixture
def hotlist(database: Callable[[str], str]) -> Iterator[Hotlist]:
    with Hotlist(database("hotlist"), clock=Clock()) as opened:
        yield opened


def test_a_clean_card_passes(hotlist: Hotlist) -> None:
    assert hotlist.check("X00000019", CARD_ID) is None
    hotlist.ensure_clear("X00000019", CARD_ID)


def test_report_then_refuse_by_number_or_by_card_id(hotlist: Hotlist) -> None:
    entry = hotlist.report("x00000019", CARD_ID.lower(), "持卡人挂失")
    assert entry.card_number == "X00000019" and entry.card_id == CARD_ID
    assert entry.kind is Kind.LOST and entry.reason == "持卡人挂失"
    # the same number with another id, or the same id under another number: both listed
    assert hotlist.check("X00000019", OTHER_ID) == entry
    assert hotlist.check("Y00000018", CARD_ID) == entry
    with pytest.raises(HotlistedCardError) as exc:
        hotlist.ensure_clear("X00000019", CARD_ID)
    assert exc.value.reason == "持卡人挂失" and exc.value.kind == "lost"


def test_lift_takes_the_card_off(hotlist: Hotlist) -> None:
    hotlist.report("X00000019", CARD_ID, "lost at the station")
    hotlist.lift("X00000019", CARD_ID, "found again")
    assert hotlist.check("X00000019", CARD_ID) is None
    actions = [(e.action, e.reason) for e in hotlist.history()]
    assert actions == [("report", "lost at the station"), ("lift", "found again")]
    times = [e.at for e in hotlist.history()]
    assert times == sorted(times) and times[0] < times[1]


def test_lift_of_an_unlisted_card_is_refused(hotlist: Hotlist) -> None:
    with pytest.raises(HotlistError, match="not on the hotlist"):
        hotlist.lift("X00000019", CARD_ID, "?")


def test_double_report_is_refused(hotlist: Hotlist) -> None:
    hotlist.report("X00000019", CARD_ID, "lost")
    with pytest.raises(HotlistError, match="already listed"):
        hotlist.report("X00000019", CARD_ID, "lost again")


def test_replace_lists_the_old_card_for_good(hotlist: Hotlist) -> None:
    hotlist.report("X00000019", CARD_ID, "lost")
    entry = hotlist.replace("X00000019", CARD_ID, "X0000002X", NEW_ID)
    assert entry.kind is Kind.REPLACED and entry.replaced_by == f"X0000002X|{NEW_ID}"
    assert hotlist.check("X0000002X", NEW_ID) is None
    listed = hotlist.check("X00000019", CARD_ID)
    assert listed is not None and listed.kind is Kind.REPLACED
    with pytest.raises(HotlistError, match="replaced"):
        hotlist.lift("X00000019", CARD_ID, "found it")
    assert [e.card_number for e in hotlist.entries()] == ["X00000019"]


def test_replace_of_a_card_never_reported(hotlist: Hotlist) -> None:
    hotlist.replace("X00000019", CARD_ID, "X0000002X", NEW_ID, reason="卡片损坏")
    listed = hotlist.check("X00000019", CARD_ID)
    assert listed is not None and listed.reason == "卡片损坏"


def test_range_of_card_numbers(hotlist: Hotlist) -> None:
    hotlist.report_range("A00000100", "A00000199", "batch recalled")
    inside = hotlist.check("A00000150", CARD_ID)
    assert inside is not None and inside.kind is Kind.RANGE
    assert hotlist.check("A00000200", CARD_ID) is None
    assert hotlist.check("A0000010", CARD_ID) is None  # a shorter number is not in range


@pytest.mark.parametrize(
    ("number", "card_id", "reason"),
    [
        ("", CARD_ID, "r"),
        ("X00000019", "12", "r"),
        ("X00000019", "Z" * 32, "r"),
        ("X1", CARD_ID, " "),
    ],
)
def test_bad_input_is_refused(hotlist: Hotlist, number: str, card_id: str, reason: str) -> None:
    with pytest.raises(InvalidInputError):
        hotlist.report(number, card_id, reason)


def test_persists_across_opens(database: Callable[[str], str]) -> None:
    path = database("hotlist")
    with Hotlist(path) as first:
        first.report("X00000019", CARD_ID, "lost")
    with Hotlist(path) as second:
        assert second.check("X00000019", CARD_ID) is not None


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "hotlist.db"
    path.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(HotlistError, match=r"hotlist\.db"):
        Hotlist(path)


def test_a_database_of_something_else(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE patients (id INTEGER)")
    db.commit()
    db.close()
    with pytest.raises(HotlistError, match="not a hotlist"):
        Hotlist(path)


def test_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(HotlistError, match="cannot open"):
        Hotlist(tmp_path / "no" / "such" / "dir" / "hotlist.db")


def test_a_locked_database_is_an_error_not_a_pass(tmp_path: Path) -> None:
    path = tmp_path / "hotlist.db"
    opened_before = Hotlist(path, timeout=0.05)
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(HotlistError, match="locked"):
            opened_before.check("X00000019", CARD_ID)
        with pytest.raises(HotlistError, match="locked"):
            Hotlist(path, timeout=0.05)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert opened_before.check("X00000019", CARD_ID) is None


def test_a_corrupted_database_fails_the_check(tmp_path: Path) -> None:
    path = tmp_path / "hotlist.db"
    with Hotlist(path) as hotlist:
        hotlist.report("X00000019", CARD_ID, "lost")
    raw = bytearray(path.read_bytes())
    raw[100:] = b"\xff" * (len(raw) - 100)
    path.write_bytes(bytes(raw))
    with pytest.raises(HotlistError):
        Hotlist(path).check("X00000019", CARD_ID)


def _open_and_report(path: str, number: int, start: Any, results: Any) -> None:
    """One process: wait for the others, open (create) the hotlist, list one card."""
    start.wait()
    try:
        with Hotlist(path, timeout=30) as hotlist:
            hotlist.report(f"X{number:08d}", f"{number:032X}", "lost")
        results.put((number, "ok"))
    except Exception as exc:
        results.put((number, f"{type(exc).__name__}: {exc}"))


@pytest.mark.parametrize("round_", range(2))
def test_processes_creating_one_new_hotlist_at_once(
    database: Callable[[str], str], round_: int
) -> None:
    """Every process opens the new database at the same instant: all succeed, one schema.

    Before schema and version went into one transaction, a process could find the tables
    of another's half-made schema with user_version still 0, and refuse the file.
    """
    processes = 6
    path = database("hotlist")
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(processes)
    results = context.Queue()
    workers = [
        context.Process(target=_open_and_report, args=(path, n, start, results))
        for n in range(processes)
    ]
    for worker in workers:
        worker.start()
    outcomes = dict(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    assert outcomes == dict.fromkeys(range(processes), "ok")
    db = Database(path, name="test", error=HotlistError, timeout=5)
    try:
        assert db.version("hotlist") == SCHEMA_VERSION
        assert db.tables() - {"sqlite_sequence"} == {
            "hotlist",
            "hotlist_range",
            "hotlist_event",
            MIGRATIONS_TABLE,
        }
        applied = db.execute(f"SELECT component, version FROM {MIGRATIONS_TABLE}")
        assert applied == [("hotlist", SCHEMA_VERSION)]
    finally:
        db.close()
    with Hotlist(path) as hotlist:
        assert {e.card_number for e in hotlist.entries()} == {f"X{n:08d}" for n in range(processes)}
        assert [e.action for e in hotlist.history()] == ["report"] * processes


def test_a_hotlist_file_is_owner_only(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        with Hotlist(tmp_path / "hotlist.db", clock=Clock()) as listed:
            listed.report("X00000019", CARD_ID, "lost")
            with closing(sqlite3.connect(tmp_path / "hotlist.db")) as db:
                db.execute("BEGIN IMMEDIATE")
                db.execute("CREATE TABLE probe (x)")
                journal = tmp_path / "hotlist.db-journal"
                assert stat.S_IMODE(journal.stat().st_mode) == 0o600
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "hotlist.db").stat().st_mode) == 0o600
