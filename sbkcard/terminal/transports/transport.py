"""Transports and the session a terminal runs over one (Part 2 §9.3 T=0, Part 7 §14).

A :class:`Transport` is anything that powers a card and exchanges byte strings with it:
the simulator's in-process card satisfies it as it is, the PC/SC transport
(:mod:`sbkcard.terminal.transports.pcsc`) through pyscard.  The terminal never imports the
simulator: it receives a transport.

A :class:`ReaderSession` adds what every exchange needs on top of a transport:

* T=0: ``61xx`` → GET RESPONSE and ``6Cxx`` → the command again with the right Le,
  through :func:`sbkcard.apdu.t0.transmit_t0`;
* a trace: every APDU that crossed the transport (GET RESPONSE included) is recorded in a
  :class:`Trace` shared by the card and the PSAM sessions of a terminal, in the format of
  :mod:`sbkcard.apdu.trace`, the data of PIN and key commands masked before it is stored;
* a count of the APDUs sent (:attr:`ReaderSession.apdu_count`), for the "fewest APDUs" promise;
* a card that leaves the reader (or loses power) mid-operation becomes a
  :class:`~sbkcard.errors.CardRemovedError` naming the device, the operation and the
  command that got no answer; an empty reader at power-up is
  :class:`~sbkcard.errors.NoCardError`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Protocol

from construct import Construct, Container

from sbkcard.apdu import ApduFormatError, CommandAPDU, ResponseAPDU, bodies
from sbkcard.apdu import trace as apdu_trace
from sbkcard.apdu.status import SW
from sbkcard.apdu.t0 import transmit_t0
from sbkcard.errors import CardRemovedError, NoCardError
from sbkcard.terminal.errors import CardStatusError


class Transport(Protocol):
    """A card in a reader slot: power, ATR and one APDU at a time (data ‖ SW back)."""

    @property
    def atr(self) -> bytes:
        """The ATR of the card (valid after :meth:`power_on`)."""
        ...

    def power_on(self) -> bytes:
        """Cold reset; returns the ATR.  :class:`NoCardError` if the slot is empty."""
        ...

    def reset(self) -> bytes:
        """Warm reset; returns the ATR."""
        ...

    def power_off(self) -> None:
        """Deactivate the card."""
        ...

    def transmit(self, apdu: bytes) -> bytes:
        """One command APDU; response data ‖ SW1 SW2."""
        ...


@dataclass(frozen=True)
class TraceEntry:
    """One APDU across a transport: the device (``"card"``, ``"psam"``) and the exchange.

    The command is stored masked when it carries a PIN or key material
    (:data:`sbkcard.apdu.trace.MASK_RULES`): a trace never holds a secret.
    """

    device: str
    exchange: apdu_trace.Exchange

    @property
    def sw(self) -> int:
        """The status word of the response (``0`` when none came)."""
        response = self.exchange.response
        return response.sw if isinstance(response, ResponseAPDU) else 0

    def lines(self) -> list[str]:
        """The trace lines of this APDU, prefixed with the device."""
        return [f"{self.device:<4} {line}" for line in self.exchange.lines()]


@dataclass
class Trace:
    """The APDUs of a terminal's sessions, in order (card and PSAM interleaved)."""

    entries: list[TraceEntry] = field(default_factory=list)
    start: float = field(default_factory=time.perf_counter)

    def record(
        self, device: str, command: bytes, response: bytes | None, sent: float, elapsed: float
    ) -> None:
        """Add one exchange (the command masked if it carries a secret)."""
        shown: apdu_trace.TracedCommand
        try:
            shown = apdu_trace.mask_command(CommandAPDU.from_bytes(command))
        except ApduFormatError:
            shown = apdu_trace.mask_command(command)
        answer: apdu_trace.TracedResponse | None = None
        if response is not None:
            answer = ResponseAPDU.from_bytes(response) if len(response) >= 2 else response
        exchange = apdu_trace.Exchange(shown, answer, sent - self.start, elapsed, device)
        self.entries.append(TraceEntry(device, exchange))

    def count(self, device: str) -> int:
        """How many APDUs went to ``device``."""
        return sum(1 for entry in self.entries if entry.device == device)

    def text(self) -> str:
        """The whole trace, one line per command and per response."""
        return "".join(line + "\n" for entry in self.entries for line in entry.lines())

    def clear(self) -> None:
        """Forget the recorded exchanges and restart the clock."""
        self.entries.clear()
        self.start = time.perf_counter()


class ReaderSession:
    """One device (``"card"`` or ``"psam"``) in a reader, powered for a run of operations."""

    def __init__(self, transport: Transport, *, device: str = "card", trace: Trace | None = None):
        self.transport = transport
        self.device = device
        self.trace = trace if trace is not None else Trace()
        self.apdu_count = 0
        self.operation = "the session"
        self.atr = b""
        self.powered = False

    def power_on(self) -> bytes:
        """Power the device up; its ATR.  :class:`NoCardError` names the empty slot."""
        try:
            self.atr = bytes(self.transport.power_on())
        except CardRemovedError as exc:
            raise CardRemovedError(f"{self.device} lost contact at power-up: {exc}") from exc
        except NoCardError as exc:
            raise NoCardError(f"no {self.device} in the reader ({exc})") from exc
        self.powered = True
        return self.atr

    def power_off(self) -> None:
        """Power the device down (a card already gone is not an error here)."""
        self.powered = False
        with suppress(NoCardError, CardRemovedError):
            self.transport.power_off()

    @contextmanager
    def during(self, operation: str) -> Iterator[None]:
        """Name the operation under way (for the error when the card leaves)."""
        outer, self.operation = self.operation, operation
        try:
            yield
        finally:
            self.operation = outer

    def _raw(self, apdu: bytes) -> bytes:
        sent = time.perf_counter()
        try:
            response = bytes(self.transport.transmit(apdu))
        except (NoCardError, CardRemovedError) as exc:
            self.powered = False
            self.trace.record(self.device, apdu, None, sent, time.perf_counter() - sent)
            raise CardRemovedError(
                f"{self.device} left the reader during {self.operation}: no answer to "
                f"{apdu[:4].hex().upper()} after {self.apdu_count} APDU(s) ({exc})"
            ) from exc
        self.apdu_count += 1
        self.trace.record(self.device, apdu, response, sent, time.perf_counter() - sent)
        return response

    def send(self, command: CommandAPDU) -> ResponseAPDU:
        """Send ``command`` (T=0 procedure applied); the final response, whatever its SW."""
        return ResponseAPDU.from_bytes(transmit_t0(self._raw, bytes(command)))

    def call(self, command: CommandAPDU, what: str) -> bytes:
        """Send ``command``; its data if the SW is ``9000``, else :class:`CardStatusError`."""
        response = self.send(command)
        if response.sw != SW.OK:
            raise CardStatusError(response.sw, what, device=self.device)
        return response.data

    def call_body(self, command: CommandAPDU, body: Construct, what: str) -> Container:
        """:meth:`call`, its data read as the declared ``body`` (:mod:`sbkcard.apdu.bodies`).

        An answer that does not fit is :class:`CardStatusError` ``6F00`` naming the command.
        """
        data = self.call(command, what)
        try:
            return bodies.parse(body, data)
        except bodies.BodyError as exc:
            raise CardStatusError(
                SW.UNKNOWN,
                what,
                device=self.device,
                message=f"{self.device} answered {what} with {len(data)} bytes that do not "
                f"fit its layout ({exc})",
            ) from exc
