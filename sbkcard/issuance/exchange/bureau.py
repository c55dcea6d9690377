"""The bureau's side: personalise from the issuer's file, sign the result, delete the data.

Part 10 §6.3.1: only the bureau's key opens the file; every card's MAC is checked under
the batch transport key (the bureau's own copy, whose KCV must be the file's) and, once
the chip is personalised, the records on it are compared with the issuer's. §6.3.2: the
data are deleted after the batch, and the deletion recorded.

:func:`personalise_file` writes each card's image into ``DIR`` and its outcome into
``DIR/journal.jsonl`` (one JSON line per attempt, on disk before the next card):
``issued``; ``spoiled`` — the chip lost power or tore and is set aside (Part 10
§5.2.3); ``failed`` — it refused a command or its data read back wrong. Run again, it
skips the issued cards and tries the others on new chips; the :class:`BureauLedger`
refuses a file already personalised elsewhere and never makes a card number twice.
:func:`write_result` signs the last outcome of every card into the result file;
:func:`delete_batch_data` removes the personalisation file and the card images and
records it in the transcript.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sbkcard.applet_model.user_card import PROFILES
from sbkcard.applet_model.user_card.fcp import body_key
from sbkcard.applet_model.user_card.personalise import PersonalisationError
from sbkcard.errors import CardRemovedError, SbkcardError
from sbkcard.issuance.exchange.issuer import OUTCOMES, PERSONALISATION, RESULT, connect
from sbkcard.issuance.exchange.parties import ExchangeError, PartyKeys, PublicParty
from sbkcard.issuance.exchange.prepare import CardEntry, iter_entries, open_entry
from sbkcard.issuance.exchange.sealed import SealedWriter, open_sealed
from sbkcard.issuance.personalise import BlankCards, CardOrder, blank_card, personalise_card
from sbkcard.keys import Algorithm, kcv
from sbkcard.keys.transcript import Transcript
from sbkcard.simulator import SimulatedCard, save_image

__all__ = [
    "BATCH_NAME",
    "JOURNAL_NAME",
    "BureauLedger",
    "BureauSummary",
    "delete_batch_data",
    "personalise_file",
    "write_result",
]

JOURNAL_NAME = "journal.jsonl"
BATCH_NAME = "batch.json"
RESULT_PART = 1000


@dataclass
class BureauSummary:
    """Outcomes of one personalisation run."""

    batch: str = ""
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    skipped: int = 0

    def to_json(self) -> dict[str, Any]:
        """Counts by outcome, and cards already issued by an earlier run."""
        return {"batch": self.batch, "counts": self.counts, "already_issued": self.skipped}


_SCHEMA = """
CREATE TABLE IF NOT EXISTS received (
    file_id TEXT PRIMARY KEY, batch TEXT NOT NULL, directory TEXT NOT NULL, at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS made (
    card_number TEXT PRIMARY KEY, file_id TEXT NOT NULL, record TEXT NOT NULL
);
"""


class BureauLedger:
    """The bureau's memory across batches (an SQLite file): files received, cards made.

    A file personalised once is refused in another directory (a replay), and a card
    number the bureau already issued is never made again, whichever file names it.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._db = connect(path, _SCHEMA, "bureau ledger")

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def receive(self, file_id: str, batch: str, out_dir: Path) -> None:
        """Record file ``file_id`` as personalised in ``out_dir``; refuse it elsewhere."""
        where = str(out_dir.resolve())
        row = self._db.execute(
            "SELECT directory, at FROM received WHERE file_id = ?", (file_id,)
        ).fetchone()
        if row is None:
            now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
            self._db.execute(
                "INSERT INTO received VALUES (?, ?, ?, ?)", (file_id, batch, where, now)
            )
        elif row[0] != where:
            raise ExchangeError(
                f"file {file_id} was personalised in {row[0]} at {row[1]}: a replay is refused "
                "(run it again in that directory to finish it)"
            )

    def issued(self, card_number: str) -> dict[str, str] | None:
        """The outcome under which the bureau issued ``card_number``, if it did."""
        row = self._db.execute(
            "SELECT record FROM made WHERE card_number = ?", (card_number,)
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def record_issued(self, file_id: str, card: dict[str, str]) -> None:
        """``card`` was issued from file ``file_id``."""
        self._db.execute(
            "INSERT INTO made VALUES (?, ?, ?)",
            (card["number"], file_id, json.dumps(card, ensure_ascii=False, sort_keys=True)),
        )


def _journal(out_dir: Path) -> dict[str, dict[str, str]]:
    """The last outcome of every card in ``DIR/journal.jsonl``."""
    last: dict[str, dict[str, str]] = {}
    path = out_dir / JOURNAL_NAME
    if path.exists():
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                card = json.loads(line)
                last[card["number"]] = card
    return last


def _append(out_dir: Path, card: dict[str, str]) -> None:
    with (out_dir / JOURNAL_NAME).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(card, ensure_ascii=False, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _check_records(card: SimulatedCard, entry: CardEntry) -> None:
    storage = card.snapshot().storage
    for path, expected in entry.records().items():
        found = storage.get(body_key(path), b"")
        if found[: len(expected)] != expected:
            raise PersonalisationError(f"{path} on the chip differs from the issuer's record")


def _personalise_one(
    entry: CardEntry,
    order: CardOrder,
    keys: dict[str, bytes],
    transport: bytes,
    blank: BlankCards,
) -> tuple[SimulatedCard | None, str, str]:
    card = blank(order, transport)
    try:
        personalise_card(card, order, keys, transport)
        _check_records(card, entry)
    except CardRemovedError as exc:
        return None, "spoiled", f"the chip lost power ({exc}); set aside"
    except (PersonalisationError, SbkcardError) as exc:
        return None, "failed", str(exc)
    return card, "issued", ""


def personalise_file(
    path: Path,
    *,
    bureau: PartyKeys,
    issuer: PublicParty,
    transport_key: Callable[[Algorithm, str], bytes],
    out_dir: Path,
    ledger: BureauLedger,
    blank: BlankCards = blank_card,
) -> BureauSummary:
    """Personalise every card of the issuer's file ``path`` (see the module docstring).

    ``transport_key(algorithm, batch)`` gives the bureau's copy of the batch transport key.
    A card the bureau already issued (``ledger``), from this file or an earlier one, is
    not made again: its earlier outcome is reported.
    """
    sealed = open_sealed(path, kind=PERSONALISATION, recipient=bureau, sender=issuer)
    meta = sealed.meta
    profile = PROFILES[int(meta["generation"])]
    algorithm = profile.algorithm
    transport = transport_key(algorithm, str(meta["batch"]))
    mine = kcv(transport, algorithm).hex().upper()
    if mine != meta.get("transport_kcv"):
        raise ExchangeError(
            f"{path}: the file's transport key has KCV {meta.get('transport_kcv')}, the "
            f"bureau's {mine}: load batch {meta['batch']}'s transport key first"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    state = out_dir / BATCH_NAME
    if state.exists():
        earlier = json.loads(state.read_text("utf-8"))
        if earlier.get("file_id") != sealed.file_id:
            raise ExchangeError(
                f"{out_dir} holds batch file {earlier.get('file_id')}; personalise "
                f"{sealed.file_id} in another directory"
            )
    else:
        document = {"file_id": sealed.file_id, "batch": meta["batch"], "digest": _digest(path)}
        state.write_text(json.dumps(document, indent=2) + "\n", "utf-8")
    ledger.receive(sealed.file_id, str(meta["batch"]), out_dir)
    done = _journal(out_dir)
    summary = BureauSummary(str(meta["batch"]))
    layout = [(str(name), int(length)) for name, length in meta["keys"]]
    for part in sealed.parts():
        for entry in iter_entries(part):
            earlier = ledger.issued(entry.card_number)
            if earlier is not None:
                summary.skipped += 1
                if done.get(entry.card_number) != earlier:
                    _append(out_dir, earlier)
                continue
            order = entry.item().order(profile)
            try:
                keys = open_entry(entry, transport, algorithm, layout)
            except ExchangeError as exc:
                card, outcome, reason = None, "failed", str(exc)
            else:
                card, outcome, reason = _personalise_one(entry, order, keys, transport, blank)
            if card is not None:
                save_image(card, out_dir / f"{order.card_number}.json")
            record = {
                "number": order.card_number,
                "card_id": order.card_id.hex,
                "atr": order.atr.hex().upper(),
                "chip_serial": secrets.token_hex(8).upper(),
                "outcome": outcome,
                "reason": reason,
            }
            _append(out_dir, record)
            if outcome == "issued":
                ledger.record_issued(sealed.file_id, record)
            summary.counts[outcome] += 1
    return summary


def write_result(out_dir: Path, *, bureau: PartyKeys, issuer: PublicParty, out: Path) -> str:
    """Sign the last outcome of every card of ``DIR`` into the result file ``out``; its id."""
    try:
        state = json.loads((out_dir / BATCH_NAME).read_text("utf-8"))
    except (OSError, ValueError):
        raise ExchangeError(f"{out_dir}: no personalisation run here ({BATCH_NAME})") from None
    cards = list(_journal(out_dir).values())
    if not cards:
        raise ExchangeError(f"{out_dir}: no card was personalised yet")
    meta = {
        "batch": state["batch"],
        "export_id": state["file_id"],
        "export_digest": state["digest"],
    }
    with SealedWriter(out, kind=RESULT, sender=bureau, recipient=issuer, meta=meta) as writer:
        for start in range(0, len(cards), RESULT_PART):
            lines = (
                json.dumps(c, ensure_ascii=False, sort_keys=True)
                for c in cards[start : start + RESULT_PART]
            )
            writer.write_part(("\n".join(lines) + "\n").encode("utf-8"))
        result_id = writer.finish(cards=len(cards))
    state["result_id"] = result_id
    (out_dir / BATCH_NAME).write_text(json.dumps(state, indent=2) + "\n", "utf-8")
    return result_id


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def delete_batch_data(
    data_file: Path,
    out_dir: Path,
    *,
    transcript: Path,
    operator: str,
    supervisor: str,
    witness: str = "",
) -> dict[str, Any]:
    """Delete the batch's data after the result went back (Part 10 §6.3.2); the record.

    The personalisation file and the card images go; the journal (outcomes, no keys)
    stays. The deletion is appended to ``transcript`` (created if new): who deleted,
    who supervised, the issuer's witness if any, the file's SHA-256 and the count.
    """
    try:
        state = json.loads((out_dir / BATCH_NAME).read_text("utf-8"))
    except (OSError, ValueError):
        raise ExchangeError(f"{out_dir}: no personalisation run here ({BATCH_NAME})") from None
    if "result_id" not in state:
        raise ExchangeError(f"{out_dir}: no result file was written yet; write it before deleting")
    if not data_file.exists():
        raise ExchangeError(f"{data_file}: no such file (already deleted?)")
    digest = _digest(data_file)
    if digest != state["digest"]:
        raise ExchangeError(f"{data_file} is not the file personalised in {out_dir}")
    if not supervisor:
        raise ExchangeError("the deletion needs the supervising security officer's name")
    images = [p for p in out_dir.glob("*.json") if p.name != BATCH_NAME]
    log = (
        Transcript.resume(transcript)
        if transcript.exists()
        else Transcript.create(transcript, ceremony="personalisation data deletion", actor=operator)
    )
    data_file.unlink()
    for image in images:
        image.unlink()
    record = {
        "batch": state["batch"],
        "file_id": state["file_id"],
        "file_sha256": digest,
        "result_id": state["result_id"],
        "card_images": len(images),
        "supervisor": supervisor,
        "witness": witness,
    }
    log.record("personalisation data deleted", operator, **record)
    return {**record, "transcript_head": log.head}
