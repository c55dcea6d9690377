"""Registry reservations per second: PostgreSQL against an SQLite file, 1 and 4 issuers.

Each issuer is a process of its own with its own connection, reserving cards for
distinct people (:meth:`~sbkcard.issuance.registry.SqlRegistry.reserve`: one write
transaction each, the SSN locked, the counters bumped, the card inserted under the
one-live-card index). The rate is every reservation of every issuer over the time from
their common start to the last one's end. PostgreSQL is a throwaway cluster on a Unix
socket with fsync at commit (durable, as in production); SQLite is a file in the same
temporary folder with its default journal, which also syncs at commit. Rounds alternate
between the two. No target: the rows show what a shared server gives as issuers are
added, where SQLite serialises every writer on one file lock.
"""

from __future__ import annotations

import multiprocessing
import statistics
import tempfile
import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

from benchmarks.harness import Row
from sbkcard.identifiers.ssn import ssn_check_char
from sbkcard.issuance.registry import SqlRegistry
from sbkcard.throwaway_postgres import PostgresServer

ROUNDS = 3
PER_ISSUER = 150
ISSUERS = (1, 4)


def _issuer(target: str, first: int, start: Barrier, ends: Queue[float]) -> None:
    """Reserve :data:`PER_ISSUER` cards from person ``first`` on; put the end time."""
    registry = SqlRegistry(target)
    start.wait()
    for n in range(first, first + PER_ISSUER):
        body = f"4101021981{n:07d}"
        registry.reserve(body + ssn_check_char(body), "测试", "410100", owner=f"bench{first}")
    registry.close()
    ends.put(time.perf_counter())


def _rate(target: str, issuers: int) -> float:
    """Reservations per second of ``issuers`` processes at once."""
    SqlRegistry(target).close()
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(issuers + 1)
    ends: Queue[float] = context.Queue()
    workers = [
        context.Process(target=_issuer, args=(target, i * PER_ISSUER, start, ends))
        for i in range(issuers)
    ]
    for worker in workers:
        worker.start()
    start.wait(timeout=120)
    began = time.perf_counter()
    last = max(ends.get(timeout=600) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
        if worker.exitcode != 0:
            raise RuntimeError(f"an issuer of {target} failed ({worker.exitcode})")
    return issuers * PER_ISSUER / (last - began)


def run() -> list[Row]:
    samples: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        server = PostgresServer(durable=True)
        try:
            for round_ in range(ROUNDS):
                for issuers in ISSUERS:
                    targets = {
                        "sqlite": str(Path(tmp) / f"r{round_}-{issuers}.db"),
                        "postgresql": server.new_database(),
                    }
                    for kind, target in targets.items():
                        rate = _rate(target, issuers)
                        samples.setdefault((kind, issuers), []).append(rate)
        finally:
            server.remove()
    return [
        Row(
            f"registry reservations, {issuers} issuer{'s' if issuers > 1 else ''} at once "
            "(PostgreSQL)",
            statistics.median(samples["postgresql", issuers]),
            statistics.median(samples["sqlite", issuers]),
            "reservations/s",
            "SQLite file",
        )
        for issuers in ISSUERS
    ]
