"""The three diversification factors of the national key hierarchy (Part 9 §7.3).

- province (level 1): the first two ASCII digits of the region code of the card
  identification code + ``30 30 30 30 73 68`` ("650100" → "650000sh");
- city (level 2): the six ASCII digits + ``73 78`` ("650100" → "650100sx"); for Zhejiang
  (region codes 33xxxx) four ASCII digits + ``30 30 73 78`` ("330102" → "330100sx",
  S3 §10.3);
- card (level 3): historical bytes T6…TD of the card's ATR (Part 9 §7.3.3), which for the
  standard's ``3B 6x 00 00`` ATR are its last 8 bytes.
"""

from __future__ import annotations

from sbkcard.identifiers.atr import historical_bytes
from sbkcard.identifiers.errors import IdentifierError
from sbkcard.identifiers.regions import check_region_format
from sbkcard.keys.errors import KeyHierarchyError

__all__ = ["ZHEJIANG", "card_factor", "city_factor", "factors_for", "province_factor"]

ZHEJIANG = "33"


def province_factor(region: str) -> bytes:
    """Level-1 factor: ``"65" + "0000sh"`` for region 650100 (Part 9 §7.3.1)."""
    code = check_region_format(region)
    return (code[:2] + "0000sh").encode("ascii")


def city_factor(region: str) -> bytes:
    """Level-2 factor: ``"650100sx"`` for 650100; ``"330100sx"`` for 330102 (S3 §10.3).

    Part 9 §7.3.2 gives the six-digit rule; the reader-interface spec adds the Zhejiang
    exception, where only the first four digits count.
    """
    code = check_region_format(region)
    if code.startswith(ZHEJIANG):
        return (code[:4] + "00sx").encode("ascii")
    return (code + "sx").encode("ascii")


def card_factor(atr: bytes) -> bytes:
    """Level-3 factor: historical bytes T6…TD of ``atr`` (Part 9 §7.3.3).

    Known answer (a real card's ATR): the ATR ``3B6D0000 00814A4446 8660 5199 000001AC``
    gives ``86 60 51 99 00 00 01 AC``:

    >>> card_factor(bytes.fromhex("3B6D000000814A444686605199000001AC")).hex().upper()
    '86605199000001AC'
    """
    history = historical_bytes(atr)
    if len(history) < 13:
        raise IdentifierError(
            "atr",
            f"the card factor needs historical bytes T6…TD (13 bytes), the ATR has {len(history)}",
        )
    return history[5:13]


def factors_for(region: str, atr: bytes, levels: int) -> list[bytes]:
    """The last ``levels`` factors of ``[province, city, card]`` (3 → all, 1 → card only)."""
    if not 0 <= levels <= 3:
        raise KeyHierarchyError(f"diversification levels: 0 to 3, got {levels}")
    chain = [province_factor(region), city_factor(region), card_factor(atr)]
    return chain[3 - levels :]
