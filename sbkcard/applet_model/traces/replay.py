"""Replaying a trace on simulated devices and judging each answer (Part 5 §6.5, §7; Part 9).

:func:`replay_trace` sends every command of an unmasked trace again, in order, to the
device it went to (through :func:`sbkcard.apdu.trace.replay`, one call per device), and
compares each answer with the recorded one.  Some answers depend on the device's
randomness (:data:`RANDOM_RULES`): GET CHALLENGE, the external authentications and MACs
computed over a challenge, the purse's random, MACs and TACs.  They cannot come back the
same from a card that draws fresh random numbers, and neither can what depends on them.

So a replay can give the device the randomness the trace recorded: a
:class:`RecordedRandom`, passed as the ``random`` of the simulated applet
(:class:`~sbkcard.applet_model.user_card.UserCard`,
:class:`~sbkcard.applet_model.psam.Psam`), hands out the challenge each GET CHALLENGE
returned and the random each INITIALIZE FOR LOAD/PURCHASE returned, exchange by exchange;
the replayed device then answers byte for byte as the recorded one, MACs included.
Without it, answers of the commands of :data:`RANDOM_RULES` that differ are
:attr:`Verdict.RANDOM`, not failures.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from sbkcard.apdu.command import CommandAPDU
from sbkcard.apdu.errors import TraceFormatError
from sbkcard.apdu.response import ResponseAPDU
from sbkcard.apdu.status import parse_more_data
from sbkcard.apdu.trace import Exchange, MaskedCommand, ReplayResult, format_command, replay
from sbkcard.applet_model.traces.decode import INS_GET_RESPONSE, TracedExchange
from sbkcard.errors import SbkcardError

__all__ = [
    "RANDOM_RULES",
    "Outcome",
    "RandomRule",
    "RecordedRandom",
    "ReplayError",
    "Verdict",
    "random_reason",
    "recorded_randomness",
    "replay_trace",
]

Transmit = Callable[[bytes], bytes]


class ReplayError(SbkcardError):
    """A trace that cannot be replayed on the devices given (names what is missing)."""


@dataclass(frozen=True)
class RandomRule:
    """A command whose answer depends on the device's randomness, and why.

    ``drawn`` is where the random the device drew sits in the answer's data
    (offset, length; ``None`` length: to the end), for commands that draw one.
    """

    ins: int
    why: str
    p1: int | None = None
    drawn: tuple[int, int | None] | None = None

    def matches(self, ins: int, p1: int) -> bool:
        """Whether a command with this INS and P1 falls under the rule."""
        return ins == self.ins and (self.p1 is None or p1 == self.p1)


RANDOM_RULES: Mapping[str, tuple[RandomRule, ...]] = {
    "card": (
        RandomRule(0x84, "the card's challenge", drawn=(0, None)),
        RandomRule(0x82, "checked against the card's challenge"),
        RandomRule(0x28, "the card's random and MAC1", p1=0x00, drawn=(8, 4)),
        RandomRule(0x28, "the card's random", p1=0x01, drawn=(18, 4)),
        RandomRule(0x2A, "MAC2 under the session key of the card's random"),
        RandomRule(0x2C, "MACs under the session key of the card's random"),
        RandomRule(0x2E, "the MAC of the last purse transaction"),
        RandomRule(0x24, "MAC over the card's challenge"),
        RandomRule(0x1E, "MAC over the card's challenge"),
        RandomRule(0x16, "MAC over the card's challenge"),
        RandomRule(0xD4, "MAC with the card's challenge as IV"),
    ),
    "psam": (
        RandomRule(0x84, "the PSAM's challenge", drawn=(0, None)),
        RandomRule(0x82, "checked against the PSAM's challenge"),
        RandomRule(0xD4, "MAC with the PSAM's challenge as IV"),
    ),
}
"""Per device, the commands whose answers depend on its randomness (Part 5 §6.4–6.5,
§7.1–7.6; Part 9 §9.2, §9.4–9.6).  Any other device name is treated as a user card; on a
user card every secure-messaging command (CLA ``x4``) depends on the last challenge too."""


def _rules(device: str) -> tuple[RandomRule, ...]:
    return RANDOM_RULES.get(device, RANDOM_RULES["card"])


def random_reason(device: str, command: CommandAPDU | MaskedCommand) -> str | None:
    """Why the answer to ``command`` depends on ``device``'s randomness, or ``None``."""
    for rule in _rules(device):
        if rule.matches(command.ins, command.p1):
            return rule.why
    if device != "psam" and command.cla & 0x0F == 0x04:
        return "MAC over the card's challenge"
    return None


def _continuations(traced: Sequence[TracedExchange]) -> tuple[dict[int, int], dict[int, bytes]]:
    """GET RESPONSE index → the command it fetches for; command index → its whole answer."""
    origin: dict[int, int] = {}
    answers: dict[int, bytes] = {}
    pending: dict[str, tuple[int, bytes]] = {}
    for index, one in enumerate(traced):
        command, response = one.exchange.command, one.exchange.response
        if not isinstance(command, CommandAPDU | MaskedCommand):
            pending.pop(one.device, None)
            continue
        sw = response.sw if isinstance(response, ResponseAPDU) else None
        data = response.data if isinstance(response, ResponseAPDU) else b""
        waiting = pending.pop(one.device, None)
        if command.ins == INS_GET_RESPONSE and command.cla & 0xF0 == 0x00 and waiting:
            first, held = waiting
            origin[index] = first
            if sw is not None and parse_more_data(sw) is not None:
                pending[one.device] = (first, held + data)
            elif sw == 0x9000:
                answers[first] = held + data
            continue
        if sw is not None and parse_more_data(sw) is not None:
            pending[one.device] = (index, b"")
        elif sw == 0x9000:
            answers[index] = data
    return origin, answers


