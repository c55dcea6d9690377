"""PIN entry: a pluggable PIN pad and the PIN as a value that never shows itself.

A :class:`PinPad` is asked for one PIN at a time with a :class:`PinPrompt` (the prompts of
S3 §4–§6: 请输入密码, 请输入原密码, 请输入新密码, 请再次输入新密码).  Two pads ship:
:class:`ConsolePinPad` (``getpass``, no echo) and :class:`CallbackPinPad` (any function,
for a GUI, a hardware pad's driver, or a test).  :func:`enter_pin` checks the length
(4–16 digits, S3 §4.1.3) and :func:`enter_new_pin` asks twice and compares.

A :class:`Pin` keeps its digits to itself: ``repr``/``str`` show ``******``; the BCD block
for VERIFY comes from :meth:`Pin.encode` (``cn``, ``F``-padded, Part 5 §6.14).
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from enum import Enum
from typing import Protocol

from sbkcard.terminal.errors import (
    PinEntryCancelled,
    PinEntryTimeout,
    PinLengthError,
    PinMismatchError,
)

MIN_DIGITS = 4
MAX_DIGITS = 16


class PinPrompt(Enum):
    """What the pad asks for; the value is the prompt the standard prescribes."""

    ENTER = "请输入密码"
    OLD = "请输入原密码"
    NEW = "请输入新密码"
    CONFIRM = "请再次输入新密码"
    ADMIN = "请输入管理员密码"
    """The certificate application's administrator PIN (GM/T 0016 SKF_UnblockPIN); S3
    has no prompt for it, the text follows its own."""


class Pin:
    """A PIN of 4–16 decimal digits whose value is never printed."""

    __slots__ = ("_digits",)

    def __init__(self, digits: str) -> None:
        if not digits.isascii() or not digits.isdigit():
            raise PinLengthError("a PIN is made of decimal digits only")
        if not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
            raise PinLengthError(f"a PIN has {MIN_DIGITS}–{MAX_DIGITS} digits, got {len(digits)}")
        self._digits = digits

    def encode(self) -> bytes:
        """The PIN as ``cn``: BCD, left-aligned, padded with ``F`` (Part 5 §6.14 VERIFY)."""
        text = self._digits + ("F" if len(self._digits) % 2 else "")
        return bytes.fromhex(text)

    def reveal(self) -> str:
        """The digits (for an HSM request that must carry them; never log the result)."""
        return self._digits

    def __len__(self) -> int:
        return len(self._digits)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pin) and other._digits == self._digits

    def __hash__(self) -> int:
        return hash(("Pin", len(self._digits)))

    def __repr__(self) -> str:
        return "Pin(******)"

    __str__ = __repr__


class PinPad(Protocol):
    """A source of PINs typed by the cardholder."""

    def read_pin(self, prompt: PinPrompt) -> str:
        """The digits entered for ``prompt``; raise PinEntryCancelled / PinEntryTimeout."""
        ...


class ConsolePinPad:
    """Reads the PIN on the terminal without echo (``getpass``); Ctrl-C or EOF cancels."""

    def __init__(self, read: Callable[[str], str] = getpass.getpass) -> None:
        self._read = read

    def read_pin(self, prompt: PinPrompt) -> str:
        try:
            return self._read(f"{prompt.value}: ")
        except (KeyboardInterrupt, EOFError) as exc:
            raise PinEntryCancelled("PIN entry cancelled") from exc


class CallbackPinPad:
    """Asks ``callback(prompt)`` for each PIN; ``None`` means the cardholder cancelled.

    A callback may raise :class:`~sbkcard.terminal.errors.PinEntryTimeout` itself.
    """

    def __init__(self, callback: Callable[[PinPrompt], str | None]) -> None:
        self._callback = callback

    def read_pin(self, prompt: PinPrompt) -> str:
        value = self._callback(prompt)
        if value is None:
            raise PinEntryCancelled("PIN entry cancelled")
        return value


def enter_pin(pad: PinPad, prompt: PinPrompt = PinPrompt.ENTER) -> Pin:
    """One PIN from ``pad``, checked for 4–16 digits."""
    return Pin(pad.read_pin(prompt).strip())


def enter_new_pin(pad: PinPad) -> Pin:
    """A new PIN typed twice (S3 §5.1.3); :class:`PinMismatchError` if the entries differ."""
    first = enter_pin(pad, PinPrompt.NEW)
    if enter_pin(pad, PinPrompt.CONFIRM) != first:
        raise PinMismatchError("the two entries of the new PIN differ")
    return first


__all__ = [
    "CallbackPinPad",
    "ConsolePinPad",
    "Pin",
    "PinEntryCancelled",
    "PinEntryTimeout",
    "PinPad",
    "PinPrompt",
    "enter_new_pin",
    "enter_pin",
]
