"""``sbkcard sim`` in real use: killed, shared with other tools, started where it cannot work.

A kill -9 loses nothing the card answered; an image in use is refused to a second
process; a slot holds one card; a start that cannot work fails at once with one line and
exit code 1, and a start that works says ``ready`` (and writes ``--ready-file``).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pcsc_stack import SimProcess
from terminal_support import CARD_INFO, ScriptedPad

from sbkcard.cli import main
from sbkcard.simulator import load_image
from sbkcard.simulator.image_journal import journal_path
from sbkcard.simulator.pcscd import PcscdStack, bound_to_caller
from sbkcard.terminal.national.interface import NationalInterface
from sbkcard.terminal.terminal import Terminal
from sbkcard.terminal.transports.pcsc import PcscTransport

SELECT_SSSE = bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF")
WRONG_PIN = bytes.fromhex("0020000003000000")
TRIES_LEFT = bytes.fromhex("00200000")
SIM = [sys.executable, "-m", "sbkcard", "sim", "--vpcd"]


def images(directory: Path) -> tuple[Path, Path]:
    card, psam = directory / "card.json", directory / "psam.json"
    assert main(["card", "new", "--profile", "3", "--out", str(card)]) == 0
    assert main(["psam", "new", "--out", str(psam)]) == 0
    return card, psam


def sim_fails(*args: str, timeout: float = 30) -> str:
    """Run ``sbkcard sim --vpcd ARGS``, which must fail with exit 1 and one line; the line."""
    run = subprocess.run(
        bound_to_caller([*SIM, *args]), capture_output=True, text=True, timeout=timeout
    )
    errors = [line for line in run.stderr.splitlines() if "waiting for vpcd" not in line]
    assert run.returncode == 1, run.stderr
    assert run.stdout == ""  # never "ready"
    assert len(errors) == 1, run.stderr
    assert "Traceback" not in run.stderr
    return errors[0]


# -- persistence ----------------------------------------------------------------------


@pytest.mark.pcsc
@pytest.mark.parametrize("sync", [(), ("--no-fsync",)], ids=["fsync", "no-fsync"])
def test_a_kill_loses_neither_a_debit_nor_a_spent_pin_try(
    sbk_pcscd: PcscdStack, tmp_path: Path, sync: tuple[str, ...]
) -> None:
    card_image, psam_image = images(tmp_path)
    served = SimProcess(
        sbk_pcscd,
        tmp_path / "sim.log",
        *("--card", str(card_image), "--psam", str(psam_image), *sync),
    )
    with served:
        served.started()
        terminal = Terminal(
            card_reader=PcscTransport(sbk_pcscd.reader_name(0)),
            psam_reader=PcscTransport(sbk_pcscd.reader_name(1)),
            pinpad=ScriptedPad(),
        )
        national = NationalInterface(terminal)
        code, out = national.iDoDebit(1, CARD_INFO, "12.50|30.00|20240601103000|")
        assert code == 0, out
        reader = PcscTransport(sbk_pcscd.reader_name(0))
        reader.power_on()
        assert reader.transmit(SELECT_SSSE) == b"\x61\x1e"
        assert reader.transmit(WRONG_PIN) == b"\x63\xc2"
        reader.close()
        served.proc.send_signal(signal.SIGKILL)
        served.proc.wait(10)
    assert journal_path(card_image).exists() and journal_path(psam_image).exists()
    card, psam = load_image(card_image), load_image(psam_image)
    card.power_on()
    assert card.transmit(SELECT_SSSE) == b"\x61\x1e"
    assert card.transmit(TRIES_LEFT) == b"\x63\xc2"  # the spent try stayed spent
    national = NationalInterface(Terminal(card, psam_reader=psam, pinpad=ScriptedPad()))
    code, records = national.iReadDebitRecord(1)
    assert code == 0 and records.startswith("0^410100000001^20240601103000^12.50^30.00^|")


# -- locks ----------------------------------------------------------------------------


@pytest.mark.pcsc
def test_an_image_in_use_is_refused_to_card_send_and_to_another_sim(
    sbk_pcscd: PcscdStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    card_image, _ = images(tmp_path)
    capsys.readouterr()
    with SimProcess(sbk_pcscd, tmp_path / "sim.log", "--card", str(card_image)) as served:
        served.started()
        assert main(["card", "send", str(card_image), "00A40000023F00"]) == 1
        assert (
            f"card image {card_image}: in use by another process (sbkcard sim, "
            f"pid {served.proc.pid})"
        ) in capsys.readouterr().err
        port = str(sbk_pcscd.slot_port(1))
        line = sim_fails("--card", str(card_image), "--port", port)
        assert f"card image {card_image}: in use by another process (sbkcard sim" in line
    assert main(["card", "send", str(card_image), "00A40000023F00"]) == 0  # free again


def _writers(directory: Path, card: Path, psam: Path) -> dict[str, list[str]]:
    """Every command that writes a card or PSAM image, aimed at the served ones."""
    transcript = str(directory / "transcript.log")
    ceremony = ["--keys", "demo", "--algorithm", "SM4", "--terminal-number", "410100000101"]
    ceremony += ["--operator", "A", "--transcript", transcript]
    return {
        "demo": ["demo", "--workdir", str(directory), "--no-trace"],
        "card new": ["card", "new", "--profile", "3", "--force", "--out", str(card)],
        "psam new": ["psam", "new", "--force", "--out", str(psam)],
        "pin": ["pin", "tries", "--card", str(card), "--hsm-keys", "demo"],
        "purse": ["purse", "balance", "--card", str(card), "--pin-file", "-"],
        "ceremony": ["ceremony", "load-psam", str(psam), *ceremony],
        "ceremony key card": ["ceremony", "key-card", "--out", str(psam), *ceremony],
    }


@pytest.mark.pcsc
def test_every_image_writer_is_refused_while_sim_serves_the_image(
    sbk_pcscd: PcscdStack, tmp_path: Path
) -> None:
    card_image, psam_image = images(tmp_path)
    before = card_image.read_bytes(), psam_image.read_bytes()
    args = ("--card", str(card_image), "--psam", str(psam_image))
    with SimProcess(sbk_pcscd, tmp_path / "sim.log", *args) as served:
        served.started()
        writers = _writers(tmp_path, card_image, psam_image)
        started = {  # all at once: each is refused before it reads anything
            command: subprocess.Popen(
                bound_to_caller([sys.executable, "-m", "sbkcard", *argv]),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for command, argv in writers.items()
        }
        for command, proc in started.items():
            out, err = proc.communicate("123456\n", timeout=60)
            image = psam_image if str(psam_image) in writers[command] else card_image
            assert (proc.returncode, out) == (1, ""), (command, err)
            assert err == (
                f"sbkcard: error: card image {image}: in use by another process (sbkcard sim, "
                f"pid {served.proc.pid}); stop it first (SIGTERM saves the image), then try again\n"
            ), command
        assert (card_image.read_bytes(), psam_image.read_bytes()) == before
        assert not (tmp_path / "hotlist.db").exists()  # the demo stopped before its first act
        assert not (tmp_path / "transcript.log").exists()
    assert main(_writers(tmp_path, card_image, psam_image)["pin"]) == 0  # free again


@pytest.mark.pcsc
def test_a_second_sim_on_a_taken_slot_fails_at_once(sbk_pcscd: PcscdStack, tmp_path: Path) -> None:
    port = str(sbk_pcscd.slot_port(0))
    with SimProcess(sbk_pcscd, tmp_path / "sim.log", "--echo") as served:
        served.started()
        line = sim_fails("--echo", "--port", port)
    assert line == (
        f"sbkcard sim: error: vpcd slot 127.0.0.1:{port}: in use by another process "
        f"(sbkcard sim, pid {served.proc.pid}); a slot serves one card: stop that process "
        "or use another --port"
    )


# -- start-up -------------------------------------------------------------------------


@pytest.mark.pcsc
def test_ready_line_and_ready_file(sbk_pcscd: PcscdStack, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    argv = [*SIM, "--echo", "--port", str(sbk_pcscd.slot_port(0)), "--ready-file", str(ready)]
    proc = subprocess.Popen(bound_to_caller(argv), stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        assert ready.read_text() == f"{proc.pid}\n"
        sbk_pcscd.wait_for_card(0, timeout=5)  # pcscd sees the card by then
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    assert not ready.exists()
    sbk_pcscd.wait_for_removal(0)


def test_an_unknown_host_fails_at_once() -> None:
    line = sim_fails("--echo", "--host", "no-such-host.invalid", "--port", "35999")
    assert line.startswith("sbkcard sim: error: unknown host 'no-such-host.invalid'")


@pytest.fixture
def server() -> Iterator[socket.socket]:
    listener = socket.create_server(("127.0.0.1", 0))
    yield listener
    listener.close()


def _greet(listener: socket.socket, greeting: bytes) -> None:
    conn, _ = listener.accept()
    with conn:
        conn.sendall(greeting)
        conn.settimeout(10)
        while conn.recv(100):
            pass


def test_a_server_that_is_not_vpcd_fails_at_once(server: socket.socket) -> None:
    port = server.getsockname()[1]
    threading.Thread(target=_greet, args=(server, b"SSH-2.0-OpenSSH_9.2\r\n"), daemon=True).start()
    line = sim_fails("--echo", "--port", str(port))
    assert line == (
        f"sbkcard sim: error: what listens on 127.0.0.1:{port} is not vpcd: its first bytes "
        "were 53 53 48 2D 32 2E 30 2D, not a control frame"
    )


def test_a_silent_server_is_given_up_after_the_connect_timeout(server: socket.socket) -> None:
    port = server.getsockname()[1]  # listens, never accepts: as vpcd with its slot taken
    start = time.monotonic()
    line = sim_fails("--echo", "--port", str(port), "--connect-timeout", "1")
    assert time.monotonic() - start < 15
    assert line == (
        f"sbkcard sim: error: connected to 127.0.0.1:{port}, but vpcd did not take the card "
        "within 1 s: its slot holds another card (a sbkcard sim of another user or machine?), "
        "or what listens there is not vpcd"
    )


def test_no_listener_is_given_up_after_the_connect_timeout(server: socket.socket) -> None:
    port = server.getsockname()[1]
    server.close()
    line = sim_fails("--echo", "--port", str(port), "--connect-timeout", "0.5")
    assert line == (
        f"sbkcard sim: error: no vpcd on 127.0.0.1:{port} within 0.5 s (Connection refused): "
        "is pcscd running with the vpcd driver, and is this its port?"
    )
