"""Several applications on one simulated reader, as at a real counter (issue 9).

Four client processes share the card's reader for :data:`SECONDS` (the environment
variable ``SBKCARD_SHARED_READER_SECONDS`` stretches it, e.g. to a minute), each ending
every session with ``SCARD_UNPOWER_CARD`` while ``opensc-tool`` reads the card between
them: no client may hang (each must finish within the run plus a margin), and every
session is either answered with a status word or refused with a PC/SC error.

Then ``scriptor`` (pcsc-tools) runs a script of APDUs against the card again and again
for a quarter of that time, while the library's own client
(:class:`~sbkcard.terminal.transports.pcsc.PcscTransport`) reads the same card.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from pcsc_stack import SimProcess

from sbkcard.cli import main
from sbkcard.errors import TransportError
from sbkcard.simulator import load_image
from sbkcard.simulator.pcscd import PcscdStack
from sbkcard.terminal.transports.pcsc import PcscTransport

pytestmark = pytest.mark.pcsc

SECONDS = float(os.environ.get("SBKCARD_SHARED_READER_SECONDS", "20"))
MARGIN = 20.0
"""How long after the run a client may take to report before it counts as hung."""
CLIENTS = Path(__file__).with_name("pcsc_clients.py")
SELECT_SSSE = "00 A4 04 00 0F 73 78 31 2E 73 68 2E C9 E7 BB E1 B1 A3 D5 CF"
GET_FCI = "00 C0 00 00 1E"
READ_NUMBER = "00 B2 07 2C 0B"
"""READ RECORD 7 of EF05 (SFI 5): the card number."""
MORE, OK = b"\x61\x1e", b"\x90\x00"
PAUSE = 0.005
"""Between the library client's sessions (a tight loop would starve ``scriptor``)."""


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


SCRIPT = f"""# SELECT the SSSE by name (T=0: 61 1E), GET RESPONSE (its FCI), the card number
{SELECT_SSSE}
{GET_FCI}
{READ_NUMBER}
"""
_ANSWER = re.compile(r"^< ([0-9A-F \n]*?) ?: ", re.MULTILINE)


def _answers(output: str) -> list[bytes]:
    """The responses in ``scriptor``'s output (``< 61 1E : Normal processing.``)."""
    return [bytes.fromhex(m.group(1)) for m in _ANSWER.finditer(output)]


def _scriptor_loop(reader: str, script: Path, until: float, runs: list[str | list[bytes]]) -> None:
    """Run ``scriptor`` until ``until``: each run's responses, or why it failed."""
    while time.monotonic() < until:
        try:
            run = subprocess.run(
                ["scriptor", "-r", reader, str(script)],
                capture_output=True,
                text=True,
                timeout=MARGIN,
            )
        except subprocess.TimeoutExpired:
            runs.append("hung")
            return
        runs.append(_answers(run.stdout) if run.returncode == 0 else run.stderr.strip())


def _library_loop(reader: str, until: float, tally: Counter[str]) -> None:
    """The library's own client: a session (SELECT, READ RECORD) after another."""
    with PcscTransport(reader) as card:
        while time.monotonic() < until:
            try:
                card.power_on()
                answers = [card.transmit(bytes.fromhex(a)) for a in (SELECT_SSSE, READ_NUMBER)]
                card.power_off()
            except TransportError as exc:
                tally[type(exc).__name__] += 1
                continue
            tally["answered" if [a[-2:] for a in answers] == [MORE, OK] else "wrong"] += 1
            time.sleep(PAUSE)


def test_scriptor_and_the_library_share_the_reader(sbk_pcscd: PcscdStack, tmp_path: Path) -> None:
    image, script = tmp_path / "card.json", tmp_path / "script.txt"
    assert main(["card", "new", "--profile", "3", "--out", str(image)]) == 0
    script.write_text(SCRIPT, encoding="ascii")
    chip = load_image(image)  # what the card answers the script alone
    chip.power_on()
    assert chip.transmit(bytes.fromhex(SELECT_SSSE)) == MORE
    fci, number = (chip.transmit(bytes.fromhex(a)) for a in (GET_FCI, READ_NUMBER))
    assert fci[-2:] == number[-2:] == OK
    reader = sbk_pcscd.reader_name(0)
    seconds = SECONDS / 4
    with SimProcess(sbk_pcscd, tmp_path / "sim.log", "--card", str(image)) as served:
        served.started()
        until = time.monotonic() + seconds
        runs: list[str | list[bytes]] = []
        library: Counter[str] = Counter()
        threads = [
            threading.Thread(target=_scriptor_loop, args=(reader, script, until, runs)),
            threading.Thread(target=_library_loop, args=(reader, until, library)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(seconds + MARGIN)
        hung = [t.name for t in threads if t.is_alive()]
        print(f"{seconds:g} s: scriptor {len(runs)} runs, library {dict(library)}")
        assert not hung and "hung" not in runs, f"hung: {hung}; sim log: {served.output()}"
    failed = [run for run in runs if isinstance(run, str)]
    assert not failed, failed
    complete = 0
    for answers in runs:
        assert isinstance(answers, list) and len(answers) == 3, answers
        select, response, record = answers
        assert select == MORE and record == number, answers
        # another client's command between SELECT and GET RESPONSE takes the response
        # away: the card then answers GET RESPONSE with an error status word
        assert response == fci or (
            len(response) == 2 and response[0] in (0x67, 0x69, 0x6A, 0x6F)
        ), answers
        complete += response == fci
    print(f"scriptor: {complete} of {len(runs)} runs without another client in between")
    assert complete > 0, runs
    assert set(library) == {"answered"}, library
