"""The social security number: the citizen identity number of GB 11643 (S2 §8.1.2.1, EF06 tag 08).

Eighteen characters: a 6-digit region code, the birth date ``YYYYMMDD``, a 3-digit
sequence and a check character ``"10X98765432"[Σ aᵢ·wᵢ mod 11]`` with weights
``7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2`` (ISO 7064 MOD 11-2).
"""

from __future__ import annotations

import datetime

from sbkcard.identifiers.errors import IdentifierError

__all__ = ["SSN_LENGTH", "ssn_birth_date", "ssn_check_char", "validate_ssn"]

SSN_LENGTH = 18
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def _digits(text: str, count: int) -> str:
    if len(text) != count or not (text.isascii() and text.isdigit()):
        raise IdentifierError("ssn", f"the body is {count} decimal digits, got {text!r}")
    return text


def ssn_check_char(body17: str) -> str:
    """The check character of the first 17 digits.

    >>> ssn_check_char("11010519491231002")
    'X'
    """
    _digits(body17, SSN_LENGTH - 1)
    return _CHECK[sum(int(c) * w for c, w in zip(body17, _WEIGHTS, strict=True)) % 11]


def ssn_birth_date(ssn: str) -> datetime.date:
    """The birth date encoded in characters 7–14."""
    text = ssn[6:14]
    try:
        return datetime.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise IdentifierError("ssn", f"characters 7-14 {text!r} are not a birth date") from None


def validate_ssn(ssn: str) -> str:
    """Return ``ssn`` if it is a well-formed 18-character number with a correct check.

    The check character ``X`` is upper case, as GB 11643 writes it.
    """
    if not isinstance(ssn, str) or len(ssn) != SSN_LENGTH:
        raise IdentifierError("ssn", f"a social security number has 18 characters, got {ssn!r}")
    body = _digits(ssn[:17], SSN_LENGTH - 1)
    ssn_birth_date(ssn)
    expected = ssn_check_char(body)
    if ssn[17] != expected:
        raise IdentifierError("ssn", f"check character of {body} is {expected!r}, not {ssn[17]!r}")
    return ssn
