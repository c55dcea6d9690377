"""The Part 8 App. A reader API over simulated cards and through PC/SC (private pcscd)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sbkcard.apdu import CommandAPDU
from sbkcard.apdu import builders as b
from sbkcard.apdu.t0 import transmit_t0
from sbkcard.pytest_plugin import PSAM_TERMINAL_NUMBER, PcscReader, make_card, make_psam
from sbkcard.simulator import SimulatedCard
from sbkcard.simulator.nvm import Recovery
from sbkcard.simulator.pcscd import PcscdStack
from sbkcard.terminal.errors import InvalidInputError
from sbkcard.terminal.transports.pcsc import PcscTransport
from sbkcard.terminal.transports.reader_api import (
    IFD_OK,
    IFD_BadCommand,
    IFD_ConnectError,
    IFD_ICC_NoExist,
    IFD_ICC_NoPower,
    IFD_ICC_NoResponse,
    IFD_ICC_TypeError,
    IFD_ParameterError,
    IFD_UnConnected,
    ReaderApi,
)

CARD = 0x01
SAM = 0x11
SELECT_SSSE = bytes(b.select_ssse())
GUARD = b"\xaa" * 8
"""What a caller's buffer held before a call (a failing call must leave it)."""


class Reader:
    """A ReaderApi with the demo card and PSAM attached as "SIM", opened."""

    def __init__(self) -> None:
        self.card = make_card()
        self.psam = make_psam()
        self.api = ReaderApi()
        self.api.attach_reader("SIM", self.card, self.psam)
        self.handle = self.api.ICC_Reader_Open("SIM")

    def power_on(self, slot: int = CARD) -> bytes:
        response = bytearray()
        length = self.api.ICC_Reader_PowerOn(self.handle, slot, response)
        assert length == len(response), self.api.last_error
        return bytes(response)

    def send(self, command: bytes, slot: int = CARD) -> tuple[int, bytearray]:
        response = bytearray(GUARD)
        code = self.api.ICC_Reader_Application(self.handle, slot, len(command), command, response)
        return code, response


@pytest.fixture
def reader() -> Reader:
    return Reader()


def test_open_power_on_both_slots_gives_the_atrs(reader: Reader) -> None:
    assert reader.handle >= 0
    assert reader.power_on(CARD) == reader.card.atr
    assert reader.power_on(SAM) == reader.psam.atr
    assert reader.card.powered and reader.psam.powered


def test_power_on_writes_the_atr_from_offset_zero_and_leaves_the_rest(reader: Reader) -> None:
    response = bytearray(b"\xee" * 40)
    length = reader.api.ICC_Reader_PowerOn(reader.handle, CARD, response)
    assert length == len(reader.card.atr)
    assert response[:length] == reader.card.atr
    assert response[length:] == b"\xee" * (40 - length)


def test_application_returns_61xx_and_the_caller_fetches_the_fci(reader: Reader) -> None:
    reader.power_on()
    length, response = reader.send(SELECT_SSSE)
    assert (length, response[:length]) == (2, bytearray(b"\x61\x1e"))
    assert response[length:] == GUARD[length:]
    length, response = reader.send(bytes(b.get_response(0x1E)))
    fci = bytes(response[:length])
    assert length == 0x1E + 2 and fci[-2:] == b"\x90\x00"
    assert fci[0] == 0x6F and b.SSSE_NAME in fci
    # The same bytes as the T=0 procedure gives on a fresh card of the same content.
    fresh = make_card()
    fresh.power_on()
    assert fci == transmit_t0(fresh.transmit, SELECT_SSSE)


def test_application_to_the_sam_slot_reads_the_terminal_number(reader: Reader) -> None:
    reader.power_on(SAM)
    command = bytes(b.read_binary(sfi=0x16, le=6))  # EF 0016, the terminal number
    length, response = reader.send(command, SAM)
    assert length == 8
    assert response[:8] == bytes.fromhex(PSAM_TERMINAL_NUMBER) + b"\x90\x00"


def test_only_the_length_given_is_sent(reader: Reader) -> None:
    reader.power_on()
    padded = SELECT_SSSE + b"\x00\x00\x00"
    response = bytearray()
    length = reader.api.ICC_Reader_Application(
        reader.handle, CARD, len(SELECT_SSSE), padded, response
    )
    assert response[:length] == b"\x61\x1e"


