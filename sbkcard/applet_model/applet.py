"""The contract between an applet model and the runtime that hosts it."""

from __future__ import annotations

from typing import Protocol

from sbkcard.applet_model.storage import Storage


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
