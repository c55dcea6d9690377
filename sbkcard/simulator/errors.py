"""Errors of the simulator: unknown applet kinds, unreadable card images."""

from __future__ import annotations

from sbkcard.errors import SbkcardError


class SimulatorError(SbkcardError):
    """The simulator cannot do what was asked (host side; a card answers with a SW)."""


class UnknownAppletError(SimulatorError, ValueError):
    """An applet kind name that the registry does not know."""


class ImageError(SimulatorError, ValueError):
    """A card image that cannot be read or written; names the file and the problem."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"card image {path}: {reason}")
