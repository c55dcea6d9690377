"""What write-through costs a served card per APDU (``sbkcard sim`` journals every commit).

The same demo card, in the same run, with its NVM written through to a journal beside
its image (one line appended and ``fsync``-ed per committed transaction, before the card
answers) and without (memory only, as before); and with the append not ``fsync``-ed
(``sbkcard sim --no-fsync``: safe from a kill, not from a crash of the machine).
Commands that commit (a wrong PIN, then the right one: the try counter down and up) pay
one append each; reads pay nothing.  The last row compares the journal with the
alternative that was not chosen: rewriting the whole image atomically (temporary file,
fsync, rename) at every commit.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from benchmarks.harness import Row, interleaved_rates
from sbkcard.applet_model.user_card import THIRD_GENERATION
from sbkcard.applet_model.user_card.personalise import DEMO_CARD_ID, card_atr, demo_card_content
from sbkcard.simulator import SimulatedCard, load_image, save_image
from sbkcard.simulator.image_journal import WriteThrough

SELECT_SSSE = bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF")
WRONG_PIN = bytes.fromhex("0020000003000000")
RIGHT_PIN = bytes.fromhex("0020000003123456")
READ_CARD_NUMBER = bytes.fromhex("00B2072C0B")


def _card(image: Path) -> SimulatedCard:
    card = load_image(image)
    card.power_on()
    card.transmit(SELECT_SSSE)
    return card


def _pin_pair(card: SimulatedCard) -> Callable[[], object]:
    def pair() -> None:
        assert card.transmit(WRONG_PIN)[0] == 0x63
        assert card.transmit(RIGHT_PIN) == b"\x90\x00"

    return pair


def _read(card: SimulatedCard) -> Callable[[], object]:
    return lambda: card.transmit(READ_CARD_NUMBER)


def _whole_image(card: SimulatedCard, image: Path) -> None:
    card.nvm.on_commit = lambda writes: save_image(card, image)


def run() -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="sbkcard-bench-") as tmp:
        image = Path(tmp) / "card.json"
        atr = card_atr(THIRD_GENERATION, DEMO_CARD_ID)
        content = demo_card_content(THIRD_GENERATION)
        save_image(SimulatedCard.create("user-card", content, atr, profile=3), image)
        journaled, memory = _card(image), _card(image)
        WriteThrough(journaled, image)
        commit, commit_peer = interleaved_rates(_pin_pair(journaled), _pin_pair(memory))
        read, read_peer = interleaved_rates(_read(journaled), _read(memory))
        other = Path(tmp) / "other.json"
        save_image(memory, other)
        rewritten = _card(other)
        _whole_image(rewritten, other)
        journal, whole = interleaved_rates(
            _pin_pair(journaled), _pin_pair(rewritten), rounds=5, seconds=0.5
        )
        unsynced = _card(other)
        WriteThrough(unsynced, other, fsync=False)
        no_fsync, no_fsync_peer = interleaved_rates(_pin_pair(unsynced), _pin_pair(memory))
    return [
        Row(
            "committing APDUs (VERIFY wrong/right), write-through",
            2 * commit,
            2 * commit_peer,
            "APDU/s",
            "same card in memory only",
            "the cost of an fsync per commit",
        ),
        Row(
            "READ RECORD, write-through",
            read,
            read_peer,
            "APDU/s",
            "same card in memory only",
            "~1x: reads commit nothing",
        ),
        Row(
            "committing APDUs, write-through without fsync (--no-fsync)",
            2 * no_fsync,
            2 * no_fsync_peer,
            "APDU/s",
            "same card in memory only",
            "a write() per commit",
        ),
        Row(
            "committing APDUs: journal append vs whole image",
            2 * journal,
            2 * whole,
            "APDU/s",
            "image rewritten atomically per commit",
            ">1x: why the journal",
        ),
    ]
