"""Data preparation, cards per second: on 1 and 2 Dask workers against one process.

The same reserved cards (generation 3, SM4, the published TEST keys) are prepared by
:func:`~sbkcard.issuance.exchange.engine.prepare_locally` in this process and by
:func:`~sbkcard.issuance.exchange.engine.prepare_on_dask` on a ``LocalCluster`` of one,
then two, single-threaded worker processes (partitions of :data:`PARTITION` cards, at
most two per worker in flight); each output is checked byte for byte against the
single-process one. Targets (issue 12): two workers at least 1.7 times one worker, and
100,000 cards in under 60 s on a 2-core machine.

``SBKCARD_BENCH_PREP_CARDS`` sets the count (default :data:`CARDS`, so that ``make
bench`` stays short); ``python -m benchmarks.bench_exchange 100000`` runs one size and
prints the times and the extrapolation to 5.35 million cards.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
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
    return sum(client.run(time.process_time).values())


def measure(count: int) -> tuple[dict[str, float], dict[str, float]]:
    """Wall and CPU seconds to prepare ``count`` cards: one process, 1 and 2 workers.

    The CPU seconds of a Dask run are the workers'; those of this process (the client
    and the scheduler of the local cluster) are counted apart.
    """
    batch = items(count)
    parts: Sequence[list[PrepItem]] = list(partitioned(batch, PARTITION))
    keys = open_keys(JOB, ExitStack())
    cpu = time.process_time()
    seconds, reference = _timed(lambda: prepare_locally(keys, JOB, parts))
    times = {"single process": seconds}
    cpus = {"single process": time.process_time() - cpu}
    for workers in (1, 2):
        name = f"{workers} worker{'s' if workers > 1 else ''}"
        with local_client(workers) as client:
            # warm each worker (imports, keys) on a small partition first
            list(prepare_on_dask(client, JOB, [batch[:10]] * workers, in_flight=workers))
            cpu, here = _worker_cpu(client), time.process_time()
            seconds, out = _timed(
                lambda client=client, w=workers: prepare_on_dask(
                    client, JOB, parts, in_flight=2 * w
                )
            )
            cpus[name] = _worker_cpu(client) - cpu
            cpus[f"{name}, client and scheduler"] = time.process_time() - here
        if out != reference:
            raise AssertionError(f"{workers} Dask workers prepared other bytes than one process")
        times[name] = seconds
    return times, cpus


def run() -> list[Row]:
    count = int(os.environ.get("SBKCARD_BENCH_PREP_CARDS", CARDS))
    t, cpu = measure(count)
    rate = {name: count / seconds for name, seconds in t.items()}
    per_card = {name: seconds / count * 1e6 for name, seconds in cpu.items()}
    return [
        Row("data prep, 1 Dask worker", rate["1 worker"], rate["single process"], "cards/s",
            "one process", "about 1x (overhead only)"),
        Row("data prep, 2 Dask workers", rate["2 workers"], rate["1 worker"], "cards/s",
            "1 Dask worker", ">= 1.7x"),
        Row("data prep, 2 Dask workers vs one process", rate["2 workers"],
            rate["single process"], "cards/s", "one process",
            f"100,000 cards < 60 s ({100_000 / rate['2 workers']:.0f} s here)"),
        Row("data prep CPU a card, on a Dask worker", per_card["2 workers"],
            per_card["single process"], "µs", "one process", "wall time is this x cards "
            "/ free cores", higher_is_better=False),
    ]  # fmt: skip


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else CARDS
    load = os.getloadavg()[0]
    times, cpus = measure(count)
    for name, seconds in cpus.items():
        if name not in times:
            print(f"{name:>15}: {seconds / count * 1000:.2f} ms CPU a card")
    for name, seconds in times.items():
        print(
            f"{name:>15}: {count:,} cards in {seconds:6.1f} s = {count / seconds:8,.0f} cards/s "
            f"({cpus[name] / count * 1000:.2f} ms CPU a card); {PROVINCE:,} cards in "
            f"{PROVINCE / count * seconds / 60:6.1f} min"
        )
    print(f"2 workers / 1 worker: {times['1 worker'] / times['2 workers']:.2f}x")
    print(
        f"load average before / after: {load:.1f} / {os.getloadavg()[0]:.1f}, "
        f"{os.cpu_count()} cores"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
