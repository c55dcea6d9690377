"""The counter service's cost over the library, and 50 counters at once (``sbkcard serve``).

* iReadCardBas (S3 §1.1) through the service — HTTP (keep-alive) and WebSocket — against
  the same call on the library directly, each on its own simulated card and PSAM, samples
  taken in alternating rounds.  Target: the service adds at most 1 ms to the median.
* 50 simulated readers in one service, one WebSocket client each, every client making
  ``CALLS`` calls (a bounded run, loopback): calls/s, p50/p99, errors (target 0) and the
  process's peak memory, against the same 50 readers called directly from 50 threads.

The server runs in its own thread and event loop, as ``sbkcard serve`` does.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from aiohttp import ClientSession, web

from benchmarks.harness import Row
from sbkcard.applet_model.psam import psam_atr, psam_content
from sbkcard.applet_model.user_card import THIRD_GENERATION
from sbkcard.applet_model.user_card.personalise import (
    DEMO_CARD_ID,
    card_atr,
    demo_card_content,
)
from sbkcard.service.counter import ReaderSlot
from sbkcard.service.server import CounterService
from sbkcard.simulator import SimulatedCard
from sbkcard.terminal.national.interface import NationalInterface
from sbkcard.terminal.terminal import Terminal

ROUNDS = 7
PER_ROUND = 30
COUNTERS = 50
CALLS = 20


def _slot(name: str) -> ReaderSlot:
    card = SimulatedCard.create(
        "user-card",
        demo_card_content(THIRD_GENERATION),
        card_atr(THIRD_GENERATION, DEMO_CARD_ID),
        profile=3,
    )
    terminal_number = "410100000001"
    chip = SimulatedCard.create(
        "psam", psam_content(level=3, terminal_number=terminal_number), psam_atr(terminal_number)
    )
    return ReaderSlot(name, NationalInterface(Terminal(card, psam_reader=chip)))


@contextmanager
def _serving(service: CounterService) -> Iterator[str]:
    """The service on a loopback port in a thread of its own; its base URL."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(service.app(), access_log=None)
    ready = threading.Event()
    port: list[int] = []

    async def start() -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port.extend(s.getsockname()[1] for s in site._server.sockets)  # type: ignore[union-attr]
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()))
    thread.start()
    ready.wait(30)
    try:
        yield f"http://127.0.0.1:{port[0]}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


def _timed(func: Callable[[], object]) -> float:
    start = time.perf_counter()
    func()
    return (time.perf_counter() - start) * 1000.0


async def _overhead(base: str, direct: NationalInterface) -> tuple[float, float, float]:
    """Median ms of iReadCardBas: HTTP, WebSocket, direct (alternating rounds)."""
    http: list[float] = []
    ws_times: list[float] = []
    lib: list[float] = []
    async with ClientSession() as session, session.ws_connect(f"{base}/ws") as ws:
        for _ in range(ROUNDS):
            for _ in range(PER_ROUND):
                start = time.perf_counter()
                async with session.post(f"{base}/api/iReadCardBas", json={"iType": 1}) as r:
                    assert (await r.json())["code"] == 0
                http.append((time.perf_counter() - start) * 1000.0)
            for _ in range(PER_ROUND):
                start = time.perf_counter()
                await ws.send_json({"function": "iReadCardBas", "iType": 1})
                assert (await ws.receive_json())["code"] == 0
                ws_times.append((time.perf_counter() - start) * 1000.0)
            for _ in range(PER_ROUND):
                lib.append(_timed(lambda: direct.iReadCardBas(1)))
    return statistics.median(http), statistics.median(ws_times), statistics.median(lib)


async def _many(base: str, names: list[str]) -> tuple[list[float], int, float]:
    """Every client's latencies, the errors, the wall time."""
    latencies: list[float] = []
    errors = 0

    async def client(session: ClientSession, reader: str) -> None:
        nonlocal errors
        async with session.ws_connect(f"{base}/ws") as ws:
            for _ in range(CALLS):
                start = time.perf_counter()
                await ws.send_json({"function": "iReadCardBas", "iType": 1, "reader": reader})
                answer = await ws.receive_json()
                latencies.append((time.perf_counter() - start) * 1000.0)
                errors += answer["code"] != 0

    start = time.perf_counter()
    async with ClientSession() as session:
        await asyncio.gather(*(client(session, n) for n in names))
    return latencies, errors, time.perf_counter() - start


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def run() -> list[Row]:
    rows: list[Row] = []
    service = CounterService([_slot("default")])
    with _serving(service) as base:
        http, ws, lib = asyncio.run(_overhead(base, _slot("direct").national))
    target = "+≤1 ms median"
    rows.append(
        Row(f"iReadCardBas HTTP (+{http - lib:.2f} ms)", http, lib, "ms", "library", target, False)
    )
    rows.append(
        Row(f"iReadCardBas WebSocket (+{ws - lib:.2f} ms)", ws, lib, "ms", "library", target, False)
    )

    names = [f"counter-{i:02d}" for i in range(COUNTERS)]
    many = CounterService([_slot(n) for n in names], access=None)
    many.access.rate = many.access.burst = 10_000
    with _serving(many) as base:
        latencies, errors, wall = asyncio.run(_many(base, names))
    direct_slots = [_slot(n).national for n in names]
    direct: list[float] = []

    def one(national: NationalInterface) -> None:
        for _ in range(CALLS):
            direct.append(_timed(lambda: national.iReadCardBas(1)))

    start = time.perf_counter()
    with ThreadPoolExecutor(COUNTERS) as pool:
        list(pool.map(one, direct_slots))
    direct_wall = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    label = f"{COUNTERS} counters: errors {errors}, peak RSS {rss:.0f} MiB"
    rows.append(
        Row(
            f"{label}; calls/s",
            len(latencies) / wall,
            len(direct) / direct_wall,
            "calls/s",
            "library, 50 threads",
            "errors 0",
        )
    )
    rows.append(
        Row(
            f"{COUNTERS} counters p50",
            statistics.median(latencies),
            statistics.median(direct),
            "ms",
            "library, 50 threads",
            "",
            False,
        )
    )
    rows.append(
        Row(
            f"{COUNTERS} counters p99",
            _p99(latencies),
            _p99(direct),
            "ms",
            "library, 50 threads",
            "",
            False,
        )
    )
    return rows
