"""A batch run of the issuing line: applicants in, checked card images out, resumable.

For every valid applicant (:func:`~sbkcard.issuance.applicants.read_applicants`), in
chunks of :data:`CHUNK`:

1. **reserve** the card in the registry (:meth:`~sbkcard.issuance.registry.Registry.reserve`;
   for a replacement, 补卡, :meth:`~sbkcard.issuance.registry.Registry.reserve_replacement`
   retires the old card, which then goes on the hotlist at once,
   :meth:`~sbkcard.terminal.hotlist.Hotlist.replace`);
2. **derive** the chunk's card keys in one batch
   (:func:`~sbkcard.issuance.personalise.derive_keys`);
3. **issue** each card (:func:`~sbkcard.issuance.personalise.issue_card`: blank chip,
   personalisation by APDUs, read back by the terminal and checked);
4. **save** its image, ``DIR/<card number>.json``, atomically (temporary file, fsync,
   rename: :func:`~sbkcard.simulator.save_image`);
5. **mark it issued** (:meth:`~sbkcard.issuance.registry.Registry.mark_issued`).

Resuming. The registry's reservation and the image in ``DIR`` say where each card
stands, so running the same batch again (same ``owner``, same ``DIR``) after a crash or
a power cut finishes it without issuing anyone twice or losing a card:

================================================  ==========================================
found on resume                                   done
================================================  ==========================================
no reservation                                    the card is reserved and issued
reservation, no image                             a new blank chip is personalised from
                                                  the start (a chip torn by a power cut
                                                  is set aside, Part 10 §5.2.3)
reservation and image                             the image is read back and checked
                                                  again, then marked issued (an image
                                                  that is not this card's is never
                                                  overwritten: the card fails)
issued by this owner, image in ``DIR``            nothing: reported as already issued
live card of someone else's batch or earlier      rejected: one person, one card
================================================  ==========================================

A card that fails (it refuses a command, loses power, or reads back wrong) is reported
and left reserved for the next run; the batch goes on with the others, unless
:data:`MAX_FAILURES_IN_A_ROW` cards fail one after another. A registry or hotlist
failure stops the batch (:class:`BatchError` or the store's own error): what
is done is done, and the next run resumes. One batch at a time may work in ``DIR``
(an advisory lock on ``DIR/.lock``, released by the system if the process dies).
"""

from __future__ import annotations

import datetime
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from sbkcard.applet_model.user_card import Profile
from sbkcard.applet_model.user_card.personalise import PersonalisationError
from sbkcard.errors import SbkcardError, TransportError
from sbkcard.issuance.applicants import Action, Applicant, ApplicantRejection, read_applicants
from sbkcard.issuance.personalise import (
    INITIAL_PIN,
    BlankCards,
    CardOrder,
    IssuanceError,
    Verifier,
    blank_card,
    derive_keys,
    issue_card,
)
from sbkcard.issuance.registry import CardRecord, CardStatus, DuplicateCardError, Registry
from sbkcard.keys.store_keyset import IssuerKeys
from sbkcard.locking import try_lock
from sbkcard.simulator import ImageError, load_image, save_image
from sbkcard.terminal.errors import HotlistError, TerminalError
from sbkcard.terminal.hotlist import Hotlist, Kind

__all__ = [
    "CHUNK",
    "LOCK_NAME",
    "MAX_FAILURES_IN_A_ROW",
    "SUMMARY_NAME",
    "BatchError",
    "BatchSummary",
    "CardResult",
    "IssuingLine",
    "Outcome",
    "image_path",
]

CHUNK = 256
"""Applicants reserved and diversified together."""
MAX_FAILURES_IN_A_ROW = 5
"""Cards failing one after another that stop the batch (a wrong transport key, a bad
reader: better to stop than to spoil the whole stock of blank chips)."""
LOCK_NAME = ".lock"
SUMMARY_NAME = "summary.json"
REPLACEMENT_REASON = "补卡"

_CARD_FAILURES = (PersonalisationError, TransportError, TerminalError, IssuanceError)
"""What makes one card fail without stopping the batch (a hotlist failure does stop it)."""


class BatchError(SbkcardError):
    """The batch cannot run (its directory is locked or unusable)."""


class Outcome(Enum):
    """What happened to one applicant."""

    ISSUED = "issued"
    REPLACED = "replaced"
    ALREADY_ISSUED = "already issued"
    REJECTED = "rejected"
    FAILED = "failed"


