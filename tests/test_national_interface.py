"""The national reader interface's PSAM functions: exact strings and codes (S3 §1–§9, App. A)."""

from __future__ import annotations

import re

import pytest
from terminal_support import (
    CARD_ID,
    CARD_INFO,
    CARD_NUMBER,
    ScriptedPad,
    psam,
    terminal,
    user_card,
)

from sbkcard.applet_model.user_card import PROFILES
from sbkcard.applet_model.user_card.personalise import DEMO_CARD_ID, card_atr
from sbkcard.identifiers.atr import historical_bytes
from sbkcard.terminal.national.interface import NationalInterface, fields, parse_amount, yuan
from sbkcard.terminal.operations.pinpad import PinPrompt
from sbkcard.terminal.security.hsm import SoftwareKeyService
from sbkcard.terminal.security.hsm_host import CardFacts, HsmHost

# S3 §1.1.2: 区号|社会保障号码|卡号|卡识别码|姓名|卡复位信息|规范版本|发卡日期|卡有效期|
# 终端机编号|终端设备号|  (every field '|'-terminated)
BASIC = re.compile(
    r"^(\d{6})\|([0-9X]{18})\|(\w{9})\|([0-9A-F]{32})\|([^|]+)\|([0-9A-F]+)\|(\d\.\d\d)\|"
    r"(\d{8})\|(\d{8})\|(\d{12})\|([^|]*)\|$"
)


def history(generation: int) -> str:
    return historical_bytes(card_atr(PROFILES[generation], DEMO_CARD_ID)).hex().upper()


@pytest.mark.parametrize("generation", [2, 3])
def test_read_card_bas_exact_string(generation: int) -> None:
    national = NationalInterface(terminal(user_card(generation), psam_card=psam()))
    code, out = national.iReadCardBas(1)
    assert code == 0
    assert out == (
        f"410100|410102199003071230|{CARD_NUMBER}|{CARD_ID}|张三|{history(generation)}|"
        f"{generation}.00|20240101|20340101|410100000001||"
    )
    assert BASIC.match(out)


def test_the_standards_own_example_has_the_same_shape() -> None:
    example = (
        "639900|111111198101011110|X00000019|639900D15600000500BF7C7A48FB4966|张三|"
        "00814E43238697159900BF7C7A|1.00|20101001|20201001|410100813475||"
    )
    assert BASIC.match(example)
    facts = CardFacts.from_basic(example)
    assert facts.card_id == "639900D15600000500BF7C7A48FB4966"
    assert facts.history == bytes.fromhex("00814E43238697159900BF7C7A")


def test_terminal_number_comes_from_the_psam() -> None:
    national = NationalInterface(
        terminal(user_card(2), psam_card=psam(terminal_number="410100813475"))
    )
    code, out = national.iReadCardBas(3)
    assert code == 0 and out.split("|")[9] == "410100813475"


def test_device_number() -> None:
    term = terminal(user_card(2), psam_card=psam())
    term.device_number = "DCZ91201015033"
    assert NationalInterface(term).iReadCardBas(1)[1].endswith("|410100000001|DCZ91201015033|")


@pytest.mark.parametrize("generation", [2, 3])
def test_read_and_write_card(generation: int) -> None:
    national = NationalInterface(terminal(user_card(generation), psam_card=psam(2)))
    # S3 §2.1.2's example: the output is shaped exactly like the address
    assert national.iWriteCard(1, CARD_INFO, "DF01EF0A|37|$", "DF01EF0A|CHN|$") == (0, "")
    assert national.iReadCard(1, 2, CARD_INFO, "DF01EF0A|37|$") == (0, "DF01EF0A|CHN|$")
    code, out = national.iReadCard(1, 1, CARD_INFO, "DF01EF0A|37|$DF04EF05|8F|$SSSEEF06|09|$")
    assert (code, out) == (0, "DF01EF0A|CHN|$DF04EF05|2|$SSSEEF06|张三|$")


def test_write_of_a_cos_file_is_refused() -> None:
    national = NationalInterface(terminal(user_card(2), psam_card=psam()))
    code, text = national.iWriteCard(1, CARD_INFO, "DF04EF08|$", "DF04EF08|1^2^3^4^5^6^7^|$")
    assert code == -14 and "COS" in text


