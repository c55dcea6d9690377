"""The vpcd bridge without pcscd: the protocol as a pure function, the client against a fake vpcd.

The fake vpcd here is a listening socket driven by the test, so frame boundaries,
fragmentation, reconnection, removal and ejection are checked byte for byte.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from sbkcard.cli import main
from sbkcard.errors import CardRemovedError, NoCardError
from sbkcard.simulator.vpcd import Control, EchoCard, VpcdSlot, answer


class RecordingCard:
    """A card that records what the bridge asked of it."""

    atr = bytes.fromhex("3B6D0000") + bytes(13)

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.powered = False
        self.fail_next: BaseException | None = None

    def power_on(self) -> bytes:
        self.calls.append("power_on")
        self.powered = True
        return self.atr

    def reset(self) -> bytes:
        self.calls.append("reset")
        self.powered = True
        return self.atr

    def power_off(self) -> None:
        self.calls.append("power_off")
        self.powered = False

    def transmit(self, apdu: bytes) -> bytes:
        self.calls.append(f"transmit {apdu.hex()}")
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc
        if not self.powered:
            raise NoCardError("card not powered")
        return bytes([len(apdu)]) + b"\x90\x00"


class FakeVpcd:
    """vpcd's side of one slot: accepts the card, sends frames, reads replies."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(5)
        self.port = self.server.getsockname()[1]
        self.conn: socket.socket | None = None

    def accept(self, *, greet: bool = True) -> socket.socket:
        """Take the card; greet it with a presence poll (get-ATR) first, as vpcd does."""
        conn, _ = self.server.accept()
        conn.settimeout(5)
        self.conn = conn
        if greet:
            self.exchange(bytes([Control.GET_ATR]))
        return conn

    def send(self, payload: bytes, *, chunk: int | None = None) -> None:
        assert self.conn is not None
        data = len(payload).to_bytes(2, "big") + payload
        if chunk is None:
            self.conn.sendall(data)
            return
        for i in range(0, len(data), chunk):
            self.conn.sendall(data[i : i + chunk])
            time.sleep(0.001)

    def _recv_exact(self, n: int) -> bytes:
        assert self.conn is not None
        buf = b""
        while len(buf) < n:
            chunk = self.conn.recv(n - len(buf))
            if not chunk:
                raise EOFError(f"connection closed after {len(buf)} of {n} bytes")
            buf += chunk
        return buf

    def receive(self) -> bytes:
        size = int.from_bytes(self._recv_exact(2), "big")
        return self._recv_exact(size)

    def exchange(self, payload: bytes) -> bytes:
        self.send(payload)
        return self.receive()

    def expect_closed(self) -> None:
        assert self.conn is not None
        assert self.conn.recv(1) == b""
        self.conn.close()
        self.conn = None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.server.close()


@pytest.fixture
def vpcd() -> Iterator[FakeVpcd]:
    fake = FakeVpcd()
    yield fake
    fake.close()


def serve(card: object, vpcd: FakeVpcd, **kwargs: object) -> VpcdSlot:
    slot = VpcdSlot(card, port=vpcd.port, **kwargs)  # type: ignore[arg-type]
    return slot.start()


# -- the protocol as a function -------------------------------------------------------


def test_get_atr_reads_the_atr_and_touches_nothing() -> None:
    card = RecordingCard()
    assert answer(card, bytes([Control.GET_ATR])) == card.atr
    assert card.calls == []


@pytest.mark.parametrize(
    ("code", "call"),
    [(Control.POWER_ON, "power_on"), (Control.RESET, "reset"), (Control.POWER_OFF, "power_off")],
)
def test_power_controls_take_no_reply(code: Control, call: str) -> None:
    card = RecordingCard()
    assert answer(card, bytes([code])) is None
    assert card.calls == [call]


def test_unknown_control_byte_is_ignored() -> None:
    card = RecordingCard()
    assert answer(card, b"\x03") is None
    assert card.calls == []


def test_command_goes_to_the_card() -> None:
    card = RecordingCard()
    answer(card, bytes([Control.POWER_ON]))
    assert answer(card, bytes.fromhex("00A4040000")) == bytes.fromhex("059000")