@dataclass(frozen=True)
class CardResult:
    """One applicant's outcome.

    ``replaces`` is the old card of a replacement; ``field`` and ``reason`` say why a
    record was rejected or a card failed; ``resumed`` marks a card finished from an
    earlier run's reservation.
    """

    line: int
    ssn: str
    outcome: Outcome
    card_number: str = ""
    card_id: str = ""
    replaces: str = ""
    field: str = ""
    reason: str = ""
    resumed: bool = False

    def to_json(self) -> dict[str, object]:
        """The result as a JSON object (empty fields left out)."""
        out: dict[str, object] = {"line": self.line, "ssn": self.ssn}
        out["outcome"] = self.outcome.value
        for name in ("card_number", "card_id", "replaces", "field", "reason"):
            value = getattr(self, name)
            if value:
                out[name] = value
        if self.resumed:
            out["resumed"] = True
        return out


@dataclass
class BatchSummary:
    """Every applicant's outcome, in input order (rejected records first)."""

    results: list[CardResult] = field(default_factory=list)

    def of(self, *outcomes: Outcome) -> list[CardResult]:
        """The results with one of ``outcomes``."""
        return [r for r in self.results if r.outcome in outcomes]

    @property
    def issued(self) -> list[CardResult]:
        """New cards and replacements issued in this run."""
        return self.of(Outcome.ISSUED, Outcome.REPLACED)

    @property
    def rejected(self) -> list[ApplicantRejection]:
        """Rejected records, by line and field, with the reason."""
        return [
            ApplicantRejection(r.line, r.field, r.reason, r.ssn) for r in self.of(Outcome.REJECTED)
        ]

    def counts(self) -> dict[str, int]:
        """How many applicants had each outcome."""
        return {o.value: len(self.of(o)) for o in Outcome}

    def to_json(self) -> dict[str, object]:
        """The summary as a JSON object (no keys, no PINs)."""
        return {
            "counts": self.counts(),
            "results": [r.to_json() for r in self.results],
        }


def image_path(out_dir: Path, card_number: str) -> Path:
    """Where the image of card ``card_number`` goes."""
    return out_dir / f"{card_number}.json"


