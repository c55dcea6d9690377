"""Ceremony transcripts: an append-only record, each entry hashed with the one before.

Part 10 §6.3.3 item 6 and §6.4.2.2 item 6 want a record of every time a key or a key
component is loaded or taken out: date and time, purpose, the people involved; §6.6 an
audit file at the end. A transcript is a JSON Lines file, one entry per step::

    {"seq": 3, "time": "2025-06-01T09:14:05Z", "actor": "王芳", "step": "component issued",
     "details": {"index": 2, "of": 3, "component_kcv": "5A1F0C"}, "prev": "…", "digest": "…"}

``digest`` is SM3 (or SHA-256) over the canonical JSON of the entry without ``digest``;
``prev`` is the previous entry's digest (64 zeros for the first), so editing, removing,
inserting or reordering an entry breaks the chain. The last entry is ``close``; its
digest, the *head*, is read out at the end of the ceremony and written in the signed
minutes, so that even a transcript rewritten from scratch fails
``sbkcard ceremony verify --head``. Entries carry KCVs, labels and names, never a key, a
component or a share: detail names that would hold one are refused.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sbkcard.errors import SbkcardError
from sbkcard.keys.hashing import sm3

__all__ = [
    "FORMAT",
    "GENESIS",
    "Entry",
    "Transcript",
    "TranscriptError",
    "TranscriptReport",
    "verify_transcript",
]

FORMAT = "sbkcard-transcript"
VERSION = 1
GENESIS = "0" * 64
OPEN_STEP = "open"
CLOSE_STEP = "close"
FORBIDDEN_DETAILS = frozenset(
    {"key", "keys", "component", "share", "secret", "value", "pin", "passphrase", "plaintext"}
)


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


HASHES: Mapping[str, Callable[[bytes], bytes]] = {"SM3": sm3, "SHA-256": _sha256}


class TranscriptError(SbkcardError):
    """A transcript is malformed, altered, truncated, or was asked to hold a secret."""


def _canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _check_details(details: Any, where: str) -> None:
    """Only JSON scalars, lists and string-keyed maps, and no secret-holding names."""
    if isinstance(details, Mapping):
        for name, value in details.items():
            if not isinstance(name, str):
                raise TranscriptError(f"{where}: detail names are strings, got {name!r}")
            if name.lower() in FORBIDDEN_DETAILS:
                raise TranscriptError(
                    f"{where}: a transcript never holds a {name!r}; record its KCV instead"
                )
            _check_details(value, f"{where}.{name}")
    elif isinstance(details, list | tuple):
        for index, value in enumerate(details):
            _check_details(value, f"{where}[{index}]")
    elif not (details is None or isinstance(details, str | int | float)):
        raise TranscriptError(
            f"{where}: {type(details).__name__} cannot go into a transcript "
            "(bytes never do: record a KCV or a digest as hex)"
        )


@dataclass(frozen=True)
class Entry:
    """One step of a ceremony."""

    seq: int
    time: str
    actor: str
    step: str
    details: Mapping[str, Any]
    prev: str
    digest: str = ""

    def body(self) -> dict[str, Any]:
        """The hashed part: everything but ``digest``."""
        return {
            "seq": self.seq,
            "time": self.time,
            "actor": self.actor,
            "step": self.step,
            "details": dict(self.details),
            "prev": self.prev,
        }

    def compute_digest(self, hash_name: str) -> str:
        """The entry's digest under ``hash_name`` (``SM3`` or ``SHA-256``), hex."""
        return HASHES[hash_name](_canonical(self.body())).hex()

    def to_line(self) -> str:
        """The JSON line written to the file."""
        return json.dumps({**self.body(), "digest": self.digest}, ensure_ascii=False)


@dataclass
class TranscriptReport:
    """The result of :func:`verify_transcript`."""

    path: Path
    ceremony: str
    hash_name: str
    entries: list[Entry] = field(default_factory=list)

    @property
    def head(self) -> str:
        """The last entry's digest."""
        return self.entries[-1].digest

    @property
    def closed(self) -> bool:
        """True when the last entry is ``close``."""
        return self.entries[-1].step == CLOSE_STEP


def _parse_line(line: str, number: int, path: Path) -> Entry:
    where = f"{path}: line {number}"
    try:
        raw = json.loads(line)
        entry = Entry(
            seq=raw["seq"],
            time=raw["time"],
            actor=raw["actor"],
            step=raw["step"],
            details=raw["details"],
            prev=raw["prev"],
            digest=raw["digest"],
        )
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise TranscriptError(f"{where}: not a transcript entry ({exc})") from exc
    if set(raw) != {*entry.body(), "digest"}:
        raise TranscriptError(f"{where}: unexpected fields {sorted(set(raw) - set(entry.body()))}")
    if not isinstance(entry.seq, int) or not isinstance(entry.details, dict):
        raise TranscriptError(f"{where}: seq must be a number and details a map")
    return entry


