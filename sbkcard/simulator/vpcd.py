"""The vpcd bridge: a simulated card in a PC/SC reader (vsmartcard's vpcd protocol).

``vpcd`` (Debian package vsmartcard-vpcd) is a pcscd reader driver whose card is a TCP
client: it listens on one port per slot (35963 for slot 0 and 35964 for slot 1 in the
shipped configuration) and the card connects to it.  Every message, both ways, is a
2-byte big-endian length followed by that many bytes.  From vpcd, a 1-byte message is a
control byte (:class:`Control`); anything longer is a command APDU, answered with
``data ‖ SW1 SW2``.  Closing the connection removes the card, reconnecting inserts it.

:func:`answer` is the protocol as a pure function over one frame; :class:`VpcdSlot` runs it
over a socket in a thread with what the protocol needs to be fast and robust: whole-frame
reads, ``TCP_NODELAY``, ``TCP_QUICKACK`` after every ``recv`` (vpcd writes length and
payload in two ``send`` calls: without the quick ACK every APDU waits ~44 ms for the
delayed ACK), one write per frame, reconnection when vpcd drops the card, and removal /
insertion under the caller's control.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Protocol

from sbkcard.errors import CardRemovedError, NoCardError

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "Card",
    "Control",
    "EchoCard",
    "VpcdSlot",
    "answer",
]

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 35963
"""vpcd's slot 0 in Debian's ``/etc/reader.conf.d/vpcd`` (``DEVICENAME /dev/null:0x8C7B``)."""

_SW_NO_PRECISE_DIAGNOSIS = b"\x6f\x00"
_RECV_SIZE = 65536 + 2


class Control(enum.IntEnum):
    """The control bytes vpcd sends as 1-byte frames (only ``GET_ATR`` gets a reply)."""

    POWER_OFF = 0x00
    POWER_ON = 0x01
    RESET = 0x02
    GET_ATR = 0x04


_CONTROLS = frozenset(Control.__members__.values())


class Card(Protocol):
    """What the bridge needs of a card: the simulator's ``SimulatedCard`` interface."""

    @property
    def atr(self) -> bytes:
        """The card's answer to reset."""
        ...

    def power_on(self) -> bytes:
        """Cold reset; returns the ATR."""
        ...

    def reset(self) -> bytes:
        """Warm reset; returns the ATR."""
        ...

    def power_off(self) -> None:
        """Remove power (volatile state is lost)."""
        ...

    def transmit(self, apdu: bytes) -> bytes:
        """One command APDU in, ``data ‖ SW1 SW2`` out."""
        ...


class EchoCard:
    """A card without logic, for measuring the bridge itself: each command comes back ‖ 9000.

    It speaks the same framing as a simulated card and nothing else, so the round trip
    through pyscard → pcscd → vpcd → :class:`VpcdSlot` → :class:`EchoCard` is the floor
    any card behind the bridge can reach (``benchmarks/bench_pcsc.py``).
    """

    atr = bytes.fromhex("3B680000") + b"sbk-echo"

    def power_on(self) -> bytes:
        """Nothing to power; returns the ATR."""
        return self.atr

    def reset(self) -> bytes:
        """Nothing to reset; returns the ATR."""
        return self.atr

    def power_off(self) -> None:
        """Nothing to power off."""

    def transmit(self, apdu: bytes) -> bytes:
        """The command itself followed by ``90 00``."""
        return apdu + b"\x90\x00"


def answer(card: Card, frame: bytes) -> bytes | None:
    """The reply to one frame from vpcd, or ``None`` when the frame takes no reply.

    Get-ATR reads :attr:`Card.atr` and nothing else (pcscd polls it every ~400 ms to see
    whether the card is present: it must be fast and leave the card as it was).

    A command always gets a reply of at least a status word: vpcd reads a reply's
    length and then waits, without a timeout, for that many bytes, so an empty reply
    blocks the reader (and every application using it) for good.  A command that reaches
    an unpowered card (pcscd powers the card down when one application disconnects with
    ``SCARD_UNPOWER_CARD`` while another is between connect and transmit) powers it up
    first, as a cold reset: the command then runs in a fresh COS session, so no security
    state survives the power cut, and the application learns that from the card's own
    status words.  A card that cannot be powered (taken out of its reader) answers
    ``6F00``.  :class:`~sbkcard.errors.CardRemovedError` (the card lost power in the
    middle of a command: a fault injected into its NVM) propagates.
    """
    if len(frame) == 1:
        code = frame[0]
        if code == Control.GET_ATR:
            return card.atr
        if code == Control.POWER_ON:
            with contextlib.suppress(NoCardError):  # a card taken out stays unpowered
                card.power_on()
        elif code == Control.RESET:
            with contextlib.suppress(NoCardError):
                card.reset()
        elif code == Control.POWER_OFF:
            card.power_off()
        else:
            log.warning("vpcd sent unknown control byte %02X; ignored", code)
        return None
    try:
        reply = card.transmit(frame)
    except NoCardError:
        try:
            card.power_on()
        except NoCardError:
            return _SW_NO_PRECISE_DIAGNOSIS
        log.info("a command reached the unpowered card: powered it up (cold reset)")
        reply = card.transmit(frame)
    return reply if len(reply) >= 2 else _SW_NO_PRECISE_DIAGNOSIS


