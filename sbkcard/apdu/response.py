"""Response APDUs: data ‖ SW1 SW2 (Part 5 §5.2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from sbkcard.apdu.errors import ApduFormatError, StatusWordError
from sbkcard.apdu.status import (
    Kind,
    StatusInfo,
    describe,
    parse_more_data,
    parse_tries_left,
    parse_wrong_le,
)


@dataclass(frozen=True, slots=True)
class ResponseAPDU:
    """One response APDU: the data field (possibly empty) and the status word."""

    data: bytes
    sw: int

    def __post_init__(self) -> None:
        if not isinstance(self.data, bytes):
            if isinstance(self.data, bytearray | memoryview):
                object.__setattr__(self, "data", bytes(self.data))
            else:
                raise ApduFormatError(
                    f"data must be bytes, got {type(self.data).__name__}", what="response"
                )
        if not isinstance(self.sw, int) or not 0 <= self.sw <= 0xFFFF:
            raise ApduFormatError(
                f"a status word is two bytes (0..0xFFFF), got {self.sw!r}", what="response"
            )

    @classmethod
    def from_bytes(cls, raw: bytes | bytearray | memoryview) -> Self:
        """Split ``data ‖ SW1 SW2``; fewer than 2 bytes raise :class:`ApduFormatError`."""
        b = bytes(raw)
        if len(b) < 2:
            raise ApduFormatError(
                f"truncated: {len(b)} of at least 2 bytes (SW1 SW2)", len(b), what="response"
            )
        return cls(b[:-2], int.from_bytes(b[-2:]))

    @classmethod
    def from_hex(cls, text: str) -> Self:
        """Decode a response written in hex (spaces allowed)."""
        try:
            raw = bytes.fromhex(text)
        except ValueError as exc:
            raise ApduFormatError(f"not hex: {text!r}", what="response") from exc
        return cls.from_bytes(raw)

    def __bytes__(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")

    def __repr__(self) -> str:
        data = f"bytes.fromhex('{self.data.hex().upper()}')" if self.data else "b''"
        return f"ResponseAPDU(data={data}, sw=0x{self.sw:04X})"

    @property
    def sw1(self) -> int:
        """The first status byte."""
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        """The second status byte."""
        return self.sw & 0xFF

    @property
    def ok(self) -> bool:
        """``9000``: the command completed."""
        return self.sw == 0x9000

    @property
    def kind(self) -> Kind:
        """Success, warning or error (see :func:`sbkcard.apdu.status.describe`)."""
        return describe(self.sw).kind

    @property
    def tries_left(self) -> int | None:
        """``63Cx`` → x, else ``None``."""
        return parse_tries_left(self.sw)

    @property
    def more_data(self) -> int | None:
        """``61xx`` → bytes waiting for GET RESPONSE (1–256), else ``None``."""
        return parse_more_data(self.sw)

    @property
    def wrong_le(self) -> int | None:
        """``6Cxx`` → the exact Le to resend with (1–256), else ``None``."""
        return parse_wrong_le(self.sw)

    def describe(self, ins: int | None = None) -> StatusInfo:
        """The meaning of the status word (``ins``: the command it answers, if known)."""
        return describe(self.sw, ins)

    def check(self, *accepted: int, command: str = "") -> Self:
        """Return ``self`` if the SW is ``9000`` or one of ``accepted``, else raise.

        Raises :class:`~sbkcard.apdu.errors.StatusWordError` naming ``command``.
        """
        if self.sw == 0x9000 or self.sw in accepted:
            return self
        raise StatusWordError(self.sw, command)
