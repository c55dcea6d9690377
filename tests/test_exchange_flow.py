"""Issuer → bureau → issuer: export, personalise, result, import, delete (Part 10 §5.3, §6.3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from exchange_support import JOB, applicants, bureau_transport, export, parties
from issuance_support import ISSUE_DATE

from sbkcard.issuance.exchange.bureau import (
    JOURNAL_NAME,
    BureauLedger,
    delete_batch_data,
    personalise_file,
    write_result,
)
from sbkcard.issuance.exchange.issuer import Ledger, import_result
from sbkcard.issuance.exchange.parties import ExchangeError
from sbkcard.issuance.exchange.sealed import SealedWriter
from sbkcard.issuance.personalise import BlankCards, CardOrder, Verifier, blank_card
from sbkcard.issuance.registry import CardRecord, CardStatus, SqlRegistry
from sbkcard.keys.hierarchy import demo_keyset
from sbkcard.keys.transcript import verify_transcript
from sbkcard.simulator import SimulatedCard, load_image


def _personalise(
    tmp_path: Path, blank: BlankCards = blank_card, name: str = "batch.sbkx", out: str = "bureau"
) -> dict[str, object]:
    issuer, bureau, _ = parties()
    summary = personalise_file(
        tmp_path / name,
        bureau=bureau,
        issuer=issuer.public,
        transport_key=bureau_transport,
        out_dir=tmp_path / out,
        ledger=BureauLedger(tmp_path / "bureau.db"),
        blank=blank,
    )
    return summary.to_json()


def _result(tmp_path: Path, name: str = "result.sbkx") -> Path:
    issuer, bureau, _ = parties()
    write_result(tmp_path / "bureau", bureau=bureau, issuer=issuer.public, out=tmp_path / name)
    return tmp_path / name


def _import(tmp_path: Path, result: Path, registry: SqlRegistry | None = None) -> dict[str, object]:
    issuer, bureau, _ = parties()
    return import_result(
        result,
        registry=registry or SqlRegistry(tmp_path / "registry.db"),
        ledger=Ledger(tmp_path / "exchange.db"),
        issuer=issuer,
        bureau=bureau.public,
    ).to_json()


def test_a_batch_goes_round_and_the_cards_read_back(tmp_path: Path) -> None:
    exported = export(tmp_path, applicants(4))
    registry = SqlRegistry(tmp_path / "registry.db")
    assert [registry.get(n).status for n in exported.cards] == [CardStatus.PERSONALISING] * 4
    assert _personalise(tmp_path)["counts"] == {"issued": 4, "failed": 0, "spoiled": 0}
    imported = _import(tmp_path, _result(tmp_path))
    assert imported["counts"] == {"issued": 4, "failed": 0, "spoiled": 0}
    assert [registry.get(n).status for n in exported.cards] == [CardStatus.ISSUED] * 4
    # every card the bureau made reads back right on a terminal holding the roots
    verifier = Verifier.software(demo_keyset(JOB.profile.algorithm))
    for person, number in zip(applicants(4), exported.cards, strict=True):
        record = registry.get(number)
        card = load_image(tmp_path / "bureau" / f"{number}.json")
        verifier.check(card, CardOrder.of(person, record, JOB.profile, ISSUE_DATE))


class _Tearing:
    """Blank chips of which the ``bad`` ones lose power at their ``write``-th write."""

    def __init__(self, bad: set[str], write: int = 30) -> None:
        self.bad = bad
        self.write = write

    def __call__(self, order: CardOrder, transport: bytes) -> SimulatedCard:
        card = blank_card(order, transport)
        if order.card_number in self.bad:
            card.nvm.cut_power_after(self.write)
        return card


def test_spoiled_and_failed_cards_stay_reserved_and_a_rerun_finishes(tmp_path: Path) -> None:
    exported = export(tmp_path, applicants(4))
    spoiled, failed = exported.cards[1], exported.cards[2]

    def blank(order: CardOrder, transport: bytes) -> SimulatedCard:
        if order.card_number == failed:
            return blank_card(order, bytes(16))  # a chip activated with another transport key
        return _Tearing({spoiled})(order, transport)

    assert _personalise(tmp_path, blank)["counts"] == {"issued": 2, "failed": 1, "spoiled": 1}
    journal = [json.loads(x) for x in (tmp_path / "bureau" / JOURNAL_NAME).read_text().splitlines()]
    assert {j["number"]: j["outcome"] for j in journal}[spoiled] == "spoiled"
    first = _import(tmp_path, _result(tmp_path, "r1.sbkx"))
    assert first["counts"] == {"issued": 2, "failed": 1, "spoiled": 1}
    registry = SqlRegistry(tmp_path / "registry.db")
    assert registry.get(spoiled).status is CardStatus.PERSONALISING
    assert registry.get(failed).status is CardStatus.PERSONALISING
    ledger = Ledger(tmp_path / "exchange.db")
    assert [o for o, _ in ledger.outcomes(spoiled)] == ["spoiled"]
    # the bureau runs again with good chips: only the two left are personalised
    again = _personalise(tmp_path)
    assert again["counts"] == {"issued": 2, "failed": 0, "spoiled": 0}
    assert again["already_issued"] == 2
    second = _import(tmp_path, _result(tmp_path, "r2.sbkx"))
    assert second["already_issued"] == 2  # the first two, reported again, not issued twice
    assert {registry.get(n).status for n in exported.cards} == {CardStatus.ISSUED}
    assert [o for o, _ in ledger.outcomes(spoiled)] == ["spoiled", "issued"]


def test_export_again_after_a_failure_sends_the_same_reservations(tmp_path: Path) -> None:
    first = export(tmp_path, applicants(3))
    second = export(tmp_path, applicants(3), name="again.sbkx")
    assert second.cards == first.cards
    assert second.file_id != first.file_id
    _personalise(tmp_path, name="again.sbkx")
    _import(tmp_path, _result(tmp_path))
    # once issued, the people are refused in a new batch: one person, one card
    third = export(tmp_path, applicants(4), name="third.sbkx")
    assert len(third.cards) == 1
    assert [r[0] for r in third.rejected] == [2, 3, 4]


def test_a_replayed_result_is_refused(tmp_path: Path) -> None:
    export(tmp_path, applicants(2))
    _personalise(tmp_path)
    result = _result(tmp_path)
    _import(tmp_path, result)
    with pytest.raises(ExchangeError, match=r"already imported .*a replay is refused"):
        _import(tmp_path, result)


def _forged(tmp_path: Path, cards: list[dict[str, str]], export_id: str) -> Path:
    issuer, bureau, _ = parties()
    path = tmp_path / "forged.sbkx"
    meta = {"batch": JOB.batch, "export_id": export_id, "export_digest": ""}
    with SealedWriter(path, kind="result", sender=bureau, recipient=issuer.public, meta=meta) as w:
        w.write_part("\n".join(json.dumps(c) for c in cards).encode())
        w.finish(cards=len(cards))
    return path


def _card(record: CardRecord, **changes: str) -> dict[str, str]:
    from sbkcard.applet_model.user_card.personalise import card_atr

    card = {
        "number": record.card_number,
        "card_id": record.card_id.hex,
        "atr": card_atr(JOB.profile, record.card_id).hex().upper(),
        "chip_serial": "00112233",
        "outcome": "issued",
    }
    return {**card, **changes}


def test_a_result_for_cards_never_exported_is_refused_whole(tmp_path: Path) -> None:
    exported = export(tmp_path, applicants(2))
    registry = SqlRegistry(tmp_path / "registry.db")
    stranger = registry.reserve(applicants(3)[2].ssn, "其他", "410100", owner="elsewhere")
    good = _card(registry.get(exported.cards[0]))
    path = _forged(tmp_path, [good, _card(stranger)], exported.file_id)
    with pytest.raises(ExchangeError, match=f"card {stranger.card_number} was never exported"):
        _import(tmp_path, path)
    # nothing changed, not even the good card
    assert registry.get(exported.cards[0]).status is CardStatus.PERSONALISING


def test_a_result_with_a_wrong_atr_or_unknown_export_is_refused(tmp_path: Path) -> None:
    exported = export(tmp_path, applicants(1))
    record = SqlRegistry(tmp_path / "registry.db").get(exported.cards[0])
    path = _forged(tmp_path, [_card(record, atr="3B00")], exported.file_id)
    with pytest.raises(ExchangeError, match="ATR 3B00 is not the card's"):
        _import(tmp_path, path)
    path = _forged(tmp_path, [_card(record)], "0" * 32)
    with pytest.raises(ExchangeError, match="which this issuer never made"):
        _import(tmp_path, path)


class _Crashing(SqlRegistry):
    """A registry whose process dies after ``left`` cards were marked issued."""

    left = 1

    def mark_issued(self, card_number: str) -> CardRecord:
        if self.left == 0:
            raise KeyboardInterrupt
        self.left -= 1
        return super().mark_issued(card_number)


def test_an_import_cut_short_finishes_on_the_rerun(tmp_path: Path) -> None:
    exported = export(tmp_path, applicants(3))
    _personalise(tmp_path)
    result = _result(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        _import(tmp_path, result, _Crashing(tmp_path / "registry.db"))
    finished = _import(tmp_path, result)
    assert finished["already_issued"] == 1
    registry = SqlRegistry(tmp_path / "registry.db")
    assert {registry.get(n).status for n in exported.cards} == {CardStatus.ISSUED}


def test_the_bureau_refuses_a_transport_key_that_is_not_the_batchs(tmp_path: Path) -> None:
    export(tmp_path, applicants(1))
    issuer, bureau, _ = parties()
    with pytest.raises(ExchangeError, match="load batch batch-1's transport key first"):
        personalise_file(
            tmp_path / "batch.sbkx",
            bureau=bureau,
            issuer=issuer.public,
            transport_key=lambda algorithm, batch: bytes(16),
            out_dir=tmp_path / "bureau",
            ledger=BureauLedger(tmp_path / "bureau.db"),
        )


def test_deletion_is_recorded_in_the_transcript(tmp_path: Path) -> None:
    export(tmp_path, applicants(2))
    _personalise(tmp_path)
    with pytest.raises(ExchangeError, match="no result file was written yet"):
        delete_batch_data(
            tmp_path / "batch.sbkx",
            tmp_path / "bureau",
            transcript=tmp_path / "t.jsonl",
            operator="李四",
            supervisor="王五",
        )
    _result(tmp_path)
    record = delete_batch_data(
        tmp_path / "batch.sbkx",
        tmp_path / "bureau",
        transcript=tmp_path / "t.jsonl",
        operator="李四",
        supervisor="王五",
        witness="发卡方 赵六",
    )
    assert record["card_images"] == 2
    assert not (tmp_path / "batch.sbkx").exists()
    assert sorted(p.name for p in (tmp_path / "bureau").iterdir()) == ["batch.json", JOURNAL_NAME]
    report = verify_transcript(tmp_path / "t.jsonl", require_closed=False)
    entry = report.entries[-1]
    assert (entry.step, entry.actor) == ("personalisation data deleted", "李四")
    assert entry.details["supervisor"] == "王五"
    assert entry.details["witness"] == "发卡方 赵六"
    assert report.head == record["transcript_head"]


def test_a_power_cut_is_a_spoiled_chip(tmp_path: Path) -> None:
    exported = export(tmp_path, applicants(1))
    assert _personalise(tmp_path, _Tearing(set(exported.cards), write=3))["counts"]["spoiled"] == 1
    (entry,) = [
        json.loads(x) for x in (tmp_path / "bureau" / JOURNAL_NAME).read_text().splitlines()
    ]
    assert "lost power" in entry["reason"]
    assert not (tmp_path / "bureau" / f"{exported.cards[0]}.json").exists()


def test_the_bureau_refuses_a_replayed_file_and_never_makes_a_card_twice(tmp_path: Path) -> None:
    first = export(tmp_path, applicants(2))
    assert _personalise(tmp_path)["counts"]["issued"] == 2
    with pytest.raises(ExchangeError, match="a replay is refused"):
        _personalise(tmp_path, out="elsewhere")
    # the issuer exports the same reservations again before importing (its file was lost):
    # the bureau reports the cards it made, and makes none again
    again = export(tmp_path, applicants(2), name="again.sbkx")
    assert again.cards == first.cards
    summary = _personalise(tmp_path, name="again.sbkx", out="again")
    assert summary["counts"]["issued"] == 0 and summary["already_issued"] == 2
    issuer, bureau, _ = parties()
    write_result(tmp_path / "again", bureau=bureau, issuer=issuer.public, out=tmp_path / "r.sbkx")
    assert _import(tmp_path, tmp_path / "r.sbkx")["counts"] == {
        "issued": 2,
        "failed": 0,
        "spoiled": 0,
    }
    assert not list((tmp_path / "again").glob("HA*.json"))
