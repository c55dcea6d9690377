"""The issuer's side: reserve and export a batch, import the bureau's result (Part 10 §5.3, §6.2).

:func:`export_batch` reserves a card for every applicant in the registry (owner: the
batch name, so an export run again after a failure finds the same reservations),
prepares the cards (:mod:`.engine`) and writes the personalisation file, encrypted to
the bureau and signed by the issuer (:mod:`.sealed`). The :class:`Ledger` remembers
which cards went out in which file.

:func:`import_result` checks the bureau's signed result, then every card in it against
the ledger and the registry *before* changing anything: a card never exported, a card
ID or ATR that is not the reservation's, or a result already imported (a replay) refuses
the whole file. Then ``issued`` cards are marked issued in the registry; ``failed`` and
``spoiled`` ones (a chip that refused or tore, set aside) stay reserved for the next
export and their outcome, with the chip's serial, goes into the ledger. An import cut
short is finished by running it again: nobody is issued twice.
"""

from __future__ import annotations

import datetime
import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sbkcard.applet_model.user_card import PROFILES
from sbkcard.applet_model.user_card.personalise import card_atr
from sbkcard.issuance.applicants import Action, Applicant
from sbkcard.issuance.exchange.parties import ExchangeError, PartyKeys, PublicParty
from sbkcard.issuance.exchange.prepare import PrepItem, PrepJob, PrepKeys, key_layout
from sbkcard.issuance.exchange.sealed import SealedWriter, open_sealed
from sbkcard.issuance.registry import CardStatus, DuplicateCardError, Registry, RegistryError

__all__ = [
    "OUTCOMES",
    "PERSONALISATION",
    "RESULT",
    "ExportSummary",
    "ImportSummary",
    "Ledger",
    "export_batch",
    "import_result",
]

PERSONALISATION = "personalisation"
RESULT = "result"
OUTCOMES = ("issued", "failed", "spoiled")
"""What the bureau reports per card: personalised and checked; refused; chip set aside."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS exports (
    file_id TEXT PRIMARY KEY, batch TEXT NOT NULL, generation INTEGER NOT NULL,
    cards INTEGER NOT NULL, created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS exported_cards (
    file_id TEXT NOT NULL REFERENCES exports(file_id), card_number TEXT NOT NULL,
    PRIMARY KEY (file_id, card_number)
);
CREATE TABLE IF NOT EXISTS imports (
    file_id TEXT PRIMARY KEY, export_id TEXT NOT NULL, imported_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outcomes (
    result_id TEXT NOT NULL, card_number TEXT NOT NULL, outcome TEXT NOT NULL,
    chip_serial TEXT NOT NULL, atr TEXT NOT NULL, reason TEXT NOT NULL,
    PRIMARY KEY (result_id, card_number)
);
"""


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def connect(path: Path | str, schema: str, what: str) -> sqlite3.Connection:
    """An SQLite database in autocommit mode with ``schema`` in place."""
    try:
        db = sqlite3.connect(str(path), isolation_level=None)
        db.executescript(schema)
    except sqlite3.Error as exc:
        raise ExchangeError(f"{what} {path}: {exc}") from None
    return db


