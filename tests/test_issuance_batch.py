"""Batch runs: new cards, replacements, rejections by line and field, resuming after a crash."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest
from issuance_support import demo_psam, line, person, ssn, write_csv

from sbkcard.issuance.applicants import read_applicants
from sbkcard.issuance.batch import LOCK_NAME, SUMMARY_NAME, BatchError, Outcome, image_path
from sbkcard.issuance.personalise import CardOrder, blank_card, derive_keys, expected_storage
from sbkcard.issuance.registry import CardRecord, CardStatus, SqlRegistry
from sbkcard.keys.hierarchy import demo_keyset
from sbkcard.simulator import SimulatedCard, load_image
from sbkcard.terminal.errors import HotlistedCardError
from sbkcard.terminal.hotlist import Hotlist, Kind
from sbkcard.terminal.operations.basic import read_basic_info
from sbkcard.terminal.terminal import Terminal


class PowerFailure(Exception):
    """The issuing line's power fails (not an error sbkcard knows about)."""


class CrashingRegistry(SqlRegistry):
    """A registry whose line loses power just before it marks card ``crash_at`` issued."""

    crash_at = 0

    def mark_issued(self, card_number: str) -> CardRecord:
        self.crash_at -= 1
        if self.crash_at == 0:
            raise PowerFailure(f"power failure before {card_number} was marked issued")
        return super().mark_issued(card_number)


def read_back(path: Path, hotlist: Hotlist | None = None) -> tuple[str, str, bool]:
    """SSN, name and genuineness of the card in image ``path``, read through a PSAM."""
    terminal = Terminal(load_image(path), psam_reader=demo_psam(), hotlist=hotlist)
    with terminal.session() as conn:
        info = read_basic_info(conn)
    return info.holder.ssn, info.holder.name, info.genuine


def issue_earlier(directory: Path, *seqs: int) -> None:
    """Cards issued to ``seqs`` by an earlier batch of another line."""
    earlier = write_csv(directory / "earlier.csv", [person(n) for n in seqs])
    summary = line(directory, owner="line-0", out="earlier").run_file(earlier)
    assert len(summary.issued) == len(seqs)


def test_batch_of_new_invalid_duplicate_and_replacement(tmp_path: Path) -> None:
    issue_earlier(tmp_path, 50, 51)
    long_name = "欧阳" + "测" * 20  # 44 GBK bytes: 30 in tag 09, the rest in 4E
    applicants = write_csv(
        tmp_path / "batch.csv",
        [
            person(1),  # line 2
            person(2, insurance_type="", personnel_category=""),  # 3: no medical items
            person(3, ssn=ssn(3)[:-1] + "0"),  # 4: wrong check character
            person(4, gender="3"),  # 5
            person(1, name="张三"),  # 6: same SSN as line 2
            person(50),  # 7: holds a card from the earlier batch
            person(51, action="replace"),  # 8: 补卡
            person(52, action="replace"),  # 9: has no card
            person(5, name=long_name),  # 10
        ],
    )
    hotlist = Hotlist(tmp_path / "hotlist.db")
    batch = line(tmp_path, hotlist=hotlist)
    seen: list[Outcome] = []
    summary = batch.run_file(applicants, progress=lambda r: seen.append(r.outcome))

    assert summary.counts() == {
        "issued": 3,
        "replaced": 1,
        "already issued": 0,
        "rejected": 5,
        "failed": 0,
    }
    assert seen == [r.outcome for r in summary.results[-len(seen) :]] and len(seen) == 6
    rejected = {(r.line, r.field): r.reason for r in summary.rejected}
    assert set(rejected) == {(4, "ssn"), (5, "gender"), (6, "ssn"), (7, "ssn"), (9, "action")}
    assert "check character" in rejected[4, "ssn"]
    assert "duplicate of line 2" in rejected[6, "ssn"]
    assert "already holds card" in rejected[7, "ssn"]
    assert "has no card to replace" in rejected[9, "action"]

    # every card the batch made is read and authenticated by a terminal with a PSAM
    registry = SqlRegistry(tmp_path / "registry.db")
    for result in summary.issued:
        ssn_read, _name, genuine = read_back(image_path(batch.out_dir, result.card_number), hotlist)
        assert (ssn_read, genuine) == (result.ssn, True)
        assert registry.get(result.card_number).status is CardStatus.ISSUED
    by_line = {r.line: r for r in summary.results}
    assert read_back(image_path(batch.out_dir, by_line[10].card_number))[1] == long_name

    # the replaced card is retired in the registry and refused by terminals
    (replacement,) = summary.of(Outcome.REPLACED)
    old = registry.get(replacement.replaces)
    assert old.status is CardStatus.REPLACED and old.ssn == ssn(51)
    assert registry.get(replacement.card_number).replaces == old.card_number
    entry = hotlist.check(old.card_number, old.card_id.hex)
    assert entry is not None and entry.kind is Kind.REPLACED
    assert entry.replaced_by == f"{replacement.card_number}|{replacement.card_id}"
    with pytest.raises(HotlistedCardError):
        read_back(image_path(tmp_path / "earlier", old.card_number), hotlist)

    # one person, one live card, one number
    live = [c for c in registry.cards() if c.status is not CardStatus.REPLACED]
    assert len({c.ssn for c in live}) == len(live) == 5  # 50, 51 and 1, 2, 5
    saved = json.loads((batch.out_dir / SUMMARY_NAME).read_text(encoding="utf-8"))
    assert saved["counts"] == summary.counts()


