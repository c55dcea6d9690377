"""SimulatedCard: power, presence, transmit, power loss, snapshots, the tear harness.

These tests run a small applet defined here (files, a PIN with a retry counter that is
persisted before the comparison), so that the runtime is tested apart from the COS.
"""

from __future__ import annotations

import os

import pytest

from sbkcard.applet_model.storage import Storage
from sbkcard.errors import CardRemovedError, NoCardError
from sbkcard.simulator import JournaledNVM, Recovery, SimulatedCard
from sbkcard.simulator.applets import AppletKind, register_kind
from sbkcard.simulator.faults import TearError, TearOutcome, tear_every_step

ATR = bytes.fromhex("3B6D0000") + bytes.fromhex("00814A444686605199000001AC")
FILES = ("f0", "f1", "f2")
OK = b"\x90\x00"


def is_secret(key: str) -> bool:
    """The toy applet's secrets: its PIN."""
    return key == "pin"


class ToyApplet:
    """SELECT, READ (P1 = file), UPDATE (all three files in one transaction), VERIFY."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.selected = False
        self.power_ons = 0

    def power_on(self) -> None:
        self.selected = False
        self.power_ons += 1

    def process(self, apdu: bytes) -> bytes:
        if len(apdu) < 4:
            return b"\x67\x00"
        ins, p1 = apdu[1], apdu[2]
        data = apdu[5 : 5 + apdu[4]] if len(apdu) > 4 else b""
        if ins == 0xA4:
            self.selected = True
            return OK
        if not self.selected:
            return b"\x69\x86"
        if ins == 0xB0:
            value = self.storage.read(f"f{p1}")
            return b"\x6a\x82" if value is None else value + OK
        if ins == 0xD6:
            with self.storage.transaction() as tx:
                for name in FILES:
                    tx.write(name, data)
            return OK
        if ins == 0x20:
            return self._verify(data)
        return b"\x6d\x00"

    def _verify(self, pin: bytes) -> bytes:
        tries = (self.storage.read("ctr/PIN") or b"\x00")[0]
        if not pin:
            return bytes([0x63, 0xC0 | tries])
        if tries == 0:
            return b"\x69\x83"
        with self.storage.transaction() as tx:  # decrement first, then compare
            tx.write("ctr/PIN", bytes([tries - 1]))
        if pin != self.storage.read("pin"):
            return bytes([0x63, 0xC0 | (tries - 1)])
        with self.storage.transaction() as tx:
            tx.write("ctr/PIN", b"\x03")
        return OK


register_kind(AppletKind("toy", __name__, "ToyApplet", "test applet of the simulator tests"))

CONTENT = {"f0": b"old", "f1": b"old", "f2": b"old", "pin": b"\x12\x34", "ctr/PIN": b"\x03"}


def make_card() -> SimulatedCard:
    return SimulatedCard.create("toy", CONTENT, ATR, profile=3)


def test_card_starts_inserted_and_unpowered() -> None:
    card = make_card()
    assert card.kind == "toy"
    with pytest.raises(NoCardError, match="not powered"):
        card.transmit(b"\x00\xa4\x00\x00")
    assert card.power_on() == ATR
    assert card.transmit(b"\x00\xa4\x04\x00") == OK
    assert card.transmit(b"\x00\xb0\x00\x00\x00") == b"old" + OK


def test_power_cycle_clears_volatile_state() -> None:
    card = make_card()
    card.power_on()
    card.transmit(b"\x00\xa4\x04\x00")
    card.power_off()
    with pytest.raises(NoCardError):
        card.transmit(b"\x00\xb0\x00\x00\x00")
    card.power_on()
    assert card.transmit(b"\x00\xb0\x00\x00\x00") == b"\x69\x86"
    card.transmit(b"\x00\xa4\x04\x00")
    assert card.reset() == ATR
    assert card.transmit(b"\x00\xb0\x00\x00\x00") == b"\x69\x86"


def test_removed_card_answers_nothing_until_inserted() -> None:
    card = make_card()
    card.power_on()
    card.remove()
    with pytest.raises(NoCardError, match="no card in the reader"):
        card.transmit(b"\x00\xa4\x04\x00")
    with pytest.raises(NoCardError, match="no card in the reader"):
        card.power_on()
    card.insert()
    with pytest.raises(NoCardError, match="not powered"):
        card.transmit(b"\x00\xa4\x04\x00")
    card.power_on()
    assert card.transmit(b"\x00\xa4\x04\x00") == OK


def test_applet_must_run_on_the_cards_nvm() -> None:
    with pytest.raises(ValueError, match="own NVM"):
        SimulatedCard(ToyApplet(JournaledNVM()), JournaledNVM(), ATR)


def test_power_cut_mid_command_is_a_removed_card_and_recovers_at_power_up() -> None:
    card = make_card()
    card.power_on()
    card.transmit(b"\x00\xa4\x04\x00")
    card.nvm.cut_power_after(4)  # 3 journal entries + commit mark done; first apply torn
    with pytest.raises(CardRemovedError, match="lost power during command 00D60000"):
        card.transmit(b"\x00\xd6\x00\x00\x03new")
    assert not card.powered
    with pytest.raises(NoCardError):
        card.transmit(b"\x00\xa4\x04\x00")
    card.power_on()
    assert card.last_recovery is Recovery.ROLLED_FORWARD
    card.transmit(b"\x00\xa4\x04\x00")
    for p1 in range(3):
        assert card.transmit(bytes([0, 0xB0, p1, 0, 0])) == b"new" + OK


def test_power_cut_after_the_last_step_loses_the_answer_only() -> None:
    card = make_card()
    card.power_on()
    card.transmit(b"\x00\xa4\x04\x00")
    card.nvm.cut_power_after(8)  # exactly the steps of the update
    with pytest.raises(CardRemovedError):
        card.transmit(b"\x00\xd6\x00\x00\x03new")
    card.power_on()
    assert card.last_recovery is Recovery.CLEAN
    assert card.nvm.read("f2") == b"new"


def test_power_cut_during_recovery_is_a_failed_power_up() -> None:
    card = make_card()
    card.power_on()
    card.transmit(b"\x00\xa4\x04\x00")
    card.nvm.cut_power_after(5)
    with pytest.raises(CardRemovedError):
        card.transmit(b"\x00\xd6\x00\x00\x03new")
    card.nvm.cut_power_after(1)
    with pytest.raises(CardRemovedError, match="power-up"):
        card.power_on()
    assert not card.powered
    card.power_on()
    assert card.last_recovery is Recovery.ROLLED_FORWARD
    assert {card.nvm.read(f) for f in FILES} == {b"new"}


def test_snapshot_and_restore() -> None:
    card = make_card()
    snap = card.snapshot()
    card.power_on()
    card.transmit(b"\x00\xa4\x04\x00")
    card.transmit(b"\x00\xd6\x00\x00\x03new")
    card.restore(snap)
    assert not card.powered
    assert card.nvm.contents() == CONTENT
    with pytest.raises(TypeError):
        snap.storage["f0"] = b"x"  # type: ignore[index]


def _select(card: SimulatedCard) -> None:
    assert card.transmit(b"\x00\xa4\x04\x00") == OK


def _answers_and_files_whole(card: SimulatedCard, outcome: TearOutcome) -> None:
    _select(card)
    values = {card.transmit(bytes([0, 0xB0, p1, 0, 0])) for p1 in range(3)}
    assert len(values) == 1  # the three files of one update: all old or all new
    assert values <= {b"old" + OK, b"new" + OK}


def test_tear_every_step_of_an_update() -> None:
    card = make_card()
    report = tear_every_step(
        card,
        lambda c: c.transmit(b"\x00\xd6\x00\x00\x03new"),
        prepare=_select,
        check=_answers_and_files_whole,
    )
    assert report.steps == 8
    assert len(report.states) == 2
    assert [o.state for o in report.outcomes] == [0, 0, 0, 0, 1, 1, 1, 1, 1]
    assert {o.recovery for o in report.outcomes} == {
        Recovery.DISCARDED,
        Recovery.ROLLED_FORWARD,
        Recovery.CLEAN,
    }
    assert card.nvm.contents() == CONTENT  # left as it was


def test_tear_every_step_of_a_wrong_pin_never_gives_a_free_try() -> None:
    card = make_card()

    def tries(c: SimulatedCard) -> int:
        return c.transmit(b"\x00\x20\x00\x00\x00")[-1] & 0x0F

    def counter_never_back(c: SimulatedCard, outcome: TearOutcome) -> None:
        _select(c)
        assert tries(c) == (3 if outcome.state == 0 else 2)

    report = tear_every_step(
        card,
        lambda c: c.transmit(b"\x00\x20\x00\x00\x02\x99\x99"),
        prepare=_select,
        check=counter_never_back,
    )
    assert report.steps == 4
    # A correct PIN passes through a decremented counter and comes back to 3.
    right = tear_every_step(
        card, lambda c: c.transmit(b"\x00\x20\x00\x00\x02\x12\x34"), prepare=_select
    )
    assert right.steps == 8
    assert [s["ctr/PIN"] for s in right.states] == [b"\x03", b"\x02", b"\x03"]
    assert [o.state for o in right.outcomes] == [0, 0, 1, 1, 1, 1, 2, 2, 2]


def test_tear_harness_catches_a_state_the_untorn_run_never_had() -> None:
    card = make_card()
    # The command writes different bytes each run: a torn run lands in a foreign state.
    with pytest.raises(TearError, match="never had"):
        tear_every_step(
            card,
            lambda c: c.transmit(b"\x00\xd6\x00\x00\x03" + os.urandom(3)),
            prepare=_select,
        )


def test_tear_harness_needs_the_cut_to_reach_the_caller() -> None:
    card = make_card()

    def swallowing(c: SimulatedCard) -> None:
        try:
            c.transmit(b"\x00\xd6\x00\x00\x03new")
        except CardRemovedError:
            return

    with pytest.raises(TearError, match="did not stop the command"):
        tear_every_step(card, swallowing, prepare=_select)
