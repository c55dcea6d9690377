"""Shared pieces of the benchmarks: a result row and a robust timer.

Every benchmark compares sbkcard side by side with a peer (another project, or the raw
library underneath) *in the same run*, and reports the ratio: these machines are shared
and noisy, so absolute numbers from different runs do not compare.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One line of the benchmark table: ours against a peer, higher-is-better or not."""

    name: str
    ours: float
    peer: float
    unit: str
    peer_name: str
    target: str = ""
    higher_is_better: bool = True

    @property
    def ratio(self) -> float:
        """How many times better ours is than the peer (> 1 is better)."""
        if self.higher_is_better:
            return self.ours / self.peer
        return self.peer / self.ours


def rate(func: Callable[[], object], *, seconds: float = 0.5, repeat: int = 5) -> float:
    """Median calls per second of ``func`` over ``repeat`` rounds of about ``seconds``."""
    func()
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            func()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds / 10:
            break
        calls *= 2
    per_round = max(1, int(calls * seconds / 10 / max(elapsed, 1e-9)))
    rates = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(per_round):
            func()
        rates.append(per_round / (time.perf_counter() - start))
    return statistics.median(rates)


def interleaved_rates(
    ours: Callable[[], object], peer: Callable[[], object], *, rounds: int = 7, seconds: float = 0.3
) -> tuple[float, float]:
    """Median rates of ``ours`` and ``peer`` measured in alternating rounds."""
    a, b = [], []
    for _ in range(rounds):
        a.append(rate(ours, seconds=seconds, repeat=1))
        b.append(rate(peer, seconds=seconds, repeat=1))
    return statistics.median(a), statistics.median(b)
