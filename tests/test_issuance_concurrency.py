"""Several issuing processes on one registry, over overlapping applicants: one card each."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from issuance_support import line, person, write_csv

from sbkcard.issuance.batch import SUMMARY_NAME, Outcome
from sbkcard.issuance.registry import CardStatus, SqlRegistry
from sbkcard.terminal.hotlist import Hotlist

PEOPLE = 12
WORKERS = 3
EACH = 8


def _run_line(directory: str, worker: int) -> list[tuple[str, str, str]]:
    """One issuing process: its own owner and output directory, the shared registry."""
    root = Path(directory)
    seqs = [(worker * 4 + i) % PEOPLE for i in range(EACH)]
    applicants = write_csv(root / f"w{worker}.csv", [person(n) for n in seqs])
    summary = line(root, owner=f"w{worker}", out=f"out-w{worker}").run_file(applicants)
    return [(r.outcome.value, r.ssn, r.card_number or r.reason) for r in summary.results]


def test_concurrent_lines_issue_each_person_one_card(tmp_path: Path) -> None:
    # the databases exist before the lines start (as on a real line)
    SqlRegistry(tmp_path / "registry.db").close()
    Hotlist(tmp_path / "hotlist.db").close()
    with multiprocessing.get_context("spawn").Pool(WORKERS) as pool:
        runs = pool.starmap(_run_line, [(str(tmp_path), w) for w in range(WORKERS)])

    registry = SqlRegistry(tmp_path / "registry.db")
    cards = registry.cards()
    assert len(cards) == PEOPLE
    assert len({c.ssn for c in cards}) == PEOPLE
    assert len({c.card_id.hex for c in cards}) == PEOPLE
    assert all(c.status is CardStatus.ISSUED for c in cards)

    issued = [(ssn, number) for run in runs for outcome, ssn, number in run if outcome == "issued"]
    assert sorted(number for _, number in issued) == [c.card_number for c in cards]
    for run in runs:
        assert len(run) == EACH
        for outcome, _ssn, detail in run:
            assert outcome in (Outcome.ISSUED.value, Outcome.REJECTED.value)
            if outcome == Outcome.REJECTED.value:
                assert "being personalised by" in detail or "already holds" in detail
    # every card has exactly one image, in the directory of the line that issued it
    images = [p.stem for p in tmp_path.glob("out-w*/*.json") if p.name != SUMMARY_NAME]
    assert sorted(images) == [c.card_number for c in cards]
    for card in cards:
        assert (tmp_path / f"out-{card.owner}" / f"{card.card_number}.json").exists()