def test_command_to_an_unpowered_card_powers_it_up_first() -> None:
    card = RecordingCard()
    assert answer(card, bytes.fromhex("00B0000000")) == bytes.fromhex("059000")
    assert card.calls == ["transmit 00b0000000", "power_on", "transmit 00b0000000"]


class CardOutOfReader(RecordingCard):
    def power_on(self) -> bytes:
        raise NoCardError("no card in the reader")


def test_command_to_a_card_out_of_its_reader_answers_6f00() -> None:
    assert answer(CardOutOfReader(), bytes.fromhex("00B0000000")) == b"\x6f\x00"


class TruncatingCard(EchoCard):
    def __init__(self, reply: bytes) -> None:
        self.reply = reply

    def transmit(self, apdu: bytes) -> bytes:
        return self.reply


@pytest.mark.parametrize("reply", [b"", b"\x90"])
def test_a_command_never_gets_a_reply_without_status_word(reply: bytes) -> None:
    # vpcd waits for a reply's bytes without a timeout: an empty one hangs the reader.
    assert answer(TruncatingCard(reply), bytes.fromhex("00B0000000")) == b"\x6f\x00"


def test_echo_card_answers_the_command_itself() -> None:
    assert answer(EchoCard(), b"\x00\x84\x00\x00\x04") == b"\x00\x84\x00\x00\x04\x90\x00"
    assert EchoCard().atr[:1] == b"\x3b"


# -- the client over a socket ---------------------------------------------------------


def test_frames_split_into_single_bytes_are_reassembled(vpcd: FakeVpcd) -> None:
    card = RecordingCard()
    with serve(card, vpcd):
        vpcd.accept()
        vpcd.send(bytes([Control.POWER_ON]), chunk=1)
        vpcd.send(bytes.fromhex("00A404000F") + bytes(15), chunk=1)
        assert vpcd.receive() == bytes.fromhex("149000")
        vpcd.send(bytes([Control.GET_ATR]), chunk=1)
        assert vpcd.receive() == card.atr
    assert card.calls[:2] == ["power_on", "transmit 00a404000f" + "00" * 15]


def test_several_frames_in_one_segment(vpcd: FakeVpcd) -> None:
    card = RecordingCard()
    with serve(card, vpcd):
        conn = vpcd.accept()
        frames = [bytes([Control.POWER_ON]), bytes.fromhex("00B0000000"), bytes([Control.GET_ATR])]
        conn.sendall(b"".join(len(f).to_bytes(2, "big") + f for f in frames))
        assert vpcd.receive() == bytes.fromhex("059000")
        assert vpcd.receive() == card.atr


def test_largest_frames_both_ways(vpcd: FakeVpcd) -> None:
    with serve(EchoCard(), vpcd):
        vpcd.accept()
        command = bytes(7) + bytes(range(256)) * 255 + bytes(range(256))[:-10]
        assert len(command) == 65533
        assert vpcd.exchange(command) == command + b"\x90\x00"


def test_reconnects_when_vpcd_drops_the_card(vpcd: FakeVpcd) -> None:
    card = RecordingCard()
    with serve(card, vpcd) as slot:
        vpcd.accept().close()
        vpcd.accept()
        assert vpcd.exchange(bytes([Control.GET_ATR])) == card.atr
        assert slot.insertions == 2
    assert "power_off" in card.calls


def test_waits_for_vpcd_to_listen() -> None:
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with VpcdSlot(EchoCard(), port=port, retry_interval=0.01) as slot:
        time.sleep(0.05)
        assert not slot.connected
        server = socket.create_server(("127.0.0.1", port))
        server.settimeout(5)
        conn, _ = server.accept()
        with conn, server:
            assert slot.wait_connected(5)


def test_remove_and_insert(vpcd: FakeVpcd) -> None:
    card = RecordingCard()
    with serve(card, vpcd) as slot:
        vpcd.accept()
        assert slot.wait_connected(5)
        slot.remove()
        vpcd.expect_closed()
        assert not slot.present
        vpcd.server.settimeout(0.2)
        with pytest.raises(TimeoutError):
            vpcd.accept()
        vpcd.server.settimeout(5)
        assert slot.toggle() is True
        vpcd.accept()
        assert vpcd.exchange(bytes([Control.GET_ATR])) == card.atr
        assert slot.insertions == 2


