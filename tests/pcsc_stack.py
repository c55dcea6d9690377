"""Helpers of the PC/SC end-to-end tests: ``sbkcard sim --vpcd`` as a subprocess.

The private pcscd itself comes from the ``sbk_pcscd`` fixture of the pytest plugin
(:mod:`sbkcard.pytest_plugin`, :class:`sbkcard.simulator.pcscd.PcscdStack`); this module
starts simulated cards beside it the way a user does, with the command line, and stops
them by their pid.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType

from sbkcard.simulator.pcscd import PcscdStack, bound_to_caller


class SimProcess:
    """``sbkcard sim --vpcd ARGS`` serving slot 0 (and slot 1) of ``stack``."""

    def __init__(self, stack: PcscdStack, log: Path, *args: str) -> None:
        self.stack = stack
        self.log = log
        argv = [sys.executable, "-m", "sbkcard", "sim", "--vpcd", "-v"]
        argv += ["--port", str(stack.slot_port(0)), *args]
        self.slots = (0, 1) if "--psam" in args else (0,)
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                bound_to_caller(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env=os.environ.copy(),
            )

    def started(self, *slots: int) -> SimProcess:
        """Wait until pcscd sees the card in each of ``slots`` (default: every slot served)."""
        for slot in slots or self.slots:
            self.stack.wait_for_card(slot)
        return self

    def toggle(self, signum: signal.Signals = signal.SIGUSR1) -> None:
        """Remove or re-insert the card (``SIGUSR2``: the PSAM)."""
        self.proc.send_signal(signum)

    def stop(self) -> int:
        """SIGTERM (the images are saved); the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise

    def output(self) -> str:
        """What the process wrote so far."""
        return self.log.read_text(errors="replace")

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        # pcscd must have seen the cards leave before the next cards take the slots.
        if self.stack.running:
            for slot in self.slots:
                self.stack.wait_for_removal(slot)
