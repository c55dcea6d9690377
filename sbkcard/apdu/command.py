"""Command APDUs: cases 1–4, short and extended length (Part 5 §5.1, ISO 7816-3 §12.1).

A :class:`CommandAPDU` is a frozen value; ``bytes(cmd)`` encodes it and
:meth:`CommandAPDU.from_bytes` decodes it, so that ``CommandAPDU.from_bytes(bytes(c)) == c``
for every valid command.  ``le`` is the number of response bytes expected (Ne): the Le
byte ``00`` of a short APDU is ``le=256``, the extended ``00 00`` is ``le=65536``;
``le=None`` means no Le field.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Self

from sbkcard.apdu.errors import ApduFormatError

SHORT_MAX_LC = 255
SHORT_MAX_LE = 256
EXTENDED_MAX_LC = 65535
EXTENDED_MAX_LE = 65536


class Case(IntEnum):
    """ISO 7816-3 command cases: which of the body fields are present."""

    NO_DATA_NO_LE = 1
    LE_ONLY = 2
    DATA_ONLY = 3
    DATA_AND_LE = 4


@dataclass(frozen=True, slots=True)
class CommandAPDU:
    """One command APDU: header ``CLA INS P1 P2``, optional data and optional Le.

    ``force_extended`` keeps the extended-length encoding for a command that would fit
    in short form (as decoded from such bytes); commands whose data exceed 255 bytes or
    whose Le exceeds 256 are extended anyway, and their ``force_extended`` reads
    ``False`` (one value per encoding, so that equal commands encode equally).
    """

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None
    force_extended: bool = field(default=False, kw_only=True)

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= 0xFF:
                raise ApduFormatError(f"{name.upper()} must be one byte (0..255), got {value!r}")
        if not isinstance(self.data, bytes):
            if isinstance(self.data, bytearray | memoryview):
                object.__setattr__(self, "data", bytes(self.data))
            else:
                raise ApduFormatError(f"data must be bytes, got {type(self.data).__name__}")
        if len(self.data) > EXTENDED_MAX_LC:
            raise ApduFormatError(
                f"data of {len(self.data)} bytes exceeds the extended maximum {EXTENDED_MAX_LC}"
            )
        if self.le is not None:
            if not isinstance(self.le, int) or isinstance(self.le, bool):
                raise ApduFormatError(f"Le must be an int or None, got {self.le!r}")
            if not 1 <= self.le <= EXTENDED_MAX_LE:
                hint = " (the Le byte 00 means 256: write le=256)" if self.le == 0 else ""
                raise ApduFormatError(f"Le {self.le} out of range 1..{EXTENDED_MAX_LE}{hint}")
        if self.force_extended and (
            self.case is Case.NO_DATA_NO_LE
            or len(self.data) > SHORT_MAX_LC
            or (self.le is not None and self.le > SHORT_MAX_LE)
        ):
            # Extended anyway (or never): keep one canonical value per encoding.
            object.__setattr__(self, "force_extended", False)

    # -- properties -------------------------------------------------------------------

    @property
    def header(self) -> bytes:
        """``CLA INS P1 P2``."""
        return bytes((self.cla, self.ins, self.p1, self.p2))

    @property
    def lc(self) -> int | None:
        """The data length (Nc), or ``None`` when there is no data field."""
        return len(self.data) if self.data else None

    @property
    def case(self) -> Case:
        """The ISO 7816-3 case (1–4)."""
        if self.data:
            return Case.DATA_AND_LE if self.le is not None else Case.DATA_ONLY
        return Case.LE_ONLY if self.le is not None else Case.NO_DATA_NO_LE

    @property
    def extended(self) -> bool:
        """Whether the command is encoded with extended length fields."""
        if self.case is Case.NO_DATA_NO_LE:
            return False
        return (
            self.force_extended
            or len(self.data) > SHORT_MAX_LC
            or (self.le is not None and self.le > SHORT_MAX_LE)
        )

    @property
    def secure_messaging(self) -> bool:
        """CLA low nibble ``4``: a MAC (and maybe ciphertext) in the data (Part 4 §8.1)."""
        return self.cla & 0x0F == 0x04

    @property
    def proprietary(self) -> bool:
        """CLA with b8 set (``8x``, ``Bx``): a command of the standard, not of ISO."""
        return bool(self.cla & 0x80)

    # -- derived commands -------------------------------------------------------------

    def with_le(self, le: int | None) -> CommandAPDU:
        """The same command expecting ``le`` response bytes (``None``: no Le field)."""
        return dataclasses.replace(self, le=le)

    def with_data(self, data: bytes) -> CommandAPDU:
        """The same header and Le with another data field."""
        return dataclasses.replace(self, data=bytes(data))

    def with_cla(self, cla: int) -> CommandAPDU:
        """The same command under another class byte."""
        return dataclasses.replace(self, cla=cla)

    # -- encoding ---------------------------------------------------------------------

    def __bytes__(self) -> bytes:
        out = bytearray(self.header)
        case = self.case
        if case is Case.NO_DATA_NO_LE:
            return bytes(out)
        if self.extended:
            out.append(0)
            if self.data:
                out += len(self.data).to_bytes(2, "big") + self.data
            if self.le is not None:
                out += (self.le % EXTENDED_MAX_LE).to_bytes(2, "big")
        else:
            if self.data:
                out.append(len(self.data))
                out += self.data
            if self.le is not None:
                out.append(self.le % SHORT_MAX_LE)
        return bytes(out)

    @property
    def hex(self) -> str:
        """The encoded command as upper-case hex without spaces."""
        return bytes(self).hex().upper()

    def __repr__(self) -> str:
        parts = [f"cla=0x{self.cla:02X}", f"ins=0x{self.ins:02X}"]
        parts += [f"p1=0x{self.p1:02X}", f"p2=0x{self.p2:02X}"]
        if self.data:
            parts.append(f"data=bytes.fromhex('{self.data.hex().upper()}')")
        if self.le is not None:
            parts.append(f"le={self.le}")
        if self.force_extended:
            parts.append("force_extended=True")
        return f"CommandAPDU({', '.join(parts)})"

    @classmethod
    def from_hex(cls, text: str) -> Self:
        """Decode a command written in hex (spaces allowed)."""
        try:
            raw = bytes.fromhex(text)
        except ValueError as exc:
            raise ApduFormatError(f"not hex: {text!r}") from exc
        return cls.from_bytes(raw)

    @classmethod
    def _short(cls, cla: int, ins: int, p1: int, p2: int, data: bytes, le: int | None) -> Self:
        """A command from parts known valid (decoded bytes, or a valid command's parts),
        without the checks of ``__init__``: a card's hot path."""
        cmd = object.__new__(cls)
        set_cla, set_ins, set_p1, set_p2, set_data, set_le, set_extended = _SLOT_SETTERS
        set_cla(cmd, cla)
        set_ins(cmd, ins)
        set_p1(cmd, p1)
        set_p2(cmd, p2)
        set_data(cmd, data)
        set_le(cmd, le)
        set_extended(cmd, False)
        return cmd

    @classmethod
    def from_bytes(cls, raw: bytes | bytearray | memoryview) -> Self:
        """Decode a command APDU (ISO 7816-3 §12.1.3 decoding of the body).

        Raises :class:`ApduFormatError` naming the problem and its offset: truncated
        header or data, an Lc that disagrees with the data, trailing bytes, a zero
        extended Lc.
        """
        b = bytes(raw)
        n = len(b)
        if n < 4:
            raise ApduFormatError(f"truncated header: {n} of 4 bytes (CLA INS P1 P2)", n)
        cla, ins, p1, p2 = b[0], b[1], b[2], b[3]
        if n == 4:
            return cls._short(cla, ins, p1, p2, b"", None)
        if n == 5:
            return cls._short(cla, ins, p1, p2, b"", b[4] or SHORT_MAX_LE)
        if b[4] != 0:
            lc = b[4]
            if n == 5 + lc:
                return cls._short(cla, ins, p1, p2, b[5:], None)
            if n == 6 + lc:
                return cls._short(cla, ins, p1, p2, b[5 : 5 + lc], b[-1] or SHORT_MAX_LE)
            if n < 5 + lc:
                raise ApduFormatError(
                    f"Lc {lc} announces {lc} data bytes but only {n - 5} follow", 4
                )
            raise ApduFormatError(
                f"{n - 6 - lc} trailing byte(s) after data (Lc {lc}) and Le", 6 + lc
            )
        # b[4] == 0: an extended-length body.
        if n == 6:
            raise ApduFormatError("a 00 at offset 4 starts an extended length of 2 bytes", 6)
        if n == 7:
            return cls(
                cla,
                ins,
                p1,
                p2,
                b"",
                int.from_bytes(b[5:7]) or EXTENDED_MAX_LE,
                force_extended=True,
            )
        lc = int.from_bytes(b[5:7])
        if lc == 0:
            raise ApduFormatError("extended Lc 0000 is not allowed", 5)
        if n == 7 + lc:
            return cls(cla, ins, p1, p2, b[7:], force_extended=True)
        if n == 9 + lc:
            le = int.from_bytes(b[7 + lc :]) or EXTENDED_MAX_LE
            return cls(cla, ins, p1, p2, b[7 : 7 + lc], le, force_extended=True)
        if n < 7 + lc:
            raise ApduFormatError(
                f"extended Lc {lc} announces {lc} data bytes but only {n - 7} follow", 5
            )
        if n == 8 + lc:
            raise ApduFormatError("extended Le is truncated: 1 of 2 bytes", 7 + lc)
        raise ApduFormatError(
            f"{n - 9 - lc} trailing byte(s) after data (extended Lc {lc}) and Le", 9 + lc
        )


_SLOT_SETTERS = tuple(
    CommandAPDU.__dict__[name].__set__
    for name in ("cla", "ins", "p1", "p2", "data", "le", "force_extended")
)
"""The slots' own setters (a frozen dataclass refuses ``setattr``): :meth:`CommandAPDU._short`."""
