"""Errors raised on the host side of the PSAM model (building or decoding its content).

The PSAM itself never raises: it answers every command with a status word.  These are
for the code around it: a key record or file content that breaks Part 9's formats, a
request :func:`~sbkcard.applet_model.psam.content.psam_content` cannot satisfy.
"""

from __future__ import annotations

from sbkcard.errors import SbkcardError


class PsamError(SbkcardError, ValueError):
    """A PSAM key record, file content or build parameter breaks Part 9 (``where``: what)."""

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"PSAM {where}: {reason}")
