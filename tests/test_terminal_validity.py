"""The card validity checks of Part 7 §5.4: organisation, card type, version, dates.

Each refused card is refused when the session opens — after the SSSE FCI and EF05 are
read, before any PIN, key or write — with its typed error and national code.
"""

from __future__ import annotations

import datetime as dt

import pytest
from terminal_support import CARD_INFO, NOW, ScriptedPad, psam, terminal, user_card

from sbkcard.applet_model.user_card import PROFILES
from sbkcard.applet_model.user_card.personalise import (
    DEMO_CARD_ID,
    DEMO_EXPIRY,
    DEMO_ISSUE_DATE,
    card_atr,
    demo_card_content,
)
from sbkcard.simulator import SimulatedCard
from sbkcard.terminal.errors import (
    CardExpiredError,
    CardNotYetValidError,
    CardValidityError,
    TerminalError,
    UnsupportedCardError,
)
from sbkcard.terminal.national.codes import code_for
from sbkcard.terminal.national.interface import NationalInterface
from sbkcard.terminal.operations import pin
from sbkcard.terminal.operations.basic import read_basic_info
from sbkcard.terminal.policy import CardPolicy
from sbkcard.terminal.terminal import Terminal


def _at(term: Terminal, when: dt.datetime) -> Terminal:
    term.clock = lambda: when
    return term


def _edited_card(generation: int, old: bytes, new: bytes) -> SimulatedCard:
    """The demo card with one EF05 item's TLV replaced (as another issuer wrote it)."""
    profile = PROFILES[generation]
    content = demo_card_content(profile)
    assert content["SSSE/EF05"].count(old) == 1
    content["SSSE/EF05"] = content["SSSE/EF05"].replace(old, new)
    atr = card_atr(profile, DEMO_CARD_ID)
    return SimulatedCard.create("user-card", content, atr, profile=generation)


def _assert_refused_at_open(term: Terminal, pad: ScriptedPad, error: type[TerminalError]) -> str:
    """The session is refused with ``error`` after 3 card APDUs; no PIN asked, no PSAM."""
    with pytest.raises(error) as exc, term.session():
        pass
    assert term.trace.count("card") == 3  # SELECT SSSE + GET RESPONSE, READ RECORD EF05
    assert term.trace.count("psam") == 0 and pad.asked == []
    return str(exc.value)


@pytest.mark.parametrize("generation", [2, 3])
def test_an_expired_card_is_refused_before_any_pin_or_write(generation: int) -> None:
    pad = ScriptedPad()
    day_after = dt.datetime.combine(DEMO_EXPIRY + dt.timedelta(days=1), dt.time(9))
    term = _at(terminal(user_card(generation), psam_card=psam(), pad=pad), day_after)
    message = _assert_refused_at_open(term, pad, CardExpiredError)
    assert "expired on 2034-01-01" in message
    national = NationalInterface(term)
    assert national.iVerifyPIN(1) == (-21, "卡片已过期（卡有效期20340101，今日20340102）")
    term.trace.clear()
    code, _ = national.iWriteCard(1, CARD_INFO, "DF04EF06|92|$", "DF04EF06|00001000|$")
    assert code == -21 and pad.asked == []
    assert term.trace.count("card") == 3 and term.trace.count("psam") == 0  # no write


def test_the_expiry_day_itself_is_still_valid() -> None:
    last_day = dt.datetime.combine(DEMO_EXPIRY, dt.time(23, 59))
    term = _at(terminal(user_card(2), psam_card=psam()), last_day)
    with term.session() as conn:
        assert read_basic_info(conn).expiry == DEMO_EXPIRY


def test_a_card_not_yet_valid_is_refused() -> None:
    pad = ScriptedPad()
    eve = dt.datetime.combine(DEMO_ISSUE_DATE - dt.timedelta(days=1), dt.time(12))
    term = _at(terminal(user_card(3), psam_card=psam(), pad=pad), eve)
    message = _assert_refused_at_open(term, pad, CardNotYetValidError)
    assert "not valid yet" in message
    code, text = NationalInterface(term).iReadCardBas(1)
    assert (code, text) == (-21, "卡片尚未生效（发卡日期20240101，今日20231231）")
    _at(term, dt.datetime.combine(DEMO_ISSUE_DATE, dt.time(8)))  # the issue day: valid
    assert NationalInterface(term).iReadCardBas(1)[0] == 0


def test_a_card_of_an_unknown_version_is_refused() -> None:
    pad = ScriptedPad()
    card = _edited_card(3, b"\x03\x043.00", b"\x03\x044.00")
    term = terminal(card, psam_card=psam(), pad=pad)
    assert "version '4.00'" in _assert_refused_at_open(term, pad, UnsupportedCardError)
    code, text = NationalInterface(term).iVerifyPIN(1)
    assert code == -1 and text.startswith("卡类型不对：") and "4.00" in text
    assert pad.asked == []


@pytest.mark.parametrize(
    ("policy", "accepted"),
    [
        (CardPolicy(versions=("2.0",)), False),  # a terminal for 2nd-generation cards only
        (CardPolicy(versions=("3.0",)), True),
        (CardPolicy(card_types=("1", "2")), False),  # the demo card is an adult's ('3')
        (CardPolicy(init_orgs=("915600000211",)), False),  # Beijing only; the card is Henan's
        (CardPolicy(init_orgs=("915600000211", "915600000241")), True),
    ],
)
def test_the_terminal_configuration_decides(policy: CardPolicy, accepted: bool) -> None:
    pad = ScriptedPad()
    term = terminal(user_card(3), psam_card=psam(), pad=pad)
    term.policy = policy
    if accepted:
        with term.session() as conn:
            pin.verify_pin(conn)
        assert pad.asked != []
    else:
        _assert_refused_at_open(term, pad, UnsupportedCardError)


def test_an_unknown_card_type_is_refused_by_default() -> None:
    pad = ScriptedPad()
    term = terminal(_edited_card(2, b"\x02\x01\x33", b"\x02\x01\x39"), psam_card=psam(), pad=pad)
    message = _assert_refused_at_open(term, pad, UnsupportedCardError)
    assert "card type 9" in message


def test_validity_errors_map_to_code_21() -> None:
    dates = {"issue_date": "20240101", "expiry": "20340101", "today": "20350101"}
    expired = CardExpiredError("expired", **dates)
    assert isinstance(expired, CardValidityError)
    assert code_for(expired) == (-21, "卡片已过期（卡有效期20340101，今日20350101）")
    assert NOW.date() > DEMO_ISSUE_DATE  # the shared test clock sits inside the period
