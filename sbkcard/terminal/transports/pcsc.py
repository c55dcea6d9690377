"""The PC/SC transport: a card in a reader through pyscard and pcscd (PCSC.md).

:class:`PcscTransport` satisfies :class:`~sbkcard.terminal.transports.transport.Transport`, so every
terminal operation runs unchanged against a card in a USB reader, or a simulated card
behind pcscd and vpcd (``sbkcard sim --vpcd``).  It passes APDUs through as they are: the
social security card's ATR makes it a T=0 card, and the terminal's
:class:`~sbkcard.terminal.transports.transport.Session` answers ``61xx``/``6Cxx`` itself.

PC/SC failures become the project's transport errors, each naming the reader:

* no card in the reader → :class:`~sbkcard.errors.NoCardError`;
* the card left the reader (a handle from before a removal) →
  :class:`~sbkcard.errors.CardRemovedError` (call :meth:`PcscTransport.power_on` again);
* pcscd not running, or restarted under a live handle →
  :class:`~sbkcard.errors.TransportError` saying so; the next
  :meth:`PcscTransport.power_on` reconnects once pcscd is back.

From :meth:`~PcscTransport.power_on` to :meth:`~PcscTransport.power_off` the transport
holds a PC/SC transaction (SCardBeginTransaction / SCardEndTransaction) on the card, so
no other application's commands interleave with a terminal's session: pcscd makes other
clients wait until the card is powered off.  ``hold=False`` leaves the card open to
others between commands, and ``with transport.transaction():`` then takes the lock for
a run of commands.

The card is shared the way PC/SC intends, so that other applications on the same reader
(a second program at the counter, a monitoring tool) keep their sessions:

* :meth:`~PcscTransport.power_on` connects in shared mode and begins the transaction
  without resetting the card: pcscd keeps it powered, and the terminal's flow selects its
  application by AID first anyway.  (Exclusive mode, where no one else can be connected,
  cold-resets it, as the reader interface's power-on asks.)
* :meth:`~PcscTransport.power_off` ends the transaction and disconnects leaving the card
  as it is, unless the session may have raised the card's security state: a PIN
  verified ("until power-off", Part 5 §6.11.1), a key authenticated, a challenge or a
  purse transaction open.  Then it ends with ``SCARD_RESET_CARD``, a warm reset that
  clears all of it, so that no application after the terminal finds the cardholder's PIN
  still verified.  Only the plain reads of ISO 7816-4 (SELECT, READ BINARY, READ RECORD,
  GET RESPONSE, GET DATA, and INTERNAL AUTHENTICATE, which proves the card and grants
  nothing) leave the security state as it was; any other command counts as raising it.
* A card another application reset between the terminal's connect and its transaction
  (``SCARD_W_RESET_CARD``) is acknowledged and the transaction begun again: nothing of
  the terminal's session was lost yet.

:attr:`PcscTransport.inserted` and :attr:`PcscTransport.powered` say where the card is
without connecting to it (the reader's state; the open handle's status), so the reader
API's ``ICC_Reader_GetStatus`` is exact over PC/SC as over the simulator.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, TypeVar

from sbkcard.errors import CardRemovedError, NoCardError, TransportError

try:
    from smartcard import scard
except ImportError as _exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        "sbkcard.terminal.transports.pcsc needs pyscard: pip install 'sbkcard[pcsc]'"
    ) from _exc

__all__ = ["PcscTransport", "list_readers"]


def _code(name: str) -> int:
    return int(getattr(scard, name)) & 0xFFFFFFFF


_OK = _code("SCARD_S_SUCCESS")
_NO_SERVICE = frozenset(
    _code(n) for n in ("SCARD_E_NO_SERVICE", "SCARD_E_SERVICE_STOPPED", "SCARD_F_COMM_ERROR")
)
_INVALID_HANDLE = _code("SCARD_E_INVALID_HANDLE")
_REMOVED = _code("SCARD_W_REMOVED_CARD")
_NO_CARD = frozenset(_code(n) for n in ("SCARD_E_NO_SMARTCARD", "SCARD_W_UNPOWERED_CARD"))
_RESET = _code("SCARD_W_RESET_CARD")
_NOT_TRANSACTED = _code("SCARD_E_NOT_TRANSACTED")
_READER_GONE = frozenset(_code(n) for n in ("SCARD_E_READER_UNAVAILABLE", "SCARD_E_UNKNOWN_READER"))
_NO_READERS = _code("SCARD_E_NO_READERS_AVAILABLE")
_SHARING = _code("SCARD_E_SHARING_VIOLATION")

_PRESENT = int(scard.SCARD_STATE_PRESENT)
_POWERED = 0x0004 if sys.platform == "win32" else 0x0010
"""SCARD_POWERED in SCardStatus's state (pyscard does not export it): a flag of pcsc-lite's;
WinSCard counts up instead (ABSENT = 1 … SWALLOWED = 3, POWERED = 4 … SPECIFIC = 6), and
there only the powered states have this bit."""

_T = TypeVar("_T")

_STATELESS = frozenset({0xA4, 0xB0, 0xB2, 0xC0, 0xCA, 0x88})
"""INS of the interindustry (CLA 00) commands that leave the security state as it was."""

_PROTOCOLS = int(scard.SCARD_PROTOCOL_T0) | int(scard.SCARD_PROTOCOL_T1)
_SETTLE_SECONDS = 1.0
"""How long a failed transmission waits for pcscd to see whether the card has left
(pcscd polls a reader about every 400 ms)."""


def _message(rc: int) -> str:
    return f"{str(scard.SCardGetErrorMessage(rc)).strip().rstrip('.')} (0x{rc:08X})"


def _no_service(what: str, rc: int) -> TransportError:
    return TransportError(
        f"pcscd is not running or was restarted: {what} failed with {_message(rc)}; "
        "start pcscd, then power the card on again"
    )


def _establish() -> Any:
    rc, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    rc &= 0xFFFFFFFF
    if rc != _OK:
        raise _no_service("connecting to the PC/SC service", rc)
    return ctx


def _list(ctx: Any) -> list[str]:
    rc, readers = scard.SCardListReaders(ctx, [])
    rc &= 0xFFFFFFFF
    if rc == _NO_READERS:
        return []
    if rc in _NO_SERVICE or rc == _INVALID_HANDLE:
        raise _no_service("listing readers", rc)
    if rc != _OK:
        raise TransportError(f"listing PC/SC readers failed: {_message(rc)}")
    return [str(r) for r in readers]


def list_readers() -> list[str]:
    """The names of the PC/SC readers pcscd knows, in its order (empty if none)."""
    ctx = _establish()
    try:
        return _list(ctx)
    finally:
        scard.SCardReleaseContext(ctx)


class PcscTransport:
    """A card in the PC/SC reader named ``reader`` (the full name, or a unique substring).

    ``hold`` (default) keeps a PC/SC transaction from power-on to power-off: the
    terminal's session has the card to itself.  ``exclusive=True`` connects in
    exclusive mode instead (no other application may even connect while it is powered).
    """

    def __init__(self, reader: str, *, hold: bool = True, exclusive: bool = False) -> None:
        self.reader = reader
        self.hold = hold
        self.share = scard.SCARD_SHARE_EXCLUSIVE if exclusive else scard.SCARD_SHARE_SHARED
        self.reader_name: str | None = None
        """The full name of the reader in use (set at :meth:`power_on`)."""
        self._ctx: Any = None
        self._card: Any = None
        self._held = False
        self._raised = False
        self._protocol = 0
        self._atr = b""

    def __repr__(self) -> str:
        state = "connected" if self._card is not None else "not connected"
        return f"PcscTransport({self.reader_name or self.reader!r}, {state})"

    # -- the Transport protocol -------------------------------------------------------

    @property
    def atr(self) -> bytes:
        """The ATR read at the last :meth:`power_on` or :meth:`reset`."""
        if self._card is None:
            raise NoCardError(f"{self._where()}: card not powered: call power_on() first")
        return self._atr

    def power_on(self) -> bytes:
        """Connect to the card (and take it, see the module's notes); returns the ATR.

        Reconnects to pcscd first if it was restarted since the last call.  Raises
        :class:`NoCardError` if the reader is empty.
        """
        self._release()
        return self._with_context(self._connect)

    def reset(self) -> bytes:
        """Warm reset (the card stays connected); returns the ATR."""
        card = self._require_card()
        rc, protocol = scard.SCardReconnect(card, self.share, _PROTOCOLS, scard.SCARD_RESET_CARD)
        self._check(rc, "reset")
        self._protocol = protocol
        self._raised = False
        self._atr = self._status_atr()
        return self._atr

    def power_off(self) -> None:
        """End the session: release the card, reset if the session raised its security
        state (see the module's notes); a card or pcscd already gone is no error."""
        rc = self._release()
        if rc in (_OK, _REMOVED, _INVALID_HANDLE) or rc in _NO_SERVICE or rc in _NO_CARD:
            return
        raise TransportError(f"{self._where()}: power off failed: {_message(rc)}")

    def transmit(self, apdu: bytes) -> bytes:
        """Send one command APDU as it is; returns response data ‖ SW1 SW2."""
        card = self._require_card()
        if not self._raised and (len(apdu) < 2 or apdu[0] != 0x00 or apdu[1] not in _STATELESS):
            self._raised = True
        rc, response = scard.SCardTransmit(card, self._protocol, list(apdu))
        rc &= 0xFFFFFFFF
        what = f"transmitting {bytes(apdu[:4]).hex().upper()}"
        if rc == _OK and len(response) < 2:
            # No status word: vpcd reports a card that left mid-command this way.
            rc = self._settle(_NOT_TRANSACTED)
            if rc == _NOT_TRANSACTED:
                raise TransportError(f"{self._where()}: no status word in the answer ({what})")
        elif rc == _NOT_TRANSACTED:
            rc = self._settle(rc)
        self._check(rc, what)
        return bytes(response)

    # -- beyond the protocol ----------------------------------------------------------

    @property
    def inserted(self) -> bool:
        """A card is in the reader now, powered or not.

        The reader's state (SCardGetStatusChange with a zero timeout): the card is not
        connected to, and a transaction in progress is left as it is.  Raises
        :class:`TransportError` if pcscd is not running or the reader is unknown.
        """
        return bool(self._with_context(self._reader_state) & _PRESENT)

    @property
    def powered(self) -> bool:
        """The card is powered for this transport: on since :meth:`power_on`, and since
        neither removed (even if put back) nor reset by another application.

        The open handle's status (SCardStatus), which leaves a transaction as it is; any
        failure of it (the card gone or reset, pcscd restarted) is ``False``, and the next
        command says which.  ``False`` without asking when the transport is not connected.
        """
        if self._card is None:
            return False
        rc, _name, state, _protocol, _atr = scard.SCardStatus(self._card)
        return rc & 0xFFFFFFFF == _OK and bool(state & _POWERED)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the card exclusively for the ``with`` block (already so while ``hold``)."""
        card = self._require_card()
        if self._held:
            yield
            return
        self._check(scard.SCardBeginTransaction(card), "beginning a transaction")
        self._held = True
        try:
            yield
        finally:
            if self._card is card and self._held:
                self._held = False
                scard.SCardEndTransaction(card, scard.SCARD_LEAVE_CARD)

    def close(self) -> None:
        """Power the card off and release the PC/SC context."""
        try:
            self.power_off()
        finally:
            ctx, self._ctx = self._ctx, None
            if ctx is not None:
                scard.SCardReleaseContext(ctx)

    def __enter__(self) -> PcscTransport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------

    def _where(self) -> str:
        return f"reader {self.reader_name or self.reader!r}"

    def _with_context(self, attempt: Callable[[], _T]) -> _T:
        """``attempt()``; once more if its context predated a pcscd restart (and was dropped)."""
        if self._ctx is None:
            return attempt()
        try:
            return attempt()
        except TransportError:
            if self._ctx is not None:
                raise
        return attempt()

    def _reader(self) -> str:
        """The full name of the reader, read from pcscd (a context established if need be)."""
        if self._ctx is None:
            self._ctx = _establish()
        try:
            readers = _list(self._ctx)
        except TransportError:
            self._forget_context()
            raise
        return self._resolve(readers)

    def _reader_state(self) -> int:
        """The reader's SCARD_STATE_* flags now, without connecting to the card."""
        name = self._reader()
        rc, states = scard.SCardGetStatusChange(self._ctx, 0, [(name, scard.SCARD_STATE_UNAWARE)])
        self._check(rc, "reading the reader's state")
        return int(states[0][1])

    def _connect(self) -> bytes:
        name = self._reader()
        rc, card, protocol = scard.SCardConnect(self._ctx, name, self.share, _PROTOCOLS)
        self.reader_name = name
        self._check(rc, "connecting to the card")
        self._card, self._protocol, self._raised = card, protocol, False
        if self.share == scard.SCARD_SHARE_EXCLUSIVE:  # no one else to disturb: cold reset
            self._reconnect(scard.SCARD_UNPOWER_CARD, "powering the card on")
        if self.hold:
            rc = scard.SCardBeginTransaction(card) & 0xFFFFFFFF
            if rc == _RESET:  # reset by another application since our connect: nothing lost
                self._reconnect(scard.SCARD_LEAVE_CARD, "reserving the card")
                rc = scard.SCardBeginTransaction(card)
            self._check(rc, "reserving the card")
            self._held = True
        self._atr = self._status_atr()
        return self._atr

    def _reconnect(self, initialization: int, what: str) -> None:
        rc, protocol = scard.SCardReconnect(self._card, self.share, _PROTOCOLS, initialization)
        self._check(rc, what)
        self._protocol = protocol

    def _resolve(self, readers: list[str]) -> str:
        """The reader named (or uniquely matched by) ``self.reader``."""
        if self.reader in readers:
            return self.reader
        matches = [r for r in readers if self.reader in r]
        if len(matches) == 1:
            return matches[0]
        if matches:
            named = ", ".join(repr(r) for r in matches)
            raise TransportError(f"reader {self.reader!r} is ambiguous: it matches {named}")
        known = ", ".join(repr(r) for r in readers) or "none"
        raise TransportError(f"no PC/SC reader matches {self.reader!r} (readers: {known})")

    def _status_atr(self) -> bytes:
        rc, _name, _state, _protocol, atr = scard.SCardStatus(self._card)
        self._check(rc, "reading the ATR")
        return bytes(atr)

    def _require_card(self) -> Any:
        if self._card is None:
            raise NoCardError(f"{self._where()}: card not powered: call power_on() first")
        return self._card

    def _settle(self, rc: int) -> int:
        """After a failed transmission: what pcscd says once it has looked at the slot."""
        deadline = time.monotonic() + _SETTLE_SECONDS
        while time.monotonic() < deadline:
            status = scard.SCardStatus(self._card)[0] & 0xFFFFFFFF
            if status != _OK:
                return int(status)
            time.sleep(0.05)
        return rc

    def _forget_card(self) -> None:
        self._card = None
        self._held = False

    def _release(self) -> int:
        """End the transaction and disconnect, resetting the card if the session raised its
        security state; the disconnection's return code (success if not connected)."""
        card, held = self._card, self._held
        self._forget_card()
        if card is None:
            return _OK
        disposition = scard.SCARD_RESET_CARD if self._raised else scard.SCARD_LEAVE_CARD
        if held:
            scard.SCardEndTransaction(card, disposition)
            disposition = scard.SCARD_LEAVE_CARD
        return int(scard.SCardDisconnect(card, disposition)) & 0xFFFFFFFF

    def _forget_context(self) -> None:
        ctx, self._ctx = self._ctx, None
        if ctx is not None:
            scard.SCardReleaseContext(ctx)

    def _check(self, rc: int, what: str) -> None:
        """Raise the transport error that ``rc`` means (nothing if it is success)."""
        rc &= 0xFFFFFFFF
        if rc == _OK:
            return
        where = self._where()
        if rc in _NO_SERVICE or rc == _INVALID_HANDLE:
            self._forget_card()
            self._forget_context()
            raise _no_service(f"{what} on {where}", rc)
        if rc == _REMOVED:
            self._forget_card()
            raise CardRemovedError(
                f"the card was removed from {where} (while {what}); its connection is no "
                "longer valid: power it on again"
            )
        if rc in _NO_CARD:
            self._forget_card()
            raise NoCardError(f"no card in {where} ({what}: {_message(rc)})")
        if rc == _RESET:
            raise TransportError(
                f"another application reset the card in {where} (while {what}); its "
                "session state is lost: power it on again"
            )
        if rc in _READER_GONE:
            self._forget_card()
            raise TransportError(f"{where} is no longer available ({what}: {_message(rc)})")
        if rc == _SHARING:
            raise TransportError(f"{where} is in exclusive use by another application")
        raise TransportError(f"{where}: {what} failed: {_message(rc)}")