def test_get_status_follows_the_card(reader: Reader) -> None:
    api, handle = reader.api, reader.handle
    assert api.ICC_Reader_GetStatus(handle, CARD) == IFD_ICC_NoPower
    reader.power_on()
    assert api.ICC_Reader_GetStatus(handle, CARD) == IFD_OK
    assert api.last_error == ""
    assert api.ICC_Reader_PowerOff(handle, CARD) == IFD_OK
    assert not reader.card.powered
    assert api.ICC_Reader_GetStatus(handle, CARD) == IFD_ICC_NoPower
    reader.card.remove()
    assert api.ICC_Reader_GetStatus(handle, CARD) == IFD_ICC_NoExist
    assert api.ICC_Reader_PowerOff(handle, CARD) == IFD_OK
    reader.card.insert()
    assert api.ICC_Reader_GetStatus(handle, CARD) == IFD_ICC_NoPower


def test_no_card_at_power_on(reader: Reader) -> None:
    reader.card.remove()
    response = bytearray(GUARD)
    assert reader.api.ICC_Reader_PowerOn(reader.handle, CARD, response) == IFD_ICC_NoExist
    assert response == GUARD
    assert "0x01" in reader.api.last_error


def test_application_needs_a_powered_card(reader: Reader) -> None:
    assert reader.send(SELECT_SSSE) == (IFD_ICC_NoPower, bytearray(GUARD))
    reader.power_on()
    reader.card.remove()
    assert reader.send(SELECT_SSSE) == (IFD_ICC_NoExist, bytearray(GUARD))


def test_power_lost_mid_application_is_no_response(reader: Reader) -> None:
    reader.power_on()
    reader.card.nvm.cut_power_after(0)
    assert reader.send(SELECT_SSSE) == (IFD_ICC_NoResponse, bytearray(GUARD))
    assert "00A40400" in reader.api.last_error
    # The card is still in the reader, unpowered; a power-on brings it back.
    assert reader.api.ICC_Reader_GetStatus(reader.handle, CARD) == IFD_ICC_NoPower
    reader.power_on()
    assert reader.send(SELECT_SSSE)[0] == 2


class PulledDuringCommand:
    """A slot whose card is pulled out while it runs the first command (no presence info)."""

    def __init__(self, card: SimulatedCard) -> None:
        self.card = card
        self.atr = card.atr
        self.power_on = card.power_on
        self.reset = card.reset
        self.power_off = card.power_off

    def transmit(self, apdu: bytes) -> bytes:
        self.card.remove()
        return self.card.transmit(apdu)


def test_card_pulled_mid_application() -> None:
    card = make_card()
    api = ReaderApi()
    api.attach_reader("USB1", PulledDuringCommand(card))
    handle = api.ICC_Reader_Open("USB1")
    assert api.ICC_Reader_PowerOn(handle, CARD, bytearray()) == len(card.atr)
    assert api.ICC_Reader_GetStatus(handle, CARD) == IFD_OK
    response = bytearray(GUARD)
    code = api.ICC_Reader_Application(handle, CARD, len(SELECT_SSSE), SELECT_SSSE, response)
    assert (code, response) == (IFD_ICC_NoExist, GUARD)
    # The transport cannot say whether a card is there: the API remembers it left.
    assert api.ICC_Reader_GetStatus(handle, CARD) == IFD_ICC_NoExist
    card.insert()
    assert api.ICC_Reader_PowerOn(handle, CARD, bytearray()) == len(card.atr)
    assert api.ICC_Reader_GetStatus(handle, CARD) == IFD_OK


def test_a_failed_cold_reset_is_followed_by_a_warm_one(reader: Reader) -> None:
    reader.power_on()
    reader.send(SELECT_SSSE)
    # A wrong PIN is 4 NVM steps; cut after the commit mark: a journal to roll forward.
    reader.card.nvm.cut_power_after(2)
    assert reader.send(bytes(b.verify("000000")))[0] == IFD_ICC_NoResponse
    reader.card.nvm.cut_power_after(0)  # and the cold reset's recovery is cut too
    assert reader.power_on() == reader.card.atr
    assert reader.card.last_recovery is Recovery.ROLLED_FORWARD
    reader.send(SELECT_SSSE)
    length, response = reader.send(bytes(b.verify("000000")))
    assert response[:length] == b"\x63\xc1"  # the first wrong PIN counted


