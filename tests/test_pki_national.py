"""The PKI functions and iType of the national interface.

Issue 13's acceptance: a ``card new --profile 3`` card signs through PKI_SignData, the
signature verifies with PKI_VerifySign and with an independent SM2 (gmssl); the PKI DDF
answers SELECT by name; over a contactless PC/SC reader the card reads as over contact.
Then: bad input gives clear codes, the PIN stays out of traces, and iType 3/4 take
whichever reader holds the card."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from gmssl import sm2 as gmssl_sm2
from pcsc_stack import SimProcess

from sbkcard.apdu import CommandAPDU
from sbkcard.applet_model.traces import decode_trace, decoded_text, read_trace
from sbkcard.cli import main
from sbkcard.issuance.certificates import demo_ca
from sbkcard.keys import sm2
from sbkcard.keys.certificates import certificate_public_key, verify_certificate
from sbkcard.keys.soft_store import SoftKeyStore
from sbkcard.pytest_plugin import DEMO_PIN, make_psam
from sbkcard.simulator import SimulatedCard, demo_card, load_image
from sbkcard.simulator.contactless import ContactlessInterface, ats_of, pseudo_atr
from sbkcard.simulator.pcscd import PcscdStack
from sbkcard.terminal.national.interface import NationalInterface
from sbkcard.terminal.operations import pki
from sbkcard.terminal.terminal import Terminal
from sbkcard.terminal.transports.pcsc import PcscTransport
from sbkcard.terminal.transports.transport import ReaderSession


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pki") / "card3.json"
    assert main(["card", "new", "--profile", "3", "--out", str(path)]) == 0
    return path


@pytest.fixture
def card(image: Path) -> SimulatedCard:
    return load_image(image)


def test_ats_and_pseudo_atr_of_the_real_contactless_card() -> None:
    """As a real contactless 3.00 card answers: its's ATS ``12 78 80 A0 02 ‖ historical bytes``."""
    historical = bytes.fromhex("0081544C9686845101C0666779")
    ats = ats_of(historical)
    assert ats == bytes.fromhex("127880A002") + historical
    atr = pseudo_atr(ats)
    assert atr[:4] == bytes.fromhex("3B8D8001") and atr[4:-1] == historical
    check = 0
    for byte in atr[1:]:
        check ^= byte
    assert check == 0  # TCK makes the XOR of T0 … TCK zero (ISO/IEC 7816-3 §8.2.5)


def test_wrong_pin_and_locked_pin_codes(card: SimulatedCard) -> None:
    national = NationalInterface(Terminal(card_reader=card))
    assert national.PKI_SignData("111111", "x", 1) == (-51, "PIN校验失败，剩余次数2次")
    assert national.PKI_SignData("111111", "x", 1)[0] == -51
    assert national.PKI_SignData("111111", "x", 1) == (-52, "PIN锁定")
    assert national.PKI_SignData(DEMO_PIN, "x", 1) == (-52, "PIN锁定")


def test_bad_input_codes(card: SimulatedCard) -> None:
    national = NationalInterface(Terminal(card_reader=card))
    code, text = national.PKI_SignData(DEMO_PIN, "x" * (pki.MAX_SIGN_INPUT + 1), 1)
    assert code == -42 and "1048577" in text
    code, text = national.PKI_SignData("12ab", "x", 1)
    assert code == -14 and "12ab" not in text
    assert national.PKI_SignData(DEMO_PIN, "x", 7)[0] == -14
    assert national.PKI_SignData(DEMO_PIN, "x", 2)[0] == -1  # no contactless reader
    assert national.PKI_VerifySign("", "not a cert", "x", "00" * 64, 1)[0] == -14
    assert national.PKI_VerifySign("", "", "x", "zz", 1)[0] == -14


def test_card_without_the_application_or_keys(tmp_path: Path) -> None:
    national = NationalInterface(Terminal(card_reader=demo_card(3)))  # the SSSE alone
    code, _ = national.PKI_SignData(DEMO_PIN, "x", 1)
    assert code == -0x6A82  # no PKI DDF on a card without the certificate application


