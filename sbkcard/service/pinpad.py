"""A PIN pad that is a program: the counter's PIN-pad driver, run once per PIN (S3 §4.1.3).

The program gets the prompt's name (``enter``, ``old``, ``new``, ``confirm``) as its last
argument and the standard's prompt text in ``$SBKCARD_PIN_PROMPT``, and prints the digits
the cardholder typed; exit status 1 means the cardholder cancelled (-31), running past
the timeout is -32.  The digits never reach a log: only the pad's outcome does.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence

from sbkcard.terminal.errors import PinEntryCancelled, PinEntryTimeout
from sbkcard.terminal.operations.pinpad import PinPrompt


class ProgramPinPad:
    """:class:`~sbkcard.terminal.operations.pinpad.PinPad` running ``argv`` per PIN."""

    def __init__(self, argv: Sequence[str], *, timeout: float = 60.0) -> None:
        if not argv:
            raise ValueError("the PIN-pad program is empty")
        self.argv = list(argv)
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"ProgramPinPad({self.argv[0]!r})"

    def read_pin(self, prompt: PinPrompt) -> str:
        env = {**os.environ, "SBKCARD_PIN_PROMPT": prompt.value}
        try:
            done = subprocess.run(
                [*self.argv, prompt.name.lower()],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                env=env,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise PinEntryTimeout(f"the PIN pad gave no PIN within {self.timeout:g} s") from None
        except OSError as exc:
            raise PinEntryCancelled(f"the PIN-pad program cannot run: {exc.strerror}") from None
        if done.returncode != 0:
            raise PinEntryCancelled(f"the PIN pad answered exit status {done.returncode}")
        return done.stdout.decode("ascii", "replace").strip()
