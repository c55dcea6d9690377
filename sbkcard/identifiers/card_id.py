"""The card identification code (卡的识别码, EF05 tag 01; S2 §8.1.1.1).

16 bytes: the region code (cn 3) ‖ RID ``D1 56 00 00 05`` ‖ serial (4) ‖ authentication
code (4, computed by the issuer over the rest; ``FFFFFFFF`` on some cards). Shown as 32
upper-case hex characters, e.g. ``440300D1560000050050640776EF3192``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from sbkcard.identifiers.errors import IdentifierError
from sbkcard.identifiers.regions import check_region_format

__all__ = ["CARD_ID_LENGTH", "CardId"]

CARD_ID_LENGTH = 16


@dataclass(frozen=True)
class CardId:
    """Region, serial and authentication code; the RID is fixed."""

    region: str
    serial: bytes
    auth_code: bytes

    RID: ClassVar[bytes] = bytes.fromhex("D156000005")

    def __post_init__(self) -> None:
        check_region_format(self.region, field="card_id region")
        for name in ("serial", "auth_code"):
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) != 4:
                raise IdentifierError(f"card_id {name}", f"is 4 bytes, got {value!r}")

    @classmethod
    def from_bytes(cls, data: bytes) -> CardId:
        """Parse the 16 bytes of EF05 tag 01."""
        if len(data) != CARD_ID_LENGTH:
            raise IdentifierError("card_id", f"is {CARD_ID_LENGTH} bytes, got {len(data)}")
        region = data[:3].hex().upper()
        if not region.isdigit():
            raise IdentifierError("card_id region", f"{region} is not BCD")
        if data[3:8] != cls.RID:
            raise IdentifierError(
                "card_id", f"RID must be {cls.RID.hex().upper()}, got {data[3:8].hex().upper()}"
            )
        return cls(region, data[8:12], data[12:16])

    @classmethod
    def from_hex(cls, text: str) -> CardId:
        """Parse the 32-hex-character form (spaces allowed)."""
        compact = text.replace(" ", "")
        try:
            raw = bytes.fromhex(compact)
        except ValueError:
            raise IdentifierError("card_id", f"{text!r} is not hexadecimal") from None
        return cls.from_bytes(raw)

    def to_bytes(self) -> bytes:
        """The 16 bytes as stored on the card."""
        return bytes.fromhex(self.region) + self.RID + self.serial + self.auth_code

    @property
    def hex(self) -> str:
        """The 32 upper-case hex characters used by the reader interface."""
        return self.to_bytes().hex().upper()

    def __str__(self) -> str:
        return self.hex
