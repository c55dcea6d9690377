"""The PKI functions and iType of the national interface: bad input gives clear codes,
the PIN stays out of traces, and iType 3/4 take whichever reader holds the card."""

from __future__ import annotations

from pathlib import Path

import pytest

from sbkcard.applet_model.traces import decode_trace, decoded_text, read_trace
from sbkcard.cli import main
from sbkcard.issuance.certificates import demo_ca
from sbkcard.keys import sm2
from sbkcard.keys.certificates import verify_certificate
from sbkcard.keys.soft_store import SoftKeyStore
from sbkcard.pytest_plugin import DEMO_PIN, make_card, make_psam
from sbkcard.simulator import SimulatedCard, load_image
from sbkcard.simulator.contactless import ContactlessInterface, ats_of, pseudo_atr
from sbkcard.terminal.national.interface import NationalInterface
from sbkcard.terminal.operations import pki
from sbkcard.terminal.terminal import Terminal
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
    """SPEC §7: a contactless 3.00 card's ATS ``12 78 80 A0 02 ‖ historical bytes``."""
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
    national = NationalInterface(Terminal(card_reader=make_card(3)))
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
    assert (
        main(["keys", "new-demo", "--out", store, "--algorithm", "sm4", "--scrypt-n", "1024"]) == 0
    )
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
