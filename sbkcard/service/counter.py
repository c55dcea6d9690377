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
* **MAC2**: after iDoDebit_HSM_Step2 the HSM checks the card's MAC2 (S3 §8.3.2), as the
  PSAM does in the one-call form (S3 §8.1.3 step 7, Part 7 §12.7).  A wrong MAC2 answers
  the PSAM's own code for it, ``-25551`` (``63CF``, CREDIT SAM FOR PURCHASE, Part 9
  §9.10), so the HIS sees one code for one failure in both modes; an HSM that cannot
  check answers its own code.  Either way the card *has* debited: the text says so and
  carries the purchase's one-call output (TAC included) for settlement (App. C.7), and
  the outcome is marked :attr:`Outcome.debited` for the audit;
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

from sbkcard.apdu.status import SW, describe
from sbkcard.errors import SbkcardError
from sbkcard.service.protocol import FUNCTIONS, Request, next_step
from sbkcard.terminal.errors import PinEntryCancelled, TerminalError
from sbkcard.terminal.national.codes import HSM_FALLBACK, code_for, sw_code, unconfirmed_purchase
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

_KEPT_PURCHASES = 64
_UNCONFIRMED = sw_code(SW.PSAM_MAC2_INVALID)
"""iDoDebit's code when the card debited but MAC2 was refused (63CF, Part 9 §9.10)."""


class HsmError(SbkcardError):
    """The HSM service failed: unreachable (-5), a malformed answer (-23), or its own code."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


class HsmClient(Protocol):
    """The card-holder database's HSM service, one computation per call."""

    def compute(
        self, operation: str, step: str, card: str | None, *, step1: str | None = None
    ) -> str:
        """The next step's pKey for ``step`` (a step's output); ``card``: the basic info;
        ``step1``: the purchase's Step1 output (``check_mac2`` only)."""
        ...


@dataclass
class Outcome:
    """What a call did: the national answer and, for the audit, the card, whether the
    HSM answered, and whether a purchase that is not a success debited the card."""

    code: int
    out: str
    card_number: str = ""
    via_hsm: bool = False
    debited: bool = False


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
        outcome = Outcome(*method(**args, **pins))
        outcome.debited = name == "iDoDebit" and outcome.code == _UNCONFIRMED
        if outcome.code in HSM_FALLBACK and hsm is not None and name in FALLBACK:
            outcome = self._fallback(name, args, hsm)
        code = outcome.code
        outcome.card_number = _card_number(name, args, code, outcome.out)
        if name.startswith("iReadCardBas") and code == 0 and not next_step(name):
            self.basics[outcome.card_number] = outcome.out
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

    def _fallback(self, name: str, args: dict[str, int | str], hsm: HsmClient) -> Outcome:
        """Step1 → HSM → Step2 (→ HSM → Step3); the card powered down on any failure."""
        card = None
        if name != "iReadCardBas":
            number = split_fields(str(args["pCardInfo"]), 2, "pCardInfo")[1].upper()
            card = self.basics.get(number)
            if card is None:
                basic = self._fallback("iReadCardBas", {"iType": args["iType"]}, hsm)
                if basic.code != 0:
                    return basic
                card = self.basics[number] = basic.out
        step = f"{name}_HSM_Step1"
        code, out = first = self._call(step, args)
        for operation in FALLBACK[name]:
            if code != 0:
                return Outcome(code, out, via_hsm=True)
            try:
                pkey = hsm.compute(operation, out, card)
            except HsmError as exc:
                self.abandon()
                return Outcome(exc.code, exc.text, via_hsm=True)
            step = next_step(step) or ""
            code, out = self._call(step, {**args, "pKey": pkey})
        if code == 0 and name == "iDoDebit":
            return _checked_debit(first[1], out, card, hsm)
        return Outcome(code, out, via_hsm=True)

    def _call(self, step: str, args: dict[str, int | str]) -> tuple[int, str]:
        wanted = FUNCTIONS[step].parameters
        method: Callable[..., tuple[int, str]] = getattr(self.national, step)
        return method(**{k: v for k, v in args.items() if k in wanted})


def _checked_debit(step1: str, step2: str, card: str | None, hsm: HsmClient) -> Outcome:
    """iDoDebit's answer once the HSM has checked Step2's MAC2 (see the module docstring)."""
    mac2_field, paid = step2.split("|", 1)
    try:
        right = hsm.compute("check_mac2", step2, card, step1=step1) == "ok"
    except HsmError as exc:
        code, why = exc.code, f"{exc.text}; MAC2 {mac2_field} could not be checked"
    else:
        if right:
            return Outcome(0, paid, via_hsm=True)
        mac2 = SW.PSAM_MAC2_INVALID
        code = sw_code(mac2)
        why = f"{describe(mac2, ins=0x72).zh}（HSM {mac2:04X}，MAC2 {mac2_field} is wrong）"
    seq = split_fields(step1, 8, "Step1 output")[3]
    return Outcome(code, unconfirmed_purchase(why, seq, paid), via_hsm=True, debited=True)


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
