"""Write-through for a served card: every committed NVM transaction appended beside its image.

A card served for hours (``sbkcard sim``) must not lose what it answered when its process
is killed: a debit, a record, a spent PIN try.  :class:`WriteThrough` appends the writes
of each transaction the card's NVM commits to ``IMAGE.journal``, one JSON line
(``{"key": "HEX", "gone": null}``), written and ``fsync``-ed *before* the card sends its
status word: whatever the card answered to is on disk.  :func:`replay` applies the
journal when the image is loaded, and :func:`~sbkcard.simulator.image.save_image` folds it
into the image (the image then holds everything, and the journal is removed).

A line is whole only with its newline: a process killed in the middle of an append
leaves a partial last line, which the card never answered for and which is ignored.
Replaying is idempotent (each line sets cells to values; the last one wins), so a kill
between an image save and the journal's removal loses nothing either.

The journal holds cell values as the image does (keys and PINs included: it is the chip's
memory) and is created readable by its owner only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from sbkcard.simulator.card import SimulatedCard
from sbkcard.simulator.errors import ImageError

__all__ = ["WriteThrough", "journal_path", "replay"]

JOURNAL_SUFFIX = ".journal"


def journal_path(image: str | os.PathLike[str]) -> Path:
    """The journal of ``image``: ``IMAGE.journal`` in the same directory."""
    path = Path(image)
    return path.with_name(path.name + JOURNAL_SUFFIX)


def _line(writes: Mapping[str, bytes | None]) -> bytes:
    cells = {key: None if value is None else value.hex().upper() for key, value in writes.items()}
    return (json.dumps(cells, sort_keys=True, separators=(",", ":")) + "\n").encode("ascii")


def _entries(path: Path) -> list[dict[str, bytes | None]]:
    """The whole lines of the journal at ``path`` (none if it does not exist)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ImageError(str(path), f"cannot read ({exc.strerror or exc})") from exc
    entries = []
    for number, line in enumerate(data.split(b"\n")[:-1], start=1):  # the last: torn or empty
        try:
            cells = json.loads(line)
            if not isinstance(cells, dict):
                raise TypeError("not an object")
            entries.append(
                {str(k): None if v is None else bytes.fromhex(v) for k, v in cells.items()}
            )
        except (ValueError, TypeError) as exc:
            raise ImageError(str(path), f"line {number} is not a journal entry ({exc})") from exc
    return entries


def replay(card: SimulatedCard, image: str | os.PathLike[str]) -> int:
    """Apply ``image``'s journal to ``card`` (freshly loaded from it); the entries applied."""
    entries = _entries(journal_path(image))
    if entries:
        cells = card.nvm.contents()
        for writes in entries:
            for key, value in writes.items():
                if value is None:
                    cells.pop(key, None)
                else:
                    cells[key] = value
        card.nvm.load(cells)
    return len(entries)


def remove_journal(image: str | os.PathLike[str]) -> None:
    """Delete ``image``'s journal (after the image was saved with everything in it)."""
    journal_path(image).unlink(missing_ok=True)


class WriteThrough:
    """Append every transaction ``card``'s NVM commits to ``image``'s journal, durably.

    ``fsync=False`` leaves the flush to disk to the operating system: the journal still
    survives the process being killed (the data is in the kernel once written), not a
    crash of the machine; a commit then costs microseconds instead of milliseconds.
    Chains with a commit listener already set on the NVM; :meth:`close` restores it.
    A write that fails (disk full) raises from the command, which the card then answers
    with ``6F00`` rather than a status word the disk does not back.
    """

    def __init__(
        self, card: SimulatedCard, image: str | os.PathLike[str], *, fsync: bool = True
    ) -> None:
        self.card = card
        self.path = journal_path(image)
        self.fsync = fsync
        self.appends = 0
        """Transactions written since attached."""
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)
        try:
            self._fd: int | None = os.open(self.path, flags, 0o600)
        except OSError as exc:
            raise ImageError(str(self.path), f"cannot write ({exc.strerror or exc})") from exc
        self._previous = card.nvm.on_commit
        card.nvm.on_commit = self._append

    def _append(self, writes: Mapping[str, bytes | None]) -> None:
        if self._previous is not None:
            self._previous(writes)
        if self._fd is None:
            raise ImageError(str(self.path), "journal closed")
        line = _line(writes)
        while line:
            line = line[os.write(self._fd, line) :]
        if self.fsync:
            os.fsync(self._fd)
        self.appends += 1

    def close(self) -> None:
        """Stop journaling (the journal stays until the image is saved)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self.card.nvm.on_commit = self._previous
