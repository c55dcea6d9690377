"""A counter's readers behind the service: one transaction per reader, the HSM fallback.

:class:`Counter` holds the readers of one counter (each a
:class:`~sbkcard.terminal.national.interface.NationalInterface` over its own terminal) and
runs a parsed :class:`~sbkcard.service.protocol.Request` on one of them:

* **the HSM fallback** (S3 §10.5, App. C): when a function answers one of the codes of
  :data:`~sbkcard.terminal.national.codes.HSM_FALLBACK` (no PSAM, no SM4 environment,
  no RKSSSE, a missing key, a PSAM key level too low) and an HSM service is configured,
  the counter runs ``Step1`` → the HSM service → ``Step2`` (→ ``Step3``) itself and answers
  in the one-call function's shape; a request's ``"hsm": false`` (or the configuration)
  turns this off.  The card facts the HSM needs for key diversification (region, ATR
  history) come from the card's basic information, read first through the HSM when the
  counter has not seen the card (App. C note 2);
* **recovery**: a purchase's answer is kept under its request ``id``, so a client that
  lost the connection asks again with the same ``id`` and gets the same answer instead of
  a second debit.

These calls block (they talk to the card); the server runs each reader's calls on that
reader's own thread (:class:`ReaderSlot`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from sbkcard.errors import SbkcardError
from sbkcard.service.protocol import FUNCTIONS, Request, next_step
from sbkcard.terminal.errors import PinEntryCancelled, TerminalError
from sbkcard.terminal.national.codes import HSM_FALLBACK, code_for
from sbkcard.terminal.national.interface import NationalInterface, split_fields
from sbkcard.terminal.operations.pinpad import enter_pin
from sbkcard.terminal.terminal import Terminal

#: The HSM operation answering each step of a function's two-step form (S3 App. C).
FALLBACK: dict[str, tuple[str, ...]] = {
    "iReadCardBas": ("read_card_bas",),
    "iReadCard": ("authenticate",),
    "iWriteCard": ("authenticate",),
    "iReloadPIN": ("authenticate", "secure_message"),
    "iUnblockPIN": ("authenticate", "secure_message"),
    "iDoDebit": ("debit",),
}

#: Leading fields of the last step's output that the one-call form does not have
#: (iDoDebit_HSM_Step2 starts with MAC2, S3 §8.3.2).
_EXTRA_FIELDS: dict[str, int] = {"iDoDebit": 1}
_KEPT_PURCHASES = 64


class HsmError(SbkcardError):
    """The HSM service failed: unreachable (-5), a malformed answer (-23), or its own code."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


class HsmClient(Protocol):
    """The card-holder database's HSM service, one computation per call."""

    def compute(self, operation: str, step: str, card: str | None) -> str:
        """The next step's pKey for ``step`` (a step's output); ``card``: the basic info."""
        ...


@dataclass
class Outcome:
    """What a call did: the national answer and, for the audit, the card and whether
    the HSM answered."""

    code: int
    out: str
    card_number: str = ""
    via_hsm: bool = False


