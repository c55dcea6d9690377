"""A card's life in a PC/SC reader: removal, ejection mid-operation, pcscd restarts, saving.

The terminal runs over :class:`PcscTransport` against ``sbkcard sim --vpcd`` serving the
3rd-generation demo card and the PSAM: a connection from before a removal ends with a
clear error and a new operation works; a pcscd restart is reported and survived; the
simulator writes the card's state back to its image when told to stop.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from pcsc_stack import SimProcess

from sbkcard.applet_model.user_card.personalise import DEMO_CARD_NUMBER
from sbkcard.cli import main
from sbkcard.errors import CardRemovedError, NoCardError, TransportError
from sbkcard.simulator import load_image
from sbkcard.simulator.pcscd import PcscdStack
from sbkcard.terminal.national.interface import NationalInterface
from sbkcard.terminal.operations.basic import read_basic_info
from sbkcard.terminal.terminal import Terminal
from sbkcard.terminal.transports.pcsc import PcscTransport

pytestmark = pytest.mark.pcsc

SELECT_SSSE = bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF")
NO_CARD = -2  # S3 App. A reader codes
NO_RESPONSE = -4
READER_CONNECT = -11
NO_PSAM = -2201


def images(directory: Path) -> tuple[Path, Path]:
    """A 3rd-generation card and a PSAM, made as the tutorial makes them (the CLI)."""
    card, psam = directory / "card.json", directory / "psam.json"
    assert main(["card", "new", "--profile", "3", "--out", str(card)]) == 0
    assert main(["psam", "new", "--out", str(psam)]) == 0
    return card, psam


def sim(stack: PcscdStack, directory: Path, *extra: str) -> SimProcess:
    card, psam = images(directory)
    return SimProcess(
        stack, directory / "sim.log", "--card", str(card), "--psam", str(psam), *extra
    )


def terminal() -> Terminal:
    return Terminal(
        card_reader=PcscTransport("Virtual PCD 00 00"),
        psam_reader=PcscTransport("Virtual PCD 00 01"),
    )


def test_removal_ends_the_connection_and_a_new_one_works(
    sbk_pcscd: PcscdStack, tmp_path: Path
) -> None:
    counter = terminal()
    with sim(sbk_pcscd, tmp_path) as card:
        card.started()
        with counter.session() as conn:
            assert conn.issuer.card_number == DEMO_CARD_NUMBER
            card.toggle()
            sbk_pcscd.wait_for_removal(0)
            with pytest.raises(CardRemovedError, match="card left the reader during"):
                read_basic_info(conn)
        assert NationalInterface(counter).iReadCardBas(1)[0] == NO_CARD
        card.toggle()
        sbk_pcscd.wait_for_card(0)
        with counter.session() as conn:
            assert read_basic_info(conn).holder.name == "张三"


def test_card_pulled_in_the_middle_of_a_read(sbk_pcscd: PcscdStack, tmp_path: Path) -> None:
    # SELECT, GET RESPONSE, READ EF05, INTERNAL AUTHENTICATE: the card leaves after that.
    with sim(sbk_pcscd, tmp_path, "--eject-after", "4") as card:
        card.started()
        code, text = NationalInterface(terminal()).iReadCardBas(1)
        assert code == NO_RESPONSE, text
        assert "left the reader" in text
        sbk_pcscd.wait_for_removal(0)
        card.toggle()
        sbk_pcscd.wait_for_card(0)
        code, text = NationalInterface(terminal()).iReadCardBas(1)
        assert code == 0, text
        assert text.split("|")[2] == DEMO_CARD_NUMBER


def test_psam_removal_with_sigusr2(sbk_pcscd: PcscdStack, tmp_path: Path) -> None:
    national = NationalInterface(terminal())
    with sim(sbk_pcscd, tmp_path) as served:
        served.started()
        served.toggle(signal.SIGUSR2)
        sbk_pcscd.wait_for_removal(1)
        assert national.iReadCardBas(1)[0] == NO_PSAM
        served.toggle(signal.SIGUSR2)
        sbk_pcscd.wait_for_card(1)
        assert national.iReadCardBas(1)[0] == 0


def test_pcscd_restart_is_reported_and_survived(sbk_pcscd: PcscdStack, tmp_path: Path) -> None:
    counter = terminal()
    national = NationalInterface(counter)
    with sim(sbk_pcscd, tmp_path) as card:
        card.started()
        assert national.iReadCardBas(1)[0] == 0
        with counter.session() as conn:
            assert conn.module is not None  # the PSAM powered: both slots are in use
            sbk_pcscd.restart()
            with pytest.raises(TransportError, match="pcscd is not running or was restarted"):
                read_basic_info(conn)
        sbk_pcscd.stop()
        code, text = national.iReadCardBas(1)
        assert code == READER_CONNECT
        assert "pcscd is not running" in text
        sbk_pcscd.start()
        card.started()
        code, text = national.iReadCardBas(1)
        assert code == 0, text


def test_sim_saves_the_card_state_on_sigterm(sbk_pcscd: PcscdStack, tmp_path: Path) -> None:
    card_image = tmp_path / "card.json"
    before = None
    with sim(sbk_pcscd, tmp_path) as served:
        served.started()
        before = card_image.read_bytes()
        reader = PcscTransport("Virtual PCD 00 00")
        reader.power_on()
        assert reader.transmit(SELECT_SSSE) == b"\x61\x1e"
        assert reader.transmit(bytes.fromhex("0020000003000000")) == b"\x63\xc2"  # wrong PIN
        reader.close()
        assert served.stop() == 0
    assert "card saved to" in served.output()
    assert card_image.read_bytes() != before
    card = load_image(card_image)
    card.power_on()
    assert card.transmit(SELECT_SSSE) == b"\x61\x1e"
    assert card.transmit(bytes.fromhex("00200000")) == b"\x63\xc2"  # two tries left, kept


def test_empty_slot_is_no_card(sbk_pcscd: PcscdStack) -> None:
    with pytest.raises(NoCardError, match="no card in reader 'Virtual PCD 00 00'"):
        PcscTransport("Virtual PCD 00 00").power_on()
