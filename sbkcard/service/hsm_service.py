"""The HSM service's messages: the card-holder database's side of the two-step mode (S3 App. C).

``POST /hsm/{operation}`` with ``{"step": <a step's output>, "card": <iReadCardBas
string or null>}`` answers ``{"code": 0, "pKey": <the next step's pKey>}`` or
``{"code": <national code>, "message": …}``.  The operations are those of
:class:`~sbkcard.terminal.security.hsm_host.HsmHost`: ``read_card_bas``, ``authenticate``,
``secure_message``, ``debit``, and two checks answering ``"ok"`` or ``"bad"``:

* ``check_mac2`` — the card's MAC2 after a purchase (S3 §8.3.2, Part 7 §12.7): ``"step"``
  is iDoDebit_HSM_Step2's output, and the message adds ``"step1"``, the same purchase's
  iDoDebit_HSM_Step1 output (the card random and purchase sequence MAC2's session key
  needs);
* ``check_tac`` — an iDoDebit output's TAC, the settlement check of App. C.7.

Sans-IO: :meth:`HsmService.handle` takes and returns dicts.  No key leaves the key
service; the answers are authentication data, MACs and ciphertexts only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from sbkcard.errors import SbkcardError
from sbkcard.terminal.national.codes import TEXT, Code, code_for
from sbkcard.terminal.security.hsm_host import CardFacts, HsmHost

OPERATIONS: Final = (
    "read_card_bas",
    "authenticate",
    "secure_message",
    "debit",
    "check_mac2",
    "check_tac",
)


class HsmService:
    """Answers HSM requests with ``host`` (see the module docstring)."""

    def __init__(self, host: HsmHost) -> None:
        self.host = host

    def handle(self, operation: str, message: object) -> tuple[int, dict[str, Any]]:
        """(HTTP status, answer) for one request."""
        if operation not in OPERATIONS:
            return 404, _error(Code.UNSUPPORTED_COMMAND, f"unknown operation {operation!r}")
        if not isinstance(message, dict):
            return 400, _error(Code.BAD_PARAMETER, "the request must be a JSON object")
        step, card = message.get("step"), message.get("card")
        if not isinstance(step, str):
            return 400, _error(Code.BAD_PARAMETER, '"step" (a string) is required')
        if card is not None and not isinstance(card, str):
            return 400, _error(Code.BAD_PARAMETER, '"card" must be a string')
        if operation != "read_card_bas" and card is None:
            return 400, _error(Code.BAD_PARAMETER, f'{operation}: "card" is required')
        step1 = message.get("step1")
        if not isinstance(step1, str):
            if operation == "check_mac2":
                return 400, _error(Code.BAD_PARAMETER, 'check_mac2: "step1" (a string) is required')
            step1 = ""
        try:
            return 200, {"code": 0, "pKey": self._compute(operation, step, card, step1)}
        except SbkcardError as exc:
            code, text = code_for(exc)
            return 200, {"code": code, "message": text}

    def _compute(self, operation: str, step: str, card: str | None, step1: str) -> str:
        host = self.host
        if operation == "read_card_bas":
            return host.read_card_bas(step)
        facts = CardFacts.from_basic(card or "")
        if operation == "check_mac2":
            return _verdict(host.check_mac2(step1, step, facts))
        if operation == "check_tac":
            return _verdict(host.check_tac(step, facts))
        compute: Callable[[str, CardFacts], str] = getattr(host, operation)
        return compute(step, facts)


def _verdict(right: bool) -> str:
    return "ok" if right else "bad"


def _error(code: Code, message: str) -> dict[str, Any]:
    return {"code": int(code), "message": f"{TEXT[code]}：{message}"}