@pytest.mark.parametrize(
    ("card_info", "code"),
    [
        ("410100D15600000500000001FFFFFFF|A00000011|", -20),  # 31 hex characters
        ("410100D15600000500000001FFFFFFZZ|A00000011|", -20),
        (f"{CARD_ID}|A00000011", -14),  # no trailing '|'
        (f"{CARD_ID}|B00000012|", -22),  # another card
        ("410100D15600000500000002FFFFFFFF|A00000011|", -22),
    ],
)
def test_card_info_is_checked(card_info: str, code: int) -> None:
    national = NationalInterface(terminal(user_card(2), psam_card=psam()))
    assert national.iReadCard(1, 1, card_info, "DF04EF05|81|$")[0] == code


@pytest.mark.parametrize(("i_type", "code"), [(0, -14), (5, -14), (2, -1), (3, 0), (4, 0)])
def test_i_type(i_type: int, code: int) -> None:
    national = NationalInterface(terminal(user_card(2), psam_card=psam()))
    assert national.iReadCardBas(i_type)[0] == code


def test_bad_file_address_and_auth_type() -> None:
    national = NationalInterface(terminal(user_card(2), psam_card=psam()))
    assert national.iReadCard(1, 1, CARD_INFO, "DF04EF05|81|")[0] == -14
    assert national.iReadCard(1, 3, CARD_INFO, "DF04EF05|81|$")[0] == -14
    assert national.iReadCard(1, 1, CARD_INFO, "DF04EF05|55|$")[0] == -14


def test_pin_functions() -> None:
    pad = ScriptedPad(
        {
            PinPrompt.ENTER: ["123456", "654321"],
            PinPrompt.OLD: ["123456"],
            PinPrompt.NEW: ["654321"],
            PinPrompt.CONFIRM: ["654321"],
        }
    )
    national = NationalInterface(terminal(user_card(3), psam_card=psam(), pad=pad))
    assert national.iVerifyPIN(1) == (0, "")
    assert national.iChangePIN(1) == (0, "")
    assert national.iVerifyPIN(1) == (0, "")
    assert pad.asked == [
        PinPrompt.ENTER,
        PinPrompt.OLD,
        PinPrompt.NEW,
        PinPrompt.CONFIRM,
        PinPrompt.ENTER,
    ]
    assert national.iUnblockPIN(1, CARD_INFO) == (0, "")


@pytest.mark.parametrize("generation", [2, 3])
def test_debit_and_debit_records(generation: int) -> None:
    national = NationalInterface(terminal(user_card(generation), psam_card=psam()))
    code, out = national.iDoDebit(1, CARD_INFO, "12.50|30.00|20240601103000|")
    assert code == 0
    alg, address, amounts, kind, term_no, seq, when, tac = out.split("|")[:-1]
    assert alg == ("01" if generation == 2 else "03")
    assert address == "00B5"  # DTK, version 1 (S3 table B.2)
    assert amounts == f"{1250:08X}{3000:08X}" and kind == "2"
    assert term_no == "410100000001" and seq == "00000001" and when == "20240601103000"
    assert re.fullmatch(r"[0-9A-F]{8}", tac)
    facts = CardFacts(CARD_ID, bytes.fromhex(history(generation)))
    assert HsmHost(SoftwareKeyService()).check_tac(out, facts)  # the settlement check, App. C.7
    assert national.iDoDebit(1, CARD_INFO, "0.99|1.01|20240602080000|")[0] == 0
    code, records = national.iReadDebitRecord(1)
    assert code == 0
    assert records == (
        "1^410100000001^20240602080000^0.99^1.01^|0^410100000001^20240601103000^12.50^30.00^|"
    )


@pytest.mark.parametrize(
    "pay_info",
    [
        "12.5|30.00|",
        "12.505|30.00|20240601103000|",
        "-1.00|30.00|20240601103000|",
        "42949672.96|0|20240601103000|",
        "1.00|1.00|2024060110300|",
        "1.00|1.00|20241301103000|",
    ],
)
def test_bad_pay_info(pay_info: str) -> None:
    national = NationalInterface(terminal(user_card(2), psam_card=psam()))
    assert national.iDoDebit(1, CARD_INFO, pay_info)[0] == -14


def test_amounts() -> None:
    assert parse_amount("42949672.95", "x") == 0xFFFFFFFF
    assert parse_amount("12.5", "x") == 1250 and parse_amount("7", "x") == 700
    assert yuan(1250) == "12.50" and yuan(5) == "0.05" and yuan(0) == "0.00"
    assert fields("a", "", "c") == "a||c|"


def test_an_empty_debit_record_list() -> None:
    national = NationalInterface(terminal(user_card(2), psam_card=psam()))
    assert national.iReadDebitRecord(1) == (0, "")