def recorded_randomness(traced: Sequence[TracedExchange]) -> dict[int, bytes]:
    """Index of an exchange → the random bytes its device drew for it, as recorded."""
    _, answers = _continuations(traced)
    out: dict[int, bytes] = {}
    for index, one in enumerate(traced):
        command = one.exchange.command
        if index not in answers or not isinstance(command, CommandAPDU | MaskedCommand):
            continue
        for rule in _rules(one.device):
            if rule.drawn is not None and rule.matches(command.ins, command.p1):
                start, length = rule.drawn
                end = None if length is None else start + length
                drawn = answers[index][start:end]
                if drawn and (length is None or len(drawn) == length):
                    out[index] = drawn
    return out


class RecordedRandom:
    """A device's random source that gives back recorded randomness, else fresh bytes.

    :meth:`load` sets what the next command may draw; a draw the loaded bytes cannot
    cover gets ``fresh`` bytes (``os.urandom``), so that an answer the trace did not
    record still comes from a random source.
    """

    def __init__(self, fresh: Callable[[int], bytes] = os.urandom) -> None:
        self._fresh = fresh
        self._queue = b""

    def load(self, data: bytes) -> None:
        """The random bytes the next command drew in the recorded session."""
        self._queue = bytes(data)

    def __call__(self, length: int) -> bytes:
        if len(self._queue) >= length:
            out, self._queue = self._queue[:length], self._queue[length:]
            return out
        self._queue = b""
        return self._fresh(length)


class Verdict(Enum):
    """How a replayed answer compares with the recorded one."""

    MATCH = "matches"
    RANDOM = "differs (random)"
    DIFFERS = "DIFFERS"
    NOT_RECORDED = "not compared (no response recorded)"


@dataclass(frozen=True)
class Outcome:
    """One replayed exchange: the trace's, the answer now, and the verdict."""

    number: int
    traced: TracedExchange
    actual: bytes
    verdict: Verdict
    reason: str = ""
    """Why the answer depends on randomness (for :attr:`Verdict.RANDOM`)."""

    @property
    def failed(self) -> bool:
        """A deterministic answer that changed."""
        return self.verdict is Verdict.DIFFERS


def _check_replayable(traced: Sequence[TracedExchange]) -> None:
    for number, one in enumerate(traced, start=1):
        if not one.exchange.replayable:
            shown = format_command(one.exchange.command, device=one.device)
            raise TraceFormatError(
                f"exchange #{number} ({shown}) is masked: replay needs a trace recorded "
                "unmasked (Tracer(..., mask=False))",
                line=one.line,
            )


def _send_all(
    exchanges: Sequence[tuple[int, Exchange]],
    transmit: Transmit,
    random: RecordedRandom | None,
    drawn: Mapping[int, bytes],
) -> list[ReplayResult]:
    order = iter(index for index, _ in exchanges)

    def send(apdu: bytes) -> bytes:
        index = next(order)
        if random is not None:
            random.load(drawn.get(index, b""))
        return transmit(apdu)

    return replay([exchange for _, exchange in exchanges], send)


def replay_trace(
    traced: Sequence[TracedExchange],
    devices: Mapping[str, Transmit],
    *,
    randoms: Mapping[str, RecordedRandom] | None = None,
) -> list[Outcome]:
    """Replay ``traced`` on ``devices`` (device name → transmit) and judge every answer.

    ``randoms`` are the random sources of the devices' applets, fed the recorded
    randomness as each command is sent.  Raises :class:`TraceFormatError` before sending
    anything if a command is masked, :class:`ReplayError` if a device is missing.
    """
    _check_replayable(traced)
    by_device: dict[str, list[tuple[int, Exchange]]] = {}
    for index, one in enumerate(traced):
        by_device.setdefault(one.device, []).append((index, one.exchange))
    missing = sorted(set(by_device) - set(devices))
    if missing:
        counts = ", ".join(f"{len(by_device[name])} to {name}" for name in missing)
        raise ReplayError(f"the trace sends commands to a device not given ({counts})")
    drawn = recorded_randomness(traced)
    results: dict[int, ReplayResult] = {}
    sources = randoms or {}
    for name, exchanges in by_device.items():
        sent = _send_all(exchanges, devices[name], sources.get(name), drawn)
        results.update(zip((index for index, _ in exchanges), sent, strict=True))
    origin, _ = _continuations(traced)
    outcomes = []
    for index, one in enumerate(traced):
        result = results[index]
        first = traced[origin.get(index, index)].exchange.command
        reason = ""
        if one.exchange.response is None:
            verdict = Verdict.NOT_RECORDED
        elif result.matches:
            verdict = Verdict.MATCH
        else:
            why = None
            if isinstance(first, CommandAPDU | MaskedCommand):
                why = random_reason(one.device, first)
            verdict = Verdict.DIFFERS if why is None else Verdict.RANDOM
            reason = why or ""
        outcomes.append(Outcome(index + 1, one, result.actual, verdict, reason))
    return outcomes