def test_trace_never_holds_the_pin(card: SimulatedCard) -> None:
    terminal = Terminal(card_reader=card)
    assert NationalInterface(terminal).PKI_SignData(DEMO_PIN, "x", 1)[0] == 0
    text = terminal.trace.text()
    assert "80C40103" in text.replace(" ", "")
    assert "C103123456" not in text.replace(" ", "")


@pytest.mark.parametrize(
    ("i_type", "in_contact", "in_field", "expected"),
    [
        (3, True, True, "contact"),
        (3, False, True, "field"),
        (4, True, True, "field"),
        (4, True, False, "contact"),
        (2, True, True, "field"),
    ],
)
def test_itype_picks_the_reader(
    card: SimulatedCard, i_type: int, in_contact: bool, in_field: bool, expected: str
) -> None:
    field = ContactlessInterface(card)
    if not in_field:
        field.remove()
    if not in_contact:
        card.remove()
    terminal = Terminal(card_reader=card, contactless_reader=field, psam_reader=make_psam())
    code, out = NationalInterface(terminal).iReadCardBas(i_type)
    assert code == 0, out
    assert terminal.reader_for(i_type) is (field if expected == "field" else card)
    assert NationalInterface(terminal).PKI_SignData(DEMO_PIN, "data", i_type)[0] == 0


def test_envelope_round_trip(card: SimulatedCard) -> None:
    national = NationalInterface(Terminal(card_reader=card))
    code, sealed = national.PKI_EnvelopeEncrypt("", "就诊记录 2024", 1)
    assert code == 0, sealed
    assert "就诊" not in sealed
    assert national.PKI_EnvelopeDecrypt(DEMO_PIN, sealed, 1) == (0, "就诊记录 2024|")
    wrapped, data, _ = sealed.split("|")
    altered = f"{wrapped}|{data[:-2]}{int(data[-2:], 16) ^ 1:02X}|"
    assert national.PKI_EnvelopeDecrypt(DEMO_PIN, altered, 1)[0] == -14
    bad_key = f"{wrapped[:-2]}{int(wrapped[-2:], 16) ^ 1:02X}|{data}|"
    assert national.PKI_EnvelopeDecrypt(DEMO_PIN, bad_key, 1)[0] == -0x6A80
    assert national.PKI_EnvelopeDecrypt(DEMO_PIN, "00|", 1)[0] == -14


def test_trace_decoder_reads_the_certificate_application(card: SimulatedCard) -> None:
    terminal = Terminal(card_reader=card)
    assert NationalInterface(terminal).PKI_SignData(DEMO_PIN, "abc", 1)[0] == 0
    decoded = decode_trace(read_trace(terminal.trace.text()))
    names = [d.name for d in decoded]
    for name in ("PIN HASH", "VERIFY user PIN", "EXPORT PUBLIC KEY", "SM2 SIGN"):
        assert name in names
    select = next(d for d in decoded if any("certificate application's DDF" in n for n in d.notes))
    assert select.name == "SELECT"
    signature = decoded[names.index("SM2 SIGN") + 1]
    assert {row.label for row in signature.items} == {"r", "s"}
    text = decoded_text(decoded)
    assert "C103123456" not in text.replace(" ", "")


def test_card_new_with_the_ca_key_in_a_key_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SBKCARD_PASSPHRASE", "a passphrase for tests")
    store = str(tmp_path / "store.json")
    assert main(["keys", "new-demo", "--out", store, "--algorithm", "sm4"]) == 0
    generate = ["keys", "generate", store, "--label", "CA", "--algorithm", "SM2", "--length", "32"]
    assert main([*generate, "--extractable"]) == 0
    image = tmp_path / "card.json"
    argv = ["card", "new", "--profile", "3", "--out", str(image), "--keys", store, "--ca", "CA"]
    assert main(argv) == 0
    card = load_image(image)
    national = NationalInterface(Terminal(card_reader=card))
    code, signature = national.PKI_SignData(DEMO_PIN, "abc", 1)
    assert code == 0
    assert national.PKI_VerifySign(DEMO_PIN, "", "abc", signature.rstrip("|"), 1)[0] == 0
    session = ReaderSession(card)
    session.power_on()
    pki.select_application(session, pki.PROFILE)
    cert = pki.card_certificate(session, pki.PROFILE)
    opened = SoftKeyStore.open(store, "a passphrase for tests")
    with opened.use("CA") as key:
        ca_public = sm2.public_key(bytes(key))
    assert verify_certificate(cert, ca_public)
    assert not verify_certificate(cert, demo_ca().public)


