"""The card number (卡号, EF05 tag 07): 8 characters and a check character (S2 App. A).

``c9 = 11 − (Σ vᵢ·wᵢ mod 11)`` with weights ``3 7 9 10 5 8 4 2`` over the body, digits
valued 0–9 and letters A = 10 … Z = 35; 10 is written ``X`` and 11 ``0``
(人社信息函[2012]37号 appendix A). Example: ``D2143569`` → ``X``.

A mod-11 check over a 36-symbol alphabet cannot see a substitution whose values differ
by a multiple of 11 (``A`` ↔ ``L``, ``0`` ↔ ``B``); every other single change is caught.
"""

from __future__ import annotations

import string

from sbkcard.identifiers.errors import IdentifierError

__all__ = [
    "CARD_NUMBER_LENGTH",
    "card_number_check_char",
    "char_value",
    "make_card_number",
    "validate_card_number",
]

CARD_NUMBER_LENGTH = 9
_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ALPHABET = string.digits + string.ascii_uppercase


def char_value(char: str) -> int:
    """The value of a body character: ``0``–``9`` → 0–9, ``A``–``Z`` → 10–35."""
    value = _ALPHABET.find(char) if len(char) == 1 else -1
    if value < 0:
        raise IdentifierError("card_number", f"{char!r} is not a digit or an upper-case letter A-Z")
    return value


def card_number_check_char(body8: str) -> str:
    """The check character of an 8-character body.

    >>> card_number_check_char("D2143569")
    'X'
    """
    if len(body8) != len(_WEIGHTS):
        raise IdentifierError(
            "card_number", f"the body has {len(_WEIGHTS)} characters, got {body8!r}"
        )
    total = sum(char_value(c) * w for c, w in zip(body8, _WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def make_card_number(body8: str) -> str:
    """``body8`` followed by its check character."""
    return body8 + card_number_check_char(body8)


def validate_card_number(number: str) -> str:
    """Return ``number`` if it is 9 characters with a correct check character."""
    if not isinstance(number, str) or len(number) != CARD_NUMBER_LENGTH:
        raise IdentifierError(
            "card_number", f"a card number has {CARD_NUMBER_LENGTH} characters, got {number!r}"
        )
    expected = card_number_check_char(number[:8])
    if number[8] != expected:
        raise IdentifierError(
            "card_number",
            f"check character of {number[:8]} is {expected!r}, not {number[8]!r}",
        )
    return number
