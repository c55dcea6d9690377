"""Every way a counter transaction fails, as the operation's exception and the national code.

No card, a card pulled mid-operation and mid-write, a wrong PIN with tries left, a
blocked PIN, a blocked application, a hotlisted card, a forged card, a PSAM missing a
key, an environment or the level, a broken hotlist, a cancelled PIN pad.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from terminal_support import CARD_ID, CARD_INFO, CARD_NUMBER, ScriptedPad, psam, terminal, user_card

from sbkcard.applet_model.psam import psam_atr, psam_content
from sbkcard.applet_model.psam.layout import DES_ENVIRONMENT
from sbkcard.errors import CardRemovedError, NoCardError
from sbkcard.keys import Algorithm
from sbkcard.keys.hierarchy import KeySet, demo_keyset
from sbkcard.simulator import SimulatedCard
from sbkcard.terminal.connection import AuthPreference
from sbkcard.terminal.errors import (
    ApplicationBlockedError,
    AuthenticityError,
    CardStatusError,
    HotlistedCardError,
    HotlistError,
    NoPsamError,
    PinBlockedError,
    PsamAlgorithmError,
    PsamKeyMissingError,
    PsamLevelError,
    WrongPinError,
)
from sbkcard.terminal.hotlist import Hotlist
from sbkcard.terminal.national.codes import code_for
from sbkcard.terminal.national.interface import NationalInterface
from sbkcard.terminal.operations import files, pin
from sbkcard.terminal.operations.basic import read_basic_info
from sbkcard.terminal.operations.maintenance import block_application
from sbkcard.terminal.operations.pinpad import Pin, PinPrompt
from sbkcard.terminal.security.hsm import SoftwareKeyService
from sbkcard.terminal.security.hsm_host import HsmHost
from sbkcard.terminal.terminal import Terminal


class PullAfter:
    """A transport that takes the card out of the reader when command ``n`` arrives."""

    def __init__(self, card: SimulatedCard, n: int) -> None:
        self.card, self.n, self.sent = card, n, 0
        self.atr = card.atr

    def power_on(self) -> bytes:
        return self.card.power_on()

    def reset(self) -> bytes:
        return self.card.reset()

    def power_off(self) -> None:
        self.card.power_off()

    def transmit(self, apdu: bytes) -> bytes:
        self.sent += 1
        if self.sent == self.n:
            self.card.remove()
        return self.card.transmit(apdu)


def _without(name: str) -> list[KeySet]:
    sets = []
    for alg in (Algorithm.DES, Algorithm.SM4):
        roots = {k: v for k, v in demo_keyset(alg).roots.items() if k != name}
        sets.append(KeySet(alg, roots))
    return sets


def test_no_card() -> None:
    card = user_card(2)
    card.remove()
    term = terminal(card, psam_card=psam())
    with pytest.raises(NoCardError, match="no card in the reader"), term.session():
        pass
    assert NationalInterface(term).iReadCardBas(1) == (-2, "无卡")


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_card_pulled_during_basic_information(n: int) -> None:
    card = user_card(3)
    term = terminal(PullAfter(card, n), psam_card=psam())  # type: ignore[arg-type]
    with pytest.raises((CardRemovedError, NoCardError)) as exc, term.session() as conn:
        read_basic_info(conn)
    if n > 1:  # the first APDU goes out right after power-up: the slot looks empty then
        assert isinstance(exc.value, CardRemovedError)
        assert "card left the reader during" in str(exc.value)
    card.insert()
    code, text = NationalInterface(terminal(PullAfter(card, n), psam_card=psam())).iReadCardBas(1)  # type: ignore[arg-type]
    assert code == -4 and text.startswith("卡无应答")


@pytest.mark.parametrize("steps", [0, 1, 2])
def test_card_loses_power_mid_write(steps: int) -> None:
    card = user_card(2)
    term = terminal(card, psam_card=psam())
    with term.session() as conn:
        files.write_address(conn, "DF01EF0A|37|$", "DF01EF0A|CHN|$")
    not_verified = pytest.raises(CardRemovedError, match="write of DF01EF0A is not verified")
    with not_verified, term.session() as conn:
        conn.require(conn.ef("DF01", 0x0A).write)
        conn.require(conn.ef("DF01", 0x0A).read, AuthPreference.KEY)
        card.nvm.cut_power_after(steps)
        files.write_address(conn, "DF01EF0A|37|$", "DF01EF0A|USA|$")
    card.nvm.cancel_power_cut()
    with term.session() as conn:
        (value,) = files.read_address(conn, "DF01EF0A|37|$", prefer=AuthPreference.KEY).files
    assert value.values[0] in ("CHN", "USA")  # wholly old or wholly new, never torn


def test_wrong_pin_with_tries_left_then_blocked() -> None:
    card = user_card(3)
    term = terminal(card, pad=ScriptedPad("999999"))
    with term.session() as conn:
        with pytest.raises(WrongPinError) as first:
            pin.verify_pin(conn)
        assert first.value.tries_left == 2 and first.value.sw == 0x63C2
        assert code_for(first.value) == (-51, "PIN校验失败，剩余次数2次")
        with pytest.raises(WrongPinError) as second:
            pin.verify_pin(conn, Pin("999999"))
        assert second.value.tries_left == 1
        with pytest.raises(PinBlockedError) as blocked:
            pin.verify_pin(conn, Pin("999999"))
        assert code_for(blocked.value) == (-52, "PIN锁定")
        with pytest.raises(PinBlockedError) as still:
            pin.verify_pin(conn, Pin("123456"))  # the right PIN no longer helps
        assert still.value.sw == 0x6983
    national = NationalInterface(terminal(card))
    assert national.iVerifyPIN(1) == (-52, "PIN锁定")


def test_wrong_pin_through_the_national_interface() -> None:
    national = NationalInterface(terminal(user_card(2), pad=ScriptedPad("111111")))
    assert national.iVerifyPIN(1) == (-51, "PIN校验失败，剩余次数2次")
    assert national.iVerifyPIN(1) == (-51, "PIN校验失败，剩余次数1次")


def _block_df04(term: Terminal) -> None:
    """APPLICATION BLOCK of DF04 (LKDF04 authenticated, MAC of STKDF04, Part 7 §13.2)."""
    with term.session() as conn:
        block_application(conn, "DF04")


def test_blocked_application() -> None:
    card = user_card(2)
    term = terminal(card, key_service=SoftwareKeyService())
    _block_df04(term)
    with pytest.raises(ApplicationBlockedError) as exc, term.session() as conn:
        files.read_address(conn, "DF04EF05|81|$")
    assert exc.value.sw == 0x9303
    national = NationalInterface(terminal(card, psam_card=psam()))
    code, text = national.iReadCard(1, 1, CARD_INFO, "DF04EF05|81|$")
    assert code == -37635 and text.startswith("应用已被永久锁定")
    assert national.iReadCardBas(1)[0] == 0  # the SSSE itself still works


def test_hotlisted_card_is_refused_before_anything_else(tmp_path: Path) -> None:
    hotlist = Hotlist(tmp_path / "hotlist.db")
    hotlist.report(CARD_NUMBER, CARD_ID, "持卡人挂失")
    card = user_card(3)
    term = terminal(card, psam_card=psam(), hotlist=hotlist)
    with pytest.raises(HotlistedCardError, match="持卡人挂失"), term.session():
        pass
    # only the SSSE FCI and EF05 were read: no PIN, no key, no PSAM
    assert term.trace.count("psam") == 0 and term.trace.count("card") == 3
    national = NationalInterface(term)
    code, text = national.iReadCardBas(1)
    assert code == -21 and "黑名单" in text and "持卡人挂失" in text
    term.trace.clear()
    code, _ = national.iReadCard(1, 1, CARD_INFO, "DF04EF05|81|$")
    assert code == -21 and term.trace.count("card") == 0  # refused from pCardInfo alone
    hotlist.lift(CARD_NUMBER, CARD_ID, "found")
    assert national.iReadCardBas(1)[0] == 0


def test_a_broken_hotlist_is_an_error_not_a_pass(tmp_path: Path) -> None:
    path = tmp_path / "hotlist.db"
    hotlist = Hotlist(path, timeout=0.05)
    term = terminal(user_card(2), psam_card=psam(), hotlist=hotlist)
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(HotlistError), term.session():
            pass
        code, text = NationalInterface(term).iReadCardBas(1)
        assert code == -5 and text.startswith("黑名单库不可用")
    finally:
        locker.execute("ROLLBACK")
        locker.close()


def test_forged_card_fails_internal_authentication() -> None:
    forged = KeySet(Algorithm.SM4, dict(demo_keyset(Algorithm.SM4).roots, IRK=bytes(16)))
    term = terminal(user_card(3), key_service=SoftwareKeyService(forged))
    with pytest.raises(AuthenticityError, match="not a genuine card"), term.session() as conn:
        read_basic_info(conn)


def test_wrong_key_spends_the_cards_tries() -> None:
    wrong = KeySet(Algorithm.DES, dict(demo_keyset(Algorithm.DES).roots, RK1DF04=bytes(16)))
    term = terminal(user_card(2), key_service=SoftwareKeyService(wrong))
    with term.session() as conn:
        for left in (2, 1, 0):
            with pytest.raises(CardStatusError) as exc:
                conn.authenticate("RK1DF04")
            assert exc.value.sw == 0x63C0 | left
        assert code_for(exc.value)[0] == -25536
        with pytest.raises(CardStatusError) as locked:
            conn.authenticate("RK1DF04")
        assert locked.value.sw == 0x6983 and code_for(locked.value)[0] == -27011


def test_no_security_module() -> None:
    term = terminal(user_card(3))
    with pytest.raises(NoPsamError), term.session() as conn:
        read_basic_info(conn)
    assert NationalInterface(term).iReadCardBas(1) == (-2201, "无PSAM卡")


def test_a_psam_failing_at_power_up_is_powered_down() -> None:
    content = psam_content()
    del content[DES_ENVIRONMENT.ef_key(0x0016)]  # no terminal number
    broken = SimulatedCard.create("psam", content, psam_atr())
    term = terminal(user_card(3), psam_card=broken)
    with pytest.raises(CardStatusError, match="READ BINARY 0016"), term.session() as conn:
        read_basic_info(conn)
    assert not broken.powered
    # the HSM functions go on without it, with the terminal's own number (S3 §10.5)
    national = NationalInterface(term)
    _, step1 = national.iReadCardBas_HSM_Step1(1)
    code, basic = national.iReadCardBas_HSM_Step2(
        HsmHost(SoftwareKeyService()).read_card_bas(step1)
    )
    assert code == 0 and basic.split("|")[9] == "000000000000" and not broken.powered


def test_psam_without_rkssse() -> None:
    content = psam_content(_without("RKSSSE"))
    bare = SimulatedCard.create("psam", content, psam_atr())
    term = terminal(user_card(3), psam_card=bare)
    with pytest.raises(PsamKeyMissingError) as exc, term.session() as conn:
        read_basic_info(conn)
    assert exc.value.key == "RKSSSE"
    code, text = NationalInterface(term).iReadCardBas(1)
    assert code == -2203 and text.startswith("PSAM卡内没有RKSSSE密钥")
    # a 2.0 card does not need RKSSSE
    assert NationalInterface(terminal(user_card(2), psam_card=bare)).iReadCardBas(1)[0] == 0


def test_psam_missing_a_read_key() -> None:
    bare = SimulatedCard.create("psam", psam_content(_without("RK1DF04")), psam_atr())
    national = NationalInterface(terminal(user_card(2), psam_card=bare))
    code, text = national.iReadCard(1, 2, CARD_INFO, "DF04EF05|81|$")
    assert code == -27272 and text.startswith("未找到引用数据、未找到密钥")
    assert national.iReadCard(1, 1, CARD_INFO, "DF04EF05|81|$")[0] == 0  # the PIN works


def test_psam_without_the_sm4_environment() -> None:
    des_only = psam(3, algorithm=Algorithm.DES)
    with (
        pytest.raises(PsamAlgorithmError),
        terminal(user_card(3), psam_card=des_only).session() as c,
    ):
        read_basic_info(c)
    code, _ = NationalInterface(terminal(user_card(3), psam_card=des_only)).iReadCardBas(1)
    assert code == -2202
    assert NationalInterface(terminal(user_card(2), psam_card=des_only)).iReadCardBas(1)[0] == 0


@pytest.mark.parametrize(
    ("level", "terminal_number", "ok"),
    [
        (1, "410100000009", True),  # city root of the card's city
        (1, "410200000009", False),  # city root of another city
        (2, "410200000009", True),  # provincial root of the card's province
        (2, "110100000009", False),  # provincial root of another province
        (3, "110100000009", True),  # national root: any card
    ],
)
def test_psam_level_must_cover_the_card(level: int, terminal_number: str, ok: bool) -> None:
    psam_card = psam(level, terminal_number=terminal_number)
    term = terminal(user_card(2), psam_card=psam_card)
    code, text = NationalInterface(term).iReadCardBas(1)
    if ok:
        assert code == 0 and text.split("|")[9] == terminal_number
    else:
        assert code == -24 and text.startswith("PSAM卡密钥级别不够")
        # refused before any cryptogram reached the card: no INTERNAL/EXTERNAL AUTHENTICATE
        assert all(
            getattr(e.exchange.command, "ins", None) not in (0x82, 0x88)
            for e in term.trace.entries
            if e.device == "card"
        )
    with pytest.raises(PsamLevelError) if not ok else _nothing(), term.session() as conn:
        read_basic_info(conn)


class _nothing:
    """A null context manager, read like ``pytest.raises``."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.mark.parametrize(
    ("answers", "code"),
    [
        ({PinPrompt.ENTER: [None]}, -31),
        ({PinPrompt.ENTER: ["12"]}, -33),
        (
            {PinPrompt.OLD: ["123456"], PinPrompt.NEW: ["111111"], PinPrompt.CONFIRM: ["222222"]},
            -34,
        ),
    ],
)
def test_pin_pad_errors(answers: dict[PinPrompt, list[str | None]], code: int) -> None:
    national = NationalInterface(terminal(user_card(2), pad=ScriptedPad(answers)))
    result = national.iChangePIN(1) if PinPrompt.OLD in answers else national.iVerifyPIN(1)
    assert result[0] == code


def test_pin_reload_through_a_psam_falls_back_to_the_hsm() -> None:
    """Part 9 gives the PSAM the STK as a MAC key: reload answers -27272 (S3 §10.5)."""
    national = NationalInterface(terminal(user_card(3), psam_card=psam()))
    code, _ = national.iReloadPIN(1, CARD_INFO)
    assert code == -27272
