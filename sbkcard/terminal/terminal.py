"""A counter's reader: the card slot, the PSAM slot (or a key service), hotlist and PIN pad.

:class:`Terminal` is the object a hospital or pharmacy program holds.  Each transaction
is one :meth:`Terminal.session`: the card is powered and preprocessed (SSSE selected,
EF05 read, hotlist and :class:`~sbkcard.terminal.policy.CardPolicy` checked (Part 7
§5.4), :class:`~sbkcard.terminal.connection.Connection`), the
operations of :mod:`sbkcard.terminal.operations` run on it, and the card (and the PSAM)
are powered down at the end, whatever happened — as S3 §1.1.3 step (10) asks of every
reader function.

The security module is the PSAM when a PSAM reader is given, else an
:class:`~sbkcard.terminal.security.hsm.HsmModule` over the key service when one is given, else
none (operations that need one raise :class:`~sbkcard.terminal.errors.NoPsamError`,
code -2201).  The PSAM is powered only when an operation needs it.

With :attr:`CardPolicy.block_hotlisted <sbkcard.terminal.policy.CardPolicy.block_hotlisted>`
set, a hotlisted card has that application blocked (APPLICATION BLOCK,
:func:`~sbkcard.terminal.operations.maintenance.block_application`) before it is refused; the
:class:`~sbkcard.terminal.errors.HotlistedCardError` says what was done in ``action``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sbkcard.errors import SbkcardError
from sbkcard.terminal.connection import Connection
from sbkcard.terminal.errors import (
    CardMismatchError,
    HotlistedCardError,
    UnsupportedCardError,
)
from sbkcard.terminal.hotlist import Hotlist
from sbkcard.terminal.operations.maintenance import block_application
from sbkcard.terminal.operations.pinpad import PinPad
from sbkcard.terminal.policy import CardPolicy
from sbkcard.terminal.security.base import SecurityModule
from sbkcard.terminal.security.hsm import HsmModule, KeyService
from sbkcard.terminal.security.sam import DepthIndex, PsamModule
from sbkcard.terminal.transports.transport import ReaderSession, Trace, Transport


def _now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


@dataclass
class Terminal:
    """A reader with a card slot and, optionally, a PSAM slot or a key service.

    ``device_number`` is the 终端设备号 of the national strings (empty when the reader has
    none); ``terminal_number`` the 12-digit 终端机编号 used in HSM mode (zeros by default,
    S3 §1.3.2; with a PSAM it comes from the PSAM's file 0016).  ``rng`` makes the
    terminal's random numbers and ``clock`` its time (both replaceable for tests);
    ``policy`` the cards it accepts and what it does with a hotlisted one.
    """

    card_reader: Transport
    psam_reader: Transport | None = None
    contactless_reader: Transport | None = None
    """The contactless (ISO/IEC 14443) reader, when the counter has one."""
    key_service: KeyService | None = None
    hotlist: Hotlist | None = None
    pinpad: PinPad | None = None
    rng: Callable[[int], bytes] = os.urandom
    clock: Callable[[], dt.datetime] = _now
    trace: Trace = field(default_factory=Trace)
    device_number: str = ""
    terminal_number: str = "000000000000"
    policy: CardPolicy = field(default_factory=CardPolicy)
    interface: int = 1
    """The national functions' iType for the next sessions: 1 contact, 2 contactless,
    3 whichever holds a card (contact first), 4 the same (contactless first)."""
    _hsm: HsmModule | None = field(default=None, init=False, repr=False)
    _depths: dict[bytes, DepthIndex] = field(default_factory=dict, init=False, repr=False)
    """The depth index of each PSAM seen (by ATR and public information, Part 9 §8)."""
    _one_record_types: set[bytes] = field(default_factory=set, init=False, repr=False)
    """Card types without READ RECORD's range modes (see :mod:`.connection`)."""

    def _open_module(self, hsm: bool = True) -> tuple[SecurityModule | None, Callable[[], None]]:
        if self.psam_reader is not None:
            psam = PsamModule(ReaderSession(self.psam_reader, device="psam", trace=self.trace))
            try:
                psam.open()
            except BaseException:
                psam.close()
                raise
            identity = psam.session.atr + psam.public_info
            psam.depths = self._depths.setdefault(identity, psam.depths)
            return psam, psam.close
        if self.key_service is not None and hsm:
            if self._hsm is None:
                self._hsm = HsmModule(
                    self.key_service, terminal_number=bytes.fromhex(self.terminal_number)
                )
            return self._hsm, lambda: None
        return None, lambda: None

    @contextmanager
    def session(
        self, *, expect: tuple[str, str] | None = None, hsm: bool = True
    ) -> Iterator[Connection]:
        """One transaction: the card powered, preprocessed and hotlist-checked; then off.

        ``expect`` is the (card identification code, card number) the caller expects
        (the national interface's pCardInfo): checked against the hotlist before the
        card is powered (unless the policy blocks hotlisted cards: a card must be powered
        to be blocked) and against the card after EF05 is read
        (:class:`~sbkcard.terminal.errors.CardMismatchError`).  ``hsm=False`` keeps the
        key service out (the national PSAM functions use the PSAM only).
        """
        blocking = self.policy.block_hotlisted is not None
        if expect is not None and self.hotlist is not None and not blocking:
            self.hotlist.ensure_clear(expect[1], expect[0])
        closers: list[Callable[[], None]] = []

        def module() -> SecurityModule | None:
            opened, close = self._open_module(hsm)
            closers.append(close)
            return opened

        conn = Connection(
            ReaderSession(self.reader_for(self.interface), device="card", trace=self.trace),
            module=module,
            hotlist=self.hotlist,
            pinpad=self.pinpad,
            rng=self.rng,
            clock=self.clock,
            device_number=self.device_number,
            terminal_number=self.terminal_number,
            policy=self.policy,
            one_record_types=self._one_record_types,
        )
        try:
            try:
                issuer = conn.open()
            except HotlistedCardError as exc:
                if conn.context is None or self.policy.block_hotlisted is None:
                    raise
                raise self._block_hotlisted(conn, exc, self.policy.block_hotlisted) from exc
            if expect is not None and (
                expect[0].upper() != str(issuer.card_id) or expect[1].upper() != issuer.card_number
            ):
                raise CardMismatchError(
                    f"the card in the reader is {issuer.card_id}|{issuer.card_number}, not "
                    f"{expect[0]}|{expect[1]}"
                )
            yield conn
        finally:
            conn.close()
            for close in closers:
                close()

    def reader_for(self, i_type: int) -> Transport:
        """The card reader an iType names (S3 §1.1.2); 3 and 4 pick the one holding a card.

        Without a contactless reader, iType 2 is :class:`UnsupportedCardError`; a reader
        says it holds a card by its ``inserted`` attribute (the simulator's and the PC/SC
        transport's), a reader without one is taken to hold a card.
        """
        contact, contactless = self.card_reader, self.contactless_reader
        if i_type == 1:
            return contact
        if contactless is None:
            if i_type == 2:
                raise UnsupportedCardError("contactless operation (iType 2): no contactless reader")
            return contact
        order = {2: (contactless,), 3: (contact, contactless), 4: (contactless, contact)}
        if i_type not in order:
            raise UnsupportedCardError(f"iType must be 1, 2, 3 or 4, got {i_type}")
        for reader in order[i_type]:
            if getattr(reader, "inserted", True):
                return reader
        return order[i_type][0]

    @staticmethod
    def _block_hotlisted(
        conn: Connection, refused: HotlistedCardError, df: str
    ) -> HotlistedCardError:
        """Block ``df`` of a hotlisted card; the refusal, saying what was done."""
        try:
            done = block_application(conn, df)
        except SbkcardError as exc:
            action = f"blocking {df} failed: {exc}"
        else:
            action = f"application {done.target} blocked"
        return HotlistedCardError(
            refused.card_number, refused.card_id, refused.reason, refused.kind, action
        )
