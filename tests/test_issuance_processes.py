"""Real ``sbkcard issue`` processes sharing one registry (SQLite file or PostgreSQL URL).

Lines run at once over overlapping applicants; some are killed with SIGKILL mid-batch
and run again. At the end every person holds exactly one live card, no card number or
card identification code is used twice, every card in the registry has its image in
the directory of the line that issued it (and no image is left without its card), and
each image reads back, through a terminal, with its person's data.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from issuance_support import demo_psam, person, write_csv

from sbkcard.cli import main
from sbkcard.issuance.batch import SUMMARY_NAME, image_path
from sbkcard.issuance.registry import CardStatus, SqlRegistry
from sbkcard.simulator import load_image
from sbkcard.terminal.hotlist import Hotlist
from sbkcard.terminal.operations.basic import read_basic_info
from sbkcard.terminal.terminal import Terminal
from sbkcard.throwaway_postgres import PostgresServer

LINES = 4
PEOPLE = 64
EACH = 32
"""Line ``w`` takes people ``16w … 16w+31`` (mod 64): everyone is in two lines."""
KILLED = 2
"""Lines killed mid-batch."""
DEADLINE = 120.0
"""Seconds any one process may take (the test never hangs)."""


def _arguments(target: str, applicants: Path, out: Path) -> list[str]:
    return [
        "issue",
        str(applicants),
        "--keys",
        "demo",
        "--out",
        str(out),
        "--registry",
        target,
        "--issue-date",
        "20240603",
    ]


def _command(target: str, applicants: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "sbkcard", *_arguments(target, applicants, out)]


def _start(target: str, applicants: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        _command(target, applicants, out),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )


def _finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=DEADLINE)
    return process.returncode, out, err


def _images(out: Path) -> list[Path]:
    return [p for p in out.glob("*.json") if p.name != SUMMARY_NAME]


def _kill_mid_batch(lines: Sequence[subprocess.Popen[str]], outs: Sequence[Path]) -> set[int]:
    """SIGKILL :data:`KILLED` of the running ``lines``, each once it has written a card
    image but not its summary (which lines get work first is a race); the killed ones."""
    killed: set[int] = set()
    deadline = time.monotonic() + DEADLINE
    while len(killed) < KILLED and any(p.poll() is None for p in lines):
        assert time.monotonic() < deadline, "the lines wrote no card images"
        for w, process in enumerate(lines):
            if w in killed or process.poll() is not None or not _images(outs[w]):
                continue
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=DEADLINE)
            assert process.returncode == -signal.SIGKILL
            assert not (outs[w] / SUMMARY_NAME).exists(), "killed after the batch ended"
            killed.add(w)
            if len(killed) == KILLED:
                break
        time.sleep(0.005)
    return killed


def _hotlist_target(target: str) -> str:
    return target if target.startswith("postgresql://") else str(Path(target).parent / "hotlist.db")


def check_one_card_each(
    target: str, hotlist: str, people: Sequence[int], outs: Sequence[Path]
) -> None:
    """The registry and the output directories agree: one issued card per person."""
    registry = SqlRegistry(target)
    cards = registry.cards()
    registry.close()
    wanted = {person(n)["ssn"]: person(n) for n in people}
    assert sorted(c.ssn for c in cards) == sorted(wanted)  # one card each, nobody else
    assert all(c.status is CardStatus.ISSUED for c in cards)
    assert len({c.card_number for c in cards}) == len(cards)
    assert len({c.card_id.hex for c in cards}) == len(cards)
    images = sorted(p.stem for out in outs for p in _images(out))
    assert images == sorted(c.card_number for c in cards)  # every card accounted for
    with Hotlist(hotlist) as listed:
        for card in cards:
            (out,) = [o for o in outs if image_path(o, card.card_number).exists()]
            terminal = Terminal(
                load_image(image_path(out, card.card_number)),
                psam_reader=demo_psam(),
                hotlist=listed,
            )
            with terminal.session() as conn:
                info = read_basic_info(conn)
            assert info.genuine
            assert info.issuer.card_number == card.card_number
            assert info.holder.ssn == card.ssn
            assert info.holder.name == wanted[card.ssn]["name"]


def test_lines_killed_and_resumed_issue_each_person_one_card(
    database: Callable[[str], str], tmp_path: Path
) -> None:
    target = database("registry")
    outs = [tmp_path / f"out-{w}" for w in range(LINES)]
    files = [
        write_csv(tmp_path / f"line{w}.csv", [person((16 * w + i) % PEOPLE) for i in range(EACH)])
        for w in range(LINES)
    ]
    SqlRegistry(target).close()  # the registry exists before the lines start
    lines = [_start(target, files[w], outs[w]) for w in range(LINES)]
    killed = _kill_mid_batch(lines, outs)
    assert len(killed) == KILLED
    for w in range(LINES):
        if w not in killed:
            code, _out, err = _finish(lines[w])
            assert code == 0, err
            assert "Traceback" not in err
    for w in killed:  # the same command again finishes the batch
        code, _out, err = _finish(_start(target, files[w], outs[w]))
        assert code == 0, err
        assert "Traceback" not in err
    check_one_card_each(target, _hotlist_target(target), range(PEOPLE), outs)


def test_two_lines_at_once_on_a_postgresql_registry(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    url = postgres.new_database()
    files = [
        write_csv(tmp_path / "a.csv", [person(n) for n in range(0, 30)]),
        write_csv(tmp_path / "b.csv", [person(n) for n in range(15, 45)]),
    ]
    outs = [tmp_path / "out-a", tmp_path / "out-b"]
    lines = [_start(url, f, o) for f, o in zip(files, outs, strict=True)]
    results = [_finish(p) for p in lines]
    for code, _out, err in results:
        assert code == 0, err
    rejected = "".join(out for _, out, _ in results)
    assert "rejected" in rejected
    check_one_card_each(url, url, range(45), outs)


def test_a_registry_url_that_does_not_answer(tmp_path: Path) -> None:
    url = f"postgresql://issuer:s3cret@/registry?host={tmp_path}&connect_timeout=2"
    applicants = write_csv(tmp_path / "a.csv", [person(1)])
    done = subprocess.run(
        _command(url, applicants, tmp_path / "out"),
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("sbkcard: error: cannot open registry postgresql://issuer:***@")
    assert "No such file or directory" in done.stderr  # libpq's cause: no server socket
    assert "s3cret" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_a_server_restarted_mid_batch(postgres: PostgresServer, tmp_path: Path, mode: str) -> None:
    """The line stops naming the lost connection; the same command finishes the batch."""
    url = postgres.new_database()
    people = range(100, 160)
    applicants = write_csv(tmp_path / "a.csv", [person(n) for n in people])
    out = tmp_path / "out"
    line = _start(url, applicants, out)
    try:
        deadline = time.monotonic() + DEADLINE
        while len(_images(out)) < 3:
            assert line.poll() is None, _finish(line)
            assert time.monotonic() < deadline
            time.sleep(0.005)
        postgres.stop(mode)
    finally:
        postgres.start()
    code, _out, err = _finish(line)
    assert code == 1, err
    (message,) = err.strip().splitlines()  # one line, after the progress bar is cleared
    assert message.startswith(("sbkcard: error: registry ", "sbkcard: error: hotlist "))
    assert "failed: " in message
    assert any(cause in message for cause in ("terminating connection", "closed", "connection"))
    assert "Traceback" not in err
    code, _out, err = _finish(_start(url, applicants, out))
    assert code == 0, err
    check_one_card_each(url, url, people, [out])


def test_a_person_with_a_live_card_elsewhere_is_skipped(
    database: Callable[[str], str], tmp_path: Path
) -> None:
    target = database("registry")
    first = write_csv(tmp_path / "first.csv", [person(1), person(2)])
    second = write_csv(tmp_path / "second.csv", [person(2), person(3)])
    outs = [tmp_path / "out-1", tmp_path / "out-2"]
    assert main(_arguments(target, first, outs[0])) == 0  # in this process: no race here
    assert main(_arguments(target, second, outs[1])) == 0
    registry = SqlRegistry(target)
    held = registry.live_card(person(2)["ssn"])
    assert held is not None
    # the summary names the card the person already holds, and the line that issued it
    summary = json.loads((outs[1] / SUMMARY_NAME).read_text(encoding="utf-8"))
    (skipped,) = [r for r in summary["results"] if r["outcome"] == "rejected"]
    assert skipped["ssn"] == held.ssn
    assert f"already holds card {held.card_number} (issued, {held.owner!r})" in skipped["reason"]
    assert str(outs[0]) in held.owner
    assert main(_arguments(target, second, outs[1])) == 0  # again: nobody issued twice
    assert len(registry.cards()) == 3
    registry.close()
    check_one_card_each(target, _hotlist_target(target), (1, 2, 3), outs)
