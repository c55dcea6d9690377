"""Data preparation, cards per second: on 1 and 2 Dask workers against one process.

The same reserved cards (generation 3, SM4, the published TEST keys) are prepared by
:func:`~sbkcard.issuance.exchange.engine.prepare_locally` in this process and by
:func:`~sbkcard.issuance.exchange.engine.prepare_on_dask` on a ``LocalCluster`` of one
and one of two single-threaded worker processes (partitions of :data:`PARTITION` cards,
at most two per worker in flight); each output is checked byte for byte against the
single-process one. Both clusters stay up and the three runs alternate for
:data:`ROUNDS` rounds, so that the load of a shared machine falls on all three alike;
the medians are reported. Targets (issue 12): two workers at least 1.7 times one
worker, and 100,000 cards in under 60 s on a 2-core machine.

``SBKCARD_BENCH_PREP_CARDS`` sets the count (default :data:`CARDS`, so that ``make
bench`` stays short); ``python -m benchmarks.bench_exchange 100000`` runs one size and
prints every round, the CPU a card of the workers and of the client with its local
scheduler, and the extrapolation to 5.35 million cards.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from functools import partial
from typing import Any

from benchmarks.bench_issuance import APPLICANT
from benchmarks.harness import Row
from sbkcard.identifiers.card_id import CardId
from sbkcard.identifiers.ssn import ssn_check_char
from sbkcard.issuance.applicants import validate_applicant
from sbkcard.issuance.exchange.engine import local_client, prepare_locally, prepare_on_dask
from sbkcard.issuance.exchange.issuer import partitioned
from sbkcard.issuance.exchange.prepare import PrepItem, PrepJob, open_keys

CARDS = 12_000
PARTITION = 1_000
ROUNDS = 3
PROVINCE = 5_350_000
"""Cards of a province-wide reissue (issue 12)."""
JOB = PrepJob("demo", None, "bench", 3)
DAY = datetime.date(2024, 6, 3)


def items(count: int) -> list[PrepItem]:
    """``count`` reserved cards of 郑州市 (a thousand distinct people, repeated)."""
    people = []
    for seq in range(min(count, 1000)):
        body = f"41010219810101{seq:03d}"[:17]
        record = {**APPLICANT, "ssn": body + ssn_check_char(body), "name": f"测试{seq}号"}
        people.append(validate_applicant(record, seq + 2))
    return [
        PrepItem(
            people[i % len(people)],
            f"HA{i:06d}X",
            CardId("410100", i.to_bytes(4, "big"), b"\xff" * 4),
            DAY,
        )
        for i in range(count)
    ]


def _timed(run: Callable[[], Iterable[bytes]]) -> tuple[float, list[str]]:
    """Seconds to run, and the SHA-256 of every part (the parts themselves are dropped)."""
    start = time.perf_counter()
    digests = [hashlib.sha256(part).hexdigest() for part in run()]
    return time.perf_counter() - start, digests


def _worker_cpu(client: Any) -> float:
    return float(sum(client.run(time.process_time).values()))


SINGLE, ONE, TWO = "single process", "1 worker", "2 workers"
HERE = "client and scheduler, 2 workers"
"""The runs, and the CPU of this process (client and local scheduler) in the last."""


def measure(
    count: int, rounds: int = ROUNDS
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall and CPU seconds of each round to prepare ``count`` cards: one process, 1 and 2
    workers.

    The CPU seconds of a Dask run are the workers'; those of this process (the client
    and the scheduler of the local cluster) are counted apart, under :data:`HERE`.
    """
    batch = items(count)
    parts: Sequence[list[PrepItem]] = list(partitioned(batch, PARTITION))
    keys = open_keys(JOB, ExitStack())
    times: dict[str, list[float]] = {SINGLE: [], ONE: [], TWO: []}
    cpus: dict[str, list[float]] = {SINGLE: [], ONE: [], TWO: [], HERE: []}
    with local_client(1) as one, local_client(2) as two:
        clients = {ONE: (one, 1), TWO: (two, 2)}
        for client, workers in clients.values():
            # warm each worker (imports, keys) on a small partition first
            list(prepare_on_dask(client, JOB, [batch[:10]] * workers, in_flight=workers))
        for _ in range(rounds):
            # this thread's CPU only: the idle clusters' schedulers share the process
            cpu = time.thread_time()
            seconds, reference = _timed(lambda: prepare_locally(keys, JOB, parts))
            times[SINGLE].append(seconds)
            cpus[SINGLE].append(time.thread_time() - cpu)
            for name, (client, workers) in clients.items():
                cpu, here = _worker_cpu(client), time.process_time()
                on_dask = partial(prepare_on_dask, client, JOB, parts, in_flight=2 * workers)
                seconds, out = _timed(on_dask)
                cpus[name].append(_worker_cpu(client) - cpu)
                if workers == 2:
                    cpus[HERE].append(time.process_time() - here)
                if out != reference:
                    raise AssertionError(f"{name}: Dask prepared other bytes than one process")
                times[name].append(seconds)
    return times, cpus


def run() -> list[Row]:
    count = int(os.environ.get("SBKCARD_BENCH_PREP_CARDS", CARDS))
    times, cpus = measure(count)
    rate = {name: count / statistics.median(t) for name, t in times.items()}
    per_card = {name: statistics.median(c) / count * 1e6 for name, c in cpus.items()}
    return [
        Row("data prep, 1 Dask worker", rate[ONE], rate[SINGLE], "cards/s",
            "one process", "about 1x (overhead only)"),
        Row("data prep, 2 Dask workers", rate[TWO], rate[ONE], "cards/s",
            "1 Dask worker", ">= 1.7x (2 free cores)"),
        Row("data prep, 2 Dask workers vs one process", rate[TWO],
            rate[SINGLE], "cards/s", "one process",
            f"100,000 cards < 60 s ({100_000 / rate[TWO]:.0f} s here)"),
        Row("data prep CPU a card, on a Dask worker", per_card[TWO],
            per_card[SINGLE], "µs", "one process", "wall time is this x cards "
            "/ free cores", higher_is_better=False),
    ]  # fmt: skip


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else CARDS
    load = os.getloadavg()[0]
    times, cpus = measure(count)
    for index in range(len(times[SINGLE])):
        print(
            f"round {index + 1}: "
            + ", ".join(f"{name} {count / t[index]:,.0f}" for name, t in times.items())
            + " cards/s"
        )
    print(f"{HERE}: {statistics.median(cpus[HERE]) / count * 1000:.3f} ms CPU a card")
    for name, spans in times.items():
        seconds = statistics.median(spans)
        print(
            f"{name:>15}: {count:,} cards in {seconds:6.2f} s = {count / seconds:8,.0f} cards/s "
            f"({statistics.median(cpus[name]) / count * 1000:.3f} ms CPU a card); "
            f"{PROVINCE:,} cards in {PROVINCE / count * seconds / 60:6.1f} min"
        )
    ratios = [
        (single / one, one / two)
        for single, one, two in zip(times[SINGLE], times[ONE], times[TWO], strict=True)
    ]
    print(
        f"median of the rounds' ratios: 1 worker / one process "
        f"{statistics.median(r[0] for r in ratios):.2f}x, 2 workers / 1 worker "
        f"{statistics.median(r[1] for r in ratios):.2f}x"
    )
    print(
        f"load average before / after: {load:.1f} / {os.getloadavg()[0]:.1f}, "
        f"{os.cpu_count()} cores"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
