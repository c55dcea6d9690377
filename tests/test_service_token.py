"""``sbkcard hsm serve`` over a PKCS#11 token (SoftHSM2 made here): the DES national roots
stay in the token, and the counter's HSM fallback reads and debits a card through it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pkcs11
import pytest
from service_support import (
    HSM_TOKEN_ENV,
    TOKEN,
    CliServer,
    WrongMac2,
    counter,
    free_port,
    post,
    run,
    slot,
)
from softhsm_support import softhsm_tokens
from terminal_support import CARD_INFO, user_card

from sbkcard.keys import Algorithm
from sbkcard.keys.hierarchy import demo_keyset
from sbkcard.keys.pkcs11_store import SOFTHSM2_MODULE, Pkcs11Store
from sbkcard.keys.store import KeyAlgorithm, root_label
from sbkcard.service.hsm_client import HttpHsmClient
from sbkcard.terminal.security.hsm import SoftwareKeyService
from sbkcard.terminal.security.hsm_host import CardFacts, HsmHost

pytestmark = pytest.mark.hsm

LABEL = "sbkcard-holder-db"
PIN = "864209"
ROOTS = ("IRK", "DPK")  # internal authentication (S3 §1.2), purchase MAC1/MAC2 (S3 §8.2)
BODY = {"iType": 1, "pCardInfo": CARD_INFO, "pPayInfo": "12.34|0.00|20240601103000|"}


@pytest.fixture(scope="module")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(SOFTHSM2_CONF, PIN file) of a token holding the demo DES roots a read and a
    purchase need, non-extractable (each import takes a while on SoftHSM2).
    The library is loaded here only to fill the token, then finalised: the service runs
    in its own process."""
    root = tmp_path_factory.mktemp("holder-hsm")
    with softhsm_tokens(root, PIN, LABEL) as conf:
        pkcs11.lib(SOFTHSM2_MODULE).reinitialize()
        with Pkcs11Store(LABEL, PIN) as store:
            for name in ROOTS:
                key = bytearray(demo_keyset(Algorithm.DES).roots[name])
                store.put(root_label(Algorithm.DES, name), key, KeyAlgorithm.DES)
            assert not any(info.extractable for info in store.list_keys())
        pkcs11.lib(SOFTHSM2_MODULE).finalize()
    pin_file = root / "pin"
    pin_file.write_text(PIN + "\n", encoding="utf-8")
    yield conf, pin_file


@pytest.fixture(scope="module")
def token_hsm(
    softhsm: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """``sbkcard hsm serve --keys pkcs11:token=…`` running: (its URL, its audit log)."""
    conf, pin_file = softhsm
    logs = tmp_path_factory.mktemp("holder-hsm-logs")
    port = free_port()
    server = CliServer(
        logs / "hsm.out",
        "hsm",
        "serve",
        "--keys",
        f"pkcs11:token={LABEL};module={SOFTHSM2_MODULE}",
        "--passphrase-file",
        str(pin_file),
        "--port",
        str(port),
        "--log-file",
        str(logs / "audit.log"),
        env={**HSM_TOKEN_ENV, "SOFTHSM2_CONF": str(conf)},
    )
    try:
        yield f"http://127.0.0.1:{port}", logs / "audit.log"
    finally:
        assert server.stop() == 0, server.output()


def _operations(audit: Path) -> list[tuple[str, int]]:
    return [(e["operation"], e["code"]) for e in map(json.loads, audit.read_text().splitlines())]


def test_a_fallback_read_and_purchase_through_the_token(token_hsm: tuple[str, Path]) -> None:
    url, audit = token_hsm
    before = len(_operations(audit))
    reader = slot(generation=2, with_psam=False)

    async def scenario() -> None:
        async with counter(reader, hsm=HttpHsmClient(url, TOKEN)) as (base, session, _):
            async with session.get(f"{url}/hsm/status") as status:
                assert (await status.json())["algorithms"] == ["DES/3DES"]  # PKCS#11 has no SM4
            _, basic = await post(session, f"{base}/api/iReadCardBas", {"iType": 1})
            assert basic["code"] == 0, basic
            with_psam = slot(generation=2).national.iReadCardBas(1)[1].split("|")
            fields = basic["pOutInfo"].split("|")
            assert fields[:9] == with_psam[:9] and fields[9] == "000000000000"
            _, paid = await post(session, f"{base}/api/iDoDebit", BODY)
            assert paid["code"] == 0, paid
            # The token's answers are the demo roots' answers: the TAC settles under them.
            facts = CardFacts.from_basic(basic["pOutInfo"])
            assert HsmHost(SoftwareKeyService()).check_tac(paid["pOutInfo"], facts)

    run(scenario())
    assert _operations(audit)[before:] == [
        ("read_card_bas", 0),
        ("debit", 0),
        ("check_mac2", 0),
    ]


def test_the_token_refuses_a_wrong_mac2_and_sm4_cards(token_hsm: tuple[str, Path]) -> None:
    url, _audit = token_hsm
    forged = slot(generation=2, with_psam=False, card=WrongMac2(user_card(2)))

    async def scenario() -> None:
        client = HttpHsmClient(url, TOKEN)
        async with counter(forged, hsm=client) as (base, session, _):
            _, paid = await post(session, f"{base}/api/iDoDebit", BODY)
            assert paid["code"] == -25551 and "the card HAS DEBITED" in paid["pOutInfo"]
        async with counter(slot(generation=3, with_psam=False), hsm=client) as (base, session, _):
            _, basic = await post(session, f"{base}/api/iReadCardBas", {"iType": 1})
            assert basic["code"] == -23 and "the HSM holds no SM4 keys" in basic["pOutInfo"]

    run(scenario())
