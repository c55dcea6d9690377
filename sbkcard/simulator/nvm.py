"""Journaled non-volatile memory with power-loss injection (DESIGN "our edge").

:class:`JournaledNVM` implements the :class:`~sbkcard.applet_model.storage.Storage`
contract the way a card's COS protects its EEPROM: the writes of one transaction go
through a write-ahead journal, as discrete NVM *steps*:

1. one step per staged write: copy ``key = new value`` into the journal;
2. one step: set the commit mark (a single cell, atomic);
3. one step per staged write: copy the value from the journal into its cell;
4. one step: clear the commit mark (the journal is then free).

A power cut interrupts the step in progress and leaves it *torn*: a cell or a journal
entry half rewritten, as an EEPROM page write cut midway leaves it.  At the next power-up
:meth:`JournaledNVM.recover` rolls a committed journal forward (step 3 again, then step 4;
these steps can tear too, and recovery is idempotent) or discards an uncommitted one.
Whatever the tear, after recovery every key holds its value from wholly before or wholly
after the transaction, the same for all keys of that transaction.

Fault injection: :attr:`JournaledNVM.steps` counts completed write steps, and
:meth:`JournaledNVM.cut_power_after` arms a cut *k* steps ahead, so that a test can cut
power at every step of a command, one run per step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from functools import partial

from sbkcard.applet_model.storage import PowerLoss, Transaction

ERASED = 0xFF
"""The value of an erased EEPROM byte: what a torn write leaves beyond the bytes it wrote."""


class Recovery(Enum):
    """What :meth:`JournaledNVM.recover` found at power-up."""

    CLEAN = "clean"
    """No journal pending: the last transaction finished."""
    ROLLED_FORWARD = "rolled forward"
    """A committed journal was applied again: its transaction is now wholly done."""
    DISCARDED = "discarded"
    """An uncommitted journal was dropped: its transaction never happened."""


@dataclass(frozen=True, slots=True)
class _Entry:
    """One journal slot: the new value of ``key`` (``None`` = delete)."""

    key: str
    value: bytes | None
    complete: bool


def torn(old: bytes | None, new: bytes) -> bytes:
    """What a cell holds when rewriting ``old`` with ``new`` is cut halfway.

    The first half of ``new`` is written; the rest keeps the old bytes, or reads as
    erased (``FF``) where the old value was shorter.
    """
    half = len(new) // 2
    rest = (old or b"")[half : len(new)]
    return new[:half] + rest + bytes([ERASED]) * (len(new) - half - len(rest))


class _Staging:
    """The :class:`~sbkcard.applet_model.storage.Transaction` handed to an applet."""

    __slots__ = ("_cells", "staged")

    def __init__(self, cells: Mapping[str, bytes]) -> None:
        self._cells = cells
        self.staged: dict[str, bytes | None] = {}

    def read(self, key: str) -> bytes | None:
        if key in self.staged:
            return self.staged[key]
        return self._cells.get(key)

    def write(self, key: str, value: bytes) -> None:
        self.staged[key] = bytes(value)

    def delete(self, key: str) -> None:
        self.staged[key] = None


class JournaledNVM:
    """A card's EEPROM: key → bytes cells, written through a journal, tearable at any step.

    ``initial`` is the content at manufacture (no journal pending).  The NVM starts
    powered; a :class:`~sbkcard.applet_model.storage.PowerLoss` leaves it unpowered and
    every later write step fails the same way until :meth:`recover` runs at power-up.
    """

    def __init__(self, initial: Mapping[str, bytes] | None = None) -> None:
        self._cells: dict[str, bytes] = {k: bytes(v) for k, v in (initial or {}).items()}
        self._journal: list[_Entry] = []
        self._committed = False
        self._powered = True
        self._cut_at: int | None = None
        self.steps = 0
        """Write steps completed since this NVM was created (never goes back)."""
        self.on_commit: Callable[[Mapping[str, bytes | None]], None] | None = None
        """Called with the writes (``None`` = delete) of each transaction that completes."""

    # -- the Storage protocol -------------------------------------------------------------

    def read(self, key: str) -> bytes | None:
        """The value in ``key``'s cell, or ``None`` (torn if read before :meth:`recover`)."""
        return self._cells.get(key)

    def keys(self, prefix: str = "") -> list[str]:
        """Keys with a cell, starting with ``prefix``, sorted."""
        return sorted(k for k in self._cells if k.startswith(prefix))

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Stage writes; on normal exit commit them through the journal (see module doc).

        If the ``with`` block raises, nothing is written.  A power cut during the commit
        raises :class:`~sbkcard.applet_model.storage.PowerLoss` from the ``with`` statement.
        """
        staging = _Staging(self._cells)
        yield staging
        if staging.staged:
            self._commit(staging.staged)

    # -- fault injection ------------------------------------------------------------------

    def cut_power_after(self, steps: int) -> None:
        """Cut power once ``steps`` more write steps have completed.

        The next write step after those is torn and raises ``PowerLoss``; if the running
        command has no further step, :meth:`check_power` (called by the card before it
        answers) raises instead, so the answer is lost.  ``cut_power_after(0)`` tears the
        very next step.
        """
        if steps < 0:
            raise ValueError(f"cut_power_after: steps must be >= 0, got {steps}")
        self._cut_at = self.steps + steps

    def cancel_power_cut(self) -> None:
        """Disarm a cut armed by :meth:`cut_power_after`."""
        self._cut_at = None

    @property
    def power_cut_armed(self) -> bool:
        """Whether a cut is armed and has not happened yet."""
        return self._cut_at is not None

    @property
    def powered(self) -> bool:
        """False from a power cut until the next :meth:`recover`."""
        return self._powered

    def check_power(self) -> None:
        """Raise ``PowerLoss`` if an armed cut is due (all its steps are done)."""
        if self._cut_at is not None and self.steps >= self._cut_at:
            self._lose_power()

    # -- power-up -------------------------------------------------------------------------

    @property
    def needs_recovery(self) -> bool:
        """Whether a journal is pending (power was cut inside a transaction)."""
        return bool(self._journal) or self._committed

    def recover(self) -> Recovery:
        """Power-up: finish or undo the transaction a power cut interrupted.

        A committed journal is applied again and then cleared (these are write steps
        and can be torn by an armed cut; running :meth:`recover` again completes them);
        an uncommitted journal is discarded.  Restores power to the NVM.
        """
        self._powered = True
        if self._committed:
            self._apply_journal()
            return Recovery.ROLLED_FORWARD
        if self._journal:
            self._journal = []
            return Recovery.DISCARDED
        return Recovery.CLEAN

    # -- whole-content access (images, snapshots) -----------------------------------------

    def contents(self) -> dict[str, bytes]:
        """A copy of every cell (call :meth:`recover` first if :attr:`needs_recovery`)."""
        return dict(self._cells)

    def load(self, cells: Mapping[str, bytes]) -> None:
        """Replace the whole content: a fresh chip holding ``cells``, no journal, no cut."""
        self._cells = {k: bytes(v) for k, v in cells.items()}
        self._journal = []
        self._committed = False
        self._powered = True
        self._cut_at = None

    # -- the journal ----------------------------------------------------------------------

    def _commit(self, staged: Mapping[str, bytes | None]) -> None:
        if self._cut_at is None and self._powered:
            self._commit_uncut(staged)
            return
        self._journal = []
        for key, value in staged.items():
            entry = _Entry(key, value, complete=True)
            self._step(partial(self._journal.append, entry), self._tear_entry(entry))
        self._step(self._set_mark, None)
        self._apply_journal()
        if self.on_commit is not None:
            self.on_commit(staged)

    def _commit_uncut(self, staged: Mapping[str, bytes | None]) -> None:
        """The same steps with no cut armed: none can tear, so the journal is never seen
        and the cells take the values directly (the card's hot path)."""
        for key, value in staged.items():
            if value is None:
                self._cells.pop(key, None)
            else:
                self._cells[key] = value
        self.steps += 2 * len(staged) + 2
        if self.on_commit is not None:
            self.on_commit(staged)

    def _apply_journal(self) -> None:
        for entry in list(self._journal):
            self._step(partial(self._write_cell, entry), self._tear_cell(entry))
        self._step(self._clear_mark, None)

    def _set_mark(self) -> None:
        self._committed = True

    def _clear_mark(self) -> None:
        self._committed = False
        self._journal = []

    def _write_cell(self, entry: _Entry) -> None:
        if entry.value is None:
            self._cells.pop(entry.key, None)
        else:
            self._cells[entry.key] = entry.value

    def _tear_entry(self, entry: _Entry) -> Callable[[], None]:
        def tear() -> None:
            value = None if entry.value is None else torn(None, entry.value)
            self._journal.append(_Entry(entry.key, value, complete=False))

        return tear

    def _tear_cell(self, entry: _Entry) -> Callable[[], None] | None:
        if entry.value is None:
            return None  # removing a cell clears one directory byte: atomic
        new = entry.value

        def tear() -> None:
            self._cells[entry.key] = torn(self._cells.get(entry.key), new)

        return tear

    def _step(self, perform: Callable[[], None], tear: Callable[[], None] | None) -> None:
        """One NVM write step: performed, or torn by a due power cut."""
        if not self._powered:
            raise PowerLoss("NVM written while unpowered (power was cut; recover() first)")
        if self._cut_at is not None and self.steps >= self._cut_at:
            if tear is not None:
                tear()
            self._lose_power()
        perform()
        self.steps += 1

    def _lose_power(self) -> None:
        self._cut_at = None
        self._powered = False
        raise PowerLoss(f"power cut at NVM step {self.steps}")
