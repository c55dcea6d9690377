"""The low-level reader API of Part 8 App. A (``SSSE32.DLL``), over sbkcard transports.

Part 8 titles it 高级应用编程接口 — high-level next to the reader's own serial protocol;
it is the low level under the national interface of S3 (:mod:`.national`).

Part 8 App. A1 gives every reader vendor's library the same C functions, which HIS code
calls directly: ``ICC_Reader_Open``, ``ICC_Reader_Close``, ``ICC_Reader_PowerOn``,
``ICC_Reader_PowerOff``, ``ICC_Reader_GetStatus``, ``ICC_Reader_Application`` and
``ICC_Reader_Libinfo``.  :class:`ReaderApi` renders them with the standard's names,
arguments and ``long`` results: a handle or a length when non-negative, else one of the
codes of table A1.2 (:data:`IFD_OK` …, declared once in
:class:`~sbkcard.terminal.national.codes.Code`).  An output buffer (``unsigned char*``)
is a :class:`bytearray` the function writes from offset 0, as the C library writes the
caller's buffer; the bytes past the returned length are left as they were, and a
failing call writes nothing.

A *device* (``dev_Name``: ``"USB1"``, ``"COM2"`` … or any name given to
:meth:`ReaderApi.attach`) is a reader with numbered contacts (App. A1.3): ``0x01`` …
``0x0F`` user cards, ``0x11`` … ``0x1F`` SAMs, each a
:class:`~sbkcard.terminal.transports.transport.Transport` — a simulated card, or a PC/SC reader
(:meth:`ReaderApi.attach_pcsc`).  ``"AUTO"`` opens the first attached device not already
open.

Where App. A leaves a choice, sbkcard's:

* ``ICC_Reader_Application`` passes the command as it is and returns the card's answer as
  it is: under T=0 a case-4 command answers ``61xx`` and the *caller* sends GET RESPONSE
  (``00 C0 00 00 xx``), as with PC/SC and as Part 7's transaction flows show (SELECT SSSE
  → ``61 1E`` → GET RESPONSE, Part 2 §9.3.2).  The command is parsed first, as a T=0 library
  must to build the TPDU header: a malformed APDU is ``IFD_ParameterError``, an
  extended-length one (no T=0 mapping) ``IFD_BadCommand``.
* ``ICC_Reader_PowerOn`` answers ``IFD_ICC_TypeError`` for an ATR whose TS is neither
  ``3B`` nor ``3F`` (not an ISO 7816-3 processor card: a memory card); a cold reset that
  fails is followed by one warm reset (A1.3).
* The state ``ICC_Reader_GetStatus`` reports is the transport's own when it tells whether
  a card is inserted and powered (:class:`CardPresence`: the simulator's cards and
  :class:`~sbkcard.terminal.transports.pcsc.PcscTransport` do), otherwise what the API last saw:
  powered after a successful power-on, empty after the transport reported no card or a
  removal, else "card, unpowered".  A reader that cannot be asked (pcscd not running) is
  ``-11``.
* A card that fails mid-command is told by where it is afterwards: gone from the reader
  ``-2`` (``IFD_ICC_NoExist``), still there but silent (it lost power) ``-4``
  (``IFD_ICC_NoResponse``) — the national interface, which cannot see the slot, answers
  ``-4`` for both (:func:`~sbkcard.terminal.national.codes.code_for`).  Any other reader
  failure is ``-11``.  ``IFD_CheckSumError`` (a serial line's checksum) cannot arise over
  these transports.

:attr:`ReaderApi.last_error` says in words why the last call failed (the C API has no
such text; it is for logs).  The FoxPro rendering of App. A2 (``ICCR_Open`` …, hex strings
with two-character codes) is not provided: it carries the same calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Final, Protocol, runtime_checkable

from sbkcard.apdu import ApduFormatError, CommandAPDU
from sbkcard.errors import CardRemovedError, NoCardError, TransportError
from sbkcard.terminal.errors import InvalidInputError
from sbkcard.terminal.national.codes import TEXT, Code, code_for
from sbkcard.terminal.transports.transport import Transport

__all__ = [
    "CARD_SLOTS",
    "IFD_OK",
    "SAM_SLOTS",
    "CardPresence",
    "IFD_BadCommand",
    "IFD_CheckSumError",
    "IFD_ConnectError",
    "IFD_ICC_NoExist",
    "IFD_ICC_NoPower",
    "IFD_ICC_NoResponse",
    "IFD_ICC_TypeError",
    "IFD_ParameterError",
    "IFD_UnConnected",
    "ReaderApi",
]

# Table A1.2: the standard's identifiers for the codes of national_codes.Code.
IFD_OK: Final = Code.OK
IFD_ICC_TypeError: Final = Code.WRONG_CARD_TYPE
IFD_ICC_NoExist: Final = Code.NO_CARD
IFD_ICC_NoPower: Final = Code.NOT_POWERED
IFD_ICC_NoResponse: Final = Code.NO_RESPONSE
IFD_ConnectError: Final = Code.READER_CONNECT
IFD_UnConnected: Final = Code.NOT_CONNECTED
IFD_BadCommand: Final = Code.UNSUPPORTED_COMMAND
IFD_ParameterError: Final = Code.BAD_PARAMETER
IFD_CheckSumError: Final = Code.CHECKSUM

CARD_SLOTS: Final = range(0x01, 0x10)
"""User-card contacts ``0x0n``, n = 1 … F (A1.3)."""
SAM_SLOTS: Final = range(0x11, 0x20)
"""SAM contacts ``0x1n``, n = 1 … F (A1.3)."""

ISO_TS: Final = frozenset({0x3B, 0x3F})
"""The initial character of an ISO 7816-3 ATR: direct (3B) or inverse (3F) convention."""

LIBINFO_WIDTHS: Final = (16, 14, 2)
"""Table A1.1: vendor name, device model or serial, library version (GBK bytes)."""


@runtime_checkable
class CardPresence(Protocol):
    """A transport that knows whether its card is in the reader and powered."""

    @property
    def inserted(self) -> bool:
        """A card is in the slot."""
        ...

    @property
    def powered(self) -> bool:
        """The card in the slot is powered (so it is inserted)."""
        ...


class _Seen(Enum):
    """What the API last learnt of a slot whose transport cannot say."""

    POWERED = Code.OK
    UNPOWERED = Code.NOT_POWERED
    EMPTY = Code.NO_CARD


@dataclass
class _Slot:
    transport: Transport
    seen: _Seen = _Seen.UNPOWERED

    def status(self) -> Code:
        """OK, NOT_POWERED or NO_CARD (:class:`TransportError` if the reader cannot say)."""
        transport = self.transport
        if isinstance(transport, CardPresence):
            if transport.powered:
                return Code.OK
            return Code.NOT_POWERED if transport.inserted else Code.NO_CARD
        return self.seen.value

    def after(self, exc: TransportError) -> None:
        """Remember what a transport failure says of the slot."""
        if isinstance(exc, NoCardError | CardRemovedError):
            self.seen = _Seen.EMPTY
        else:
            self.seen = _Seen.UNPOWERED


@dataclass
class _Device:
    slots: dict[int, _Slot]
    handle: int | None = None


@dataclass
class ReaderApi:
    """The App. A1 functions over a table of devices, each a set of contacts.

    ``vendor``, ``model`` and ``version`` are what :meth:`ICC_Reader_Libinfo` reports
    (table A1.1: at most 16, 14 and exactly 2 GBK bytes).
    """

    vendor: str = "sbkcard"
    model: str = "transport"
    version: str = "01"
    last_error: str = field(default="", init=False)
    """Why the last call returned a negative code ("" after a success)."""
    _devices: dict[str, _Device] = field(default_factory=dict, init=False, repr=False)
    _handles: dict[int, str] = field(default_factory=dict, init=False, repr=False)
    _next_handle: int = field(default=1, init=False, repr=False)

    def __post_init__(self) -> None:
        self._libinfo = b"".join(
            _fixed_width(text, width, exact=(name == "version"), field=name)
            for name, text, width in zip(
                ("vendor", "model", "version"),
                (self.vendor, self.model, self.version),
                LIBINFO_WIDTHS,
                strict=True,
            )
        )

    # -- the device table ---------------------------------------------------------------

    def attach(self, dev_name: str, slots: Mapping[int, Transport]) -> None:
        """Make ``dev_name`` a reader with these contacts (slot number → transport)."""
        if not dev_name or dev_name == "AUTO":
            raise InvalidInputError(f"reader API: a device cannot be named {dev_name!r}")
        if dev_name in self._devices:
            raise InvalidInputError(f"reader API: device {dev_name!r} is already attached")
        if not slots:
            raise InvalidInputError(f"reader API: device {dev_name!r} has no contact")
        for number in slots:
            if number not in CARD_SLOTS and number not in SAM_SLOTS:
                raise InvalidInputError(
                    f"reader API: device {dev_name!r}: contact 0x{number:02X} is neither "
                    "a user-card contact (0x01-0x0F) nor a SAM contact (0x11-0x1F)"
                )
        self._devices[dev_name] = _Device({n: _Slot(t) for n, t in slots.items()})

    def attach_reader(self, dev_name: str, card: Transport, sam: Transport | None = None) -> None:
        """A reader with one user-card contact (``0x01``) and perhaps one SAM (``0x11``)."""
        slots = {CARD_SLOTS[0]: card}
        if sam is not None:
            slots[SAM_SLOTS[0]] = sam
        self.attach(dev_name, slots)

    def attach_pcsc(self, dev_name: str, card_reader: str, sam_reader: str | None = None) -> None:
        """A device whose user card and SAM are in PC/SC readers (names or unique parts)."""
        from sbkcard.terminal.transports.pcsc import PcscTransport

        sam = PcscTransport(sam_reader) if sam_reader is not None else None
        self.attach_reader(dev_name, PcscTransport(card_reader), sam)

    # -- App. A1 ------------------------------------------------------------------------

    def ICC_Reader_Open(self, dev_Name: str) -> int:
        """A1.1: a handle (≥ 0) for the device, or a negative code."""
        if dev_Name == "AUTO":
            free = [name for name, device in self._devices.items() if device.handle is None]
            if not free:
                return self._fail(IFD_ConnectError, "AUTO: no attached device is free")
            dev_Name = free[0]
        device = self._devices.get(dev_Name)
        if device is None:
            known = ", ".join(repr(name) for name in self._devices) or "none"
            return self._fail(IFD_ConnectError, f"no device {dev_Name!r} (attached: {known})")
        if device.handle is not None:
            return self._fail(IFD_ConnectError, f"device {dev_Name!r} is already open")
        handle, self._next_handle = self._next_handle, self._next_handle + 1
        device.handle = handle
        self._handles[handle] = dev_Name
        return self._ok(handle)

    def ICC_Reader_Close(self, ReaderHandle: int) -> int:
        """A1.2: power every contact off and release the handle."""
        device = self._device(ReaderHandle)
        if device is None:
            return self._unconnected(ReaderHandle)
        del self._handles[ReaderHandle]
        device.handle = None
        result, error = int(IFD_OK), ""
        for slot in device.slots.values():
            code = self._power_off(slot)
            if code != IFD_OK and result == IFD_OK:
                result, error = code, self.last_error
        self.last_error = error
        return result

    def ICC_Reader_PowerOn(self, ReaderHandle: int, ICC_Slot_No: int, Response: bytearray) -> int:
        """A1.3: cold reset (a warm one if that fails); the ATR in ``Response``, its length."""
        slot = self._slot(ReaderHandle, ICC_Slot_No)
        if isinstance(slot, int):
            return slot
        transport = slot.transport
        try:
            atr = bytes(transport.power_on())
        except NoCardError as exc:
            slot.after(exc)
            return self._fail(IFD_ICC_NoExist, f"contact 0x{ICC_Slot_No:02X}: {exc}")
        except TransportError as cold:
            try:
                atr = bytes(transport.reset())
            except TransportError:
                return self._transport_failure(slot, cold, f"contact 0x{ICC_Slot_No:02X} reset")
        if not atr or atr[0] not in ISO_TS:
            slot.seen = _Seen.UNPOWERED
            transport.power_off()
            return self._fail(
                IFD_ICC_TypeError,
                f"contact 0x{ICC_Slot_No:02X}: ATR {atr.hex().upper()} is not an ISO 7816-3 "
                "processor card's (TS must be 3B or 3F)",
            )
        slot.seen = _Seen.POWERED
        Response[: len(atr)] = atr
        return self._ok(len(atr))

    def ICC_Reader_PowerOff(self, ReaderHandle: int, ICC_Slot_No: int) -> int:
        """A1.4: deactivate the contact (an empty one too)."""
        slot = self._slot(ReaderHandle, ICC_Slot_No)
        if isinstance(slot, int):
            return slot
        return self._power_off(slot)

    def ICC_Reader_GetStatus(self, ReaderHandle: int, ICC_Slot_No: int) -> int:
        """A1.5: 0 if a card is there and powered, ``-2`` no card, ``-3`` not powered."""
        slot = self._slot(ReaderHandle, ICC_Slot_No)
        if isinstance(slot, int):
            return slot
        return self._status(slot, ICC_Slot_No)

    def ICC_Reader_Application(
        self,
        ReaderHandle: int,
        ICC_Slot_No: int,
        Lenth_of_Command_APDU: int,
        Command_APDU: bytes | bytearray,
        Response_APDU: bytearray,
    ) -> int:
        """A1.6: send the command as it is; its answer (data ‖ SW1 SW2) and its length."""
        slot = self._slot(ReaderHandle, ICC_Slot_No)
        if isinstance(slot, int):
            return slot
        if not 0 <= Lenth_of_Command_APDU <= len(Command_APDU):
            return self._fail(
                IFD_ParameterError,
                f"Lenth_of_Command_APDU {Lenth_of_Command_APDU} outside the "
                f"{len(Command_APDU)}-byte buffer",
            )
        raw = bytes(Command_APDU[:Lenth_of_Command_APDU])
        try:
            command = CommandAPDU.from_bytes(raw)
        except ApduFormatError as exc:
            return self._fail(IFD_ParameterError, f"not a command APDU: {exc}")
        if command.extended:
            return self._fail(IFD_BadCommand, "an extended-length APDU has no T=0 mapping")
        status = self._status(slot, ICC_Slot_No)
        if status != IFD_OK:
            return status
        try:
            answer = bytes(slot.transport.transmit(raw))
        except TransportError as exc:
            what = f"{raw[:4].hex().upper()} on 0x{ICC_Slot_No:02X}"
            return self._transport_failure(slot, exc, what)
        Response_APDU[: len(answer)] = answer
        return self._ok(len(answer))

    def ICC_Reader_Libinfo(self, info: bytearray) -> int:
        """A1.7: the 32 bytes of table A1.1 into ``info`` (no terminating NUL)."""
        info[: len(self._libinfo)] = self._libinfo
        return self._ok(IFD_OK)

    # -- internals ----------------------------------------------------------------------

    def _ok(self, result: int) -> int:
        self.last_error = ""
        return int(result)

    def _fail(self, code: Code, why: str) -> int:
        self.last_error = f"{code.name} ({int(code)}): {why}"
        return int(code)

    def _unconnected(self, handle: int) -> int:
        return self._fail(IFD_UnConnected, f"handle {handle} is not open")

    def _device(self, handle: int) -> _Device | None:
        name = self._handles.get(handle)
        return None if name is None else self._devices[name]

    def _slot(self, handle: int, number: int) -> _Slot | int:
        """The contact, or the code of why there is none (-12 handle, -14 contact)."""
        device = self._device(handle)
        if device is None:
            return self._unconnected(handle)
        slot = device.slots.get(number)
        if slot is None:
            fitted = ", ".join(f"0x{n:02X}" for n in sorted(device.slots))
            return self._fail(
                IFD_ParameterError,
                f"ICC_Slot_No 0x{number:02X}: the device's contacts are {fitted}",
            )
        return slot

    def _status(self, slot: _Slot, number: int) -> int:
        """``IFD_OK`` if the contact's card is powered, else the code of why not."""
        try:
            status = slot.status()
        except TransportError as exc:
            return self._fail(Code(code_for(exc)[0]), f"contact 0x{number:02X} state: {exc}")
        if status != IFD_OK:
            return self._fail(status, f"contact 0x{number:02X}: {TEXT[status]}")
        return self._ok(IFD_OK)

    def _power_off(self, slot: _Slot) -> int:
        if slot.seen is _Seen.POWERED:
            slot.seen = _Seen.UNPOWERED
        try:
            slot.transport.power_off()
        except (NoCardError, CardRemovedError):
            slot.seen = _Seen.EMPTY
        except TransportError as exc:
            return self._transport_failure(slot, exc, "power off")
        return self._ok(IFD_OK)

    def _transport_failure(self, slot: _Slot, exc: TransportError, what: str) -> int:
        """The code of a transport failure, from where the card is now (see the module)."""
        slot.after(exc)
        if isinstance(exc, NoCardError | CardRemovedError):
            try:
                code = Code.NO_CARD if slot.status() == Code.NO_CARD else Code.NO_RESPONSE
            except TransportError as unasked:
                exc, code = unasked, Code(code_for(unasked)[0])
        else:
            code = Code(code_for(exc)[0])
        return self._fail(code, f"{what}: {exc}")


def _fixed_width(text: str, width: int, *, exact: bool, field: str) -> bytes:
    data = text.encode("gbk")
    if len(data) > width or (exact and len(data) != width):
        size = f"exactly {width}" if exact else f"at most {width}"
        raise InvalidInputError(
            f"reader API Libinfo: {field} {text!r} is {len(data)} GBK bytes; {size} allowed"
        )
    return data.ljust(width, b" ")
