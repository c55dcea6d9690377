"""PIN entry: pads, length checks, the double entry of a new PIN, a PIN that never shows."""

from __future__ import annotations

import pytest

from sbkcard.terminal.errors import (
    PinEntryCancelled,
    PinEntryTimeout,
    PinLengthError,
    PinMismatchError,
)
from sbkcard.terminal.operations.pinpad import (
    CallbackPinPad,
    ConsolePinPad,
    Pin,
    PinPrompt,
    enter_new_pin,
    enter_pin,
)


def test_pin_encodes_as_cn_with_f_padding() -> None:
    # Part 5 §6.14: VERIFY data is cn, F-padded; the real trace 00 20 00 00 03 12 34 56
    assert Pin("123456").encode() == bytes.fromhex("123456")
    assert Pin("12345").encode() == bytes.fromhex("12345F")
    assert Pin("1234567890123456").encode() == bytes.fromhex("1234567890123456")


def test_pin_never_shows_its_digits() -> None:
    pin = Pin("864209")
    for text in (repr(pin), str(pin), f"{pin}", f"{[pin]}"):
        assert "864209" not in text and "******" in text
    assert pin.reveal() == "864209" and len(pin) == 6


@pytest.mark.parametrize("digits", ["123", "12345678901234567", "12a456", "", "１２３４"])
def test_pin_length_and_digits(digits: str) -> None:
    with pytest.raises(PinLengthError):
        Pin(digits)


def test_console_pad_prompts_and_hides() -> None:
    prompts: list[str] = []

    def fake_getpass(prompt: str) -> str:
        prompts.append(prompt)
        return " 123456 "

    assert enter_pin(ConsolePinPad(fake_getpass)) == Pin("123456")
    assert prompts == ["请输入密码: "]


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, EOFError])
def test_console_pad_cancel(interrupt: type[BaseException]) -> None:
    def cancel(prompt: str) -> str:
        raise interrupt

    with pytest.raises(PinEntryCancelled):
        enter_pin(ConsolePinPad(cancel))


def test_callback_pad_cancel_and_timeout() -> None:
    with pytest.raises(PinEntryCancelled):
        enter_pin(CallbackPinPad(lambda prompt: None))

    def slow(prompt: PinPrompt) -> str:
        raise PinEntryTimeout("no key pressed for 30 s")

    with pytest.raises(PinEntryTimeout):
        enter_pin(CallbackPinPad(slow))


def test_new_pin_is_asked_twice() -> None:
    asked: list[PinPrompt] = []
    answers = {PinPrompt.NEW: "246810", PinPrompt.CONFIRM: "246810"}

    def pad(prompt: PinPrompt) -> str:
        asked.append(prompt)
        return answers[prompt]

    assert enter_new_pin(CallbackPinPad(pad)) == Pin("246810")
    assert asked == [PinPrompt.NEW, PinPrompt.CONFIRM]
    answers[PinPrompt.CONFIRM] = "246811"
    with pytest.raises(PinMismatchError):
        enter_new_pin(CallbackPinPad(pad))
