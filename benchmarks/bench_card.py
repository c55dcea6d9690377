"""In-process APDUs per second: our simulated user card against vsmartcard's card emulator.

Both cards answer the same commands in the same process, measured in alternating rounds:

* SELECT of the SSSE by name (``00 A4 04 00 0F 7378312E…``); ours answers ``61 1E`` after
  building its FCI, vicc is asked with P2 = ``0C`` (no FCI: its Python 3 port fails to
  encode one) and answers ``90 00``;
* READ RECORD of SSSE EF05 record 1 by SFI (``00 B2 01 2C 12``);
* READ BINARY by SFI of a free transparent file (DF01 EF16 on ours, ``00 B0 96 00 20``).

vicc is Debian's ``python3-virtualsmartcard`` (its ``Iso7816OS`` with a file system shaped
like ours: the SSSE DF, EF05 with the same records, a 0x128-byte EF16).  Its package
lives outside the virtualenv, so this benchmark alone adds its path to ``sys.path``.
Target: at least twice vicc's throughput.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.harness import Row, interleaved_rates
from sbkcard.applet_model.user_card import THIRD_GENERATION
from sbkcard.applet_model.user_card.personalise import demo_card_content
from sbkcard.simulator import SimulatedCard

VICC_PATHS = ("/usr/lib/python3/site-packages/virtualsmartcard", "/usr/lib/python3/site-packages")
SSSE = bytes.fromhex("7378312E73682EC9E7BBE1B1A3D5CF")
DF01 = bytes.fromhex("D15600000500")
SELECT = bytes.fromhex("00A404000F") + SSSE
SELECT_NO_FCI = bytes.fromhex("00A4040C0F") + SSSE
READ_RECORD = bytes.fromhex("00B2012C12")
READ_BINARY = bytes.fromhex("00B0960020")
TARGET = "≥ 2×"


def _ours() -> tuple[SimulatedCard, SimulatedCard]:
    """Two powered demo cards: one in the SSSE, one in DF01."""
    content = demo_card_content(THIRD_GENERATION)
    cards = []
    for aid in (SSSE, DF01):
        card = SimulatedCard.create("user-card", content, content["cos:atr"], profile=3)
        card.power_on()
        card.transmit(SELECT)
        if aid == DF01:
            card.transmit(bytes.fromhex("00A4040006") + DF01)
        cards.append(card)
    return cards[0], cards[1]


def _vicc(records: list[bytes]) -> Any:
    """vicc's ISO 7816 card OS with the SSSE, its EF05 records and a free EF16."""
    for path in VICC_PATHS:
        if Path(path, "virtualsmartcard").is_dir() and path not in sys.path:
            sys.path.append(path)
            break
    logging.disable(logging.WARNING)  # vicc warns about its default PIN on every card
    from virtualsmartcard.CardGenerator import CardGenerator
    from virtualsmartcard.ConstantDefinitions import FDB
    from virtualsmartcard.SmartcardFilesystem import (
        DF,
        Record,
        RecordStructureEF,
        TransparentStructureEF,
    )
    from virtualsmartcard.VirtualSmartcard import Iso7816OS

    mf, sam = CardGenerator("iso7816").getCard()
    ssse = DF(parent=mf, fid=0xDDF1, dfname=SSSE)
    mf.append(ssse)
    ef05 = RecordStructureEF(
        parent=ssse,
        fid=0xEF05,
        filedescriptor=FDB["EFSTRUCTURE_LINEAR_VARIABLE_NOFURTHERINFO"],
        shortfid=5,
        records=[Record(identifier=r[0], data=r) for r in records],
    )
    ssse.append(ef05)
    ssse.append(TransparentStructureEF(parent=ssse, fid=0xEF16, shortfid=0x16, data=bytes(0x128)))
    card = Iso7816OS(mf, sam)
    card.execute(SELECT_NO_FCI)
    return card


def _ef05_records(card: SimulatedCard) -> list[bytes]:
    records = []
    for number in range(1, 8):
        answer = card.transmit(bytes((0x00, 0xB2, number, 0x2C, 0x00)))
        if answer[:1] == b"\x6c":
            answer = card.transmit(bytes((0x00, 0xB2, number, 0x2C, answer[1])))
        records.append(answer[:-2])
    return records


def _pair(
    name: str, ours: Callable[[], bytes], peer: Callable[[], bytes], expect: tuple[bytes, bytes]
) -> Row:
    got = (ours(), peer())
    if got != expect:
        raise RuntimeError(f"{name}: the cards answered {got[0].hex()} / {got[1].hex()}")
    mine, theirs = interleaved_rates(ours, peer, rounds=5, seconds=0.3)
    return Row(name, mine, theirs, "APDU/s", "vsmartcard vicc", TARGET)


def run() -> list[Row]:
    """SELECT, READ RECORD and READ BINARY, ours and vicc's, in one run."""
    in_ssse, in_df01 = _ours()
    records = _ef05_records(in_ssse)
    vicc = _vicc(records)
    transmit, execute = in_ssse.transmit, vicc.execute
    record = records[0] + b"\x90\x00"
    zeros = bytes(0x20) + b"\x90\x00"
    return [
        _pair(
            "SELECT SSSE by name",
            lambda: transmit(SELECT),
            lambda: execute(SELECT_NO_FCI),
            (b"\x61\x1e", b"\x90\x00"),
        ),
        _pair(
            "READ RECORD EF05 #1 (SFI)",
            lambda: transmit(READ_RECORD),
            lambda: execute(READ_RECORD),
            (record, record),
        ),
        _pair(
            "READ BINARY EF16 (SFI)",
            lambda: in_df01.transmit(READ_BINARY),
            lambda: execute(READ_BINARY),
            (zeros, zeros),
        ),
    ]
