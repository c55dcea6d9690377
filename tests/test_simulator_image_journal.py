"""Write-through of a served card's NVM (the journal beside its image) and image locks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sbkcard.applet_model.user_card import THIRD_GENERATION
from sbkcard.applet_model.user_card.personalise import DEMO_CARD_ID, card_atr, demo_card_content
from sbkcard.simulator import ImageError, SimulatedCard, load_image, save_image
from sbkcard.simulator.image_journal import WriteThrough, journal_path
from sbkcard.simulator.locks import LockedError, image_lock, slot_lock

SELECT_SSSE = bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF")
WRONG_PIN = bytes.fromhex("0020000003000000")
TRIES_LEFT = bytes.fromhex("00200000")


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "card.json"
    atr = card_atr(THIRD_GENERATION, DEMO_CARD_ID)
    card = SimulatedCard.create("user-card", demo_card_content(THIRD_GENERATION), atr, profile=3)
    save_image(card, path)
    return path


def wrong_pin(card: SimulatedCard) -> bytes:
    card.power_on()
    assert card.transmit(SELECT_SSSE) == b"\x61\x1e"
    return card.transmit(WRONG_PIN)


@pytest.mark.parametrize("fsync", [True, False])
def test_a_spent_pin_try_is_on_disk_before_the_card_answers(image: Path, fsync: bool) -> None:
    card = load_image(image)
    writer = WriteThrough(card, image, fsync=fsync)
    assert wrong_pin(card) == b"\x63\xc2"
    assert writer.appends == 1
    assert journal_path(image).stat().st_mode & 0o777 == 0o600
    reloaded = load_image(image)  # as after a kill: the image itself was never rewritten
    assert wrong_pin(reloaded) == b"\x63\xc1"
    writer.close()


def test_saving_folds_the_journal_into_the_image(image: Path) -> None:
    card = load_image(image)
    writer = WriteThrough(card, image)
    wrong_pin(card)
    writer.close()
    save_image(card, image)
    assert not journal_path(image).exists()
    assert load_image(image).nvm.contents() == card.nvm.contents()


def test_replay_is_idempotent_after_a_kill_between_save_and_removal(image: Path) -> None:
    card = load_image(image)
    writer = WriteThrough(card, image)
    wrong_pin(card)
    writer.close()
    kept = journal_path(image).read_bytes()
    save_image(card, image)
    journal_path(image).write_bytes(kept)  # the journal outlived the save
    assert load_image(image).nvm.contents() == card.nvm.contents()


def test_a_torn_last_line_is_ignored(image: Path) -> None:
    before = load_image(image).nvm.contents()
    card = load_image(image)
    writer = WriteThrough(card, image)
    wrong_pin(card)
    writer.close()
    whole = journal_path(image).read_bytes()
    with journal_path(image).open("ab") as out:
        out.write(b'{"SSSE/PIN":"0102')  # killed in the middle of the next append
    assert load_image(image).nvm.contents() == card.nvm.contents() != before
    journal_path(image).write_bytes(whole[: len(whole) // 2])  # torn first line: nothing
    assert load_image(image).nvm.contents() == before


def test_a_damaged_journal_line_is_named(image: Path) -> None:
    journal_path(image).write_bytes(b'{"a":"00"}\nnot json\n')
    with pytest.raises(ImageError, match=r"card\.json\.journal: line 2 is not a journal entry"):
        load_image(image)


def test_a_commit_the_disk_refuses_is_answered_6f00(image: Path) -> None:
    card = load_image(image)
    journal_path(image).symlink_to("/dev/full")  # every write: ENOSPC
    WriteThrough(card, image)
    assert wrong_pin(card) == b"\x6f\x00"  # no 63Cx the disk does not back


def test_an_image_is_locked_by_one_process_at_a_time(image: Path) -> None:
    with image_lock(image, "sbkcard sim"):
        with pytest.raises(LockedError) as refused:
            image_lock(image, "sbkcard card send").acquire()
        assert str(refused.value) == (
            f"card image {image}: in use by another process (sbkcard sim, pid {os.getpid()}); "
            "stop it first (SIGTERM saves the image), then try again"
        )
    with image_lock(image, "sbkcard card send"):  # released: free again
        pass


def test_a_slot_is_locked_by_one_process_at_a_time() -> None:
    with slot_lock("127.0.0.1", 1, "sbkcard sim"):
        with pytest.raises(LockedError, match=r"vpcd slot 127\.0\.0\.1:1: in use by another"):
            slot_lock("127.0.0.1", 1, "sbkcard sim").acquire()
        with slot_lock("127.0.0.1", 2, "sbkcard sim"):
            pass


def test_a_missing_image_cannot_be_locked(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="cannot read"):
        image_lock(tmp_path / "none.json", "sbkcard sim")
    assert not (tmp_path / "none.json.lock").exists()
