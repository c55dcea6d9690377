"""The HSM two-step functions (S3 §1.2–§8.3, App. C), answered by a software HSM host."""

from __future__ import annotations

import re

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from terminal_support import CARD_ID, CARD_INFO, ScriptedPad, psam, terminal, user_card

from sbkcard.applet_model.user_card.purse import purchase_mac2, purchase_session_key
from sbkcard.keys import Algorithm
from sbkcard.keys.hierarchy import KeySet, demo_keyset, derive_card_keys
from sbkcard.service.hsm_service import HsmService
from sbkcard.simulator import SimulatedCard
from sbkcard.terminal.errors import InvalidInputError
from sbkcard.terminal.national.interface import NationalInterface
from sbkcard.terminal.operations.pinpad import PinPrompt
from sbkcard.terminal.security.hsm import SoftwareKeyService
from sbkcard.terminal.security.hsm_host import CardFacts, HsmHost

HEX16 = r"[0-9A-F]{16}"


def setup(generation: int) -> tuple[SimulatedCard, NationalInterface, HsmHost, CardFacts]:
    card = user_card(generation)
    national = NationalInterface(terminal(card))
    host = HsmHost(SoftwareKeyService())
    code, step1 = national.iReadCardBas_HSM_Step1(1)
    assert code == 0
    code, basic = national.iReadCardBas_HSM_Step2(host.read_card_bas(step1))
    assert code == 0
    return card, national, host, CardFacts.from_basic(basic)


@pytest.mark.parametrize("generation", [2, 3])
def test_read_card_bas_in_two_steps(generation: int) -> None:
    national = NationalInterface(terminal(user_card(generation)))
    assert national.iReadCardBas(1)[0] == -2201  # no PSAM: the business system falls back
    code, step1 = national.iReadCardBas_HSM_Step1(1)
    assert code == 0
    parts = step1.split("|")
    assert parts[-1] == "" and len(parts) == 9
    region, history, alg, card_id, ia_factor, ia_original, ea_factor, ea_original = parts[:-1]
    assert (region, card_id) == ("410100", CARD_ID) and history.startswith("0081")
    assert alg == ("01" if generation == 2 else "03")
    assert re.fullmatch(HEX16, ia_factor) and re.fullmatch(HEX16, ia_original)
    if generation == 2:  # S3 §1.2.2: the external-auth fields are empty for non-3.0 cards
        assert ea_factor == ea_original == ""
    else:
        assert re.fullmatch(HEX16, ea_factor) and re.fullmatch(HEX16, ea_original)
    pkey = HsmHost(SoftwareKeyService()).read_card_bas(step1)
    internal, external, tail = pkey.split("|")
    assert tail == "" and re.fullmatch(r"[0-9A-F]{32}", internal)
    assert internal[16:] == ia_original and (external == "") == (generation == 2)
    code, basic = national.iReadCardBas_HSM_Step2(pkey)
    assert code == 0
    assert basic.split("|")[:5] == ["410100", "410102199003071230", "A00000011", CARD_ID, "张三"]
    assert basic.endswith(f"|{generation}.00|20240101|20340101|000000000000||")


def test_with_a_psam_in_the_reader_the_terminal_number_is_the_psams() -> None:
    national = NationalInterface(terminal(user_card(3), psam_card=psam()))
    code, step1 = national.iReadCardBas_HSM_Step1(1)
    code, basic = national.iReadCardBas_HSM_Step2(
        HsmHost(SoftwareKeyService()).read_card_bas(step1)
    )
    assert code == 0 and basic.split("|")[9] == "410100000001"


def test_without_a_psam_the_terminal_number_is_the_terminals_own() -> None:
    """S3 §1.3.2: the reader's configured 终端机编号 (zeros unless set) in HSM mode."""
    national = NationalInterface(terminal(user_card(3), terminal_number="410100000042"))
    host = HsmHost(SoftwareKeyService())
    _, step1 = national.iReadCardBas_HSM_Step1(1)
    code, basic = national.iReadCardBas_HSM_Step2(host.read_card_bas(step1))
    assert code == 0 and basic.split("|")[9] == "410100000042"
    code, step1 = national.iDoDebit_HSM_Step1(1, CARD_INFO, "1.00|0.00|20240601103000|")
    assert code == 0 and step1.split("|")[6] == "410100000042"
    code, out = national.iDoDebit_HSM_Step2(host.debit(step1, CardFacts.from_basic(basic)))
    assert code == 0 and out.split("|")[5] == "410100000042"


def test_a_wrong_hsm_answer_fails_the_card() -> None:
    national = NationalInterface(terminal(user_card(3)))
    _, step1 = national.iReadCardBas_HSM_Step1(1)
    forged = KeySet(Algorithm.SM4, dict(demo_keyset(Algorithm.SM4).roots, IRK=bytes(16)))
    code, text = national.iReadCardBas_HSM_Step2(
        HsmHost(SoftwareKeyService(forged)).read_card_bas(step1)
    )
    assert code == -21 and text.startswith("内部认证失败")
    # the session is closed: step 2 again is out of order
    assert national.iReadCardBas_HSM_Step2("00|00|")[0] == -12


