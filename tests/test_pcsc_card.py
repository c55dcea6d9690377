"""The simulated national card behind pcscd, as PC/SC programs see it.

``sbkcard sim --vpcd`` serves a 2nd- and a 3rd-generation demo card with the PSAM in the
second slot; the terminal (through :class:`PcscTransport`), ``opensc-tool``, ``scriptor``
and ``pcsc_scan`` talk to them.  Expected bytes come from the standard's tables (Part
5 §6.11 FCI, S2 §8.1.1/§8.1.2 records encoded with the identifiers' ``an``/``cn`` formats), not
from the card's own code.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conformance.standard import demo_ef05, demo_ef06
from pcsc_stack import SimProcess

from sbkcard.applet_model.user_card.personalise import (
    DEMO_CARD_ID,
    DEMO_CARD_NUMBER,
    DEMO_CARDHOLDER,
)
from sbkcard.cli import main
from sbkcard.pytest_plugin import make_card, make_psam
from sbkcard.simulator import load_image, save_image
from sbkcard.simulator.pcscd import PcscdStack
from sbkcard.terminal.national.interface import NationalInterface, basic_string
from sbkcard.terminal.operations.basic import read_basic_info
from sbkcard.terminal.terminal import Terminal
from sbkcard.terminal.transports.pcsc import PcscTransport

pytestmark = pytest.mark.pcsc

AID = bytes.fromhex("7378312E73682EC9E7BBE1B1A3D5CF")
SELECT_SSSE = bytes.fromhex("00A404000F") + AID
READ_EF05_ALL = bytes.fromhex("00B2012D")  # P1 = 1, P2 = SFI 5 << 3 | 5: records 1 to last
READ_EF06_ALL = bytes.fromhex("00B20135")  # SFI 6
ALGORITHM = {2: 0x01, 3: 0x03}  # FCI tag 86: DES, SM4 (S3 §10.1)
VERSION = {2: "2.00", 3: "3.00"}


def tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag, len(value)]) + value


def expected_fci(profile: int) -> bytes:
    """Real cards, byte for byte: ``6F 1C 84 0F <AID> A5 09 88 01 1E 9F 0C 03 86 01 xx``."""
    return (
        bytes.fromhex("6F1C840F")
        + AID
        + bytes.fromhex("A50988011E9F0C038601")
        + bytes([ALGORITHM[profile]])
    )


def spaced(data: bytes) -> str:
    return " ".join(f"{b:02X}" for b in data)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Card images of both profiles and the PSAM (made once, never modified)."""
    directory = tmp_path_factory.mktemp("images")
    out = {"psam": directory / "psam.json"}
    save_image(make_psam(), out["psam"])
    for profile in (2, 3):
        out[f"card{profile}"] = directory / f"card{profile}.json"
        save_image(make_card(profile), out[f"card{profile}"])
    return out


