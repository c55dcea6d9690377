"""The counter service's cost over the library, and 50 counters at once (``sbkcard serve``).

* iReadCardBas (S3 §1.1) through the service — HTTP (keep-alive) and WebSocket — against
  the same call on the library directly, each on its own simulated card and PSAM, samples
  taken in alternating rounds.  Target: the service adds at most 1 ms to the median.
* 50 simulated readers in one service, one WebSocket client each, every client making
  ``CALLS`` calls (a bounded run, loopback): calls/s, p50/p99, errors (target 0) and the
  server's peak memory, against the same 50 readers called directly from 50 threads.

The service is ``sbkcard serve --config`` in its own process (simulated images), as a
counter runs it; the client and the library calls run in this process.
"""

from __future__ import annotations

import asyncio
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from aiohttp import ClientSession

from benchmarks.harness import Row
from sbkcard.applet_model.psam import psam_atr, psam_content
from sbkcard.applet_model.user_card import THIRD_GENERATION
from sbkcard.applet_model.user_card.personalise import (
    DEMO_CARD_ID,
    card_atr,
    demo_card_content,
)
from sbkcard.simulator import SimulatedCard, save_image
from sbkcard.terminal.national.interface import NationalInterface
from sbkcard.terminal.terminal import Terminal

ROUNDS = 7
PER_ROUND = 30
COUNTERS = 50
CALLS = 20


def _cards() -> tuple[SimulatedCard, SimulatedCard]:
    """The 3rd-generation demo card and a level-3 PSAM."""
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
    return card, chip


def _images(directory: Path) -> tuple[Path, Path]:
    card, chip = _cards()
    paths = directory / "card.json", directory / "psam.json"
    save_image(card, paths[0])
    save_image(chip, paths[1])
    return paths


def _direct() -> NationalInterface:
    card, chip = _cards()
    return NationalInterface(Terminal(card, psam_reader=chip))


@contextmanager
def _serving(config: str, directory: Path) -> Iterator[tuple[str, int]]:
    """``sbkcard serve --config`` as a subprocess, as a counter runs it; (base URL, pid)."""
    (directory / "serve.toml").write_text(config, encoding="utf-8")
    log = directory / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sbkcard", "serve", "--config", str(directory / "serve.toml")],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 60
        while "readers:" not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sbkcard serve did not start: {log.read_text()}")
            time.sleep(0.05)
        port = log.read_text().split("http://127.0.0.1:")[1].split("/")[0]
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def _peak_rss(pid: int) -> float:
    """A process's peak resident memory in MiB (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _config(directory: Path, names: list[str]) -> str:
    card, psam = _images(directory)
    lines = ["[serve]", "port = 0", "rate = 100000.0", "busy_timeout = 60.0"]
    for name in names:
        lines += ["[[reader]]", f'name = "{name}"', f'card = "{card}"', f'psam = "{psam}"']
    return "\n".join(lines) + "\n"


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
    target = "+≤1 ms median"
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        with _serving(_config(directory, ["default"]), directory) as (base, _pid):
            http, ws, lib = asyncio.run(_overhead(base, _direct()))
        for name, value in (("HTTP", http), ("WebSocket", ws)):
            label = f"iReadCardBas {name} (+{value - lib:.2f} ms)"
            rows.append(Row(label, value, lib, "ms", "library", target, False))
        names = [f"counter-{i:02d}" for i in range(COUNTERS)]
        with _serving(_config(directory, names), directory) as (base, pid):
            latencies, errors, wall = asyncio.run(_many(base, names))
            rss = _peak_rss(pid)
    direct: list[float] = []

    def one(national: NationalInterface) -> None:
        for _ in range(CALLS):
            direct.append(_timed(lambda: national.iReadCardBas(1)))

    nationals = [_direct() for _ in names]
    start = time.perf_counter()
    with ThreadPoolExecutor(COUNTERS) as pool:
        list(pool.map(one, nationals))
    direct_wall = time.perf_counter() - start
    peer = "library, 50 threads"
    label = f"{COUNTERS} counters (errors {errors}, server peak RSS {rss:.0f} MiB)"
    rows.append(
        Row(f"{label} calls/s", len(latencies) / wall, len(direct) / direct_wall, "calls/s", peer,
            "errors 0")
    )  # fmt: skip
    rows.append(
        Row(f"{COUNTERS} counters p50", statistics.median(latencies), statistics.median(direct),
            "ms", peer, "", False)
    )  # fmt: skip
    rows.append(
        Row(f"{COUNTERS} counters p99", _p99(latencies), _p99(direct), "ms", peer, "", False)
    )
    return rows