def test_gbk_file_and_second_generation(tmp_path: Path) -> None:
    applicants = write_csv(tmp_path / "gbk.csv", [person(7, name="王小明")], encoding="gbk")
    batch = line(tmp_path, generation=2)
    (result,) = batch.run_file(applicants).issued
    path = image_path(batch.out_dir, result.card_number)
    assert read_back(path) == (ssn(7), "王小明", True)
    assert load_image(path).profile == 2


def test_resume_after_a_crash_before_mark_issued(tmp_path: Path) -> None:
    records = [person(n) for n in range(1, 8)]
    applicants = write_csv(tmp_path / "batch.csv", records)
    crashing = CrashingRegistry(tmp_path / "registry.db")
    crashing.crash_at = 4
    first = line(tmp_path, registry=crashing)
    first.chunk = 3
    with pytest.raises(PowerFailure):
        first.run_file(applicants)
    registry = SqlRegistry(tmp_path / "registry.db")
    cards = registry.cards()
    issued = [c for c in cards if c.status is CardStatus.ISSUED]
    (torn,) = [
        c
        for c in cards
        if image_path(first.out_dir, c.card_number).exists()
        and c.status is CardStatus.PERSONALISING
    ]
    assert len(issued) == 3
    inode = image_path(first.out_dir, torn.card_number).stat().st_ino

    summary = line(tmp_path, registry=registry).run_file(applicants)
    assert summary.counts()["already issued"] == 3
    assert summary.counts()["issued"] == 4
    resumed = {r.card_number: r for r in summary.results if r.resumed}
    assert torn.card_number in resumed
    # the card whose image was saved is marked issued, not personalised again
    assert image_path(first.out_dir, torn.card_number).stat().st_ino == inode

    cards = registry.cards()
    assert len(cards) == len(records)
    assert {c.ssn for c in cards} == {r["ssn"] for r in records}
    assert all(c.status is CardStatus.ISSUED for c in cards)
    assert sorted(p.name for p in first.out_dir.glob("*.json") if p.name != SUMMARY_NAME) == sorted(
        f"{c.card_number}.json" for c in cards
    )
    # and a third run finds nothing to do
    assert line(tmp_path, registry=registry).run_file(applicants).counts()["already issued"] == 7


@pytest.mark.parametrize("step", [0, 1, 413, 825])
def test_power_cut_inside_personalisation(tmp_path: Path, step: int) -> None:
    records = [person(n) for n in range(1, 4)]
    applicants = write_csv(tmp_path / "batch.csv", records)
    victim = records[1]["ssn"]
    torn: list[SimulatedCard] = []

    def blank_then_cut(order: CardOrder, transport_key: bytes) -> SimulatedCard:
        card = blank_card(order, transport_key)
        if order.applicant.ssn == victim:
            card.nvm.cut_power_after(step)
            torn.append(card)
        return card

    first = line(tmp_path, blank=blank_then_cut).run_file(applicants)
    (failed,) = first.of(Outcome.FAILED)
    assert failed.ssn == victim and "lost power" in failed.reason
    out = tmp_path / "out"
    assert not image_path(out, failed.card_number).exists()
    registry = SqlRegistry(tmp_path / "registry.db")
    assert registry.get(failed.card_number).status is CardStatus.PERSONALISING
    assert len(torn) == 1 and not torn[0].powered  # the torn chip is set aside

    second = line(tmp_path, registry=registry).run_file(applicants)
    assert second.counts()["already issued"] == 2
    (redone,) = second.issued
    assert (redone.card_number, redone.resumed) == (failed.card_number, True)
    # re-personalised from blank: exactly the card the fast path makes
    card = load_image(image_path(out, redone.card_number))
    (applicant,), _ = read_applicants(write_csv(tmp_path / "one.csv", [records[1]]))
    order = CardOrder.of(
        applicant,
        registry.get(redone.card_number),
        line(tmp_path).profile,
        line(tmp_path).issue_date,
    )
    (keys,) = derive_keys(demo_keyset(order.profile.algorithm), [order])
    assert dict(card.snapshot().storage) == expected_storage(order, keys)
    assert len(registry.cards()) == 3