def test_a_wrong_external_authentication() -> None:
    national = NationalInterface(terminal(user_card(3)))
    _, step1 = national.iReadCardBas_HSM_Step1(1)
    internal, _external, _ = HsmHost(SoftwareKeyService()).read_card_bas(step1).split("|")
    code, text = national.iReadCardBas_HSM_Step2(f"{internal}|{'00' * 16}|")
    assert code == -25538 and text.startswith("外部认证失败，剩余可尝试次数2次")


def test_steps_out_of_order() -> None:
    national = NationalInterface(terminal(user_card(2)))
    assert national.iReadCard_HSM_Step2("00" * 16)[0] == -12
    assert national.iReloadPIN_HSM_Step3("00" * 9)[0] == -12
    assert national.iReadCardBas_HSM_Step1(1)[0] == 0
    assert national.iDoDebit_HSM_Step2("00000001|20240601103000|00000000|")[0] == -12


@pytest.mark.parametrize("generation", [2, 3])
def test_read_and_write_card_in_two_steps(generation: int) -> None:
    _card, national, host, facts = setup(generation)
    code, step1 = national.iReadCard_HSM_Step1(1, CARD_INFO, "DF04EF05|81|84|$")
    alg, address, factor, original, tail = step1.split("|")
    assert code == 0 and address == "0182" and tail == ""  # RK1DF04 (S3 table B.1)
    assert alg == ("01" if generation == 2 else "03")
    assert re.fullmatch(HEX16, factor) and re.fullmatch(HEX16, original)
    assert national.iReadCard_HSM_Step2(host.authenticate(step1, facts)) == (
        0,
        "DF04EF05|31001100|410100|$",
    )
    code, step1 = national.iWriteCard_HSM_Step1(1, CARD_INFO, "DF01EF0A|37|$")
    assert code == 0 and step1.split("|")[1] == "009D"  # UK5DF01 (S3 table B.2)
    assert national.iWriteCard_HSM_Step2(host.authenticate(step1, facts), "DF01EF0A|CHN|$") == (
        0,
        "",
    )
    _, step1 = national.iReadCard_HSM_Step1(1, CARD_INFO, "DF01EF0A|37|$")
    assert national.iReadCard_HSM_Step2(host.authenticate(step1, facts)) == (0, "DF01EF0A|CHN|$")


def test_files_without_a_key_need_no_hsm() -> None:
    _card, national, _host, _facts = setup(2)
    code, text = national.iReadCard_HSM_Step1(1, CARD_INFO, "SSSEEF05|07|$")
    assert code == -2204 and text.startswith("不需要加密机认证")
    assert national.iReadCard_HSM_Step1(1, CARD_INFO, "DF04EF08|$")[0] == -2204  # PIN only


@pytest.mark.parametrize("generation", [2, 3])
def test_reload_and_unblock_pin_in_three_steps(generation: int) -> None:
    card = user_card(generation)
    pad = ScriptedPad(
        {
            PinPrompt.NEW: ["246810"],
            PinPrompt.CONFIRM: ["246810"],
            PinPrompt.ENTER: ["000000", "000000", "000000", "000000", "246810"],
        }
    )
    national = NationalInterface(terminal(card, pad=pad))
    host = HsmHost(SoftwareKeyService())
    _, step1 = national.iReadCardBas_HSM_Step1(1)
    _, basic = national.iReadCardBas_HSM_Step2(host.read_card_bas(step1))
    facts = CardFacts.from_basic(basic)

    code, step1 = national.iReloadPIN_HSM_Step1(1, CARD_INFO)
    assert code == 0 and step1.split("|")[1] == "0090"  # PUK (S3 table B.2)
    code, step2 = national.iReloadPIN_HSM_Step2(host.authenticate(step1, facts))
    alg, address, challenge, header, plain, tail = step2.split("|")
    assert code == 0 and address == "0173" and plain == "246810" and tail == ""
    assert alg == step1.split("|")[0] and re.fullmatch(HEX16, challenge)
    assert header == ("842400010C" if generation == 2 else "8424000114")  # S3 §6.4: 34/50 hex
    step3 = host.secure_message(step2, facts)
    assert len(step3) == (34 if generation == 2 else 50)
    assert national.iReloadPIN_HSM_Step3(step3) == (0, "")

    for _ in range(3):
        national.iVerifyPIN(1)
    assert national.iVerifyPIN(1) == (-52, "PIN锁定")
    _, step1 = national.iUnblockPIN_HSM_Step1(1, CARD_INFO)
    code, step2 = national.iUnblockPIN_HSM_Step2(host.authenticate(step1, facts))
    assert code == 0 and step2.split("|")[3:] == ["8424000004", "", ""]
    step3 = host.secure_message(step2, facts)
    assert len(step3) == 18  # S3 §7.4.2: header and MAC, 18 hex characters
    assert national.iUnblockPIN_HSM_Step3(step3) == (0, "")
    assert national.iVerifyPIN(1) == (0, "")