class Ledger:
    """The issuer's record of exchange files and card outcomes (an SQLite file)."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._file = ""
        self._db = connect(path, _SCHEMA, "exchange ledger")

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def begin_export(self, file_id: str) -> None:
        """Start recording export ``file_id`` (one transaction until it is finished)."""
        self._db.execute("BEGIN")
        self._file = file_id

    def add_exported(self, card_number: str) -> None:
        """``card_number`` goes out in the export being recorded."""
        self._db.execute("INSERT INTO exported_cards VALUES (?, ?)", (self._file, card_number))

    def finish_export(self, batch: str, generation: int, cards: int) -> None:
        """The export's file is written: commit its record."""
        self._db.execute(
            "INSERT INTO exports VALUES (?, ?, ?, ?, ?)",
            (self._file, batch, generation, cards, _now()),
        )
        self._db.execute("COMMIT")

    def abort_export(self) -> None:
        """The export failed: forget its cards."""
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def exported_cards(self, file_id: str) -> list[str]:
        """The card numbers of export ``file_id``, in file order."""
        rows = self._db.execute(
            "SELECT card_number FROM exported_cards WHERE file_id = ? ORDER BY rowid", (file_id,)
        ).fetchall()
        return [str(row[0]) for row in rows]

    def export(self, file_id: str) -> tuple[str, int] | None:
        """The batch and card generation of export ``file_id``, if this issuer made it."""
        row = self._db.execute(
            "SELECT batch, generation FROM exports WHERE file_id = ?", (file_id,)
        ).fetchone()
        return None if row is None else (str(row[0]), int(row[1]))

    def exported(self, file_id: str, card_number: str) -> bool:
        """Whether ``card_number`` went out in export ``file_id``."""
        row = self._db.execute(
            "SELECT 1 FROM exported_cards WHERE file_id = ? AND card_number = ?",
            (file_id, card_number),
        ).fetchone()
        return row is not None

    def imported_at(self, result_id: str) -> str | None:
        """When result ``result_id`` was imported, if it was."""
        row = self._db.execute(
            "SELECT imported_at FROM imports WHERE file_id = ?", (result_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    def record_outcome(self, result_id: str, card: dict[str, str]) -> None:
        """One card's outcome from result ``result_id`` (again: no change)."""
        self._db.execute(
            "INSERT OR IGNORE INTO outcomes VALUES (?, ?, ?, ?, ?, ?)",
            (
                result_id,
                card["number"],
                card["outcome"],
                card["chip_serial"],
                card["atr"],
                card.get("reason", ""),
            ),
        )

    def record_import(self, result_id: str, export_id: str) -> None:
        """Result ``result_id`` is fully imported."""
        self._db.execute("INSERT INTO imports VALUES (?, ?, ?)", (result_id, export_id, _now()))

    def outcomes(self, card_number: str) -> list[tuple[str, str]]:
        """Every outcome reported for ``card_number``: (outcome, chip serial)."""
        rows = self._db.execute(
            "SELECT outcome, chip_serial FROM outcomes WHERE card_number = ? ORDER BY rowid",
            (card_number,),
        ).fetchall()
        return [(str(a), str(b)) for a, b in rows]


@dataclass
class ExportSummary:
    """What an export did."""

    file_id: str = ""
    cards: int = 0
    rejected: list[tuple[int, str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The file id, the count and the rejected lines (no keys)."""
        return {
            "file_id": self.file_id,
            "cards": self.cards,
            "rejected": [{"line": n, "ssn": s, "reason": r} for n, s, r in self.rejected],
        }


def _reserve(
    applicants: Iterable[Applicant],
    registry: Registry,
    batch: str,
    issue_date: datetime.date | None,
    summary: ExportSummary,
    ledger: Ledger,
) -> Iterator[PrepItem]:
    for a in applicants:
        if a.action is not Action.NEW:
            summary.rejected.append(
                (a.line, a.ssn, "replacements (补卡) are issued by `sbkcard issue`, not exchanged")
            )
            continue
        try:
            record = registry.reserve(a.ssn, a.name, a.region, owner=batch)
        except DuplicateCardError as exc:
            summary.rejected.append((a.line, a.ssn, str(exc)))
            continue
        day = issue_date or datetime.date.fromisoformat(record.created_at[:10])
        summary.cards += 1
        ledger.add_exported(record.card_number)
        yield PrepItem(a, record.card_number, record.card_id, day)


def partitioned(items: Iterable[PrepItem], size: int) -> Iterator[list[PrepItem]]:
    """``items`` in lists of ``size`` (the last shorter)."""
    chunk: list[PrepItem] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def export_batch(
    applicants: Iterable[Applicant],
    *,
    registry: Registry,
    ledger: Ledger,
    job: PrepJob,
    keys: PrepKeys,
    issuer: PartyKeys,
    bureau: PublicParty,
    out: Path,
    prepare: Any,
    issue_date: datetime.date | None = None,
    partition: int = 500,
) -> ExportSummary:
    """Reserve, prepare and write the personalisation file ``out`` (see the module doc).

    ``prepare(partitions)`` yields each partition's bytes: :func:`~.engine.prepare_locally`
    or :func:`~.engine.prepare_on_dask` bound to the job.
    """
    summary = ExportSummary()
    meta = {
        "batch": job.batch,
        "generation": job.generation,
        "algorithm": keys.algorithm.name,
        "transport_kcv": keys.transport_kcv,
        "keys": key_layout(keys),
    }
    items = _reserve(applicants, registry, job.batch, issue_date, summary, ledger)
    with SealedWriter(out, kind=PERSONALISATION, sender=issuer, recipient=bureau, meta=meta) as w:
        ledger.begin_export(w.file_id)
        try:
            for part in prepare(partitioned(items, partition)):
                w.write_part(part)
            if not summary.cards:
                raise ExchangeError("no applicant could be reserved: nothing to export")
            summary.file_id = w.finish(cards=summary.cards)
            ledger.finish_export(job.batch, job.generation, summary.cards)
        finally:
            ledger.abort_export()
    return summary


@dataclass
class ImportSummary:
    """What an import did, by outcome."""

    result_id: str = ""
    batch: str = ""
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    already: int = 0

    def to_json(self) -> dict[str, Any]:
        """The counts."""
        return {
            "result_id": self.result_id,
            "batch": self.batch,
            "counts": self.counts,
            "already_issued": self.already,
        }


def _cards(path: Path, parts: Iterable[bytes]) -> Iterator[dict[str, str]]:
    for index, part in enumerate(parts):
        for number, line in enumerate(part.decode("utf-8").splitlines(), start=1):
            try:
                card = json.loads(line)
                if not isinstance(card, dict) or not {
                    "number",
                    "card_id",
                    "atr",
                    "chip_serial",
                    "outcome",
                } <= set(card):
                    raise ValueError("a card needs number, card_id, atr, chip_serial, outcome")
            except ValueError as exc:
                raise ExchangeError(f"{path}: part {index} line {number}: {exc}") from None
            yield card


def _check(
    card: dict[str, str],
    export_id: str,
    generation: int,
    registry: Registry,
    ledger: Ledger,
    path: Path,
) -> None:
    number = card["number"]
    if not ledger.exported(export_id, number):
        raise ExchangeError(
            f"{path}: card {number} was never exported in {export_id}: the result does not "
            "belong to this batch"
        )
    try:
        record = registry.get(number)
    except RegistryError:
        raise ExchangeError(f"{path}: card {number} was never reserved in the registry") from None
    if card["card_id"] != record.card_id.hex:
        raise ExchangeError(
            f"{path}: card {number}: card ID {card['card_id']} is not the reserved "
            f"{record.card_id.hex}"
        )
    atr = card_atr(PROFILES[generation], record.card_id).hex().upper()
    if card["outcome"] == "issued" and card["atr"].upper() != atr:
        raise ExchangeError(f"{path}: card {number}: ATR {card['atr']} is not the card's {atr}")
    if card["outcome"] not in OUTCOMES:
        raise ExchangeError(f"{path}: card {number}: unknown outcome {card['outcome']!r}")


def import_result(
    path: Path, *, registry: Registry, ledger: Ledger, issuer: PartyKeys, bureau: PublicParty
) -> ImportSummary:
    """Check and apply the bureau's result file ``path`` (see the module docstring)."""
    sealed = open_sealed(path, kind=RESULT, recipient=issuer, sender=bureau)
    when = ledger.imported_at(sealed.file_id)
    if when is not None:
        raise ExchangeError(
            f"{path}: result {sealed.file_id} was already imported at {when}: a replay is refused"
        )
    export_id = str(sealed.meta.get("export_id", ""))
    known = ledger.export(export_id)
    if known is None:
        raise ExchangeError(f"{path}: answers export {export_id!r}, which this issuer never made")
    batch, generation = known
    summary = ImportSummary(sealed.file_id, batch)
    for card in _cards(path, sealed.parts()):
        _check(card, export_id, generation, registry, ledger, path)
    for card in _cards(path, sealed.parts()):
        summary.counts[card["outcome"]] += 1
        if card["outcome"] == "issued":
            if registry.get(card["number"]).status is CardStatus.PERSONALISING:
                registry.mark_issued(card["number"])
            else:
                summary.already += 1
        ledger.record_outcome(sealed.file_id, card)
    ledger.record_import(sealed.file_id, export_id)
    return summary
