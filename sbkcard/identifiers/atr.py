"""The answer to reset of a social security card (Part 2 §8.4, table 16; Part 10 §5.1.2).

The standard's contact ATR is ``3B 6x 00 00`` (TB1 = 00, TC1 = 00) followed by up to 15
historical bytes T1…TK:

======  =================================================================
T1–T2   chip provider's registration number
T3–T5   defined by the chip or COS provider
T6–T7   card manufacturer's registration number
T8–T9   first four digits of the issuing region's code (BCD)
TA–TD   card serial, unique within the issuing region
======  =================================================================

T6…TD are the card-level diversification factor (Part 9 §7.3.3).
"""

from __future__ import annotations

from sbkcard.identifiers.errors import IdentifierError
from sbkcard.identifiers.regions import check_region_format

__all__ = ["DEFAULT_CHIP", "DEFAULT_MANUFACTURER", "DEFAULT_VENDOR", "historical_bytes", "make_atr"]

DEFAULT_CHIP = bytes.fromhex("0081")
DEFAULT_VENDOR = b"SBK"
DEFAULT_MANUFACTURER = bytes.fromhex("8660")


def _fixed(value: bytes, length: int, field: str) -> bytes:
    if len(value) != length:
        raise IdentifierError(field, f"must be {length} bytes, got {len(value)}")
    return value


def make_atr(
    region: str,
    serial: bytes,
    *,
    chip: bytes = DEFAULT_CHIP,
    vendor: bytes = DEFAULT_VENDOR,
    manufacturer: bytes = DEFAULT_MANUFACTURER,
) -> bytes:
    """``3B 6D 00 00`` + the 13 historical bytes T1…TD of table 16 (Part 2 §8.4).

    Example (a real card)::

        make_atr("519900", bytes.fromhex("000001AC"), vendor=bytes.fromhex("4A4446"))
        == bytes.fromhex("3B6D0000 00814A4446 8660 5199 000001AC")
    """
    code = check_region_format(region)
    history = (
        _fixed(chip, 2, "atr chip provider (T1-T2)")
        + _fixed(vendor, 3, "atr vendor bytes (T3-T5)")
        + _fixed(manufacturer, 2, "atr manufacturer (T6-T7)")
        + bytes.fromhex(code[:4])
        + _fixed(serial, 4, "atr serial (TA-TD)")
    )
    return bytes([0x3B, 0x60 | len(history), 0x00, 0x00]) + history


def historical_bytes(atr: bytes) -> bytes:
    """The historical bytes of an ISO/IEC 7816-3 ATR (interface bytes skipped by T0/TDi)."""
    if len(atr) < 2:
        raise IdentifierError("atr", f"too short ({len(atr)} bytes) to hold TS and T0")
    if atr[0] not in (0x3B, 0x3F):
        raise IdentifierError("atr", f"TS must be 3B or 3F, got {atr[0]:02X}")
    count = atr[1] & 0x0F
    indicator = atr[1] >> 4
    pos = 2
    while True:
        present = [indicator & bit for bit in (1, 2, 4, 8)]
        pos += sum(1 for p in present if p)
        if not present[3]:
            break
        if pos > len(atr):
            raise IdentifierError("atr", "truncated in the interface bytes")
        indicator = atr[pos - 1] >> 4
    if pos > len(atr):
        raise IdentifierError("atr", "truncated in the interface bytes")
    if pos + count > len(atr):
        raise IdentifierError(
            "atr", f"T0 announces {count} historical bytes, only {len(atr) - pos} follow"
        )
    return atr[pos : pos + count]
