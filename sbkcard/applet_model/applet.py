"""The contract between an applet model and the runtime that hosts it."""

from __future__ import annotations

import logging
import os
import traceback
from typing import Protocol

from sbkcard.apdu.status import SW
from sbkcard.applet_model.storage import Storage


class CardRefusal(Exception):
    """A command refused with a status word (``SW`` or a family such as ``6Cxx``).

    Raised by a command handler anywhere below the dispatcher, which answers ``sw``
    with no data; inside a storage transaction, nothing the command wrote is kept.
    """

    def __init__(self, sw: int) -> None:
        super().__init__(f"{sw:04X}")
        self.sw = sw if sw not in SW._value2member_map_ else SW(sw)


class Applet(Protocol):
    """Card behaviour over a :class:`~sbkcard.applet_model.storage.Storage`.

    The runtime creates the applet with its storage, calls :meth:`power_on` at every
    power-up or reset (volatile state such as the current DF, the last challenge and
    the security state is cleared there), then :meth:`process` for each command.
    :meth:`process` answers every byte string with ``data ‖ SW1 SW2`` and never raises,
    except :class:`~sbkcard.applet_model.storage.PowerLoss` from the storage.
    """

    storage: Storage

    def power_on(self) -> None:
        """Reset volatile state (power-up, warm reset)."""
        ...

    def process(self, apdu: bytes) -> bytes:
        """Execute one command APDU; return response data followed by SW1 SW2."""
        ...


def log_fault(log: logging.Logger, apdu: bytes, exc: Exception) -> None:
    """Log a fault inside an applet that :meth:`Applet.process` answered ``6F00``.

    The record names the INS, the exception's type and where it was raised, never the
    command's data or the exception's message: either may hold a PIN or a key.
    """
    where = traceback.extract_tb(exc.__traceback__)[-1]
    log.error(
        "INS %s: %s in %s (%s:%s), answered 6F00",
        bytes(apdu[1:2]).hex().upper() or "-",
        type(exc).__name__,
        where.name,
        os.path.basename(where.filename),
        where.lineno,
    )
