"""The PC/SC stack itself: pcscd, vpcd, ``sbkcard sim --vpcd`` and :class:`PcscTransport`.

These run with the echo card (``sbkcard sim --vpcd --echo``), so they check the bridge,
the transport's error mapping and the life cycle (removal, ejection, pcscd restart) on
their own; the card tests (``test_pcsc_card.py``) run the national card through it.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from pcsc_stack import SimProcess

from sbkcard.errors import CardRemovedError, NoCardError, TransportError
from sbkcard.simulator.pcscd import PcscdStack
from sbkcard.simulator.vpcd import EchoCard
from sbkcard.terminal.transports.pcsc import PcscTransport, list_readers

pytestmark = pytest.mark.pcsc

ECHO_ATR = EchoCard.atr


@pytest.fixture
def echo(sbk_pcscd: PcscdStack, tmp_path: Path) -> Any:
    with SimProcess(sbk_pcscd, tmp_path / "sim.log", "--echo") as sim:
        yield sim.started()


def test_readers_are_listed(sbk_pcscd: PcscdStack) -> None:
    assert list_readers() == [PcscdStack.reader_name(0), PcscdStack.reader_name(1)]


def test_echo_card_through_pyscard(echo: SimProcess) -> None:
    with PcscTransport("Virtual PCD 00 00") as reader:
        assert reader.power_on() == ECHO_ATR
        assert reader.atr == ECHO_ATR
        assert reader.transmit(bytes.fromhex("00A4040002 3F00")) == bytes.fromhex(
            "00A40400023F00 9000"
        )
        with reader.transaction():
            assert reader.transmit(b"\x80\xca\x00\x00") == b"\x80\xca\x00\x00\x90\x00"
        assert reader.reset() == ECHO_ATR
        extended = bytes.fromhex("0001000000FFF0") + bytes(range(256)) * 255 + bytes(240)
        assert reader.transmit(extended) == extended + b"\x90\x00"


def test_a_powered_transport_holds_the_card(echo: SimProcess) -> None:
    first, second = PcscTransport("Virtual PCD 00 00"), PcscTransport("00 00", hold=False)
    first.power_on()
    with first.transaction():  # already held from power-on: nesting is harmless
        assert first.transmit(b"\x00\x01\x02\x03")[-2:] == b"\x90\x00"
    waiting = threading.Thread(target=second.power_on)
    waiting.start()
    waiting.join(0.5)
    assert waiting.is_alive()  # another client waits for the first one's session to end
    first.power_off()
    waiting.join(10)
    assert not waiting.is_alive()
    assert second.atr == ECHO_ATR
    with second.transaction():
        assert second.transmit(b"\x00\x01\x02\x03")[-2:] == b"\x90\x00"
    assert second.transmit(b"\x00\x01\x02\x03")[-2:] == b"\x90\x00"
    second.close()
    first.close()


def test_echo_card_stops_cleanly_on_sigterm(sbk_pcscd: PcscdStack, tmp_path: Path) -> None:
    sim = SimProcess(sbk_pcscd, tmp_path / "sim.log", "--echo").started()
    assert sim.stop() == 0
    sbk_pcscd.wait_for_removal(0)
    assert "ATR 3B680000" in sim.output()


def test_pcsc_scan_sees_the_atr(echo: SimProcess) -> None:
    out = subprocess.run(
        ["pcsc_scan", "-n", "-c"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    assert "Virtual PCD 00 00" in out
    assert "ATR: " + " ".join(f"{b:02X}" for b in ECHO_ATR) in out


def test_empty_reader_and_unpowered_transport(sbk_pcscd: PcscdStack) -> None:
    reader = PcscTransport("Virtual PCD 00 01")
    with pytest.raises(NoCardError, match="no card in reader 'Virtual PCD 00 01'"):
        reader.power_on()
    with pytest.raises(NoCardError, match="call power_on"):
        reader.transmit(b"\x00\xa4\x00\x00")
    with pytest.raises(NoCardError):
        _ = reader.atr
    reader.close()


def test_reader_names_are_resolved(sbk_pcscd: PcscdStack) -> None:
    both = r"ambiguous: it matches 'Virtual PCD 00 00', 'Virtual PCD 00 01'"
    with pytest.raises(TransportError, match=both):
        PcscTransport("Virtual PCD").power_on()
    with pytest.raises(TransportError, match="no PC/SC reader matches 'Gemalto'"):
        PcscTransport("Gemalto").power_on()
    with pytest.raises(NoCardError, match="Virtual PCD 00 01"):
        PcscTransport("00 01").power_on()


def test_card_monitor_sees_removal_and_insertion(echo: SimProcess) -> None:
    from smartcard.CardMonitoring import CardMonitor, CardObserver

    events: list[tuple[str, bytes]] = []
    changed = threading.Condition()

    class Observer(CardObserver):  # type: ignore[misc]
        def update(self, observable: object, handlers: Any) -> None:
            added, removed = handlers
            with changed:
                events.extend(("added", bytes(c.atr)) for c in added)
                events.extend(("removed", bytes(c.atr)) for c in removed)
                changed.notify_all()

    def wait_for(count: int) -> None:
        with changed:
            assert changed.wait_for(lambda: len(events) >= count, timeout=10), events

    monitor = CardMonitor()
    observer = Observer()
    monitor.addObserver(observer)
    try:
        wait_for(1)
        echo.toggle()
        wait_for(2)
        echo.toggle()
        wait_for(3)
    finally:
        _stop_monitor(monitor, observer)
    assert events == [("added", ECHO_ATR), ("removed", ECHO_ATR), ("added", ECHO_ATR)]


def _stop_monitor(monitor: Any, observer: Any) -> None:
    """Remove the observer and end pyscard's monitoring thread now, while pcscd is up.

    The thread sits in a 60-s status-change wait and ``deleteObserver`` joins it: flag
    the thread and cancel its wait first (``SCardCancel`` on its context).
    """
    from smartcard import scard

    threads = [t for t in threading.enumerate() if getattr(t, "cardrequest", None) is not None]
    for thread in threads:
        thread.stop()
        while thread.is_alive():  # a cancel that lands between two waits is lost: repeat
            scard.SCardCancel(thread.cardrequest.pcsccardrequest.hcontext)
            thread.join(0.05)
    monitor.deleteObserver(observer)
    for thread in threads:
        thread.cardrequest.pcsccardrequest.release()


def test_removal_invalidates_the_old_connection(echo: SimProcess, sbk_pcscd: PcscdStack) -> None:
    with PcscTransport("Virtual PCD 00 00") as reader:
        reader.power_on()
        echo.toggle()
        sbk_pcscd.wait_for_removal(0)
        with pytest.raises(CardRemovedError, match="removed from reader 'Virtual PCD 00 00'"):
            reader.transmit(b"\x00\xb0\x00\x00\x01")
        with pytest.raises(NoCardError):
            reader.power_on()
        echo.toggle()
        sbk_pcscd.wait_for_card(0)
        assert reader.power_on() == ECHO_ATR
        assert reader.transmit(b"\x00\xb0\x00\x00\x01")[-2:] == b"\x90\x00"


def test_removal_in_the_middle_of_a_command_stream(sbk_pcscd: PcscdStack, tmp_path: Path) -> None:
    log = tmp_path / "sim.log"
    with SimProcess(sbk_pcscd, log, "--echo", "--eject-after", "3") as sim:
        sim.started()
        with PcscTransport("Virtual PCD 00 00") as reader:
            reader.power_on()
            for i in range(3):
                assert reader.transmit(bytes([0, 0xB2, i, 4])) == bytes([0, 0xB2, i, 4, 0x90, 0])
            with pytest.raises(CardRemovedError):
                reader.transmit(b"\x00\xb2\x04\x04")
            sbk_pcscd.wait_for_removal(0)
            sim.toggle()
            sbk_pcscd.wait_for_card(0)
            assert reader.power_on() == ECHO_ATR
    assert "ejecting after 3 APDUs" in log.read_text()


def test_pcscd_restart_is_reported_then_survived(echo: SimProcess, sbk_pcscd: PcscdStack) -> None:
    reader = PcscTransport("Virtual PCD 00 00")
    reader.power_on()
    sbk_pcscd.restart()
    with pytest.raises(TransportError, match="pcscd is not running or was restarted"):
        reader.transmit(b"\x00\x84\x00\x00\x04")
    sbk_pcscd.wait_for_card(0)
    assert reader.power_on() == ECHO_ATR
    assert reader.transmit(b"\x00\x84\x00\x00\x04")[-2:] == b"\x90\x00"
    reader.close()


def test_pcscd_down_is_a_clear_error(sbk_pcscd: PcscdStack) -> None:
    sbk_pcscd.stop()
    try:
        with pytest.raises(TransportError, match="pcscd is not running"):
            list_readers()
        with pytest.raises(TransportError, match="pcscd is not running"):
            PcscTransport("Virtual PCD 00 00").power_on()
    finally:
        sbk_pcscd.start()
    assert len(list_readers()) == 2


def test_slot_numbers() -> None:
    assert PcscdStack.reader_name(1) == "Virtual PCD 00 01"
