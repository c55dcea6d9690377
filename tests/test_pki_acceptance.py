"""Issue 13 acceptance: a ``card new --profile 3`` card signs through PKI_SignData, the
signature verifies with PKI_VerifySign and with an independent SM2 (gmssl); the PKI DDF
answers SELECT by name; over a contactless PC/SC reader the card reads as over contact."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from gmssl import sm2 as gmssl_sm2
from pcsc_stack import SimProcess

from sbkcard.apdu import CommandAPDU
from sbkcard.cli import main
from sbkcard.issuance.certificates import demo_ca
from sbkcard.keys.certificates import certificate_public_key, verify_certificate
from sbkcard.pytest_plugin import DEMO_PIN, make_psam
from sbkcard.simulator import SimulatedCard, load_image
from sbkcard.simulator.contactless import ContactlessInterface
from sbkcard.simulator.pcscd import PcscdStack
from sbkcard.simulator.vpcd import VpcdSlot
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


def test_contactless_reader_reads_as_contact(card: SimulatedCard, sbk_pcscd: PcscdStack) -> None:
    psam = make_psam()
    contact = NationalInterface(Terminal(card_reader=card, psam_reader=psam))
    code, over_contact = contact.iReadCardBas(1)
    assert code == 0, over_contact

    field = ContactlessInterface(card)
    slots = [
        VpcdSlot(field, port=sbk_pcscd.slot_port(0)),
        VpcdSlot(psam, port=sbk_pcscd.slot_port(1)),
    ]
    for slot in slots:
        slot.start()
    try:
        for number in (0, 1):
            sbk_pcscd.wait_for_card(number)
        reader = PcscTransport(sbk_pcscd.reader_name(0))
        terminal = Terminal(
            card_reader=card,
            contactless_reader=reader,
            psam_reader=PcscTransport(sbk_pcscd.reader_name(1)),
        )
        code, over_field = NationalInterface(terminal).iReadCardBas(2)
        assert code == 0, over_field
        assert over_field == over_contact
        pseudo_atr = reader.power_on()
        reader.power_off()
        assert pseudo_atr == field.atr and pseudo_atr[:4] == bytes.fromhex("3B8D8001")
    finally:
        for slot in slots:
            slot.stop()
        if sbk_pcscd.running:
            for number in (0, 1):
                sbk_pcscd.wait_for_removal(number)


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
