"""The counter's HSM fallback checks the card's MAC2 after iDoDebit_HSM_Step2 (S3 §8.3.2),
through a real HSM service on loopback: a right MAC2 is a purchase, a wrong one is not."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from service_support import TOKEN, WrongMac2, counter, hsm_service, post, run, slot
from terminal_support import CARD_INFO, terminal, user_card

from sbkcard.service.access import ClientAccess
from sbkcard.service.audit import AuditLog
from sbkcard.service.hsm_client import HttpHsmClient
from sbkcard.service.hsm_server import hsm_app
from sbkcard.service.hsm_service import HsmService
from sbkcard.terminal.errors import UnconfirmedPurchaseError
from sbkcard.terminal.operations import purse
from sbkcard.terminal.security.hsm import SoftwareKeyService
from sbkcard.terminal.security.hsm_host import CardFacts, HsmHost

PAY = "12.34|0.00|20240601103000|"
BODY = {"iType": 1, "pCardInfo": CARD_INFO, "pPayInfo": PAY}


def _audit(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_right_mac2_is_checked_by_the_hsm_and_the_purchase_paid(tmp_path: Path) -> None:
    hsm_log, counter_log = tmp_path / "hsm.log", tmp_path / "counter.log"
    host = HsmHost(SoftwareKeyService())

    def app() -> object:
        return hsm_app(HsmService(host), ClientAccess(tokens=frozenset({TOKEN})), AuditLog(hsm_log))

    async def scenario() -> None:
        async with hsm_service(app) as url:
            client = HttpHsmClient(url, TOKEN)
            reader = slot(with_psam=False)
            async with counter(reader, hsm=client, audit=AuditLog(counter_log)) as (base, s, _):
                _, paid = await post(s, f"{base}/api/iDoDebit", BODY)
                assert paid["code"] == 0, paid
                fields = paid["pOutInfo"].split("|")
                assert len(fields) == 9 and fields[2] == "000004D200000000"
                facts = CardFacts.from_basic(next(iter(reader.basics.values())))
                assert host.check_tac(paid["pOutInfo"], facts)  # settles (App. C.7)

    run(scenario())
    operations = [(e["operation"], e["code"]) for e in _audit(hsm_log)]
    assert operations == [("read_card_bas", 0), ("debit", 0), ("check_mac2", 0)]
    assert [(e["code"], e["debited"]) for e in _audit(counter_log)] == [(0, False)]


def test_a_wrong_mac2_is_not_paid_and_the_answer_says_the_card_debited(tmp_path: Path) -> None:
    counter_log = tmp_path / "counter.log"

    async def scenario() -> None:
        async with hsm_service() as url:
            client = HttpHsmClient(url, TOKEN)
            reader = slot(with_psam=False, card=WrongMac2(user_card(3)))
            async with counter(reader, hsm=client, audit=AuditLog(counter_log)) as (base, s, _):
                _, paid = await post(s, f"{base}/api/iDoDebit", {**BODY, "id": "inv-1"})
                assert paid["code"] == -25551  # 63CF: the PSAM's MAC2 failure (Part 9 §9.10)
                text = paid["pOutInfo"]
                assert text.startswith("MAC2 校验失败（HSM 63CF，MAC2 ")
                assert "the card HAS DEBITED the purse (purchase sequence 0000)" in text
                settle = "03|00B5|000004D200000000|2|000000000000|00000001|20240601103000|"
                tail = re.escape(f"settle it by its TAC (S3 App. C.7): {settle}")
                assert re.search(tail + r"[0-9A-F]{8}\|$", text)  # the one-call output
                _, again = await post(s, f"{base}/api/iDoDebit", {**BODY, "id": "inv-1"})
                assert again == paid  # asked again: the same answer, no second debit
                _, records = await post(s, f"{base}/api/iReadDebitRecord", {"iType": 1})
                assert records["pOutInfo"].count("12.34") == 1  # the card did debit

    run(scenario())
    lines = _audit(counter_log)
    assert [(e["function"], e["code"], e["debited"]) for e in lines] == [
        ("iDoDebit", -25551, True),
        ("iDoDebit", -25551, True),
        ("iReadDebitRecord", 0, False),
    ]
    assert all(e["hsm"] for e in lines[:2])


def test_the_psam_answers_the_same_code_for_the_same_wrong_mac2() -> None:
    """The one-call iDoDebit with a PSAM: CREDIT SAM FOR PURCHASE refuses the MAC2 (63CF);
    a terminal's in-process HSM module, standing in for the PSAM, refuses it alike."""
    national = slot(card=WrongMac2(user_card(3))).national
    code, text = national.iDoDebit(**BODY)  # type: ignore[arg-type]
    assert code == -25551
    assert text.startswith("MAC2 校验失败（psam 63CF，CREDIT SAM FOR PURCHASE")
    assert "the card HAS DEBITED the purse (purchase sequence 0000)" in text
    settle = "03|00B5|000004D200000000|2|"
    assert re.search(re.escape(f"(S3 App. C.7): {settle}") + r"\d{12}\|00000001\|", text)
    assert national.iReadDebitRecord(1)[1].count("12.34") == 1  # the card did debit
    term = terminal(WrongMac2(user_card(3)), key_service=SoftwareKeyService())  # type: ignore[arg-type]
    with pytest.raises(UnconfirmedPurchaseError) as refused, term.session() as conn:
        purse.purchase(conn, account=0, self_paid=1234, pooled=0)
    assert (refused.value.sw, refused.value.device) == (0x63CF, "HSM")
    # what a caller prints or logs (the purse CLI's one line) says the card debited
    tac = refused.value.result.tac.hex().upper()
    assert str(refused.value).startswith("HSM answered 63CF to MAC2 check (")
    assert f"the card HAS DEBITED the purse (purchase sequence 0000, TAC {tac})" in str(
        refused.value
    )


def test_the_psam_mode_refusal_is_audited_as_debited(tmp_path: Path) -> None:
    counter_log = tmp_path / "counter.log"

    async def scenario() -> None:
        reader = slot(card=WrongMac2(user_card(3)))
        async with counter(reader, audit=AuditLog(counter_log)) as (base, s, _):
            _, paid = await post(s, f"{base}/api/iDoDebit", BODY)
            assert paid["code"] == -25551 and "HAS DEBITED" in paid["pOutInfo"]
            _, read = await post(s, f"{base}/api/iReadCardBas", {"iType": 1})
            assert read["code"] == 0

    run(scenario())
    entries = [(e["function"], e["code"], e["debited"], e["hsm"]) for e in _audit(counter_log)]
    assert entries == [("iDoDebit", -25551, True, False), ("iReadCardBas", 0, False, False)]


def test_an_hsm_that_cannot_check_mac2_leaves_the_purchase_unconfirmed() -> None:
    """The HSM service's rate limit lets read_card_bas and debit through, then refuses."""
    access = ClientAccess(tokens=frozenset({TOKEN}), rate=0.001, burst=2)

    def app() -> object:
        return hsm_app(HsmService(HsmHost(SoftwareKeyService())), access, AuditLog(None))

    async def scenario() -> None:
        async with hsm_service(app) as url:
            client = HttpHsmClient(url, TOKEN)
            async with counter(slot(with_psam=False), hsm=client) as (base, s, _):
                _, paid = await post(s, f"{base}/api/iDoDebit", BODY)
                assert paid["code"] == -5 and "HTTP 429" in paid["pOutInfo"]
                assert "could not be checked" in paid["pOutInfo"]
                assert "the card HAS DEBITED the purse" in paid["pOutInfo"]

    run(scenario())