@contextmanager
def _locked(out_dir: Path) -> Iterator[None]:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(out_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise BatchError(f"output directory {out_dir}: {exc.strerror or exc}") from exc
    try:
        if not try_lock(fd):
            raise BatchError(f"another batch is running in {out_dir}")
        yield
    finally:
        os.close(fd)


def _write_json(path: Path, document: object) -> None:
    text = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise BatchError(f"{path}: cannot write ({exc.strerror or exc})") from exc


@dataclass(frozen=True)
class _Job:
    """A reserved card to finish."""

    applicant: Applicant
    record: CardRecord
    old: CardRecord | None
    resumed: bool


Progress = Callable[[CardResult], None]


@dataclass
class IssuingLine:
    """A personalisation line: keys, blank chips, registry, verifier, output directory.

    ``keyset`` holds the issuer's roots for the profile's algorithm (in clear, or a
    :class:`~sbkcard.keys.store_keyset.StoreKeySet` whose roots stay in a token and
    derive each card's keys there); ``transport_key``
    is the batch's transport key, set in every blank chip at COS activation (Part 10
    §5.1.1). ``owner`` names this line's batch in the registry (the same owner and
    ``out_dir`` resume a batch). ``issue_date`` defaults to each reservation's date.
    """

    keyset: IssuerKeys
    transport_key: bytes
    profile: Profile
    registry: Registry
    out_dir: Path
    owner: str
    verifier: Verifier
    hotlist: Hotlist | None = None
    issue_date: datetime.date | None = None
    pin: str | None = INITIAL_PIN
    blank: BlankCards = blank_card
    chunk: int = CHUNK
    max_failures: int = MAX_FAILURES_IN_A_ROW

    def __post_init__(self) -> None:
        if self.keyset.algorithm is not self.profile.algorithm:
            raise BatchError(
                f"the key set is {self.keyset.algorithm.label}, {self.profile} cards need "
                f"{self.profile.algorithm.label}"
            )
        if not self.owner:
            raise BatchError("the batch needs an owner name (it identifies it on resume)")

    # -- running -------------------------------------------------------------------------

    def run_file(self, path: Path, *, progress: Progress | None = None) -> BatchSummary:
        """Read and validate ``path`` (CSV or JSON), then :meth:`run` the valid records."""
        accepted, rejected = read_applicants(path)
        return self.run(accepted, rejected, progress=progress)

    def run(
        self,
        applicants: Sequence[Applicant],
        rejected: Sequence[ApplicantRejection] = (),
        *,
        progress: Progress | None = None,
    ) -> BatchSummary:
        """Issue a card to each applicant (see the module docstring); the summary.

        ``rejected`` are the records validation already refused: they go into the
        summary, first. A person named again later in ``applicants`` (a replacement
        after a new card, say) is rejected there: one card per person per batch.
        ``progress`` is called with each applicant's result.
        """
        summary = BatchSummary(
            [
                CardResult(r.line, r.ssn, Outcome.REJECTED, field=r.field, reason=r.reason)
                for r in rejected
            ]
        )
        first: dict[str, int] = {}
        unique: list[Applicant | CardResult] = []
        for a in applicants:
            if a.ssn in first:
                reason = f"SSN also on line {first[a.ssn]}: one card per person per batch"
                unique.append(
                    CardResult(a.line, a.ssn, Outcome.REJECTED, field="ssn", reason=reason)
                )
            else:
                first[a.ssn] = a.line
                unique.append(a)
        failures = 0
        with _locked(self.out_dir):
            self._remove_stale_temporaries()
            try:
                for start in range(0, len(unique), self.chunk):
                    for result in self._run_chunk(unique[start : start + self.chunk]):
                        summary.results.append(result)
                        if progress is not None:
                            progress(result)
                        failures = failures + 1 if result.outcome is Outcome.FAILED else 0
                        if failures >= self.max_failures:
                            raise BatchError(
                                f"{failures} cards failed in a row, the last (line "
                                f"{result.line}): {result.reason}; stopped before spoiling "
                                "more blank chips"
                            )
            finally:
                # also when stopped (an error, Ctrl-C, SIGTERM): what was done is recorded
                _write_json(self.out_dir / SUMMARY_NAME, summary.to_json())
        return summary

    def _remove_stale_temporaries(self) -> None:
        """Temporary files of an image or summary write that a crash interrupted."""
        for stale in self.out_dir.glob(".*.tmp"):
            stale.unlink(missing_ok=True)

    def _run_chunk(self, chunk: Sequence[Applicant | CardResult]) -> Iterator[CardResult]:
        slots, jobs = self._reserve_chunk(chunk)
        yield from self._issue_chunk(slots, jobs)

    def _reserve_chunk(
        self, chunk: Sequence[Applicant | CardResult]
    ) -> tuple[list[CardResult | int], list[_Job]]:
        """Reserve each applicant's card: results already known, or indices into the jobs."""
        slots: list[CardResult | int] = []
        jobs: list[_Job] = []
        for applicant in chunk:
            reserved = applicant if isinstance(applicant, CardResult) else self._reserve(applicant)
            if isinstance(reserved, CardResult):
                slots.append(reserved)
            else:
                slots.append(len(jobs))
                jobs.append(reserved)
        return slots, jobs

    def _issue_chunk(self, slots: list[CardResult | int], jobs: list[_Job]) -> Iterator[CardResult]:
        """Issue the reserved cards of one chunk (simulated chips, keys derived together)."""
        orders = [
            CardOrder.of(job.applicant, job.record, self.profile, self.issue_date, pin=self.pin)
            for job in jobs
        ]
        images = [self._image(order) for order in orders]
        pending = [i for i, image in enumerate(images) if image is None]
        derived = derive_keys(self.keyset, [orders[i] for i in pending])
        keys = dict(zip(pending, derived, strict=True))
        for slot in slots:
            if isinstance(slot, CardResult):
                yield slot
            elif images[slot]:
                yield self._failed(jobs[slot], str(images[slot]))
            else:
                yield self._issue(jobs[slot], orders[slot], keys.get(slot))

    # -- reservation ---------------------------------------------------------------------

    def _done_here(self, a: Applicant, live: CardRecord | None) -> bool:
        """Whether ``live`` is the card this batch already issued ``a`` (image in ``out_dir``)."""
        return (
            live is not None
            and live.owner == self.owner
            and (live.replaces is not None) == (a.action is Action.REPLACE)
            and live.status is not CardStatus.PERSONALISING
            and image_path(self.out_dir, live.card_number).exists()
        )

    def _reserve(self, a: Applicant) -> _Job | CardResult:
        registry = self.registry
        live = registry.live_card(a.ssn)
        if self._done_here(a, live):
            assert live is not None
            return CardResult(
                a.line,
                a.ssn,
                Outcome.ALREADY_ISSUED,
                live.card_number,
                live.card_id.hex,
                live.replaces or "",
            )
        resumed = live is not None and live.status is CardStatus.PERSONALISING
        if a.action is Action.NEW:
            try:
                record = registry.reserve(a.ssn, a.name, a.region, owner=self.owner)
            except DuplicateCardError as exc:
                return CardResult(a.line, a.ssn, Outcome.REJECTED, field="ssn", reason=str(exc))
            return _Job(a, record, None, resumed)
        if live is None:
            return self._refuse(a, "has no card to replace")
        if live.status is CardStatus.PERSONALISING and live.replaces is None:
            return self._refuse(a, f"card {live.card_number} is not yet issued")
        try:
            old, record = registry.reserve_replacement(a.ssn, a.name, a.region, owner=self.owner)
        except DuplicateCardError as exc:
            return CardResult(a.line, a.ssn, Outcome.REJECTED, field="action", reason=str(exc))
        self._hotlist_old(old, record)
        return _Job(a, record, old, resumed)

    def _refuse(self, a: Applicant, reason: str) -> CardResult:
        return CardResult(
            a.line, a.ssn, Outcome.REJECTED, field="action", reason=f"SSN {a.ssn} {reason}"
        )

    def _hotlist_old(self, old: CardRecord, new: CardRecord) -> None:
        """List the replaced card (once: a resumed batch finds it listed already)."""
        if self.hotlist is None:
            return
        entry = self.hotlist.check(old.card_number, old.card_id.hex)
        if entry is not None and entry.kind is Kind.REPLACED:
            return
        self.hotlist.replace(
            old.card_number, old.card_id.hex, new.card_number, new.card_id.hex, REPLACEMENT_REASON
        )

    # -- issuing -------------------------------------------------------------------------

    def _image(self, order: CardOrder) -> str | None:
        """What an earlier run left for this card: ``None`` no image, ``""`` an image that
        reads back right, else why the image is not this card's (it is never overwritten).
        """
        path = image_path(self.out_dir, order.card_number)
        if not path.exists():
            return None
        try:
            card = load_image(path)
            if card.atr != order.atr:
                raise IssuanceError(
                    f"ATR {card.atr.hex().upper()} is not {order.atr.hex().upper()}"
                )
            self.verifier.check(card, order)
        except HotlistError:
            raise
        except (ImageError, IssuanceError, *_CARD_FAILURES) as exc:
            return (
                f"{path} holds a card that is not this reservation's ({exc}); move it away "
                "and run the batch again"
            )
        return ""

    def _failed(self, job: _Job, reason: str) -> CardResult:
        a, record = job.applicant, job.record
        return CardResult(
            a.line,
            a.ssn,
            Outcome.FAILED,
            record.card_number,
            record.card_id.hex,
            job.old.card_number if job.old is not None else "",
            field="card",
            reason=reason,
            resumed=job.resumed,
        )

    def _issue(self, job: _Job, order: CardOrder, keys: dict[str, bytes] | None) -> CardResult:
        record = job.record
        if keys is not None:
            try:
                card = issue_card(
                    order,
                    keys,
                    transport_key=self.transport_key,
                    verifier=self.verifier,
                    blank=self.blank,
                )
            except HotlistError:
                raise
            except _CARD_FAILURES as exc:
                return self._failed(job, f"{exc} (the card stays reserved; run the batch again)")
            save_image(card, image_path(self.out_dir, order.card_number))
        self.registry.mark_issued(record.card_number)
        return _succeeded(job, record)


def _succeeded(job: _Job, record: CardRecord, note: str = "") -> CardResult:
    """The result of ``job``'s card, issued as ``record`` (``note``: what happened on the way)."""
    a = job.applicant
    return CardResult(
        a.line,
        a.ssn,
        Outcome.REPLACED if job.old is not None else Outcome.ISSUED,
        record.card_number,
        record.card_id.hex,
        job.old.card_number if job.old is not None else "",
        reason=note,
        resumed=job.resumed,
    )
