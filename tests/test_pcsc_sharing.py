"""The terminal shares its reader with other applications as PC/SC intends (issue 9).

Another application keeps one connection open and reads in a transaction at a time
(``pcsc_clients.py reader``) while the terminal runs session after session: sessions
that only read leave the card to it untouched (no "card reset", no protocol mismatch);
a session that verified the PIN ends with a reset, so the next application does not
find the cardholder's PIN still verified.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from sbkcard.pytest_plugin import PcscReader
from sbkcard.terminal.transports.pcsc import PcscTransport

pytestmark = pytest.mark.pcsc

SECONDS = 4.0
CLIENTS = Path(__file__).with_name("pcsc_clients.py")
SELECT_SSSE = bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF")
READ_CARD_NUMBER = bytes.fromhex("00B2072C0B")
SELECT_DF04 = bytes.fromhex("00A4040006D15600000503")
VERIFY_DEMO_PIN = bytes.fromhex("0020000003123456")
READ_MEDICAL = bytes.fromhex("00B2012C00")
"""READ RECORD 1 of DF04's EF05: needs the PIN (Part 7, DF04 access rules)."""


def read_session(reader: PcscTransport) -> None:
    reader.power_on()
    assert reader.transmit(SELECT_SSSE) == b"\x61\x1e"
    assert reader.transmit(READ_CARD_NUMBER)[-2:] == b"\x90\x00"
    reader.power_off()


def test_reading_sessions_leave_another_applications_session_alone(
    sbk_pcsc_reader: PcscReader,
) -> None:
    other = subprocess.Popen(
        [sys.executable, str(CLIENTS), "reader", sbk_pcsc_reader.name, str(SECONDS)],
        stdout=subprocess.PIPE,
        text=True,
    )
    reader = sbk_pcsc_reader.transport()
    sessions = 0
    try:
        while other.poll() is None:
            read_session(reader)
            sessions += 1
        out, _ = other.communicate(timeout=30)
    finally:
        other.kill()
        reader.close()
    tally = Counter(json.loads(out))
    assert sessions > 10 and tally["answered"] > 10
    assert set(tally) == {"answered"}, tally  # no SCARD_W_RESET_CARD, no protocol mismatch


def test_a_pin_verified_by_the_terminal_is_not_left_to_the_next_application(
    sbk_pcsc_reader: PcscReader,
) -> None:
    terminal = sbk_pcsc_reader.transport()
    terminal.power_on()
    assert terminal.transmit(SELECT_DF04)[:1] == b"\x61"  # FCI waiting (T=0)
    assert terminal.transmit(READ_MEDICAL) == b"\x69\x82"
    assert terminal.transmit(VERIFY_DEMO_PIN) == b"\x90\x00"
    assert terminal.transmit(READ_MEDICAL)[:1] == b"\x6c"  # allowed now (wrong Le)
    terminal.power_off()
    assert not sbk_pcsc_reader.card.applet.user.session.pin_ok  # type: ignore[attr-defined]
    with sbk_pcsc_reader.transport() as next_application:
        next_application.power_on()
        assert next_application.transmit(SELECT_DF04)[:1] == b"\x61"
        assert next_application.transmit(READ_MEDICAL) == b"\x69\x82"


def test_a_reading_session_keeps_the_card_as_it_was(sbk_pcsc_reader: PcscReader) -> None:
    card = sbk_pcsc_reader.card
    with sbk_pcsc_reader.transport() as reader:
        read_session(reader)
        first_power_up = card.applet.user.session  # type: ignore[attr-defined]
        read_session(reader)
        assert card.applet.user.session is first_power_up  # no reset in between