def test_a_wrong_secure_message_is_refused() -> None:
    _card, national, host, facts = setup(2)
    _, step1 = national.iUnblockPIN_HSM_Step1(1, CARD_INFO)
    code, _step2 = national.iUnblockPIN_HSM_Step2(host.authenticate(step1, facts))
    assert code == 0
    assert national.iUnblockPIN_HSM_Step3("842400000400000000")[0] == -27016  # 6988


@pytest.mark.parametrize("generation", [2, 3])
def test_debit_in_two_steps(generation: int) -> None:
    _card, national, host, facts = setup(generation)
    code, step1 = national.iDoDebit_HSM_Step1(1, CARD_INFO, "1.00|2.00|20240601103000|")
    alg, address, random, seq, amounts, kind, term_no, when, tail = step1.split("|")
    assert code == 0 and address == "017F"  # DPK version 1 (S3 table B.1)
    assert re.fullmatch(r"[0-9A-F]{8}", random) and seq == "0000"
    assert amounts == "00000064000000C8" and kind == "2" and term_no == "000000000000"
    code, out = national.iDoDebit_HSM_Step2(host.debit(step1, facts))
    assert code == 0
    mac2, alg2, address2, amounts2, kind2, term2, tseq, when2, tac, tail = out.split("|")
    assert (alg2, address2, amounts2, kind2, term2) == (alg, "00B5", amounts, "2", term_no)
    assert tseq == "00000001" and when2 == when and tail == ""
    assert re.fullmatch(r"[0-9A-F]{8}", mac2) and re.fullmatch(r"[0-9A-F]{8}", tac)
    assert host.check_tac(out, facts, mac2_first=True)
    assert national.iReadDebitRecord(1) == (
        0,
        "0^000000000000^20240601103000^1.00^2.00^|",
    )


def _sespk_by_hand(dpk: bytes, session_input: bytes, algorithm: Algorithm) -> bytes:
    """SESPK as Part 7 §12.3 and Part 4 §8.4 build it: DPK's encryption of random(4) ‖
    purchase sequence(2) ‖ terminal sequence's last 2 bytes (zero-padded to SM4's block)."""
    if algorithm is Algorithm.DES:
        cipher = Cipher(TripleDES(dpk + dpk[:8]), modes.ECB())  # 3DES-EDE, K1 K2 K1
    else:
        cipher = Cipher(algorithms.SM4(dpk), modes.ECB())
        session_input += bytes(8)
    encryptor = cipher.encryptor()
    return encryptor.update(session_input) + encryptor.finalize()


@pytest.mark.parametrize("generation", [2, 3])
def test_check_mac2_is_the_mac_under_sespk_of_the_amounts(generation: int) -> None:
    _card, national, host, facts = setup(generation)
    _, step1 = national.iDoDebit_HSM_Step1(1, CARD_INFO, "1.00|2.00|20240601103000|")
    code, step2 = national.iDoDebit_HSM_Step2(host.debit(step1, facts))
    assert code == 0
    alg = Algorithm(int(step1.split("|")[0], 16))
    random, seq = bytes.fromhex(step1.split("|")[2]), int(step1.split("|")[3], 16)
    mac2, tseq = bytes.fromhex(step2.split("|")[0]), bytes.fromhex(step2.split("|")[6])
    ctx = facts.context(alg)
    dpk = derive_card_keys(demo_keyset(alg), ctx.region, ctx.atr, ["DPK"])["DPK"]
    sespk = _sespk_by_hand(dpk, random + seq.to_bytes(2) + tseq[2:], alg)
    assert sespk == purchase_session_key(dpk, random, seq, tseq, alg)
    assert mac2 == purchase_mac2(sespk, (0, 100, 200), alg)  # account 0, 1.00 and 2.00 yuan
    assert host.check_mac2(step1, step2, facts)

    wrong = f"{bytes(b ^ 1 for b in mac2).hex().upper()}|{step2.split('|', 1)[1]}"
    assert not host.check_mac2(step1, wrong, facts)
    other = KeySet(alg, {**demo_keyset(alg).roots, "DPK": bytes(range(16))})
    assert not HsmHost(SoftwareKeyService(other)).check_mac2(step1, step2, facts)


def test_check_mac2_wants_the_two_outputs_of_one_purchase() -> None:
    _card, national, host, facts = setup(2)
    _, step1 = national.iDoDebit_HSM_Step1(1, CARD_INFO, "1.00|2.00|20240601103000|")
    _, step2 = national.iDoDebit_HSM_Step2(host.debit(step1, facts))
    fields = step2.split("|")
    fields[3] = "00000064000000C9"  # amounts other than Step1's
    with pytest.raises(InvalidInputError, match="交易金额 00000064000000C9 is not Step1's"):
        host.check_mac2(step1, "|".join(fields), facts)
    with pytest.raises(InvalidInputError, match="Step2 output"):
        host.check_mac2(step1, "|".join(fields[3:]), facts)
    assert HsmService(host).handle("check_mac2", {"step": step2, "card": "x"}) == (
        400,
        {
            "code": -14,
            "message": '（发给动态库的）命令参数错：check_mac2: "step1" (a string) is required',
        },
    )
