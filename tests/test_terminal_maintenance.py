"""Application maintenance (Part 7 §13): APPLICATION BLOCK, CARD BLOCK, the hotlist policy.

Against simulated cards of both profiles (2nd generation DES, 3rd SM4), through the PSAM
and through the key service: what the card answers afterwards, what the terminal and the
national interface report, and that a wrong MAC blocks nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from terminal_support import CARD_ID, CARD_INFO, CARD_NUMBER, psam, terminal, user_card

from sbkcard.apdu import builders as b
from sbkcard.applet_model.ssse import SSSE_AID
from sbkcard.simulator import SimulatedCard
from sbkcard.terminal.errors import (
    ApplicationBlockedError,
    CardBlockedError,
    CardStatusError,
    HotlistedCardError,
)
from sbkcard.terminal.hotlist import Hotlist
from sbkcard.terminal.national.codes import code_for
from sbkcard.terminal.national.interface import NationalInterface
from sbkcard.terminal.operations import files
from sbkcard.terminal.operations.maintenance import block_application, block_card
from sbkcard.terminal.policy import CardPolicy
from sbkcard.terminal.security.base import CardContext
from sbkcard.terminal.security.hsm import SoftwareKeyService
from sbkcard.terminal.terminal import Terminal

DF04_AID = bytes.fromhex("D15600000503")
MEDICAL = "DF04EF05|81|$"


class WrongMacService(SoftwareKeyService):
    """A key service whose secure-messaging MACs are off by one bit."""

    def secure_message(
        self,
        card: CardContext,
        address: str,
        challenge: bytes,
        header: bytes,
        plaintext: bytes | None,
    ) -> bytes:
        data = super().secure_message(card, address, challenge, header, plaintext)
        return data[:-1] + bytes([data[-1] ^ 0x01])


def _terminal(card: SimulatedCard, mode: str) -> Terminal:
    if mode == "psam":
        return terminal(card, psam_card=psam(2))
    return terminal(card, key_service=SoftwareKeyService())


def _select_sw(card: SimulatedCard, aid: bytes) -> int:
    """The status word the card gives to SELECT ``aid`` (after a fresh power-up);
    ``61xx`` (T=0: the FCI waits for GET RESPONSE) is success, ``9000``."""
    card.power_on()
    sw = int.from_bytes(card.transmit(bytes(b.select_by_name(aid)))[-2:])
    card.power_off()
    return 0x9000 if sw >> 8 == 0x61 else sw


MODES = pytest.mark.parametrize(
    ("generation", "mode"), [(2, "psam"), (2, "hsm"), (3, "psam"), (3, "hsm")]
)


@MODES
def test_application_block(generation: int, mode: str) -> None:
    card = user_card(generation)
    term = _terminal(card, mode)
    with term.session() as conn:
        result = block_application(conn, "DF04")
    assert (result.target, result.apdus) == ("DF04", 6)
    assert _select_sw(card, DF04_AID) == 0x9303
    assert _select_sw(card, SSSE_AID) == 0x9000  # only DF04 is blocked
    blocked = pytest.raises(ApplicationBlockedError, match="application blocked")
    with blocked as exc, term.session() as conn:
        files.read_address(conn, MEDICAL)
    assert exc.value.sw == 0x9303 and not isinstance(exc.value, CardBlockedError)
    assert code_for(exc.value)[0] == -37635
    national = NationalInterface(terminal(card, psam_card=psam()))
    code, text = national.iReadCard(1, 1, CARD_INFO, MEDICAL)
    assert code == -37635 and text.startswith("应用已被永久锁定")
    assert national.iReadCardBas(1)[0] == 0


@MODES
def test_blocking_the_social_security_application(generation: int, mode: str) -> None:
    card = user_card(generation)
    term = _terminal(card, mode)
    with term.session() as conn:
        assert block_application(conn).apdus == 4  # SSSE current: challenge, auth, block
    assert _select_sw(card, SSSE_AID) == 0x9303
    assert _select_sw(card, DF04_AID) == 0x9303  # every application under it
    with pytest.raises(ApplicationBlockedError, match="SELECT SSSE"), term.session():
        pass
    assert NationalInterface(terminal(card, psam_card=psam())).iReadCardBas(1)[0] == -37635


@MODES
def test_card_block(generation: int, mode: str) -> None:
    card = user_card(generation)
    term = _terminal(card, mode)
    with term.session() as conn:
        assert block_card(conn).apdus == 4
    card.power_on()
    for apdu in (bytes(b.select_by_name(SSSE_AID)), bytes(b.get_challenge(8)), b"\x00\xb0"):
        assert card.transmit(apdu)[-2:] == b"\x6a\x81"
    card.power_off()
    with pytest.raises(CardBlockedError, match="card blocked") as exc, term.session():
        pass
    assert exc.value.sw == 0x6A81
    code, text = NationalInterface(terminal(card, psam_card=psam())).iReadCardBas(1)
    assert code == -27265 and "卡被锁定" in text


def test_application_block_of_a_df_locked_by_bk() -> None:
    # DF01's blocking key is BK, an SSSE key named from DF01 (Part 5 table 14)
    card = user_card(3)
    with terminal(card, key_service=SoftwareKeyService()).session() as conn:
        block_application(conn, "DF01")
    assert _select_sw(card, bytes.fromhex("D15600000500")) == 0x9303
    assert _select_sw(card, DF04_AID) == 0x9000


@pytest.mark.parametrize("generation", [2, 3])
def test_a_wrong_mac_leaves_the_card_unblocked(generation: int) -> None:
    card = user_card(generation)
    term = terminal(card, key_service=WrongMacService())
    with pytest.raises(CardStatusError) as exc, term.session() as conn:
        block_application(conn, "DF04")
    assert exc.value.sw == 0x6988 and "APPLICATION BLOCK DF04" in str(exc.value)
    with pytest.raises(CardStatusError) as exc, term.session() as conn:
        block_card(conn)
    assert exc.value.sw == 0x6988
    assert _select_sw(card, DF04_AID) == 0x9000 and _select_sw(card, SSSE_AID) == 0x9000
    with _terminal(card, "hsm").session() as conn:  # the keys are not locked either
        files.read_address(conn, MEDICAL)
        block_application(conn, "DF04")
    assert _select_sw(card, DF04_AID) == 0x9303


def test_a_blocking_key_is_taken_from_the_tree() -> None:
    card = user_card(2)
    used: list[str] = []

    class Recording(SoftwareKeyService):
        def auth_data(
            self, card: CardContext, address: str, factor: bytes, original: bytes
        ) -> bytes:
            used.append(address)
            return super().auth_data(card, address, factor, original)

    with terminal(card, key_service=Recording()).session() as conn:
        block_application(conn, "DF03")
    assert used == ["0092"]  # LKDF03 (S3 App. B), DF03's blocking key
    assert _select_sw(card, bytes.fromhex("D15600000502")) == 0x9303


# -- the hotlist policy -----------------------------------------------------------------------


def _listed(tmp_path: Path) -> Hotlist:
    hotlist = Hotlist(tmp_path / "hotlist.db")
    hotlist.report(CARD_NUMBER, CARD_ID, "持卡人挂失")
    return hotlist


def test_by_default_a_hotlisted_card_is_refused_but_not_blocked(tmp_path: Path) -> None:
    hotlist = _listed(tmp_path)
    card = user_card(3)
    term = terminal(card, psam_card=psam(), hotlist=hotlist)
    with pytest.raises(HotlistedCardError) as exc, term.session():
        pass
    assert exc.value.action == "" and term.trace.count("psam") == 0
    hotlist.lift(CARD_NUMBER, CARD_ID, "found")
    assert _select_sw(card, SSSE_AID) == 0x9000


@pytest.mark.parametrize("mode", ["psam", "hsm"])
def test_the_blocking_policy_blocks_a_hotlisted_card(tmp_path: Path, mode: str) -> None:
    hotlist = _listed(tmp_path)
    card = user_card(2)
    term = _terminal(card, mode)
    term.hotlist, term.policy = hotlist, CardPolicy(block_hotlisted="SSSE")
    with pytest.raises(HotlistedCardError) as exc, term.session():
        pass
    assert exc.value.action == "application SSSE blocked"
    assert str(exc.value).endswith("持卡人挂失; application SSSE blocked")
    assert _select_sw(card, SSSE_AID) == 0x9303
    hotlist.lift(CARD_NUMBER, CARD_ID, "found")  # found again: the card itself refuses now
    with pytest.raises(ApplicationBlockedError), term.session():
        pass


def test_the_blocking_policy_through_the_national_interface(tmp_path: Path) -> None:
    hotlist = _listed(tmp_path)
    card = user_card(3)
    term = terminal(card, psam_card=psam(), hotlist=hotlist)
    term.policy = CardPolicy(block_hotlisted="DF04")
    code, text = NationalInterface(term).iReadCard(1, 1, CARD_INFO, MEDICAL)
    assert code == -21 and text == "卡片已列入黑名单（lost：持卡人挂失）；application DF04 blocked"
    assert _select_sw(card, DF04_AID) == 0x9303


def test_a_failed_block_still_refuses_the_card(tmp_path: Path) -> None:
    card = user_card(2)
    term = terminal(card, hotlist=_listed(tmp_path))  # no PSAM, no key service
    term.policy = CardPolicy(block_hotlisted="SSSE")
    with pytest.raises(HotlistedCardError) as exc, term.session():
        pass
    assert exc.value.action.startswith("blocking SSSE failed: no PSAM")
    assert _select_sw(card, SSSE_AID) == 0x9000
