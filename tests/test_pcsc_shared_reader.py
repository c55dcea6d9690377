"""Several applications on one simulated reader, as at a real counter (issue 9).

Four client processes share the card's reader for :data:`SECONDS` (the environment
variable ``SBKCARD_SHARED_READER_SECONDS`` stretches it, e.g. to a minute), each ending
every session with ``SCARD_UNPOWER_CARD`` while ``opensc-tool`` reads the card between
them: no client may hang (each must finish within the run plus a margin), and every
session is either answered with a status word or refused with a PC/SC error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from pcsc_stack import SimProcess

from sbkcard.cli import main
from sbkcard.simulator.pcscd import PcscdStack

pytestmark = pytest.mark.pcsc

SECONDS = float(os.environ.get("SBKCARD_SHARED_READER_SECONDS", "20"))
MARGIN = 20.0
"""How long after the run a client may take to report before it counts as hung."""
CLIENTS = Path(__file__).with_name("pcsc_clients.py")
SELECT_SSSE = "00 A4 04 00 0F 73 78 31 2E 73 68 2E C9 E7 BB E1 B1 A3 D5 CF"


def _opensc_loop(reader: str, until: float, tally: Counter[str]) -> None:
    while time.monotonic() < until:
        try:
            run = subprocess.run(
                ["opensc-tool", "-r", reader, "-s", SELECT_SSSE],
                capture_output=True,
                text=True,
                timeout=MARGIN,
            )
        except subprocess.TimeoutExpired:
            tally["hung"] += 1
            return
        answered = run.returncode == 0 and "SW1=0x90, SW2=0x00" in run.stdout  # FCI fetched
        tally["answered" if answered else "refused"] += 1


def test_unpowering_clients_never_hang_the_reader(sbk_pcscd: PcscdStack, tmp_path: Path) -> None:
    image = tmp_path / "card.json"
    assert main(["card", "new", "--profile", "3", "--out", str(image)]) == 0
    reader = sbk_pcscd.reader_name(0)
    with SimProcess(sbk_pcscd, tmp_path / "sim.log", "--card", str(image)) as served:
        served.started()
        argv = [sys.executable, str(CLIENTS)]
        clients = [
            subprocess.Popen([*argv, mode, reader, str(SECONDS)], stdout=subprocess.PIPE, text=True)
            for mode in ("unpower", "unpower", "unpower", "reader")
        ]
        external: Counter[str] = Counter()
        opensc = threading.Thread(
            target=_opensc_loop, args=("0", time.monotonic() + SECONDS, external)
        )
        opensc.start()
        tallies: list[Counter[str]] = []
        hung = 0
        deadline = time.monotonic() + SECONDS + MARGIN
        for client in clients:
            try:
                out, _ = client.communicate(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                hung += 1
                client.kill()
                client.communicate()
                continue
            assert client.returncode == 0
            tallies.append(Counter(json.loads(out)))
        opensc.join(max(0.1, deadline - time.monotonic()))
        print(f"{SECONDS:g} s: clients {tallies}, opensc-tool {dict(external)}")
        assert hung == 0, f"{hung} of {len(clients)} PC/SC clients hung; sim log: {served.output()}"
        assert external["hung"] == 0, "opensc-tool hung"
        # Refused sessions get pcscd's codes (SCARD_W_UNPOWERED_CARD, SCARD_W_RESET_CARD…);
        # on a loaded machine one unpowering client may get nothing but refusals.
        for tally in tallies:
            assert all(k == "answered" or k.startswith("SCARD_") for k in tally), tallies
        assert sum(tally["answered"] for tally in tallies[:-1]) > 0, tallies
        assert tallies[-1]["answered"] > 0, tallies  # the long-lived reader
        assert external["answered"] > 0, external
