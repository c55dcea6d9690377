"""Errors of the APDU layer: malformed bytes, unexpected status words, bad MACs."""

from __future__ import annotations

from sbkcard.apdu.status import describe
from sbkcard.errors import SbkcardError


class ApduFormatError(SbkcardError, ValueError):
    """Bytes that are not a well-formed APDU, TLV or trace line.

    ``reason`` says what is wrong, ``offset`` where (the index of the offending byte in
    the input, or ``None`` when the problem is not at one place).
    """

    def __init__(self, reason: str, offset: int | None = None, *, what: str = "APDU") -> None:
        self.reason = reason
        self.offset = offset
        where = "" if offset is None else f" at offset {offset}"
        super().__init__(f"malformed {what}{where}: {reason}")


class TlvError(ApduFormatError):
    """Bytes that are not well-formed simple-TLV or BER-TLV."""

    def __init__(self, reason: str, offset: int | None = None) -> None:
        super().__init__(reason, offset, what="TLV")


class TraceFormatError(ApduFormatError):
    """A trace line that cannot be read back (``offset`` is the column)."""

    def __init__(self, reason: str, offset: int | None = None, *, line: int | None = None):
        self.line = line
        super().__init__(reason, offset, what="trace" if line is None else f"trace line {line}")


class StatusWordError(SbkcardError):
    """A card answered with a status word the caller did not accept."""

    def __init__(self, sw: int, command: str = "") -> None:
        self.sw = sw
        self.info = describe(sw)
        prefix = f"{command}: " if command else ""
        super().__init__(f"{prefix}card answered {self.info}")


class SecureMessagingError(SbkcardError):
    """A secure-messaging command that cannot be wrapped, checked or unwrapped."""
