"""Errors for identifiers and data formats: each names the field and the reason."""

from __future__ import annotations

from sbkcard.errors import SbkcardError


class IdentifierError(SbkcardError, ValueError):
    """An identifier (SSN, card number, card ID, region code, ATR) is malformed.

    ``field`` names what was being checked (e.g. ``"ssn"``, ``"card_number"``) and
    ``reason`` says what is wrong with it.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class FormatError(IdentifierError):
    """A value cannot be encoded to, or decoded from, an ``an``/``cn``/``b`` field (S2 §7)."""