def _read(path: Path) -> TranscriptReport:
    """Parse and check the chain of the transcript at ``path``."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise TranscriptError(f"{path}: no such transcript") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise TranscriptError(f"{path}: cannot read ({exc})") from exc
    if not lines:
        raise TranscriptError(f"{path}: empty transcript")
    first = _parse_line(lines[0], 1, path)
    header = first.details
    if first.step != OPEN_STEP or header.get("format") != FORMAT:
        raise TranscriptError(f"{path}: line 1 is not the opening entry of a transcript")
    if header.get("version") != VERSION:
        raise TranscriptError(f"{path}: transcript version {header.get('version')!r} unknown")
    hash_name = header.get("hash")
    if hash_name not in HASHES:
        raise TranscriptError(f"{path}: unknown chain hash {hash_name!r}")
    report = TranscriptReport(path, str(header.get("ceremony", "")), str(hash_name))
    previous = GENESIS
    for number, line in enumerate(lines, start=1):
        entry = first if number == 1 else _parse_line(line, number, path)
        where = f"{path}: line {number} (seq {entry.seq}, {entry.step!r})"
        if entry.seq != number - 1:
            raise TranscriptError(
                f"{where}: expected seq {number - 1}; an entry was removed, inserted or moved"
            )
        if entry.prev != previous:
            raise TranscriptError(
                f"{where}: does not chain to the entry before it; an entry was removed, "
                "inserted, moved or edited"
            )
        if entry.compute_digest(report.hash_name) != entry.digest:
            raise TranscriptError(f"{where}: digest does not match the content; entry edited")
        if report.entries and report.entries[-1].step == CLOSE_STEP:
            raise TranscriptError(f"{where}: entry after the closing entry")
        report.entries.append(entry)
        previous = entry.digest
    return report


def verify_transcript(
    path: str | os.PathLike[str], *, head: str | None = None, require_closed: bool = True
) -> TranscriptReport:
    """Check the whole chain of a transcript; raise :class:`TranscriptError` on any fault.

    ``head``: the closing digest written in the ceremony's minutes; a transcript that
    does not end with it was rewritten or truncated.
    """
    report = _read(Path(path))
    if require_closed and not report.closed:
        raise TranscriptError(
            f"{path}: not closed; the ceremony was interrupted or the end was cut off"
        )
    if head is not None and head.lower() != report.head:
        raise TranscriptError(
            f"{path}: ends with digest {report.head}, not the recorded head {head.lower()}"
        )
    return report


class Transcript:
    """A transcript being written; every :meth:`record` is on disk before it returns."""

    def __init__(
        self,
        path: Path,
        hash_name: str,
        last: Entry,
        clock: Callable[[], datetime.datetime],
    ) -> None:
        self.path = path
        self.hash_name = hash_name
        self._last = last
        self._clock = clock

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        *,
        ceremony: str,
        actor: str,
        hash_name: str = "SM3",
        clock: Callable[[], datetime.datetime] = _utc_now,
        **details: Any,
    ) -> Transcript:
        """Start a new transcript at ``path`` (which must not exist)."""
        target = Path(path)
        if hash_name not in HASHES:
            raise TranscriptError(f"chain hash: one of {sorted(HASHES)}, not {hash_name!r}")
        if target.exists():
            raise TranscriptError(f"{target}: already exists; a transcript is never overwritten")
        target.touch(exist_ok=False)
        transcript = cls(target, hash_name, Entry(-1, "", "", "", {}, "", GENESIS), clock)
        transcript._append(
            OPEN_STEP,
            actor,
            {
                "format": FORMAT,
                "version": VERSION,
                "hash": hash_name,
                "ceremony": ceremony,
                **details,
            },
        )
        return transcript

    @classmethod
    def resume(
        cls,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], datetime.datetime] = _utc_now,
    ) -> Transcript:
        """Continue an open transcript after checking its chain."""
        report = verify_transcript(path, require_closed=False)
        if report.closed:
            raise TranscriptError(f"{path}: closed; start a new transcript")
        return cls(report.path, report.hash_name, report.entries[-1], clock)

    @property
    def head(self) -> str:
        """The digest of the last entry written."""
        return self._last.digest

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._last.step == CLOSE_STEP

    def record(self, step: str, actor: str, **details: Any) -> Entry:
        """Append one step: who did it, and its KCVs, labels, counts (never secrets)."""
        if step in (OPEN_STEP, CLOSE_STEP):
            raise TranscriptError(f"{self.path}: {step!r} is written by the transcript itself")
        return self._append(step, actor, details)

    def close(self, actor: str, **details: Any) -> str:
        """Write the closing entry and return the head digest for the minutes."""
        self._append(CLOSE_STEP, actor, {"entries": self._last.seq + 2, **details})
        return self.head

    def _append(self, step: str, actor: str, details: dict[str, Any]) -> Entry:
        if self.closed:
            raise TranscriptError(f"{self.path}: closed; nothing more can be recorded")
        if not actor:
            raise TranscriptError(f"{self.path}: step {step!r} needs the name of who did it")
        _check_details(details, f"{self.path}: {step}")
        moment = self._clock().astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        entry = Entry(self._last.seq + 1, moment, actor, step, details, self._last.digest)
        entry = Entry(**{**entry.body(), "digest": entry.compute_digest(self.hash_name)})
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(entry.to_line() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self._last = entry
        return entry