def _card_certificate(card: SimulatedCard) -> bytes:
    session = ReaderSession(card)
    session.power_on()
    pki.select_application(session, pki.PROFILE)
    der = pki.card_certificate(session, pki.PROFILE)
    session.power_off()
    return der


def test_sign_data_verifies_with_the_card_certificate(card: SimulatedCard) -> None:
    national = NationalInterface(Terminal(card_reader=card))
    code, out = national.PKI_SignData(DEMO_PIN, "社会保障卡签名测试 abc", 1)
    assert code == 0, out
    signature = out.rstrip("|")
    assert len(signature) == 128

    cert = _card_certificate(card)
    assert verify_certificate(cert, demo_ca().public)
    public = certificate_public_key(cert)
    independent = gmssl_sm2.CryptSM2(private_key="", public_key=public.hex(), mode=1)
    message = "社会保障卡签名测试 abc".encode("gb18030")
    assert independent.verify_with_sm3(signature.lower(), message)
    assert not independent.verify_with_sm3(signature.lower(), message + b"!")

    assert national.PKI_VerifySign(DEMO_PIN, "", "社会保障卡签名测试 abc", signature, 1) == (
        0,
        "1|",
    )
    pem = base64.b64encode(cert).decode()
    assert national.PKI_VerifySign("", pem, "社会保障卡签名测试 abc", signature, 1)[0] == 0
    code, text = national.PKI_VerifySign("", pem, "altered", signature, 1)
    assert code == -22 and "签名验证失败" in text


def test_select_pki_ddf_by_name(card: SimulatedCard) -> None:
    session = ReaderSession(card)
    session.power_on()
    name = bytes.fromhex("504B492EC9E7BBE1B1A3D5CF")
    response = session.send(CommandAPDU(0x00, 0xA4, 0x04, 0x00, data=name, le=256))
    assert response.sw == 0x9000
    assert name in response.data


def test_sim_serves_the_contactless_interface_as_a_second_reader(
    image: Path, sbk_pcscd: PcscdStack, tmp_path: Path
) -> None:
    """``sbkcard sim --contactless-port``: the same image in a contact and a contactless
    reader; both read the same basic information, each with its own ATR."""
    served = tmp_path / "served.json"
    served.write_bytes(image.read_bytes())
    port = str(sbk_pcscd.slot_port(1))
    args = ("--card", str(served), "--contactless-port", port)
    with SimProcess(sbk_pcscd, tmp_path / "sim.log", *args) as sim:
        sim.slots = (0, 1)
        sim.started()
        contact = PcscTransport(sbk_pcscd.reader_name(0))
        field = PcscTransport(sbk_pcscd.reader_name(1))
        terminal = Terminal(card_reader=contact, contactless_reader=field, psam_reader=make_psam())
        national = NationalInterface(terminal)
        by_contact, by_field = national.iReadCardBas(1), national.iReadCardBas(2)
        assert by_contact[0] == 0 and by_contact == by_field
        atrs = [reader.power_on() for reader in (contact, field)]
        for reader in (contact, field):
            reader.power_off()
    assert atrs[0][:2] == bytes.fromhex("3B6D") and atrs[1][:4] == bytes.fromhex("3B8D8001")
    assert atrs[0][4:] == atrs[1][4:-1]  # the same historical bytes


def test_image_and_card_show_never_print_a_private_key(
    image: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flat = image.read_text()
    card = load_image(image)
    privates = [card.nvm.read(key) for key in ("pki:sk:0013", "pki:sk:0015")]
    assert all(p is not None and len(p) == 32 for p in privates)
    for key in ("pki:sk:0013", "pki:sk:0015", "pki:pin:user", "pki:pin:admin"):
        assert f'"{key}": {{"secret": true' in flat
    assert main(["card", "show", str(image)]) == 0
    shown = capsys.readouterr().out.replace("\n", "").replace("│", "").replace(" ", "")
    for private in privates:
        assert private is not None and private.hex().upper() not in shown
    assert "signingprivatekey" in shown and "present,••••••" in shown