def test_resume_a_replacement(tmp_path: Path) -> None:
    issue_earlier(tmp_path, 51)
    applicants = write_csv(tmp_path / "batch.csv", [person(51, action="replace")])
    crashing = CrashingRegistry(tmp_path / "registry.db")
    crashing.crash_at = 1
    hotlist = Hotlist(tmp_path / "hotlist.db")
    with pytest.raises(PowerFailure):
        line(tmp_path, registry=crashing, hotlist=hotlist).run_file(applicants)
    registry = SqlRegistry(tmp_path / "registry.db")
    second = line(tmp_path, registry=registry, hotlist=hotlist).run_file(applicants)
    (replaced,) = second.of(Outcome.REPLACED)
    assert replaced.resumed
    third = line(tmp_path, registry=registry, hotlist=hotlist).run_file(applicants)
    assert third.counts()["already issued"] == 1
    assert [e.action for e in hotlist.history()] == ["replace"]
    statuses = sorted(c.status.value for c in registry.cards() if c.ssn == ssn(51))
    assert statuses == ["issued", "replaced"]


def test_one_batch_at_a_time_per_directory(tmp_path: Path) -> None:
    applicants = write_csv(tmp_path / "batch.csv", [person(1)])
    batch = line(tmp_path)
    batch.out_dir.mkdir()
    fd = os.open(batch.out_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(BatchError, match="another batch is running"):
            batch.run_file(applicants)
    finally:
        os.close(fd)
    assert len(batch.run_file(applicants).issued) == 1


def test_keys_must_match_the_profile(tmp_path: Path) -> None:
    batch = line(tmp_path, generation=3)
    with pytest.raises(BatchError, match="SM4"):
        type(batch)(
            keyset=demo_keyset(line(tmp_path, generation=2).profile.algorithm),
            transport_key=batch.transport_key,
            profile=batch.profile,
            registry=batch.registry,
            out_dir=batch.out_dir,
            owner="x",
            verifier=batch.verifier,
        )


def test_a_wrong_transport_key_stops_the_batch(tmp_path: Path) -> None:
    applicants = write_csv(tmp_path / "batch.csv", [person(n) for n in range(1, 8)])
    vendor_key = line(tmp_path).transport_key  # what the chips were activated with

    def stock(order: CardOrder, _line_key: bytes) -> SimulatedCard:
        return blank_card(order, vendor_key)

    wrong = line(tmp_path, blank=stock)
    wrong.transport_key = bytes(16)
    with pytest.raises(BatchError, match="5 cards failed in a row") as exc:
        wrong.run_file(applicants)
    assert "63C" in str(exc.value)  # the chips refused the transport key
    saved = json.loads((wrong.out_dir / SUMMARY_NAME).read_text(encoding="utf-8"))
    assert saved["counts"]["failed"] == 5
    summary = line(tmp_path).run_file(applicants)
    assert summary.counts()["issued"] == 7
    assert sum(r.resumed for r in summary.results) == 7  # the chunk was reserved at once


def test_an_image_of_another_card_is_never_overwritten(tmp_path: Path) -> None:
    first = line(tmp_path)
    (issued,) = first.run_file(write_csv(tmp_path / "a.csv", [person(1)])).issued
    path = image_path(first.out_dir, issued.card_number)
    before = path.read_bytes()
    # a fresh registry (the old one lost) hands out the same card number again
    fresh = SqlRegistry(tmp_path / "fresh.db")
    summary = line(tmp_path, registry=fresh).run_file(write_csv(tmp_path / "b.csv", [person(2)]))
    (failed,) = summary.of(Outcome.FAILED)
    assert failed.card_number == issued.card_number
    assert "holds a card that is not this reservation's" in failed.reason
    assert "SSN" in failed.reason and path.read_bytes() == before
    assert fresh.get(failed.card_number).status is CardStatus.PERSONALISING


def test_one_card_per_person_per_batch(tmp_path: Path) -> None:
    issue_earlier(tmp_path, 51)
    records = [
        person(1),  # line 2
        person(1, action="replace"),  # 3
        person(51, action="replace"),  # 4
        person(51, action="replace"),  # 5
    ]
    applicants = write_csv(tmp_path / "batch.csv", records)
    for run in range(2):
        summary = line(tmp_path).run_file(applicants)
        rejected = {(r.line, r.field): r.reason for r in summary.rejected}
        assert rejected == {
            (3, "ssn"): "SSN also on line 2: one card per person per batch",
            (5, "ssn"): "SSN also on line 4: one card per person per batch",
        }
        done = Outcome.ALREADY_ISSUED if run else Outcome.ISSUED
        assert [r.outcome for r in summary.results if r.line in (2, 4)] == [
            done,
            Outcome.ALREADY_ISSUED if run else Outcome.REPLACED,
        ]
    assert len(SqlRegistry(tmp_path / "registry.db").cards()) == 3