def test_eject_after_n_commands(vpcd: FakeVpcd) -> None:
    card = RecordingCard()
    with serve(card, vpcd, eject_after=2) as slot:
        vpcd.accept()
        vpcd.send(bytes([Control.POWER_ON]))
        vpcd.send(bytes([Control.GET_ATR]))
        assert vpcd.receive() == card.atr
        assert vpcd.exchange(bytes.fromhex("0084000004")) == bytes.fromhex("059000")
        assert vpcd.exchange(bytes.fromhex("0084000008")) == bytes.fromhex("059000")
        vpcd.expect_closed()
        assert not slot.present
        assert slot.apdu_count == 2
    assert card.calls[-1] == "power_off"


def test_eject_after_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        VpcdSlot(EchoCard(), eject_after=0)


def test_power_cut_mid_command_tears_the_card_out_and_back(vpcd: FakeVpcd) -> None:
    card = RecordingCard()
    with serve(card, vpcd) as slot:
        vpcd.accept()
        vpcd.send(bytes([Control.POWER_ON]))
        card.fail_next = CardRemovedError("card lost power during command")
        vpcd.send(bytes.fromhex("00DC010400"))
        vpcd.expect_closed()
        vpcd.accept()
        assert vpcd.exchange(bytes([Control.GET_ATR])) == card.atr
        assert slot.present and slot.insertions == 2


def test_a_card_that_raises_answers_6f00(vpcd: FakeVpcd) -> None:
    card = RecordingCard()
    with serve(card, vpcd):
        vpcd.accept()
        vpcd.send(bytes([Control.POWER_ON]))
        card.fail_next = RuntimeError("bug in an applet")
        assert vpcd.exchange(bytes.fromhex("00B0000000")) == b"\x6f\x00"
        assert vpcd.exchange(bytes.fromhex("00B0000000")) == bytes.fromhex("059000")


def test_the_card_counts_as_accepted_at_vpcd_first_control_frame(vpcd: FakeVpcd) -> None:
    with serve(EchoCard(), vpcd) as slot:
        vpcd.accept(greet=False)
        assert slot.wait_connected(5)
        time.sleep(0.05)
        assert not slot.accepted.is_set()  # connected, but vpcd has not taken it yet
        assert vpcd.exchange(bytes([Control.GET_ATR])) == EchoCard.atr
        assert slot.wait_accepted(5)
        assert slot.failure is None


@pytest.mark.parametrize(
    "greeting", [b"SSH-2.0-OpenSSH_9.2\r\n", b"\x00\x01\x7f", b"\x00\x05hello"]
)
def test_a_server_that_is_not_vpcd_is_given_up(vpcd: FakeVpcd, greeting: bytes) -> None:
    slot = serve(EchoCard(), vpcd)
    conn = vpcd.accept(greet=False)
    conn.sendall(greeting)
    assert not slot.wait_accepted(5)
    vpcd.expect_closed()
    slot.stop()
    assert slot.failure is not None
    assert f"what listens on 127.0.0.1:{vpcd.port} is not vpcd" in slot.failure
    assert not slot.accepted.is_set()


def test_an_unknown_host_is_given_up() -> None:
    slot = VpcdSlot(EchoCard(), host="no-such-host.invalid", port=35963).start()
    assert not slot.wait_accepted(30)
    slot.stop()
    assert slot.failure is not None and "unknown host 'no-such-host.invalid'" in slot.failure


def test_stop_ends_the_thread(vpcd: FakeVpcd) -> None:
    slot = serve(EchoCard(), vpcd)
    vpcd.accept()
    slot.stop()
    vpcd.expect_closed()
    assert not any(t.name == f"vpcd-127.0.0.1:{vpcd.port}" for t in threading.enumerate())


# -- the command line's checks (before anything is served) ------------------------------


def test_sim_needs_a_readable_image(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--vpcd", "--card", "/nonexistent/card.json"]) == 1
    assert "card image /nonexistent/card.json: cannot read" in capsys.readouterr().err


def test_sim_eject_after_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--vpcd", "--echo", "--eject-after", "0"]) == 2
    assert "--eject-after must be at least 1" in capsys.readouterr().err


def test_sim_serves_a_card_or_the_echo(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["sim", "--vpcd", "--echo", "--card", "card.json"])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