def test_a_memory_card_is_the_wrong_card_type() -> None:
    card = make_card()
    card.atr = bytes.fromhex("A2131091")  # SLE4442's answer to reset
    api = ReaderApi()
    api.attach_reader("USB1", card)
    handle = api.ICC_Reader_Open("USB1")
    response = bytearray(GUARD)
    assert api.ICC_Reader_PowerOn(handle, CARD, response) == IFD_ICC_TypeError
    assert response == GUARD and not card.powered
    assert "A2131091" in api.last_error


CALLS: dict[str, Callable[[ReaderApi, int], int]] = {
    "Close": lambda api, h: api.ICC_Reader_Close(h),
    "PowerOn": lambda api, h: api.ICC_Reader_PowerOn(h, CARD, bytearray()),
    "PowerOff": lambda api, h: api.ICC_Reader_PowerOff(h, CARD),
    "GetStatus": lambda api, h: api.ICC_Reader_GetStatus(h, CARD),
    "Application": lambda api, h: api.ICC_Reader_Application(
        h, CARD, len(SELECT_SSSE), SELECT_SSSE, bytearray()
    ),
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
@pytest.mark.parametrize("handle", [-1, 0, 2, 99])
def test_a_handle_never_opened_is_unconnected(
    reader: Reader, call: Callable[[ReaderApi, int], int], handle: int
) -> None:
    assert call(reader.api, handle) == IFD_UnConnected
    assert f"handle {handle}" in reader.api.last_error


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_a_closed_handle_is_unconnected(
    reader: Reader, call: Callable[[ReaderApi, int], int]
) -> None:
    assert reader.api.ICC_Reader_Close(reader.handle) == IFD_OK
    assert call(reader.api, reader.handle) == IFD_UnConnected


@pytest.mark.parametrize("slot", [0x00, 0x02, 0x0F, 0x10, 0x12, 0x20, 0xFF])
def test_a_contact_the_device_lacks_is_a_parameter_error(reader: Reader, slot: int) -> None:
    api, handle = reader.api, reader.handle
    response = bytearray(GUARD)
    assert api.ICC_Reader_PowerOn(handle, slot, response) == IFD_ParameterError
    assert f"0x{slot:02X}" in api.last_error
    assert api.ICC_Reader_PowerOff(handle, slot) == IFD_ParameterError
    assert api.ICC_Reader_GetStatus(handle, slot) == IFD_ParameterError
    code = api.ICC_Reader_Application(handle, slot, len(SELECT_SSSE), SELECT_SSSE, response)
    assert (code, response) == (IFD_ParameterError, GUARD)


@pytest.mark.parametrize(
    ("length", "command", "expected"),
    [
        (-1, SELECT_SSSE, IFD_ParameterError),
        (len(SELECT_SSSE) + 1, SELECT_SSSE, IFD_ParameterError),
        (3, SELECT_SSSE, IFD_ParameterError),  # shorter than a header
        (6, SELECT_SSSE, IFD_ParameterError),  # Lc 0F with one data byte
        (7, bytes(CommandAPDU(0x00, 0xB0, 0x00, 0x00, le=300)), IFD_BadCommand),
    ],
)
def test_malformed_and_extended_commands_are_refused_before_the_card(
    reader: Reader, length: int, command: bytes, expected: int
) -> None:
    reader.power_on()
    response = bytearray(GUARD)
    code = reader.api.ICC_Reader_Application(reader.handle, CARD, length, command, response)
    assert (code, response) == (expected, GUARD)
    assert reader.send(SELECT_SSSE)[0] == 2  # nothing reached the card before


@given(command=st.binary(min_size=4, max_size=40))
def test_every_answer_is_data_and_a_status_word_or_a_table_code(command: bytes) -> None:
    reader = Reader()
    reader.power_on()
    length, response = reader.send(command)
    if length >= 0:
        assert length >= 2 and response[length:] == GUARD[length:]
        direct = transmit_raw(command)  # same length and SW (GET CHALLENGE is random)
        assert (length, response[length - 2 : length]) == (len(direct), direct[-2:])
    else:
        assert length in (IFD_ParameterError, IFD_BadCommand) and response == GUARD


def transmit_raw(command: bytes) -> bytes:
    """The answer a fresh demo card gives ``command`` straight after power-on."""
    card = make_card()
    card.power_on()
    return card.transmit(command)


def test_open_names_and_auto() -> None:
    api = ReaderApi()
    assert api.ICC_Reader_Open("AUTO") == IFD_ConnectError
    api.attach_reader("SIM", make_card())
    api.attach_reader("USB2", make_card(2), make_psam())
    assert api.ICC_Reader_Open("USB1") == IFD_ConnectError
    assert "'SIM', 'USB2'" in api.last_error
    first = api.ICC_Reader_Open("AUTO")
    second = api.ICC_Reader_Open("AUTO")
    assert first >= 0 and second >= 0 and first != second
    assert api.ICC_Reader_Open("AUTO") == IFD_ConnectError
    assert api.ICC_Reader_Open("SIM") == IFD_ConnectError
    assert "already open" in api.last_error
    assert api.ICC_Reader_GetStatus(second, SAM) == IFD_ICC_NoPower  # USB2 has a SAM
    assert api.ICC_Reader_GetStatus(first, SAM) == IFD_ParameterError  # SIM has none
    assert api.ICC_Reader_Close(first) == IFD_OK
    assert api.ICC_Reader_Open("SIM") >= 0


def test_close_powers_every_contact_off(reader: Reader) -> None:
    reader.power_on(CARD)
    reader.power_on(SAM)
    assert reader.api.ICC_Reader_Close(reader.handle) == IFD_OK
    assert not reader.card.powered and not reader.psam.powered


def test_libinfo_is_table_a1_1() -> None:
    info = bytearray()
    assert (
        ReaderApi(vendor="社保卡读写器", model="SIM-2", version="12").ICC_Reader_Libinfo(info) == 0
    )
    assert len(info) == 32
    assert info[:16].decode("gbk").rstrip() == "社保卡读写器"
    assert info[16:30] == b"SIM-2".ljust(14) and info[30:] == b"12"


@pytest.mark.parametrize(
    "fields",
    [{"vendor": "A" * 17}, {"model": "M" * 15}, {"version": "1"}, {"version": "123"}],
)
def test_libinfo_fields_must_fit(fields: dict[str, str]) -> None:
    with pytest.raises(InvalidInputError, match="Libinfo"):
        ReaderApi(**fields)


@pytest.mark.parametrize(
    ("name", "slots", "message"),
    [
        ("", {CARD: None}, "cannot be named"),
        ("AUTO", {CARD: None}, "cannot be named"),
        ("SIM", {}, "no contact"),
        ("SIM", {0x00: None}, "contact 0x00"),
        ("SIM", {0x10: None}, "contact 0x10"),
    ],
)
def test_attach_checks_the_device(name: str, slots: dict[int, None], message: str) -> None:
    card = make_card()
    with pytest.raises(InvalidInputError, match=message):
        ReaderApi().attach(name, {number: card for number in slots})


def test_a_device_is_attached_once() -> None:
    api = ReaderApi()
    api.attach_reader("SIM", make_card())
    with pytest.raises(InvalidInputError, match="already attached"):
        api.attach_reader("SIM", make_card())


@pytest.fixture
def pcsc_api(sbk_pcsc_reader: PcscReader) -> Iterator[tuple[ReaderApi, int]]:
    api = ReaderApi()
    api.attach_pcsc("USB1", sbk_pcsc_reader.name, sbk_pcsc_reader.psam_name)
    handle = api.ICC_Reader_Open("USB1")
    yield api, handle
    api.ICC_Reader_Close(handle)


@pytest.mark.pcsc
def test_the_same_calls_through_pcsc(
    sbk_pcsc_reader: PcscReader, pcsc_api: tuple[ReaderApi, int]
) -> None:
    api, handle = pcsc_api
    atr = bytearray()
    assert api.ICC_Reader_PowerOn(handle, CARD, atr) == len(sbk_pcsc_reader.card.atr)
    assert atr == sbk_pcsc_reader.card.atr
    assert api.ICC_Reader_PowerOn(handle, SAM, bytearray()) == len(sbk_pcsc_reader.psam.atr)
    response = bytearray()
    assert api.ICC_Reader_Application(handle, CARD, len(SELECT_SSSE), SELECT_SSSE, response) == 2
    assert response == b"\x61\x1e"
    get_response = bytes(b.get_response(0x1E))
    length = api.ICC_Reader_Application(handle, CARD, 5, get_response, response)
    assert length == 0x20 and response[length - 2 : length] == b"\x90\x00"
    assert api.ICC_Reader_GetStatus(handle, CARD) == IFD_OK
    sbk_pcsc_reader.remove()
    response = bytearray(GUARD)
    code = api.ICC_Reader_Application(handle, CARD, len(SELECT_SSSE), SELECT_SSSE, response)
    assert (code, response) == (IFD_ICC_NoExist, GUARD), api.last_error
    assert api.ICC_Reader_GetStatus(handle, CARD) == IFD_ICC_NoExist


@pytest.mark.pcsc
def test_pcsc_transport_tells_where_the_card_is(sbk_pcsc_reader: PcscReader) -> None:
    holder = sbk_pcsc_reader.transport()
    assert (holder.inserted, holder.powered) == (True, False)  # in the reader, not connected
    holder.power_on()
    assert (holder.inserted, holder.powered) == (True, True)
    sbk_pcsc_reader.remove()
    assert (holder.inserted, holder.powered) == (False, False)
    sbk_pcsc_reader.insert()
    assert (holder.inserted, holder.powered) == (True, False)  # its handle predates the removal
    holder.power_on()
    assert (holder.inserted, holder.powered) == (True, True)
    assert holder.transmit(SELECT_SSSE) == b"\x61\x1e"
    holder.power_off()
    assert (holder.inserted, holder.powered) == (True, False)
    holder.close()


@pytest.mark.pcsc
def test_asking_pcsc_connects_to_nothing(sbk_pcsc_reader: PcscReader) -> None:
    with PcscTransport(sbk_pcsc_reader.name, exclusive=True) as owner:
        owner.power_on()
        assert owner.transmit(SELECT_SSSE) == b"\x61\x1e"
        with sbk_pcsc_reader.transport() as probe:
            # A connection would be a sharing violation; the owner's session goes on.
            assert (probe.inserted, probe.powered) == (True, False)
        assert owner.powered
        get_response = owner.transmit(bytes(b.get_response(0x1E)))
        assert get_response[-2:] == b"\x90\x00" and len(get_response) == 0x20


@pytest.mark.pcsc
def test_get_status_follows_a_pcsc_card(
    sbk_pcsc_reader: PcscReader, pcsc_api: tuple[ReaderApi, int]
) -> None:
    api, handle = pcsc_api
    assert api.ICC_Reader_GetStatus(handle, CARD) == IFD_ICC_NoPower
    assert api.ICC_Reader_PowerOn(handle, CARD, bytearray()) == len(sbk_pcsc_reader.card.atr)
    assert api.ICC_Reader_GetStatus(handle, CARD) == IFD_OK
    sbk_pcsc_reader.remove()
    assert api.ICC_Reader_GetStatus(handle, CARD) == IFD_ICC_NoExist
    sbk_pcsc_reader.insert()
    assert api.ICC_Reader_GetStatus(handle, CARD) == IFD_ICC_NoPower
    response = bytearray(GUARD)
    code = api.ICC_Reader_Application(handle, CARD, len(SELECT_SSSE), SELECT_SSSE, response)
    assert (code, response) == (IFD_ICC_NoPower, GUARD)  # re-inserted: power it on first
    assert api.ICC_Reader_PowerOn(handle, CARD, bytearray()) == len(sbk_pcsc_reader.card.atr)
    assert api.ICC_Reader_GetStatus(handle, CARD) == IFD_OK
    assert api.ICC_Reader_PowerOff(handle, CARD) == IFD_OK
    assert api.ICC_Reader_GetStatus(handle, CARD) == IFD_ICC_NoPower
    assert api.ICC_Reader_GetStatus(handle, SAM) == IFD_ICC_NoPower


@pytest.mark.pcsc
def test_get_status_without_pcscd_is_a_connect_error(sbk_pcscd: PcscdStack) -> None:
    api = ReaderApi()
    api.attach_pcsc("USB1", PcscdStack.reader_name(0))
    handle = api.ICC_Reader_Open("USB1")
    assert api.ICC_Reader_GetStatus(handle, CARD) == IFD_ICC_NoExist  # an empty reader
    sbk_pcscd.stop()
    try:
        assert api.ICC_Reader_GetStatus(handle, CARD) == IFD_ConnectError
        assert "pcscd is not running" in api.last_error
    finally:
        sbk_pcscd.start()
    # A new pcscd: the transport's old context is replaced, the reader asked again.
    assert api.ICC_Reader_GetStatus(handle, CARD) == IFD_ICC_NoExist
    assert api.ICC_Reader_Close(handle) == IFD_OK