class VpcdSlot:
    """A card in one vpcd slot: a TCP client of vpcd, served from a background thread.

    The slot connects to ``host:port`` (retrying every ``retry_interval`` seconds while
    vpcd is not listening, e.g. while pcscd restarts) and answers frames until the
    connection ends, then reconnects: the card is *present* as long as it is connected.
    :meth:`remove` closes the connection and keeps it closed until :meth:`insert`.
    ``eject_after=N`` removes the card once it has answered N command APDUs (for tests of
    removal in the middle of a session).  A card that loses power in the middle of a
    command (:class:`~sbkcard.errors.CardRemovedError`, from a power cut injected into its
    NVM) is a card torn out of the reader: the slot disconnects it and reconnects.

    vpcd greets a card it takes with a control frame (pcscd's presence poll, every
    ~400 ms): :attr:`accepted` is set at the first one.  Until then the card waits, either
    for vpcd to listen (:attr:`last_error` says why it is not connected) or, connected,
    for vpcd to take it (a slot serves one card: a second one waits, silent, in vpcd's
    queue).  What cannot work ends the thread with :attr:`failure` set: an unknown host,
    or a server there whose first message is not a vpcd control frame.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        card: Card,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        eject_after: int | None = None,
        retry_interval: float = 0.05,
    ) -> None:
        if eject_after is not None and eject_after < 1:
            raise ValueError(f"eject_after must be at least 1, not {eject_after}")
        self.card = card
        self.host = host
        self.port = port
        self.eject_after = eject_after
        self.retry_interval = retry_interval
        self.apdu_count = 0
        """Command APDUs answered since the slot was created."""
        self.insertions = 0
        """Connections vpcd accepted (each is a card insertion as pcscd sees it)."""
        self.accepted = threading.Event()
        """Set once vpcd has sent its first control frame to this card."""
        self.failure: str | None = None
        """Why the slot gave up (unknown host, not vpcd), or ``None``."""
        self.last_error: str | None = None
        """Why the last connection attempt failed, or ``None``."""
        self._present = True
        self._stopping = False
        self._swap: Callable[[], bool] | None = None
        self._swap_pending = False
        self._cond = threading.Condition()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._connected = threading.Event()

    def __repr__(self) -> str:
        state = "present" if self.present else "removed"
        return f"VpcdSlot({self.host}:{self.port}, {state}, {self.apdu_count} APDUs)"

    # -- control (any thread) ---------------------------------------------------------

    @property
    def present(self) -> bool:
        """Whether the card is meant to be in the reader (connected or reconnecting)."""
        return self._present

    @property
    def connected(self) -> bool:
        """Whether the card is connected to vpcd right now."""
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        """Block until the connection to vpcd is up (or ``timeout`` seconds passed)."""
        return self._connected.wait(timeout)

    def wait_accepted(self, timeout: float | None) -> bool:
        """Block until vpcd has taken the card (``True``), or the slot gave up (see
        :attr:`failure`) or ``timeout`` seconds passed (``False``)."""
        with self._cond:
            self._cond.wait_for(lambda: self.accepted.is_set() or self.failure is not None, timeout)
        return self.accepted.is_set()

    def start(self) -> VpcdSlot:
        """Serve in a daemon thread; returns ``self``."""
        if self._thread is not None:
            raise RuntimeError(f"{self!r} is already started")
        self._thread = threading.Thread(
            target=self.serve, name=f"vpcd-{self.host}:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Disconnect, stop serving and wait for the thread to end."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            self._drop_connection()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def remove(self) -> None:
        """Take the card out: close the connection and stay out until :meth:`insert`."""
        with self._cond:
            self._present = False
            self._drop_connection()

    def insert(self) -> None:
        """Put the card back: connect to vpcd again."""
        with self._cond:
            self._present = True
            self._cond.notify_all()

    def remove_after_reply(self, swap: Callable[[], bool]) -> None:
        """Take the card out once the answer to the current command is sent, then call
        ``swap`` (the card is out); insert again if it returns ``True`` (a machine
        feeding its next chip).  Called from the card's own ``transmit``."""
        self._swap = swap
        self._swap_pending = True

    def toggle(self) -> bool:
        """Remove the card if present, insert it otherwise; returns the new presence."""
        with self._cond:
            if self._present:
                self.remove()
            else:
                self.insert()
            return self._present

    def __enter__(self) -> VpcdSlot:
        return self if self._thread is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _drop_connection(self) -> None:
        """Shut the live socket down (called with the lock held); wakes a blocked recv."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)

    # -- the serving thread -----------------------------------------------------------

    def serve(self) -> None:
        """Connect, answer, reconnect, until :meth:`stop` (runs in the calling thread)."""
        while True:
            sock = self._connect()
            if sock is None:
                return
            try:
                self._session(sock)
            except CardRemovedError:
                log.info("%r: power lost during a command; card torn out and re-inserted", self)
            finally:
                with self._cond:
                    self._sock = None
                    self._connected.clear()
                sock.close()
                self.card.power_off()
                log.info("%r: card left the reader", self)
                swap, self._swap = self._swap, None
                if swap is not None and swap():
                    self.insert()

    def _connect(self) -> socket.socket | None:
        """A live connection to vpcd, or ``None`` once stopping."""
        while True:
            with self._cond:
                while not self._present and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return None
            try:
                sock = socket.create_connection((self.host, self.port), timeout=1.0)
            except socket.gaierror as exc:
                self._give_up(f"unknown host {self.host!r} ({exc.strerror})")
                return None
            except OSError as exc:
                self.last_error = exc.strerror or str(exc)
                with self._cond:
                    if self._cond.wait_for(lambda: self._stopping, self.retry_interval):
                        return None
                continue
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._cond:
                if self._stopping or not self._present:
                    sock.close()
                    continue
                self._sock = sock
                self.insertions += 1
                self.last_error = None
                self._connected.set()
            log.info("%r: connected; waiting for vpcd to take the card", self)
            return sock

    def _give_up(self, failure: str) -> None:
        log.info("%r: giving up: %s", self, failure)
        with self._cond:
            self.failure = failure
            self._stopping = True
            self._cond.notify_all()

    def _greeted(self, buf: bytearray) -> bool:
        """Whether the first bytes on a connection open a vpcd control frame (else give up)."""
        head = bytes(buf[:3])
        if b"\x00\x01".startswith(head[:2]) and (len(head) < 3 or head[2] in _CONTROLS):
            if len(head) == 3:
                with self._cond:
                    self.accepted.set()
                    self._cond.notify_all()
                log.info("%r: card inserted (vpcd took it)", self)
            return True
        self._give_up(
            f"what listens on {self.host}:{self.port} is not vpcd: its first bytes were "
            f"{bytes(buf[:8]).hex(' ').upper()}, not a control frame"
        )
        return False

    def _session(self, sock: socket.socket) -> None:
        """Answer frames on one connection until it ends."""
        buf = bytearray()
        quickack = socket.TCP_QUICKACK
        tcp = socket.IPPROTO_TCP
        greeted = False
        while True:
            try:
                while len(buf) < (2 if greeted else 3):
                    chunk = sock.recv(_RECV_SIZE)
                    sock.setsockopt(tcp, quickack, 1)
                    if not chunk:
                        return
                    buf += chunk
                    if not greeted and not self._greeted(buf):
                        return
                greeted = True
                size = (buf[0] << 8) | buf[1]
                while len(buf) < 2 + size:
                    chunk = sock.recv(_RECV_SIZE)
                    sock.setsockopt(tcp, quickack, 1)
                    if not chunk:
                        return
                    buf += chunk
            except OSError:
                return
            frame = bytes(buf[2 : 2 + size])
            del buf[: 2 + size]
            try:
                reply = answer(self.card, frame)
            except CardRemovedError:
                raise
            except Exception:
                # A card answers everything with a status word; one that raises is a bug,
                # answered as a COS answers its own internal errors (none to a control).
                log.exception("%r: the card raised on a %d-byte frame", self, size)
                reply = _SW_NO_PRECISE_DIAGNOSIS if size > 1 else None
            if reply is not None:
                try:
                    sock.sendall(len(reply).to_bytes(2, "big") + reply)
                except OSError:
                    return
            if self._swap_pending:
                self._swap_pending = False
                self.remove()
                return
            if size > 1:
                self.apdu_count += 1
                if self.eject_after is not None and self.apdu_count == self.eject_after:
                    log.info("%r: ejecting after %d APDUs", self, self.apdu_count)
                    self.remove()
                    return
