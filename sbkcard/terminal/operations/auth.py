"""Card authenticity and external authentication through the PSAM or HSM (Part 4 §9; Part 7 §6).

* :func:`check_authenticity` — Part 7 §5.4: the terminal makes two 8-byte randoms, sends
  INTERNAL AUTHENTICATE ``00 88 00 00 10 R1 ‖ R2`` (R1 makes the IRK session key, R2 is
  the original data), and compares the card's answer with what the security module
  computes with the IRK diversified for this card (computed first, so that a security
  module that cannot serve the card stops the transaction before the card is asked).
  A wrong answer is :class:`~sbkcard.terminal.errors.AuthenticityError` (code -21): not a
  genuine card.
* :func:`external_authenticate` — Part 7 §6.2–6.6: GET CHALLENGE on the card, the
  security module's authentication data of a terminal random under the key's session
  key, EXTERNAL AUTHENTICATE; any read or write key of the key table (Part 9 table B1), with
  1–3 diversification levels at the PSAM (probed, see :mod:`sbkcard.terminal.security.sam`).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from sbkcard.apdu import builders as b
from sbkcard.apdu.status import SW
from sbkcard.keys.hierarchy import KeySpec, card_key
from sbkcard.terminal.connection import SSSE, Connection
from sbkcard.terminal.errors import AuthenticityError, CardStatusError

IRK = "IRK"


@dataclass(frozen=True)
class Authenticity:
    """The internal authentication done: inputs, the card's answer, who checked it."""

    factor: bytes
    original: bytes
    answer: bytes
    checked_by: str


@dataclass(frozen=True)
class ExternalAuth:
    """An external authentication passed: the key, its DF and the card's KID."""

    key: str
    df: str
    kid: int
    checked_by: str


def internal_authenticate(conn: Connection, factor: bytes, original: bytes) -> bytes:
    """INTERNAL AUTHENTICATE with the IRK (SSSE selected); the card's 8-byte answer."""
    conn.select(SSSE)
    with conn.card.during("internal authentication (IRK)"):
        answer = conn.card.call(b.internal_authenticate(factor, original), "INTERNAL AUTHENTICATE")
    if len(answer) != 8:
        raise CardStatusError(SW.UNKNOWN, f"INTERNAL AUTHENTICATE answered {len(answer)} bytes")
    return answer


def check_authenticity(conn: Connection) -> Authenticity:
    """Internal authentication of the IRK, checked by the security module (Part 7 §5.4)."""
    module = conn.module
    factor, original = conn.rng(8), conn.rng(8)
    expected = module.auth_data(conn.ctx, card_key(IRK), 1, factor, original)
    answer = internal_authenticate(conn, factor, original)
    if not hmac.compare_digest(expected, answer):
        raise AuthenticityError(
            f"the card's IRK answer does not match the {module.kind}'s: not a genuine card"
        )
    return Authenticity(factor, original, answer, module.kind)


def external_authenticate(
    conn: Connection, key: str | KeySpec, version: int | None = None
) -> ExternalAuth:
    """EXTERNAL AUTHENTICATE with ``key`` (a name of Part 9 table B1 such as ``"RK1DF04"``)."""
    spec = key if isinstance(key, KeySpec) else card_key(key)
    conn.authenticate(spec, version)
    assert spec.card_kid is not None
    return ExternalAuth(spec.name, spec.df, spec.card_kid, conn.module.kind)
