"""The journaled NVM: transactions are atomic under a power cut at any write step."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sbkcard.applet_model.storage import MemoryStorage, PowerLoss
from sbkcard.simulator.nvm import JournaledNVM, Recovery, torn

KEYS = st.sampled_from(["SSSE/EF05", "SSSE/EF06", "DF04/EF08", "ctr/PIN", "key/UK"])
VALUES = st.binary(min_size=0, max_size=12)
WRITE = st.tuples(KEYS, st.one_of(st.none(), VALUES))  # None = delete
TRANSACTION = st.lists(WRITE, min_size=0, max_size=5)
CONTENT = st.dictionaries(KEYS, VALUES, max_size=5)


def _apply(state: dict[str, bytes], writes: list[tuple[str, bytes | None]]) -> dict[str, bytes]:
    """The reference: MemoryStorage running the same transaction."""
    reference = MemoryStorage(state)
    with reference.transaction() as tx:
        for key, value in writes:
            if value is None:
                tx.delete(key)
            else:
                tx.write(key, value)
    return reference.data


def _run(nvm: JournaledNVM, writes: list[tuple[str, bytes | None]]) -> None:
    with nvm.transaction() as tx:
        for key, value in writes:
            if value is None:
                tx.delete(key)
            else:
                tx.write(key, value)


def _steps_of(writes: list[tuple[str, bytes | None]]) -> int:
    """Journal each distinct key, commit mark, apply each, clear mark (module doc)."""
    distinct = len({key for key, _ in writes})
    return 2 * distinct + 2 if distinct else 0


@settings(max_examples=400, deadline=None)
@given(
    initial=CONTENT,
    transactions=st.lists(TRANSACTION, min_size=1, max_size=4),
    cut=st.integers(min_value=0, max_value=60),
    recovery_cut=st.one_of(st.none(), st.integers(min_value=0, max_value=12)),
)
def test_power_cut_leaves_each_transaction_wholly_old_or_wholly_new(
    initial: dict[str, bytes],
    transactions: list[list[tuple[str, bytes | None]]],
    cut: int,
    recovery_cut: int | None,
) -> None:
    # The states the card passes through, and where each transaction's steps lie.
    states = [dict(initial)]
    for writes in transactions:
        states.append(_apply(states[-1], writes))
    total = sum(_steps_of(w) for w in transactions)
    cut %= total + 1

    nvm = JournaledNVM(initial)
    nvm.cut_power_after(cut)
    torn_index = None
    for index, writes in enumerate(transactions):
        try:
            _run(nvm, writes)
        except PowerLoss:
            torn_index = index
            break
    if torn_index is None:
        # Every step done: the cut falls right after the last one, before any answer.
        with pytest.raises(PowerLoss):
            nvm.check_power()
        torn_index = len(transactions) - 1
        offset = _steps_of(transactions[-1])
    else:
        offset = cut - sum(_steps_of(w) for w in transactions[:torn_index])
    assert not nvm.powered

    # Committed once the commit mark (step n of a transaction of n distinct keys) is set.
    distinct = len({key for key, _ in transactions[torn_index]})
    committed = offset > distinct
    old, new = states[torn_index], states[torn_index + 1]

    if recovery_cut is not None:
        nvm.cut_power_after(recovery_cut)
        with contextlib.suppress(PowerLoss):
            nvm.recover()
        nvm.cancel_power_cut()
    outcome = nvm.recover()

    assert nvm.contents() == (new if committed else old)
    assert not nvm.needs_recovery
    if recovery_cut is None:
        if committed and offset < _steps_of(transactions[torn_index]):
            assert outcome is Recovery.ROLLED_FORWARD
        elif not committed and offset > 0:
            assert outcome is Recovery.DISCARDED
    # The NVM works on after recovery.
    _run(nvm, [("after", b"\x01")])
    assert nvm.read("after") == b"\x01"


@settings(max_examples=200, deadline=None)
@given(start=st.integers(min_value=1, max_value=15), data=st.data())
def test_a_decrementing_counter_never_goes_back(start: int, data: st.DataObject) -> None:
    nvm = JournaledNVM({"ctr/PIN": bytes([start])})
    seen = start
    while seen > 0:
        cut = data.draw(st.one_of(st.none(), st.integers(min_value=0, max_value=4)))
        if cut is not None:
            nvm.cut_power_after(cut)
        value = nvm.read("ctr/PIN")
        assert value is not None
        try:
            with nvm.transaction() as tx:
                tx.write("ctr/PIN", bytes([value[0] - 1]))
                tx.write("log", value)
        except PowerLoss:
            pass
        nvm.cancel_power_cut()
        nvm.recover()
        now = nvm.read("ctr/PIN")
        assert now is not None
        assert now[0] in (seen, seen - 1)
        assert nvm.read("log") in (None, bytes([now[0] + 1]))
        seen = now[0]


@settings(max_examples=200, deadline=None)
@given(initial=CONTENT, transactions=st.lists(TRANSACTION, min_size=1, max_size=4))
def test_with_no_cut_armed_the_direct_commit_equals_the_journaled_one(
    initial: dict[str, bytes], transactions: list[list[tuple[str, bytes | None]]]
) -> None:
    direct, journaled = JournaledNVM(initial), JournaledNVM(initial)
    seen: list[dict[str, bytes | None]] = []
    direct.on_commit = lambda writes: seen.append(dict(writes))
    for writes in transactions:
        journaled.cut_power_after(10_000)  # armed but never due: every step goes the long way
        _run(direct, writes)
        _run(journaled, writes)
        assert direct.contents() == journaled.contents() == _apply(initial, writes)
        assert direct.steps == journaled.steps
        assert not direct.needs_recovery and not journaled.needs_recovery
        initial = direct.contents()
    assert len(seen) == sum(1 for writes in transactions if writes)


def test_a_transaction_takes_two_steps_per_key_plus_two() -> None:
    nvm = JournaledNVM()
    _run(nvm, [("a", b"1"), ("b", b"2"), ("a", b"3")])
    assert nvm.steps == 6
    assert nvm.contents() == {"a": b"3", "b": b"2"}
    _run(nvm, [])
    assert nvm.steps == 6


def test_an_exception_inside_the_transaction_writes_nothing() -> None:
    nvm = JournaledNVM({"a": b"old"})
    with pytest.raises(ZeroDivisionError), nvm.transaction() as tx:
        tx.write("a", b"new")
        assert tx.read("a") == b"new"
        _ = 1 / 0
    assert nvm.read("a") == b"old"
    assert nvm.steps == 0


def test_transaction_reads_see_staged_writes_and_deletes() -> None:
    nvm = JournaledNVM({"a": b"1", "b": b"2"})
    with nvm.transaction() as tx:
        tx.delete("a")
        tx.write("c", bytearray(b"3"))
        assert tx.read("a") is None
        assert tx.read("b") == b"2"
        assert tx.read("c") == b"3"
        assert nvm.read("c") is None  # not visible before commit
    assert nvm.keys() == ["b", "c"]
    assert nvm.keys("c") == ["c"]


def test_torn_cell_is_visible_before_recovery_and_gone_after() -> None:
    nvm = JournaledNVM({"f": bytes(8)})
    # Steps: journal f (0), mark (1), apply f (2) ← tear it.
    nvm.cut_power_after(2)
    with pytest.raises(PowerLoss), nvm.transaction() as tx:
        tx.write("f", b"\x11" * 8)
    assert nvm.read("f") == b"\x11" * 4 + bytes(4)
    assert nvm.needs_recovery
    assert nvm.recover() is Recovery.ROLLED_FORWARD
    assert nvm.read("f") == b"\x11" * 8


def test_uncommitted_journal_is_discarded() -> None:
    nvm = JournaledNVM({"f": b"old", "g": b"old"})
    nvm.cut_power_after(1)  # second journal entry torn, no commit mark
    with pytest.raises(PowerLoss), nvm.transaction() as tx:
        tx.write("f", b"new")
        tx.write("g", b"new")
    assert nvm.recover() is Recovery.DISCARDED
    assert nvm.contents() == {"f": b"old", "g": b"old"}
    assert nvm.recover() is Recovery.CLEAN


def test_no_write_while_unpowered() -> None:
    nvm = JournaledNVM()
    nvm.cut_power_after(0)
    with pytest.raises(PowerLoss), nvm.transaction() as tx:
        tx.write("a", b"1")
    with pytest.raises(PowerLoss, match="unpowered"), nvm.transaction() as tx:
        tx.write("a", b"1")
    nvm.recover()
    _run(nvm, [("a", b"1")])
    assert nvm.read("a") == b"1"


def test_cut_power_after_rejects_negative_steps() -> None:
    with pytest.raises(ValueError, match="steps must be >= 0"):
        JournaledNVM().cut_power_after(-1)


def test_cut_is_relative_and_can_be_cancelled() -> None:
    nvm = JournaledNVM()
    _run(nvm, [("a", b"1")])  # 4 steps
    nvm.cut_power_after(4)
    assert nvm.power_cut_armed
    _run(nvm, [("b", b"2")])  # steps 4..7 complete: the cut is due now
    with pytest.raises(PowerLoss):
        nvm.check_power()
    assert not nvm.power_cut_armed
    nvm.recover()
    nvm.cut_power_after(0)
    nvm.cancel_power_cut()
    _run(nvm, [("c", b"3")])
    assert nvm.keys() == ["a", "b", "c"]


@given(old=st.one_of(st.none(), VALUES), new=VALUES)
def test_torn_write_keeps_length_and_the_written_half(old: bytes | None, new: bytes) -> None:
    value = torn(old, new)
    half = len(new) // 2
    assert len(value) == len(new)
    assert value[:half] == new[:half]
    tail = (old or b"")[half : len(new)]
    assert value[half:] == tail + b"\xff" * (len(new) - half - len(tail))


def test_load_replaces_content_and_clears_the_journal() -> None:
    nvm = JournaledNVM({"a": b"1"})
    nvm.cut_power_after(0)
    with pytest.raises(PowerLoss), nvm.transaction() as tx:
        tx.write("a", b"2")
    nvm.load({"z": b"9"})
    assert nvm.powered
    assert not nvm.needs_recovery
    assert nvm.contents() == {"z": b"9"}