@pytest.fixture(scope="module", params=[2, 3], ids=["gen2", "gen3"])
def served(
    request: pytest.FixtureRequest,
    sbk_pcscd: PcscdStack,
    images: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[int]:
    """``sbkcard sim --vpcd`` with the card of one profile and the PSAM; the profile."""
    profile: int = request.param
    work = tmp_path_factory.mktemp(f"served{profile}")
    card, psam = work / "card.json", work / "psam.json"
    card.write_bytes(images[f"card{profile}"].read_bytes())
    psam.write_bytes(images["psam"].read_bytes())
    with SimProcess(sbk_pcscd, work / "sim.log", "--card", str(card), "--psam", str(psam)) as sim:
        sim.started()
        yield profile


def pcsc_terminal() -> Terminal:
    return Terminal(
        card_reader=PcscTransport("Virtual PCD 00 00"),
        psam_reader=PcscTransport("Virtual PCD 00 01"),
    )


def in_process_terminal(profile: int) -> Terminal:
    return Terminal(card_reader=make_card(profile), psam_reader=make_psam())


def test_terminal_reads_basic_information(served: int) -> None:
    with pcsc_terminal().session() as conn:
        info = read_basic_info(conn)
    assert info.holder.name == DEMO_CARDHOLDER.name
    assert info.holder.ssn == DEMO_CARDHOLDER.ssn
    assert info.issuer.card_number == DEMO_CARD_NUMBER
    assert info.issuer.card_id == DEMO_CARD_ID
    assert info.genuine
    with in_process_terminal(served).session() as conn:
        reference = read_basic_info(conn)
    assert basic_string(info) == basic_string(reference)
    assert info.apdus == reference.apdus


def test_national_read_card_bas(served: int) -> None:
    code, text = NationalInterface(pcsc_terminal()).iReadCardBas(1)
    assert code == 0, text
    fields = text.split("|")
    assert text.endswith("|") and len(fields) == 12
    assert fields[:5] == [
        DEMO_CARD_ID.region,
        DEMO_CARDHOLDER.ssn,
        DEMO_CARD_NUMBER,
        DEMO_CARD_ID.hex,
        DEMO_CARDHOLDER.name,
    ]
    assert fields[6:9] == [VERSION[served], "20240101", "20340101"]
    assert fields[9] == "410100000001"  # the PSAM's terminal number (file 0016)
    assert (code, text) == NationalInterface(in_process_terminal(served)).iReadCardBas(1)


def opensc_responses(*apdus: bytes) -> list[tuple[bytes, int]]:
    """Run ``opensc-tool -r 0 -s …``; each response's data and SW, in order."""
    argv = ["opensc-tool", "-r", "0"]
    for apdu in apdus:
        argv += ["-s", spaced(apdu)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout
    responses: list[tuple[bytes, int]] = []
    for block in out.split("Received (")[1:]:
        head, _, body = block.partition("\n")
        sw = re.match(r"SW1=0x([0-9A-Fa-f]{2}), SW2=0x([0-9A-Fa-f]{2})", head)
        assert sw is not None, block
        data = bytearray()
        for line in body.splitlines():
            if line.startswith("Sending:"):
                break
            data += bytes.fromhex(line[:48])  # hex dump: 16 × "XX " then the text column
        responses.append((bytes(data), int(sw[1] + sw[2], 16)))
    assert len(responses) == len(apdus), out
    return responses


def test_opensc_tool_reads_ssse_records(served: int) -> None:
    fci, ef05, ef06 = opensc_responses(
        SELECT_SSSE + b"\x00", READ_EF05_ALL + b"\x00", READ_EF06_ALL + b"\x00"
    )
    assert fci == (expected_fci(served), 0x9000)
    assert ef05 == (demo_ef05(served), 0x9000)
    assert len(ef05[0]) == 0x40  # as real cards answer read-all
    if served == 2:
        assert ef06 == (demo_ef06(), 0x9000)
        assert len(ef06[0]) == 0x5B
    else:
        assert ef06 == (b"", 0x6982)  # 3.0 cards: EF06 needs RKSSSE (S3 §10.2)


def scriptor_responses(script: list[bytes]) -> list[bytes]:
    """Run ``scriptor`` on the card's reader; each response (data ‖ SW), in order."""
    out = subprocess.run(
        ["scriptor", "-r", "Virtual PCD 00 00"],
        input="".join(spaced(apdu) + "\n" for apdu in script),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    responses = []
    for block in out.split("\n< ")[1:]:
        hex_part = block.split(" : ", 1)[0].split("\n>", 1)[0]
        responses.append(bytes.fromhex(hex_part.replace("\n", " ")))
    assert len(responses) == len(script), out
    return responses


def test_scriptor_reads_ssse_records_by_t0_rules(served: int) -> None:
    ef05, ef06 = demo_ef05(served), demo_ef06()
    got = scriptor_responses(
        [
            SELECT_SSSE,
            bytes.fromhex("00C000001E"),
            READ_EF05_ALL + b"\x00",
            READ_EF05_ALL + bytes([len(ef05)]),
            bytes.fromhex("00B2072C0B"),  # record 07 (card number) of SFI 5
            READ_EF06_ALL + bytes([len(ef06)]),
        ]
    )
    assert got[0] == b"\x61\x1e"  # T=0: the FCI waits for GET RESPONSE (Part 2 §9.3.2)
    assert got[1] == expected_fci(served) + b"\x90\x00"
    assert got[2] == b"\x6c" + bytes([len(ef05)])
    assert got[3] == ef05 + b"\x90\x00"
    assert got[4] == tlv(0x07, DEMO_CARD_NUMBER.encode()) + b"\x90\x00"
    assert got[5] == (ef06 + b"\x90\x00" if served == 2 else b"\x69\x82")


def test_pcsc_scan_sees_the_card_atr(served: int, images: dict[str, Path]) -> None:
    out = subprocess.run(
        ["pcsc_scan", "-n", "-c"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    card_atr = load_image(images[f"card{served}"]).atr
    psam_atr = load_image(images["psam"]).atr
    assert card_atr[:4] == bytes.fromhex("3B6D0000")  # contact ATR of Part 2 §8.4, T=0
    assert "Reader 0: Virtual PCD 00 00" in out
    assert f"ATR: {spaced(card_atr)}" in out
    assert f"ATR: {spaced(psam_atr)}" in out


def test_read_command_through_pcsc_readers(served: int, capsys: pytest.CaptureFixture[str]) -> None:
    """``sbkcard read --reader … --psam-reader … --national`` prints what iReadCardBas gives."""
    argv = ["read", "--reader", "Virtual PCD 00 00", "--psam-reader", "Virtual PCD 00 01"]
    assert main([*argv, "--national"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == NationalInterface(in_process_terminal(served)).iReadCardBas(1)[1]
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert DEMO_CARDHOLDER.name in table and DEMO_CARD_NUMBER in table
