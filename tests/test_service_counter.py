"""The counter service over real loopback sockets: HTTP, WebSocket, the HSM fallback,
access control, bad input, one transaction per reader, the audit log."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from aiohttp import ClientSession, ClientTimeout, WSMsgType, web
from service_support import TOKEN, PulledAt, counter, hsm_service, post, run, slot
from terminal_support import CARD_INFO, PIN, user_card

from sbkcard.cli import main
from sbkcard.service.access import ClientAccess
from sbkcard.service.audit import AuditLog
from sbkcard.service.hsm_client import HttpHsmClient
from sbkcard.service.hsm_server import hsm_app
from sbkcard.service.hsm_service import HsmService
from sbkcard.service.protocol import FUNCTIONS
from sbkcard.simulator import load_image
from sbkcard.terminal.national.interface import NationalInterface
from sbkcard.terminal.operations.pinpad import CallbackPinPad
from sbkcard.terminal.security.hsm import SoftwareKeyService
from sbkcard.terminal.security.hsm_host import HsmHost

PAY = "12.34|0.00|20240601103000|"


def direct(generation: int = 3, function: str = "iReadCardBas", **args: object) -> tuple[int, str]:
    """The same call on the library directly (a fresh demo card and PSAM)."""
    national = slot(generation=generation).national
    result: tuple[int, str] = getattr(national, function)(**args)
    return result


def test_every_public_national_function_is_served() -> None:
    names = {n for n in dir(NationalInterface) if n.startswith("i") and n[1].isupper()}
    assert names <= set(FUNCTIONS) and len(names) == 23
    assert all(not n.startswith("_") for n in FUNCTIONS)
    assert FUNCTIONS["iDoDebit"].parameters == {"iType": int, "pCardInfo": str, "pPayInfo": str}


@pytest.mark.parametrize("generation", [2, 3])
def test_http_answers_the_library_string(generation: int) -> None:
    async def scenario() -> None:
        async with counter(slot(generation=generation)) as (base, session, _):
            status, body = await post(session, f"{base}/api/iReadCardBas", {"iType": 1, "id": 9})
            assert status == 200
            assert body == {
                "id": 9,
                "function": "iReadCardBas",
                "code": 0,
                "pOutInfo": direct(generation, iType=1)[1],
            }

    run(scenario())


def test_websocket_purchase_and_records() -> None:
    async def scenario() -> None:
        async with counter() as (base, session, _), session.ws_connect(f"{base}/") as ws:
            await ws.send_json(
                {
                    "function": "iDoDebit",
                    "iType": 1,
                    "id": "a",
                    "pCardInfo": CARD_INFO,
                    "pPayInfo": PAY,
                }
            )
            paid = await ws.receive_json()
            assert paid["id"] == "a" and paid["code"] == 0, paid
            fields = paid["pOutInfo"].split("|")
            assert len(fields) == 9 and fields[2] == f"{1234:08X}{0:08X}"
            await ws.send_json({"function": "iReadDebitRecord", "iType": 1, "id": "b"})
            records = await ws.receive_json()
            assert records["code"] == 0
            assert "|12.34|0.00|" in records["pOutInfo"].replace("^", "|")

    run(scenario())


def test_a_purchase_is_recovered_by_its_id_not_debited_twice() -> None:
    async def scenario() -> None:
        async with counter() as (base, session, _):
            body = {"iType": 1, "id": "invoice-17", "pCardInfo": CARD_INFO, "pPayInfo": PAY}
            _, first = await post(session, f"{base}/api/iDoDebit", body)
            _, again = await post(session, f"{base}/api/iDoDebit", body)
            assert first["code"] == 0 and again == first
            _, records = await post(session, f"{base}/api/iReadDebitRecord", {"iType": 1})
            assert records["pOutInfo"].count("12.34") == 1

    run(scenario())


def test_a_client_gone_mid_purchase_leaves_the_card_down_and_the_answer_kept() -> None:
    reader = slot()

    def slow_pin(prompt: object) -> str:
        time.sleep(0.5)  # the cardholder types slowly; the HIS gives up meanwhile
        return PIN

    reader.terminal.pinpad = CallbackPinPad(slow_pin)  # type: ignore[arg-type]

    async def scenario() -> None:
        async with counter(reader) as (base, session, _):
            body = {"iType": 1, "id": "inv-9", "pCardInfo": CARD_INFO, "pPayInfo": PAY}
            with pytest.raises(asyncio.TimeoutError):
                await post(session, f"{base}/api/iDoDebit", body, timeout=ClientTimeout(total=0.1))
            await asyncio.sleep(1.0)
            assert reader.terminal.card_reader.powered is False  # type: ignore[attr-defined]
            _, again = await post(session, f"{base}/api/iDoDebit", body)
            assert again["code"] == 0
            _, records = await post(session, f"{base}/api/iReadDebitRecord", {"iType": 1})
            assert records["pOutInfo"].count("12.34") == 1

    run(scenario())


def test_hsm_fallback_without_a_psam_is_one_call() -> None:
    async def scenario() -> None:
        async with hsm_service() as hsm_url:
            client = HttpHsmClient(hsm_url, TOKEN)
            async with counter(slot(with_psam=False), hsm=client) as (base, session, _):
                _, basic = await post(session, f"{base}/api/iReadCardBas", {"iType": 1})
                assert basic["code"] == 0
                expected = direct(iType=1)[1].split("|")
                got = basic["pOutInfo"].split("|")
                assert got[:9] == expected[:9] and got[9] == "000000000000"
                body = {"iType": 1, "pCardInfo": CARD_INFO, "pPayInfo": PAY}
                _, paid = await post(session, f"{base}/api/iDoDebit", body)
                assert paid["code"] == 0, paid
                assert len(paid["pOutInfo"].split("|")) == 9  # iDoDebit's shape, no MAC2
                _, off = await post(session, f"{base}/api/iReadCardBas", {"iType": 1, "hsm": False})
                assert off["code"] == -2201

    run(scenario())


@pytest.mark.parametrize(
    ("function", "args"),
    [
        ("iDoDebit", {"pCardInfo": CARD_INFO, "pPayInfo": PAY}),
        ("iUnblockPIN", {"pCardInfo": CARD_INFO}),
        ("iReloadPIN", {"pCardInfo": CARD_INFO}),
        ("iReadCard", {"iAuthType": 2, "pCardInfo": CARD_INFO, "pFileAddr": "DF04EF05|81|84|$"}),
    ],
)
def test_hsm_fallback_of_the_keyed_functions(function: str, args: dict[str, object]) -> None:
    """On a card the counter has not read yet: its facts are read through the HSM first."""

    async def scenario() -> None:
        async with hsm_service() as hsm_url:
            client = HttpHsmClient(hsm_url, TOKEN)
            async with counter(slot(with_psam=False), hsm=client) as (base, session, _):
                _, out = await post(session, f"{base}/api/{function}", {"iType": 1, **args})
                assert out["code"] == 0, out
                _, verify = await post(session, f"{base}/api/iVerifyPIN", {"iType": 1})
                assert verify["code"] == 0

    run(scenario())


def test_hsm_down_or_answering_garbage_is_a_code_and_the_card_is_released() -> None:
    async def garbage(_request: web.Request) -> web.Response:
        return web.Response(text="<html>nope</html>")

    def garbage_app() -> web.Application:
        app = web.Application()
        app.router.add_post("/hsm/{operation}", garbage)
        return app

    async def scenario() -> None:
        async with hsm_service(garbage_app) as bad_url:
            for client, code, cause in [
                (HttpHsmClient("http://127.0.0.1:9", TOKEN, timeout=2), -5, "unreachable"),
                (HttpHsmClient(bad_url, TOKEN), -23, "malformed answer"),
                (HttpHsmClient(bad_url.replace("127.0.0.1", "127.0.0.1"), "wrong"), -23, "mal"),
            ]:
                async with counter(slot(with_psam=False), hsm=client) as (base, session, svc):
                    _, body = await post(session, f"{base}/api/iReadCardBas", {"iType": 1})
                    assert body["code"] == code and cause in body["pOutInfo"]
                    assert svc.readers["default"].terminal.card_reader.powered is False  # type: ignore[attr-defined]
                    assert svc.status()["readers"][0]["busy"] is False

    run(scenario())


def test_a_wrong_hsm_token_is_refused() -> None:
    async def scenario() -> None:
        async with hsm_service() as hsm_url:
            client = HttpHsmClient(hsm_url, "not-the-token")
            async with counter(slot(with_psam=False), hsm=client) as (base, session, _):
                _, body = await post(session, f"{base}/api/iReadCardBas", {"iType": 1})
                assert body["code"] == -5 and "HTTP 401" in body["pOutInfo"]

    run(scenario())


@pytest.mark.parametrize(
    ("body", "code", "cause"),
    [
        (b"{not json", -14, "malformed JSON"),
        (b"[1, 2]", -14, "JSON object"),
        (b'{"iType": "1"}', -14, "'iType' must be an integer"),
        (b"{}", -14, "missing parameter 'iType'"),
        (b'{"iType": 1, "extra": 2}', -14, "unknown parameter(s) extra"),
        (b'{"iType": 1, "pin": "123456"}', -14, "a PIN is never sent"),
        (b'{"iType": true}', -14, "must be an integer"),
        (b'{"iType": 1, "reader": "nowhere"}', -11, "no reader 'nowhere'"),
    ],
)
def test_bad_input_gets_a_national_code_naming_the_cause(
    body: bytes, code: int, cause: str
) -> None:
    async def scenario() -> None:
        async with counter() as (base, session, _):
            async with session.post(f"{base}/api/iReadCardBas", data=body) as response:
                answer = await response.json()
            assert answer["code"] == code and cause in answer["pOutInfo"], answer

    run(scenario())


def test_unknown_function_and_oversized_message() -> None:
    async def scenario() -> None:
        async with counter(max_message=1024) as (base, session, _):
            status, answer = await post(session, f"{base}/api/iFormatDisk", {"iType": 1})
            assert (status, answer["code"]) == (404, -13) and "iFormatDisk" in answer["pOutInfo"]
            big = {"iType": 1, "id": "x" * 2000}
            status, answer = await post(session, f"{base}/api/iReadCardBas", big)
            assert (status, answer["code"]) == (413, -14)
            async with session.ws_connect(f"{base}/ws") as ws:
                await ws.send_str(json.dumps({"function": "iNope", "id": 1}))
                answer = await ws.receive_json()
                assert answer["code"] == -13 and answer["id"] == 1
                await ws.send_str(json.dumps(big | {"function": "iReadCardBas"}))
                closing = await ws.receive()
                assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR)

    run(scenario())


def test_origin_allowlist_and_token() -> None:
    async def scenario() -> None:
        access = ClientAccess(origins=frozenset({"http://his.example"}), tokens=frozenset({TOKEN}))
        async with counter(access=access) as (base, session, _):
            url = f"{base}/api/iReadCardBas"
            auth = {"Authorization": f"Bearer {TOKEN}"}
            evil = {"Origin": "http://attacker.example", **auth}
            status, answer = await post(session, url, {"iType": 1}, headers=evil)
            assert status == 403 and "attacker.example" in answer["pOutInfo"]
            status, _ = await post(session, url, {"iType": 1})
            assert status == 401
            good = {"Origin": "http://his.example", **auth}
            async with session.post(url, json={"iType": 1}, headers=good) as response:
                assert response.status == 200
                assert response.headers["Access-Control-Allow-Origin"] == "http://his.example"
            with pytest.raises(Exception, match="403"):
                await session.ws_connect(
                    f"{base}/ws?token={TOKEN}", headers={"Origin": "http://attacker.example"}
                )
            async with session.ws_connect(
                f"{base}/ws?token={TOKEN}", origin="http://his.example"
            ) as ws:
                await ws.send_json({"function": "iReadCardBas", "iType": 1})
                assert (await ws.receive_json())["code"] == 0

    run(scenario())


def test_rate_limit_per_client() -> None:
    async def scenario() -> None:
        async with counter(access=ClientAccess(rate=0.01, burst=2)) as (base, session, _):
            codes = [
                (await post(session, f"{base}/api/iReadCardBas", {"iType": 1}))[0] for _ in range(3)
            ]
            assert codes == [200, 200, 429]

    run(scenario())


def test_one_transaction_per_reader_others_wait_then_busy() -> None:
    async def scenario() -> None:
        options = {"busy_timeout": 5.0, "hold_timeout": 0.2}
        async with counter(slot("a"), slot("b"), **options) as (base, session, _):
            url = f"{base}/api/iReadCardBas_HSM_Step1"
            _, step1 = await post(session, url, {"iType": 1, "reader": "a"})
            assert step1["code"] == 0  # the reader is kept for this client's step 2
            async with session.ws_connect(f"{base}/ws") as other:
                await other.send_json({"function": "iReadCardBas", "iType": 1, "reader": "a"})
                await other.send_json({"function": "iReadCardBas", "iType": 1, "reader": "b"})
                answers = {(await other.receive_json())["code"] for _ in range(2)}
            assert answers == {0}  # reader b at once; reader a after the hold expired
        options = {"busy_timeout": 0.3, "hold_timeout": 5.0}
        async with counter(slot("a"), **options) as (base, session, svc):
            async with (
                session.ws_connect(f"{base}/ws") as one,
                session.ws_connect(f"{base}/ws") as two,
            ):
                await one.send_json(
                    {"function": "iReadCardBas_HSM_Step1", "iType": 1, "reader": "a"}
                )
                assert (await one.receive_json())["code"] == 0
                await two.send_json(
                    {"function": "iReadCardBas", "iType": 1, "reader": "a", "id": 2}
                )
                busy = await two.receive_json()
                assert busy["code"] == -11 and "busy" in busy["pOutInfo"]
                await one.close()  # leaving mid-transaction powers the card down
                await asyncio.sleep(0.1)
                await two.send_json({"function": "iReadCardBas", "iType": 1, "reader": "a"})
                assert (await two.receive_json())["code"] == 0
            assert svc.readers["a"].terminal.card_reader.powered is False  # type: ignore[attr-defined]

    run(scenario())


def test_a_card_pulled_mid_purchase_is_not_reported_paid() -> None:
    async def scenario() -> None:
        chip = user_card(3)
        pulled = PulledAt(chip, 0x2C)  # DEBIT FOR PURCHASE (Part 7 §14)
        async with counter(slot("a", card=pulled), slot("b")) as (base, session, _):
            body = {"iType": 1, "pCardInfo": CARD_INFO, "pPayInfo": PAY, "reader": "a"}
            _, paid = await post(session, f"{base}/api/iDoDebit", body)
            assert paid["code"] in (-2, -4) and "DEBIT FOR PURCHASE" in paid["pOutInfo"]
            _, other = await post(session, f"{base}/api/iReadCardBas", {"iType": 1, "reader": "b"})
            assert other["code"] == 0
            chip.insert()
            _, records = await post(
                session, f"{base}/api/iReadDebitRecord", {"iType": 1, "reader": "a"}
            )
            assert records["code"] == 0 and "12.34" not in records["pOutInfo"]

    run(scenario())


def test_status_and_openapi() -> None:
    async def scenario() -> None:
        async with counter(slot("a"), slot("b", with_psam=False)) as (base, session, _):
            async with session.get(f"{base}/api/status") as response:
                status = await response.json()
            assert [(r["name"], r["card"], r["psam"]) for r in status["readers"]] == [
                ("a", True, True),
                ("b", True, False),
            ]
            assert "iDoDebit" in status["functions"]
            async with session.get(f"{base}/api/openapi.json") as response:
                document = await response.json()
            schema = document["paths"]["/api/iReadCard"]["post"]["requestBody"]["content"]
            required = schema["application/json"]["schema"]["required"]
            assert required == ["iType", "iAuthType", "pCardInfo", "pFileAddr"]
            _, answer = await post(session, f"{base}/api/iReadCardBas", {"iType": 1})
            assert answer["code"] == -11 and "name one" in answer["pOutInfo"]

    run(scenario())


def test_audit_log_has_one_line_per_call_and_no_secret(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"

    async def scenario() -> None:
        async with counter(audit=AuditLog(path)) as (base, session, _):
            await post(session, f"{base}/api/iVerifyPIN", {"iType": 1})
            body = {"iType": 1, "pCardInfo": CARD_INFO, "pPayInfo": PAY}
            _, paid = await post(session, f"{base}/api/iDoDebit", body)
            assert paid["code"] == 0

    run(scenario())
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(e["function"], e["code"]) for e in lines] == [("iVerifyPIN", 0), ("iDoDebit", 0)]
    assert lines[1]["card"] == CARD_INFO.split("|")[1] and lines[1]["ms"] > 0
    keys = {"time", "client", "reader", "function", "code", "card", "hsm", "debited", "ms"}
    assert all(set(entry) == keys for entry in lines)  # no pOutInfo, PIN, key or TAC
    assert all(PIN not in str(value) for entry in lines for value in entry.values())


def test_hsm_service_checks_token_rate_and_audits(tmp_path: Path) -> None:
    log = tmp_path / "hsm.log"

    def app() -> web.Application:
        host = HsmService(HsmHost(SoftwareKeyService()))
        access = ClientAccess(tokens=frozenset({TOKEN}), rate=0.01, burst=2)
        return hsm_app(host, access, AuditLog(log))

    async def scenario() -> None:
        async with hsm_service(app) as url, ClientSession() as session:
            auth = {"Authorization": f"Bearer {TOKEN}"}
            body = {"step": "garbage", "card": None}
            statuses = []
            for headers in ({}, auth, auth, auth):
                async with session.post(
                    f"{url}/hsm/read_card_bas", json=body, headers=headers
                ) as r:
                    statuses.append((r.status, (await r.json())["code"]))
            assert statuses == [(401, -11), (200, -14), (200, -14), (429, -11)]

    run(scenario())
    audit = [json.loads(line) for line in log.read_text().splitlines()]
    assert [a["status"] for a in audit] == [401, 200, 200, 429]
    assert all("step" not in a for a in audit)


def test_pki_signing_takes_the_pin_from_the_pad_never_from_the_request(tmp_path: Path) -> None:
    """PKI_SignData's pUserPin (LD/T 6001.5-2023 §7) is typed on the counter's PIN pad."""
    image = tmp_path / "card3.json"
    assert main(["card", "new", "--profile", "3", "--out", str(image)]) == 0
    reader = slot(card=load_image(image))

    async def scenario() -> None:
        async with counter(reader) as (base, session, _):
            body = {"iType": 1, "pInData": "处方 0001"}
            _, signed = await post(session, f"{base}/api/PKI_SignData", body)
            assert signed["code"] == 0, signed
            signature = signed["pOutInfo"].rstrip("|")
            assert len(signature) == 128
            verify = {"iType": 1, "pCert": "", "pClearText": "处方 0001", "pSignature": signature}
            _, verified = await post(session, f"{base}/api/PKI_VerifySign", verify)
            assert verified["code"] == 0, verified
            _, refused = await post(session, f"{base}/api/PKI_SignData", {**body, "pUserPin": PIN})
            assert refused["code"] == -14 and "never sent" in refused["pOutInfo"]

    run(scenario())
