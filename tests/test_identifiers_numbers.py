"""Social security numbers (GB 11643) and card numbers (S2 App. A)."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sbkcard.identifiers import (
    IdentifierError,
    card_number_check_char,
    make_card_number,
    ssn_check_char,
    validate_card_number,
    validate_ssn,
)
from sbkcard.identifiers.card_number import char_value

DIGITS = "0123456789"
CARD_CHARS = DIGITS + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


# -- social security number ---------------------------------------------------------------


def test_gb_11643_example() -> None:
    # GB 11643-1999 appendix: 11010519491231002X
    assert ssn_check_char("11010519491231002") == "X"
    assert validate_ssn("11010519491231002X") == "11010519491231002X"


def test_reader_interface_sample_is_valid() -> None:
    # S3 §1.1.2, the iReadCardBas example string
    assert validate_ssn("111111198101011110") == "111111198101011110"


ssn_bodies = st.builds(
    lambda region, born, seq: f"{region}{born:%Y%m%d}{seq}",
    st.text(DIGITS, min_size=6, max_size=6),
    st.dates(datetime.date(1900, 1, 1), datetime.date(2099, 12, 31)),
    st.text(DIGITS, min_size=3, max_size=3),
)


@given(ssn_bodies)
def test_every_valid_ssn_is_accepted(body: str) -> None:
    assert validate_ssn(body + ssn_check_char(body)) == body + ssn_check_char(body)


@given(ssn_bodies, st.integers(0, 17), st.sampled_from(DIGITS + "X"))
def test_every_single_change_is_rejected(body: str, position: int, char: str) -> None:
    ssn = body + ssn_check_char(body)
    changed = ssn[:position] + char + ssn[position + 1 :]
    if changed != ssn:
        with pytest.raises(IdentifierError) as caught:
            validate_ssn(changed)
        assert caught.value.field == "ssn"


@pytest.mark.parametrize(
    ("ssn", "reason"),
    [
        ("11010519491231002", "18 characters"),
        ("11010519491231002X1", "18 characters"),
        ("11010519491231002x", "check character"),
        ("1101051949A231002X", "decimal digits"),
        ("110105194902300021", "birth date"),
    ],
)
def test_ssn_errors_give_the_reason(ssn: str, reason: str) -> None:
    with pytest.raises(IdentifierError, match=reason) as caught:
        validate_ssn(ssn)
    assert caught.value.field == "ssn" and reason in caught.value.reason


# -- card number --------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["D2143569X", "HA1046924", "X00000019"])
def test_spec_card_numbers(number: str) -> None:
    # S2 App. A (D2143569 → X), a real card (HA1046924), S3 §1.1.2 sample (X00000019)
    assert validate_card_number(number) == number
    assert make_card_number(number[:8]) == number


def test_check_values_10_and_11() -> None:
    assert card_number_check_char("D2143569") == "X"
    # a body whose weighted sum is 0 mod 11 gets "0" (11 → 0)
    assert card_number_check_char("00000000") == "0"


card_bodies = st.text(CARD_CHARS, min_size=8, max_size=8)


@given(card_bodies)
def test_every_valid_card_number_is_accepted(body: str) -> None:
    assert validate_card_number(make_card_number(body)) == make_card_number(body)


@given(card_bodies, st.integers(0, 8), st.sampled_from(CARD_CHARS))
def test_single_changes_are_rejected_except_the_mod_11_blind_spot(
    body: str, position: int, char: str
) -> None:
    number = make_card_number(body)
    changed = number[:position] + char + number[position + 1 :]
    if changed == number:
        return
    blind = position < 8 and (char_value(char) - char_value(number[position])) % 11 == 0
    if blind:
        assert validate_card_number(changed) == changed
    else:
        with pytest.raises(IdentifierError):
            validate_card_number(changed)


@pytest.mark.parametrize(
    ("number", "reason"),
    [("D2143569", "9 characters"), ("d2143569X", "upper-case"), ("D21435691", "check")],
)
def test_card_number_errors(number: str, reason: str) -> None:
    with pytest.raises(IdentifierError, match=reason) as caught:
        validate_card_number(number)
    assert caught.value.field == "card_number"
