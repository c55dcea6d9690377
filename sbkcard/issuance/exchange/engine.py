"""Running data preparation: in this process, or partitioned on ``dask.distributed``.

Both take the batch as an iterable of partitions (lists of :class:`~.prepare.PrepItem`)
and yield each partition's prepared bytes in input order; both run the same
:func:`~.prepare.prepare_partition`, so their output is byte for byte the same.

On Dask (:func:`prepare_on_dask`) at most ``in_flight`` partitions are submitted and not
yet collected: applicants stream in and parts stream out, and memory stays flat however
large the batch. The workers are told the :class:`~.prepare.PrepJob` (key store, labels,
batch), never a key: each worker process opens the store itself, once
(:func:`~.prepare.worker_keys`), with the passphrase or PIN from its own environment —
a token is logged into once per worker, in that worker's own session, and derives every
card's keys inside it. What leaves a worker is only ciphertext under the transport key
and the records (Part 10 §6.2.1).

A partition travels as one pickled ``bytes`` (:func:`run_partition` unpickles it): the
scheduler unpickles and re-pickles every task's arguments, which for a thousand cards
costs it three times the client's own pickling (0.02 ms a card), while a ``bytes``
passes through it as a copy. A local cluster runs with :data:`CLUSTER_CONFIG`.
"""

from __future__ import annotations

import math
import os
import pickle
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sbkcard.issuance.exchange.prepare import (
    PrepItem,
    PrepJob,
    PrepKeys,
    prepare_partition,
    worker_keys,
)

__all__ = [
    "CLUSTER_CONFIG",
    "local_client",
    "prepare_locally",
    "prepare_on_dask",
    "run_partition",
]

CLUSTER_CONFIG: dict[str, Any] = {
    # glibc's own trim threshold, not dask's 64 KiB: with it set, every buffer the size of
    # a partition is mapped and unmapped afresh, a page fault a page (~15% of the CPU)
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    # no statistical profiler sampling the task thread every 10 ms
    "distributed.worker.profile.enabled": False,
    # the client bounds the work in flight itself: the scheduler need not hold tasks back
    # (its queue would cost each task a round trip before the worker starts it)
    "distributed.scheduler.worker-saturation": math.inf,
}
"""The dask settings :func:`local_client` starts its cluster with (``dask worker``
processes of another cluster take the same from their own configuration)."""


def run_partition(job: PrepJob, partition: bytes) -> bytes:
    """One pickled partition, on a worker: its keys opened from the job (once per process)."""
    items: list[PrepItem] = pickle.loads(partition)
    return prepare_partition(worker_keys(job), job.profile, items)


def prepare_locally(
    keys: PrepKeys, job: PrepJob, partitions: Iterable[Sequence[PrepItem]]
) -> Iterator[bytes]:
    """Every partition prepared here, in order."""
    for items in partitions:
        yield prepare_partition(keys, job.profile, items)


def prepare_on_dask(
    client: Any, job: PrepJob, partitions: Iterable[Sequence[PrepItem]], *, in_flight: int = 4
) -> Iterator[bytes]:
    """Every partition prepared on ``client``'s cluster, in order, ``in_flight`` at most."""
    pending: deque[Any] = deque()
    for items in partitions:
        partition = pickle.dumps(list(items), pickle.HIGHEST_PROTOCOL)
        pending.append(client.submit(run_partition, job, partition, pure=False))
        if len(pending) >= in_flight:
            yield _collect(pending.popleft())
    while pending:
        yield _collect(pending.popleft())


def _collect(future: Any) -> bytes:
    result: bytes = future.result()
    future.release()
    return result


@contextmanager
def local_client(
    workers: int = 2, *, scheduler: str | None = None, env: dict[str, str] | None = None
) -> Iterator[Any]:
    """A client of the cluster at ``scheduler``, or of a new ``LocalCluster``.

    The local cluster has ``workers`` single-threaded worker processes, everything bound
    to loopback (the scheduler's HTTP endpoint on a free port); ``env`` is set in the
    workers' environment (the key store passphrase, never sent over the cluster's
    connections: the processes inherit it).
    """
    import dask
    from dask.distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as client:  # type: ignore[no-untyped-call]
            yield client
        return
    saved = {name: os.environ.get(name) for name in env or {}}
    os.environ.update(env or {})
    try:
        with dask.config.set(CLUSTER_CONFIG):
            cluster = LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",
                memory_limit="1GiB",
                silence_logs=40,
            )
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    with cluster, Client(cluster) as client:  # type: ignore[no-untyped-call]
        yield client
