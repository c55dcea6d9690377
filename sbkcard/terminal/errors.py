"""What can go wrong at a counter, as exceptions (host side).

Every failure of a terminal operation is one of these; :mod:`sbkcard.terminal.national.interface`
turns each into the error code of the national reader interface (S3 App. A)
through :func:`sbkcard.terminal.national.codes.code_for`.  A card's refusal keeps its
status word (:class:`CardStatusError`), so nothing of the card's answer is lost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sbkcard.apdu.status import SW, describe
from sbkcard.errors import SbkcardError

if TYPE_CHECKING:
    from sbkcard.terminal.operations.purse import PurchaseResult


class TerminalError(SbkcardError):
    """Base class of the terminal's errors."""


class CardStatusError(TerminalError):
    """The card (or the PSAM) refused a command: ``sw`` is its status word."""

    def __init__(
        self, sw: int, command: str, *, device: str = "card", message: str | None = None
    ) -> None:
        self.sw = sw
        self.command = command
        self.device = device
        super().__init__(message or f"{device} answered {sw:04X} to {command} ({_describe(sw)})")


def _describe(sw: int) -> str:
    return describe(sw).en


class WrongPinError(CardStatusError):
    """VERIFY (or CHANGE PIN) failed with ``63Cx``: ``tries_left`` attempts remain."""

    def __init__(self, sw: int, command: str) -> None:
        self.tries_left = sw & 0x0F
        tries = "try" if self.tries_left == 1 else "tries"
        super().__init__(sw, command, message=f"wrong PIN: {self.tries_left} {tries} left")


class PinBlockedError(CardStatusError):
    """The PIN is blocked (``6983``, or ``63C0`` on the last wrong try); ``remedy`` says
    who unblocks it."""

    def __init__(
        self, sw: int, command: str, *, remedy: str = "the issuer must unblock it"
    ) -> None:
        super().__init__(sw, command, message=f"PIN blocked ({sw:04X} to {command}): {remedy}")


class ApplicationBlockedError(CardStatusError):
    """An application is blocked: SELECT answered ``9303`` (APPLICATION BLOCK, Part 7
    §13.2) — or, as :class:`CardBlockedError`, ``6A81`` (CARD BLOCK, §13.1)."""

    def __init__(self, sw: int, command: str, *, device: str = "card") -> None:
        what = "card blocked" if sw == SW.FUNCTION_NOT_SUPPORTED else "application blocked"
        super().__init__(
            sw,
            command,
            device=device,
            message=f"{what}: {device} answered {sw:04X} to {command} ({_describe(sw)})",
        )


class CardBlockedError(ApplicationBlockedError):
    """The whole card is blocked: every command answers ``6A81`` (Part 7 §13.1)."""


class UnconfirmedPurchaseError(CardStatusError):
    """The card debited, but its MAC2 was refused (CREDIT SAM FOR PURCHASE ``63CF``,
    Part 9 §9.10): the purchase happened and is settled by its TAC (S3 App. C.7).

    ``result`` is the purchase as the card made it; ``settlement`` is what settles it
    (the national interface puts iDoDebit's one-call output there, S3 §8.1.2).
    """

    def __init__(self, refusal: CardStatusError, result: PurchaseResult) -> None:
        super().__init__(
            refusal.sw,
            refusal.command,
            device=refusal.device,
            message=f"{refusal}: the card HAS DEBITED the purse (purchase sequence "
            f"{result.card_seq:04X}, TAC {result.tac.hex().upper()}) but the purchase is not "
            "confirmed; settle it by its TAC (S3 App. C.7)",
        )
        self.result = result
        self.settlement = ""


class NoPsamError(TerminalError):
    """The operation needs a PSAM (or a key service) and the terminal has none."""


class PsamAlgorithmError(TerminalError):
    """The PSAM has no environment for the card's algorithm (SSF33/SM4, S3 §10.1)."""


class PsamKeyMissingError(TerminalError):
    """The PSAM (or key service) holds no key for ``key`` at any diversification depth."""

    def __init__(self, key: str, detail: str = "") -> None:
        self.key = key
        suffix = f": {detail}" if detail else ""
        super().__init__(f"the security module has no key {key}{suffix}")


class PsamLevelError(TerminalError):
    """The PSAM's key for ``key`` is held at a level that cannot serve this card's region."""

    def __init__(self, key: str, detail: str) -> None:
        self.key = key
        super().__init__(f"PSAM key level too low for {key}: {detail}")


class AuthenticityError(TerminalError):
    """Internal authentication failed: the card's IRK answer is wrong (not a genuine card)."""


class CardMismatchError(TerminalError):
    """The card in the reader is not the one named by the caller (card id / card number)."""


class InvalidInputError(TerminalError, ValueError):
    """A caller's argument is malformed (file address, amount, card info, key string)."""


class UnsupportedCardError(TerminalError):
    """The card's data says something this terminal cannot handle (version, algorithm)."""


class CardValidityError(TerminalError):
    """The card is outside its validity period (Part 7 §5.4, 卡是否在有效期内)."""

    def __init__(self, message: str, *, issue_date: str, expiry: str, today: str) -> None:
        self.issue_date = issue_date
        self.expiry = expiry
        self.today = today
        super().__init__(message)


class CardExpiredError(CardValidityError):
    """The terminal's date is after the card's 卡有效期 (EF05 tag ``06``)."""


class CardNotYetValidError(CardValidityError):
    """The terminal's date is before the card's 发卡日期 (EF05 tag ``05``)."""


class WriteNotDoneError(TerminalError):
    """A write was not verified on the card: the data read back differs, or the card left."""


class HotlistError(TerminalError):
    """The hotlist database cannot be used (missing, corrupt, locked, wrong schema)."""


class HotlistedCardError(TerminalError):
    """The card is on the hotlist (reported lost, or replaced): the terminal refuses it."""

    def __init__(
        self, card_number: str, card_id: str, reason: str, kind: str, action: str = ""
    ) -> None:
        self.card_number = card_number
        self.card_id = card_id
        self.reason = reason
        self.kind = kind
        self.action = action
        """What the terminal did to the card before refusing it (its blocking policy)."""
        suffix = f"; {action}" if action else ""
        super().__init__(
            f"card {card_number} ({card_id}) is on the hotlist ({kind}): {reason}{suffix}"
        )


class PinEntryError(TerminalError):
    """The PIN pad gave no usable PIN."""


class PinEntryCancelled(PinEntryError):
    """The cardholder cancelled PIN entry."""


class PinEntryTimeout(PinEntryError):
    """PIN entry timed out."""


class PinLengthError(PinEntryError):
    """The PIN entered is not 4–16 digits."""


class PinMismatchError(PinEntryError):
    """The two entries of the new PIN differ."""


class KeyServiceError(TerminalError):
    """The key service (HSM) refused or failed a computation."""
