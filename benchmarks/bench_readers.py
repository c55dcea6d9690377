"""Cards per second issued into blank chips in PC/SC readers: 4 readers against 1.

``sbkcard issue --reader …`` (a process, as an operator runs it) personalises SM4 cards
through a private pcscd (:class:`~sbkcard.simulator.pcscd.PcscdStack`, two vpcd pairs)
into ``sbkcard sim --blank-stock`` chip stations: blank check, binding, personalisation
by APDUs, read-back with IRK authentication, eject.  The peer is the same line with one
reader, in the same run.  Each side's time includes starting the ``issue`` process and
the station's 0.5 s chip change per card (pcscd must see the reader empty).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import Row
from sbkcard.identifiers.ssn import ssn_check_char
from sbkcard.simulator.pcscd import PcscdStack, bound_to_caller

CARDS_PER_READER = 5


def _applicants(path: Path, count: int) -> Path:
    lines = ["ssn,name,gender,ethnicity,birthplace,birth_date,region"]
    for seq in range(1, count + 1):
        body = f"41010219810101{seq:03d}"[:17]
        lines.append(f"{body}{ssn_check_char(body)},测试{seq},1,01,410102,19810101,410100")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _stations(stack: PcscdStack, tmp: Path, readers: int) -> list[subprocess.Popen[bytes]]:
    procs = []
    for slot in range(readers):
        argv = [sys.executable, "-m", "sbkcard", "sim", "--vpcd", "--port"]
        argv += [str(stack.slot_port(slot)), "--blank-stock", str(CARDS_PER_READER + 1)]
        argv += ["--out-dir", str(tmp / f"station{slot}"), "--first-serial", str(1000 * slot + 1)]
        procs.append(
            subprocess.Popen(
                bound_to_caller(argv), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
            )
        )
    for proc in procs:  # vpcd took the first chip (this process uses no PC/SC itself)
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != b"ready":
            raise RuntimeError("a chip station did not start")
    return procs


def _cards_per_second(stack: PcscdStack, tmp: Path, readers: int) -> float:
    work = tmp / f"{readers}-readers"
    work.mkdir()
    cards = CARDS_PER_READER * readers
    procs = _stations(stack, work, readers)
    try:
        argv = [sys.executable, "-m", "sbkcard", "issue", str(_applicants(work / "a.csv", cards))]
        argv += ["--keys", "demo", "--out", str(work / "out"), "--json"]
        for slot in range(readers):
            argv += ["--reader", stack.reader_name(slot)]
        start = time.perf_counter()
        done = subprocess.run(
            bound_to_caller(argv), capture_output=True, env={**os.environ, **stack.env}, check=False
        )
        elapsed = time.perf_counter() - start
        if not done.stdout:
            raise RuntimeError(f"sbkcard issue: {done.stderr.decode(errors='replace')[-500:]}")
        issued = json.loads(done.stdout)["counts"]["issued"]
        if issued != cards:
            raise RuntimeError(f"{readers} readers issued {issued} of {cards} cards")
        return cards / elapsed
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        time.sleep(1.0)  # pcscd sees the readers empty before the next stations


def run() -> list[Row]:
    with (
        tempfile.TemporaryDirectory(prefix="sbkcard-bench-readers-") as tmp,
        PcscdStack(pairs=2) as stack,
    ):
        one = _cards_per_second(stack, Path(tmp), 1)
        four = _cards_per_second(stack, Path(tmp), 4)
    return [Row("issue into PC/SC readers, 4 readers", four, one, "cards/s", "1 reader")]
