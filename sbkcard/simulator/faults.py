"""Tear a command at every NVM write step: the power-loss test of a card (DESIGN "our edge").

:func:`tear_every_step` runs a command once without a fault, recording every state the
card's NVM commits on the way; then, for each write step *k* of that run, it restores
the card, cuts power after *k* steps, powers the card up again (journal recovery) and
records which of the recorded states the card came back in.  A card whose every
transaction is atomic comes back in one of them each time, and at a later or equal one
for a later cut; :func:`tear_every_step` raises :class:`TearError` otherwise.  A check
function given by the caller runs on the recovered card (does it still answer SELECT?
did its counters go back?).

Commands with random input (a challenge, a MAC over it) work as long as ``prepare`` and
``command`` compute them afresh each run: the cut is armed between the two.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from sbkcard.errors import CardRemovedError
from sbkcard.simulator.card import SimulatedCard
from sbkcard.simulator.errors import SimulatorError
from sbkcard.simulator.nvm import Recovery


class TearError(SimulatorError):
    """After a power cut and recovery, the card is in a state its untorn run never had."""


@dataclass(frozen=True)
class TearOutcome:
    """One torn run: power cut after ``step`` write steps of the command."""

    step: int
    recovery: Recovery
    """What the NVM recovery did at the next power-up."""
    state: int
    """Index of the state the card came back in (0 = before the command)."""
    storage: Mapping[str, bytes]


@dataclass(frozen=True)
class TearReport:
    """Every torn run of one command, and the states of its untorn run."""

    steps: int
    """Write steps the untorn command took (the runs tear after 0 … ``steps`` of them)."""
    states: tuple[Mapping[str, bytes], ...]
    """NVM content before the command and after each transaction it committed."""
    outcomes: tuple[TearOutcome, ...]


def tear_every_step(
    card: SimulatedCard,
    command: Callable[[SimulatedCard], object],
    *,
    prepare: Callable[[SimulatedCard], object] | None = None,
    check: Callable[[SimulatedCard, TearOutcome], object] | None = None,
) -> TearReport:
    """Cut power at every write step of ``command`` on ``card``; see the module doc.

    Each run starts from ``card``'s current persistent state, powers the card on, calls
    ``prepare`` (untorn), arms the cut, calls ``command`` and expects the power cut to
    surface as :class:`~sbkcard.errors.CardRemovedError`.  After power-up ``check`` runs
    on the powered card.  The card is left in its state from before the first run.
    """
    base = card.snapshot()
    nvm = card.nvm

    def start() -> None:
        card.restore(base)
        card.power_on()
        if prepare is not None:
            prepare(card)

    try:
        start()
        states, total = _untorn_run(card, command)
        outcomes: list[TearOutcome] = []
        for k in range(total + 1):
            start()
            nvm.cut_power_after(k)
            try:
                command(card)
            except CardRemovedError:
                pass
            else:
                raise TearError(f"power cut after step {k} of {total} did not stop the command")
            finally:
                nvm.cancel_power_cut()
            card.power_on()
            storage = nvm.contents()
            previous = outcomes[-1].state if outcomes else 0
            index = _place(storage, states, previous, f"power cut after step {k} of {total}")
            outcome = TearOutcome(k, card.last_recovery, index, MappingProxyType(storage))
            outcomes.append(outcome)
            if check is not None:
                check(card, outcome)
    finally:
        card.restore(base)
    return TearReport(total, tuple(MappingProxyType(s) for s in states), tuple(outcomes))


def _untorn_run(
    card: SimulatedCard, command: Callable[[SimulatedCard], object]
) -> tuple[list[dict[str, bytes]], int]:
    """Run ``command`` without a fault: the states it commits (first: before it), its steps."""
    nvm = card.nvm
    states = [nvm.contents()]

    def record(writes: Mapping[str, bytes | None]) -> None:
        state = dict(states[-1])
        for key, value in writes.items():
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
        states.append(state)

    first = nvm.steps
    nvm.on_commit = record
    try:
        command(card)
    finally:
        nvm.on_commit = None
    return states, nvm.steps - first


def _place(
    storage: Mapping[str, bytes], states: list[dict[str, bytes]], previous: int, where: str
) -> int:
    """The index of ``storage`` among ``states``, at or after ``previous``; else TearError."""
    matches = [i for i, state in enumerate(states) if state == storage]
    if not matches:
        changed = sorted(
            key
            for key in set(storage) | set(states[-1])
            if storage.get(key) not in {state.get(key) for state in states}
        )
        raise TearError(
            f"{where}: after recovery the card is in a state its untorn run never had "
            f"(keys {', '.join(changed)})"
        )
    later = [i for i in matches if i >= previous]
    if not later:
        raise TearError(
            f"{where}: the card went back to state {matches[-1]} although an earlier cut "
            f"left it in state {previous}"
        )
    return later[0]