@dataclass
class ReaderSlot:
    """One reader: its national interface and what the counter remembers of its cards."""

    name: str
    national: NationalInterface
    basics: dict[str, str] = field(default_factory=dict)
    purchases: OrderedDict[tuple[object, str, str], Outcome] = field(default_factory=OrderedDict)

    @property
    def terminal(self) -> Terminal:
        return self.national.terminal

    def status(self) -> dict[str, object]:
        """Reader name, card and PSAM presence (``None`` when the transport cannot say)."""
        psam = self.terminal.psam_reader
        return {
            "name": self.name,
            "card": _present(self.terminal.card_reader),
            "psam": psam is not None and _present(psam) is not False,
            "psam_configured": psam is not None,
        }

    def abandon(self) -> None:
        """Power the card down if an HSM step left it up (a step out of order does that)."""
        self.national.iReadCardBas_HSM_Step2("")

    def run(self, request: Request, hsm: HsmClient | None) -> Outcome:
        """Run ``request`` on this reader (with the fallback when ``hsm`` is given)."""
        name = request.function.name
        args = request.arguments
        kept = self._kept(request)
        if kept is not None:
            return kept
        method: Callable[..., tuple[int, str]] = getattr(self.national, name)
        try:
            pins = self._pins(request)
        except TerminalError as exc:
            return Outcome(*code_for(exc))
        code, out = method(**args, **pins)
        via = False
        if code in HSM_FALLBACK and hsm is not None and name in FALLBACK:
            via = True
            code, out = self._fallback(name, args, hsm)
        outcome = Outcome(code, out, _card_number(name, args, code, out), via)
        if name.startswith("iReadCardBas") and code == 0 and not next_step(name):
            self.basics[outcome.card_number] = out
        self._keep(request, outcome)
        return outcome

    def _pins(self, request: Request) -> dict[str, str]:
        """The function's PIN parameters, typed on this counter's PIN pad (never sent)."""
        pad = self.terminal.pinpad
        if not request.function.pins:
            return {}
        if pad is None:
            raise PinEntryCancelled(f"{request.function.name}: this counter has no PIN pad")
        return {name: enter_pin(pad).reveal() for name in request.function.pins}

    def _kept(self, request: Request) -> Outcome | None:
        if request.function.name != "iDoDebit" or request.request_id is None:
            return None
        return self.purchases.get(_purchase_key(request))

    def _keep(self, request: Request, outcome: Outcome) -> None:
        if request.function.name == "iDoDebit" and request.request_id is not None:
            self.purchases[_purchase_key(request)] = outcome
            while len(self.purchases) > _KEPT_PURCHASES:
                self.purchases.popitem(last=False)

    def _fallback(self, name: str, args: dict[str, int | str], hsm: HsmClient) -> tuple[int, str]:
        """Step1 → HSM → Step2 (→ HSM → Step3); the card powered down on any failure."""
        card = None
        if name != "iReadCardBas":
            number = split_fields(str(args["pCardInfo"]), 2, "pCardInfo")[1].upper()
            card = self.basics.get(number)
            if card is None:
                code, card = self._fallback("iReadCardBas", {"iType": args["iType"]}, hsm)
                if code != 0:
                    return code, card
                self.basics[number] = card
        step = f"{name}_HSM_Step1"
        code, out = self._call(step, args)
        for operation in FALLBACK[name]:
            if code != 0:
                return code, out
            try:
                pkey = hsm.compute(operation, out, card)
            except HsmError as exc:
                self.abandon()
                return exc.code, exc.text
            step = next_step(step) or ""
            code, out = self._call(step, {**args, "pKey": pkey})
        if code == 0 and name in _EXTRA_FIELDS:
            out = out.split("|", _EXTRA_FIELDS[name])[-1]
        return code, out

    def _call(self, step: str, args: dict[str, int | str]) -> tuple[int, str]:
        wanted = FUNCTIONS[step].parameters
        method: Callable[..., tuple[int, str]] = getattr(self.national, step)
        return method(**{k: v for k, v in args.items() if k in wanted})


def _present(transport: object) -> bool | None:
    try:
        inserted = getattr(transport, "inserted", None)
    except SbkcardError:
        return False
    return inserted if isinstance(inserted, bool) else None


def _purchase_key(request: Request) -> tuple[object, str, str]:
    args = request.arguments
    return (request.request_id, str(args["pCardInfo"]), str(args["pPayInfo"]))


def _card_number(name: str, args: dict[str, int | str], code: int, out: str) -> str:
    """The card number for the audit: from pCardInfo, or the basic information read."""
    info = args.get("pCardInfo")
    if isinstance(info, str):
        parts = info.split("|")
        return parts[1] if len(parts) > 1 else ""
    if name.startswith("iReadCardBas") and code == 0 and out.count("|") >= 3:
        return out.split("|")[2]
    return ""
