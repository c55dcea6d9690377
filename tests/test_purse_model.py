"""The DF04 medical purse against a reference model, through the terminal (Part 7 §11–§15).

A hypothesis state machine drives a simulated 2nd- or 3rd-generation card through the
terminal's own purse operations (:mod:`sbkcard.terminal.operations.purse`: load, purchase, balance,
records, transaction proof) with a simulated PSAM of level 1–3 or the software key service
(HSM mode), and keeps a reference model of the purse built from Part 7 alone: balance,
yearly self-paid and pooled totals with the settlement-year rule of §12.6, both counters,
the EF08 records (newest first, at most the file's record count) and the last proof.

The card sits in a :class:`Slot` between the terminal and the chip: the slot records the
purse exchanges, so that every MAC and TAC is recomputed here from keys derived
independently (:func:`~sbkcard.keys.hierarchy.derive_card_keys`, :func:`~sbkcard.keys.tac`),
and it springs faults: the card pulled before or after a command reaches the chip, or a
power cut after *k* write steps of the journaled NVM during DEBIT FOR PURCHASE or CREDIT
FOR LOAD.  After a fault the test recovers as Part 7 §14 tells a terminal to: the same
card back in, its counter read, GET TRANSACTION PROOF asked; the model learns from the
counter whether the torn transaction happened and must then agree with the card again.

After every step (:meth:`PurseMachine.card_agrees_with_model`): balance and totals equal
the model's, the counters equal it and never go back, EF08 holds the model's records in
cyclic order, and GET TRANSACTION PROOF returns the last transaction's MAC ‖ TAC.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from terminal_support import CARD_ID, CARD_NUMBER, PIN, counter_rng, psam

from sbkcard.apdu import CommandAPDU
from sbkcard.apdu import builders as b
from sbkcard.applet_model.user_card import PROFILES, UserCard
from sbkcard.applet_model.user_card.fcp import key_kid
from sbkcard.applet_model.user_card.personalise import (
    DEMO_CARD_ID,
    card_atr,
    demo_card_content,
)
from sbkcard.errors import CardRemovedError
from sbkcard.keys import Algorithm, auth_data, mac, session_key, tac
from sbkcard.keys.hierarchy import card_key, demo_keyset, derive_card_keys
from sbkcard.simulator import JournaledNVM, Recovery, SimulatedCard
from sbkcard.terminal.connection import Connection
from sbkcard.terminal.errors import CardStatusError, InvalidInputError
from sbkcard.terminal.operations import purse
from sbkcard.terminal.operations.pinpad import CallbackPinPad
from sbkcard.terminal.security.hsm import SoftwareKeyService
from sbkcard.terminal.terminal import Terminal

AMOUNT_MAX = 0xFFFFFFFF
"""The largest amount in fen a 4-byte field holds (balance, amounts, totals)."""
PSAM_TERMINAL = "410100000001"
HSM_TERMINAL = "410100009999"
START = dt.datetime(2024, 6, 1, 10, 30, 0)
INITIALIZE, CREDIT, DEBIT, GET_RESPONSE = 0x28, 0x2A, 0x2C, 0xC0
NO_PROOF = 0x9406
OWN_TERMINAL_SEQ = 0x00A00000
"""Terminal sequence numbers of the purchases this test makes as its own PSAM."""


def u32(value: int) -> bytes:
    return value.to_bytes(4, "big")


def next_start(now: dt.datetime, start: tuple[int, int]) -> dt.datetime:
    """The first moment after ``now`` on which a new settlement year begins (§12.6).

    That is the start day, or for a start day of 29 February in a common year 1 March:
    ``yyyymmdd − (year × 10000 + start)`` reaches 10000 then.
    """
    year = now.year
    while True:
        month, day = start
        if (month, day) == (2, 29) and not calendar.isleap(year):
            month, day = 3, 1
        moment = dt.datetime(year, month, day)
        if moment > now:
            return moment
        year += 1


def note(what: str) -> None:
    """A hypothesis event (``--hypothesis-show-statistics``); nothing outside a hypothesis run."""
    if currently_in_test_context():
        event(what)


# -- the independent host side -------------------------------------------------------------


@dataclass(frozen=True)
class HostKeys:
    """The card's purse keys, derived here from the demo roots (Part 9 §7.3), not read back."""

    algorithm: Algorithm
    dpk: bytes
    dlk: bytes
    dtk: bytes
    dsk: bytes

    @classmethod
    def of(cls, generation: int) -> HostKeys:
        profile = PROFILES[generation]
        atr = card_atr(profile, DEMO_CARD_ID)
        keyset = demo_keyset(profile.algorithm)
        names = ("DPK", "DLK", "DTK", "DSK")
        keys = derive_card_keys(keyset, DEMO_CARD_ID.region, atr, names)
        return cls(profile.algorithm, *(keys[name] for name in names))


@dataclass(frozen=True)
class Proof:
    """What GET TRANSACTION PROOF returns for a transaction (Part 5 §7.4)."""

    kind: int
    seq: int
    mac: bytes
    tac: bytes


@dataclass(frozen=True)
class Done:
    """A transaction as Part 7 says the card must have recorded it."""

    proof: Proof
    record: purse.TransactionRecord


def purchase_done(
    keys: HostKeys,
    amounts: tuple[int, int, int],
    init: bytes,
    debit: bytes,
    terminal: bytes,
) -> Done:
    """Part 7 §12.2–12.6 from INITIALIZE FOR PURCHASE's answer and DEBIT FOR PURCHASE's data.

    Checks the MAC1 that the security module put in the DEBIT command on the way.
    """
    seq, random = init[14:16], init[18:22]
    terminal_seq, time, mac1 = debit[0:4], debit[4:11], debit[11:15]
    alg = keys.algorithm
    sespk = session_key(keys.dpk, random + seq + terminal_seq[2:], alg)
    money = b"".join(u32(a) for a in amounts)
    assert mac1 == mac(sespk, money + b"2" + terminal + time, alg), "MAC1 of the module"
    mac2 = mac(sespk, money, alg)
    tac_value = tac(keys.dtk, money + b"2" + terminal + terminal_seq + time, alg)
    record = purse.TransactionRecord(
        int.from_bytes(seq), "2", terminal.hex().upper(), time.hex(), *amounts
    )
    return Done(Proof(purse.PURCHASE_TYPE, int.from_bytes(seq), mac2, tac_value), record)


def load_done(keys: HostKeys, amount: int, init: bytes, credit: bytes, terminal: bytes) -> Done:
    """Part 7 §11.2–11.8 from INITIALIZE FOR LOAD's answer and CREDIT FOR LOAD's data.

    Checks the card's MAC1 and the host's MAC2 on the way.
    """
    balance, seq, random, mac1 = init[0:4], init[4:6], init[8:12], init[12:16]
    time, mac2 = credit[0:7], credit[7:11]
    alg = keys.algorithm
    seslk = session_key(keys.dlk, random + seq + b"\x80\x00", alg)
    assert mac1 == mac(seslk, balance + u32(amount) + b"1" + terminal, alg), "MAC1 of the card"
    assert mac2 == mac(seslk, u32(amount) + b"1" + terminal + time, alg), "MAC2 of the host"
    after = u32(int.from_bytes(balance) + amount)
    tac_value = tac(keys.dtk, after + seq + u32(amount) + b"1" + terminal + time, alg)
    record = purse.TransactionRecord(
        int.from_bytes(seq), "1", terminal.hex().upper(), time.hex(), amount, 0, 0
    )
    return Done(Proof(purse.LOAD_TYPE, int.from_bytes(seq), mac2, tac_value), record)


# -- the reference model --------------------------------------------------------------------


class Outcome(Enum):
    """What the model expects of an operation."""

    DONE = "done"
    REFUSED_BY_TERMINAL = "refused by the terminal before any purse command"
    NO_FUNDS = "9401 to INITIALIZE FOR PURCHASE"
    BALANCE_OVERFLOW = "6985 to INITIALIZE FOR LOAD"
    TOTAL_OVERFLOW = "6985 to DEBIT FOR PURCHASE: a yearly total would pass 2^32 - 1"


@dataclass
class Model:
    """The purse as Part 7 describes it; amounts in fen."""

    capacity: int
    start: tuple[int, int]
    balance: int = 0
    spip: int = 0
    spfp: int = 0
    year: int = 0
    load_seq: int = 0
    purchase_seq: int = 0
    records: list[purse.TransactionRecord] = field(default_factory=list)
    proof: Proof | None = None
    tacs_checked: int = 0
    """Completed purchases whose TAC was verified against the independent DTK."""

    def totals_after(self, when: dt.date, self_paid: int, pooled: int) -> tuple[int, int, int]:
        """(year, SPIP, SPFP) after a settlement on ``when`` (Part 7 §12.6)."""
        n = when.year * 10000 + when.month * 100 + when.day
        n -= self.year * 10000 + self.start[0] * 100 + self.start[1]
        if n < 10000:
            return self.year, self.spip + self_paid, self.spfp + pooled
        year = when.year if (when.month, when.day) >= self.start else when.year - 1
        return year, self_paid, pooled

    def predict_load(self, amount: int) -> Outcome:
        if not 0 < amount <= AMOUNT_MAX:
            return Outcome.REFUSED_BY_TERMINAL
        if self.balance + amount > AMOUNT_MAX:
            return Outcome.BALANCE_OVERFLOW
        return Outcome.DONE

    def predict_purchase(self, amounts: tuple[int, int, int], when: dt.date) -> Outcome:
        if not all(0 <= a <= AMOUNT_MAX for a in amounts):
            return Outcome.REFUSED_BY_TERMINAL
        if amounts[0] > self.balance:
            return Outcome.NO_FUNDS
        _year, spip, spfp = self.totals_after(when, amounts[1], amounts[2])
        if max(spip, spfp) > AMOUNT_MAX:
            return Outcome.TOTAL_OVERFLOW
        return Outcome.DONE

    def _log(self, done: Done) -> None:
        self.records = [done.record, *self.records][: self.capacity]
        self.proof = done.proof

    def loaded(self, amount: int, done: Done) -> None:
        assert done.proof.seq == self.load_seq and done.record.account == amount
        self.balance += amount
        self.load_seq += 1
        self._log(done)

    def purchased(self, amounts: tuple[int, int, int], when: dt.date, done: Done) -> None:
        assert done.proof.seq == self.purchase_seq
        self.year, self.spip, self.spfp = self.totals_after(when, amounts[1], amounts[2])
        self.balance -= amounts[0]
        self.purchase_seq += 1
        self.tacs_checked += 1
        self._log(done)


# -- the reader slot ------------------------------------------------------------------------


class Fault(Enum):
    """How a :class:`Trap` loses the card."""

    PULL_BEFORE = "card pulled before the command reaches it"
    PULL_AFTER = "card pulled after it processed the command, before its answer"
    CUT = "power cut after some NVM write steps of the command"


@dataclass(frozen=True)
class Trap:
    """A fault on the command ``ins`` (or on the GET RESPONSE that fetches its answer)."""

    ins: int
    fault: Fault
    response: bool = False
    steps: int = 0

    @property
    def reaches_commit(self) -> bool:
        """Whether the chip gets the DEBIT/CREDIT command itself before the card is lost."""
        return self.ins in (DEBIT, CREDIT) and (self.response or self.fault is Fault.PULL_AFTER)


@dataclass(frozen=True)
class Exchanges:
    """Data fields of the last command of each INS, and of its successful answer."""

    commands: Mapping[int, bytes]
    answers: Mapping[int, bytes]


class Slot:
    """The card reader: passes APDUs to the simulated card, records them, springs a trap.

    :attr:`commands` keeps the data field of the last command of each INS, and
    :attr:`answers` the data of its successful answer (fetched by GET RESPONSE or not).
    """

    def __init__(self, card: SimulatedCard) -> None:
        self.card = card
        self.trap: Trap | None = None
        self.commands: dict[int, bytes] = {}
        self.answers: dict[int, bytes] = {}
        self._previous = 0

    @property
    def atr(self) -> bytes:
        return self.card.atr

    def power_on(self) -> bytes:
        return self.card.power_on()

    def reset(self) -> bytes:
        return self.card.reset()

    def power_off(self) -> None:
        self.card.power_off()

    def clear(self) -> None:
        self.commands.clear()
        self.answers.clear()

    def exchanges(self) -> Exchanges:
        return Exchanges(dict(self.commands), dict(self.answers))

    def transmit(self, apdu: bytes) -> bytes:
        ins = apdu[1]
        owner = self._previous if ins == GET_RESPONSE else ins
        trap = self.trap
        springs = trap is not None and trap.ins == owner and (ins == GET_RESPONSE) == trap.response
        if ins != GET_RESPONSE:
            self._previous = ins
            self.commands[ins] = CommandAPDU.from_bytes(apdu).data
        if trap is None or not springs:
            return self._answer(owner, self.card.transmit(apdu))
        self.trap = None
        if trap.fault is Fault.PULL_BEFORE:
            self.card.remove()
        if trap.fault is Fault.CUT:
            self.card.nvm.cut_power_after(trap.steps)
        try:
            response = self.card.transmit(apdu)
        finally:
            self.card.nvm.cancel_power_cut()
        if trap.fault is Fault.PULL_AFTER:
            self.card.remove()
            raise CardRemovedError("card pulled out before its answer reached the reader")
        return self._answer(owner, response)

    def _answer(self, owner: int, response: bytes) -> bytes:
        if response[-2:] == b"\x90\x00":
            self.answers[owner] = response[:-2]
        return response


# -- the state machine ----------------------------------------------------------------------

AMOUNT = st.one_of(
    st.just(0), st.integers(1, 100_000), st.integers(AMOUNT_MAX - 100_000, AMOUNT_MAX)
)
LOAD_KINDS = ("zero", "small", "fill", "overflow", "too big")
ACCOUNT_KINDS = ("zero", "some", "all", "over", "too big")
PULL_STAGES = (
    (INITIALIZE, Fault.PULL_BEFORE, False),
    (INITIALIZE, Fault.PULL_AFTER, False),
    (INITIALIZE, Fault.PULL_AFTER, True),
    (None, Fault.PULL_BEFORE, False),
    (None, Fault.PULL_AFTER, False),
    (None, Fault.PULL_BEFORE, True),
    (None, Fault.PULL_AFTER, True),
)
"""(command — ``None``: the DEBIT or CREDIT —, fault, on its GET RESPONSE)."""


class PurseMachine(RuleBasedStateMachine):
    """Random purse traffic through the terminal; the model predicts every answer."""

    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.seen = (0, 0)
        self.own_seq = OWN_TERMINAL_SEQ

    # -- setup ------------------------------------------------------------------------------

    @initialize(generation=st.sampled_from((2, 3)), level=st.sampled_from((1, 2, 3, None)))
    def insert_card(self, generation: int, level: int | None) -> None:
        """A fresh demo card (deterministic randoms) and a PSAM of ``level`` or HSM mode."""
        profile = PROFILES[generation]
        nvm = JournaledNVM(demo_card_content(profile))
        applet = UserCard(nvm, random=counter_rng())
        atr = card_atr(profile, DEMO_CARD_ID)
        self.card = SimulatedCard(applet, nvm, atr, kind="user-card", profile=generation)
        self.slot = Slot(self.card)
        self.keys = HostKeys.of(generation)
        self.host = SoftwareKeyService()
        self.terminal_number = bytes.fromhex(PSAM_TERMINAL if level else HSM_TERMINAL)
        self.terminal = Terminal(
            self.slot,
            psam_reader=psam(level, terminal_number=PSAM_TERMINAL) if level else None,
            key_service=None if level else SoftwareKeyService(),
            pinpad=CallbackPinPad(lambda _prompt: PIN),
            rng=counter_rng(),
            clock=lambda: self.now,
            terminal_number=HSM_TERMINAL,
        )
        with self.terminal.session() as conn:
            self._enter(conn)
            mmdd = conn.card.call(b.get_starting_day(), "GET STARTING DAY")
        ef08 = profile.tree.ef("SSSE/DF04/EF08")
        assert ef08.records is not None
        self.model = Model(capacity=ef08.records, start=(int(mmdd[:1].hex()), int(mmdd[1:].hex())))

    def _enter(self, conn: Connection) -> None:
        conn.select(purse.DF04)
        if not conn.pin_verified:
            conn.verify_pin()

    # -- operations (one terminal session may hold several) ---------------------------------

    def _load(self, conn: Connection, amount: int) -> None:
        m = self.model
        expected = m.predict_load(amount)
        note(f"load: {expected.value}")
        self.slot.clear()
        if expected is Outcome.REFUSED_BY_TERMINAL:
            with pytest.raises(InvalidInputError):
                purse.load(conn, amount, self.host, time=self.now)
            assert INITIALIZE not in self.slot.commands
            return
        if expected is Outcome.BALANCE_OVERFLOW:
            with pytest.raises(CardStatusError) as refused:
                purse.load(conn, amount, self.host, time=self.now)
            assert (refused.value.sw, refused.value.command) == (0x6985, "INITIALIZE FOR LOAD")
            return
        result = purse.load(conn, amount, self.host, time=self.now)
        done = self._load_done(amount, self.slot.exchanges())
        assert (result.card_seq, result.balance_after) == (m.load_seq, m.balance + amount)
        assert result.tac == done.proof.tac
        m.loaded(amount, done)

    def _load_done(self, amount: int, seen: Exchanges) -> Done:
        init, credit = seen.answers[INITIALIZE], seen.commands[CREDIT]
        assert seen.commands[INITIALIZE][5:11] == self.terminal_number
        return load_done(self.keys, amount, init, credit, self.terminal_number)

    def _purchase(self, conn: Connection, amounts: tuple[int, int, int]) -> None:
        m = self.model
        expected = m.predict_purchase(amounts, self.now.date())
        note(f"purchase: {expected.value}")
        account, self_paid, pooled = amounts
        self.slot.clear()

        def buy() -> purse.PurchaseResult:
            return purse.purchase(
                conn, account=account, self_paid=self_paid, pooled=pooled, time=self.now
            )

        if expected is Outcome.REFUSED_BY_TERMINAL:
            with pytest.raises(InvalidInputError):
                buy()
            assert INITIALIZE not in self.slot.commands
            return
        if expected is Outcome.NO_FUNDS:
            with pytest.raises(CardStatusError) as refused:
                buy()
            assert (refused.value.sw, refused.value.command) == (0x9401, "INITIALIZE FOR PURCHASE")
            assert DEBIT not in self.slot.commands
            return
        if expected is Outcome.TOTAL_OVERFLOW:
            # SPIP and SPFP are b 4 (S2 §7): "使用条件不满足" of Part 5 table 57.
            with pytest.raises(CardStatusError) as refused:
                buy()
            assert (refused.value.sw, refused.value.command) == (0x6985, "DEBIT FOR PURCHASE")
            return
        result = buy()
        done = self._purchase_done(amounts, self.slot.exchanges())
        assert (result.card_seq, result.balance_before) == (m.purchase_seq, m.balance)
        assert result.terminal_number == self.terminal_number.hex().upper()
        assert result.terminal_seq == int.from_bytes(self.slot.commands[DEBIT][0:4])
        assert (result.mac2, result.tac) == (done.proof.mac, done.proof.tac)
        year = m.year
        m.purchased(amounts, self.now.date(), done)
        if m.year != year:
            note("purchase: a new settlement year")

    def _purchase_done(self, amounts: tuple[int, int, int], seen: Exchanges) -> Done:
        init, debit = seen.answers[INITIALIZE], seen.commands[DEBIT]
        assert seen.commands[INITIALIZE][13:19] == self.terminal_number
        return purchase_done(self.keys, amounts, init, debit, self.terminal_number)

    def _load_amount(self, kind: str, n: int) -> int:
        room = AMOUNT_MAX - self.model.balance
        return {
            "zero": 0,
            "small": 1 + n,
            "fill": room,
            "overflow": room + 1 + n,
            "too big": AMOUNT_MAX + 1 + n,
        }[kind]

    def _account(self, kind: str, n: int) -> int:
        balance = self.model.balance
        return {
            "zero": 0,
            "some": n % (balance + 1),
            "all": balance,
            "over": balance + 1 + n,
            "too big": AMOUNT_MAX + 1 + n,
        }[kind]

    # -- rules ------------------------------------------------------------------------------

    @rule(kind=st.sampled_from(LOAD_KINDS), n=st.integers(0, 100_000))
    def load(self, kind: str, n: int) -> None:
        """Account load (帐户划入), with zero, filling and overflowing amounts."""
        with self.terminal.session() as conn:
            self._load(conn, self._load_amount(kind, n))

    @rule(
        kind=st.sampled_from(ACCOUNT_KINDS),
        n=st.integers(0, 100_000),
        self_paid=AMOUNT,
        pooled=AMOUNT,
    )
    def purchase(self, kind: str, n: int, self_paid: int, pooled: int) -> None:
        """Medical purchase: account / self-paid / pooled splits, short of funds, overflows."""
        with self.terminal.session() as conn:
            self._purchase(conn, (self._account(kind, n), self_paid, pooled))

    @rule(
        ops=st.lists(
            st.tuples(st.booleans(), st.integers(1, 5_000), st.integers(0, 3)),
            min_size=2,
            max_size=8,
        )
    )
    def several_in_one_session(self, ops: list[tuple[bool, int, int]]) -> None:
        """Loads and purchases one after another on one power-up (PIN verified once)."""
        with self.terminal.session() as conn:
            for is_load, n, split in ops:
                if is_load:
                    self._load(conn, n)
                else:
                    account = min(n, self.model.balance) if split != 3 else 0
                    self._purchase(conn, (account, n * (split & 1), n * (split >> 1)))

    @rule(number=st.integers(1, 31))
    def read_record(self, number: int) -> None:
        """READ RECORD ``number`` of EF08: the model's record, or ``6A83`` past the last."""
        with self.terminal.session() as conn:
            self._enter(conn)
            response = conn.card.send(b.read_record(number, sfi=purse.EF08, le=28))
        if number > len(self.model.records):
            assert response.sw == 0x6A83
            return
        assert response.sw == 0x9000
        raw = response.data
        record = purse.TransactionRecord(
            seq=int.from_bytes(raw[0:2]),
            kind=raw[2:3].decode(),
            terminal=raw[3:9].hex().upper(),
            time=raw[9:16].hex(),
            account=int.from_bytes(raw[16:20]),
            self_paid=int.from_bytes(raw[20:24]),
            pooled=int.from_bytes(raw[24:28]),
        )
        assert record == self.model.records[number - 1]

    @rule(
        jump=st.sampled_from(("seconds", "days", "end of year", "new year")),
        n=st.integers(1, 400),
    )
    def time_passes(self, jump: str, n: int) -> None:
        """The terminal's clock moves on, to the settlement year's edges too (§12.6)."""
        start = next_start(self.now, self.model.start)
        self.now = {
            "seconds": self.now + dt.timedelta(seconds=n),
            "days": self.now + dt.timedelta(days=n),
            "end of year": start - dt.timedelta(seconds=1),
            "new year": start,
        }[jump]

    @rule(
        start=st.one_of(
            st.tuples(st.integers(1, 12), st.integers(1, 28)),
            st.sampled_from(((1, 1), (2, 29), (12, 31))),
        )
    )
    def starting_day_changes(self, start: tuple[int, int]) -> None:
        """The issuer moves the settlement year's first day (UPDATE STARTING DAY under DSK)."""
        alg = self.keys.algorithm
        original = u32(self.own_seq) + u32(len(self.model.records))
        with self.terminal.session() as conn:
            self._enter(conn)
            challenge = conn.card.call(b.get_challenge(8), "GET CHALLENGE")
            auth = auth_data(session_key(self.keys.dsk, challenge, alg), original, alg)
            kid = key_kid(card_key("DSK"))
            conn.card.call(b.external_authenticate(kid, auth, original), "EXTERNAL AUTH DSK")
            conn.card.call(b.update_starting_day(*start), "UPDATE STARTING DAY")
            assert conn.card.call(b.get_starting_day(), "GET STARTING DAY") == bytes.fromhex(
                f"{start[0]:02d}{start[1]:02d}"
            )
        self.model.start = start
        note("starting day moved")

    @rule(warm=st.booleans())
    def power_cycle(self, warm: bool) -> None:
        """Power on (and a warm reset) with nothing pending: recovery finds a clean NVM."""
        self.slot.power_on()
        if warm:
            self.slot.reset()
        self.slot.power_off()
        assert self.card.last_recovery is Recovery.CLEAN

    @precondition(lambda self: self.model.spip < 1 << 31 and self.model.spfp < 1 << 31)
    @rule(
        interruption=st.sampled_from(("reset", "select", "get challenge", "get balance", "none")),
        n=st.integers(0, 100_000),
    )
    def purchase_interrupted(self, interruption: str, n: int) -> None:
        """INITIALIZE, then a reset or another command, then DEBIT with a genuine MAC1.

        The test is its own PSAM here.  Part 5 table 49: GET BALANCE keeps the purchase
        state, so DEBIT goes through; a reset or a non-purse command leaves the purse
        idle and DEBIT answers ``6901`` (INITIALIZE is good for the next command only).
        """
        m, alg = self.model, self.keys.algorithm
        amounts = (n % (m.balance + 1), n, 2 * n)
        terminal_seq = u32(self.own_seq)
        time = bytes.fromhex(self.now.strftime("%Y%m%d%H%M%S"))
        with self.terminal.session() as conn:
            self._enter(conn)
            card = conn.card
            init = card.call(
                b.initialize_for_purchase(1, *amounts, self.terminal_number), "INITIALIZE"
            )
            sespk = session_key(self.keys.dpk, init[18:22] + init[14:16] + terminal_seq[2:], alg)
            money = b"".join(u32(a) for a in amounts)
            mac1 = mac(sespk, money + b"2" + self.terminal_number + time, alg)
            if interruption == "reset":
                self.slot.reset()
            elif interruption == "select":
                card.send(b.select_by_name(b.SSSE_NAME))
            elif interruption == "get challenge":
                card.call(b.get_challenge(8), "GET CHALLENGE")
            elif interruption == "get balance":
                assert card.call(b.get_balance(), "GET BALANCE") == u32(m.balance)
            answer = card.send(b.debit_for_purchase(self.own_seq, time, mac1))
        note(f"DEBIT after {interruption}: {answer.sw:04X}")
        if interruption in ("reset", "select", "get challenge"):
            assert answer.sw == 0x6901
            return
        assert answer.sw == 0x9000
        self.own_seq += 1
        done = purchase_done(
            self.keys, amounts, init, terminal_seq + time + mac1, self.terminal_number
        )
        assert answer.data == done.proof.tac + done.proof.mac
        m.purchased(amounts, self.now.date(), done)

    @precondition(lambda self: self.model.balance <= AMOUNT_MAX - 100_001)
    @rule(
        is_load=st.booleans(),
        stage=st.sampled_from(PULL_STAGES),
        n=st.integers(0, 100_000),
    )
    def card_pulled(self, is_load: bool, stage: tuple[int | None, Fault, bool], n: int) -> None:
        """The card leaves the reader mid-transaction; done iff the chip got DEBIT/CREDIT."""
        ins, fault, response = stage
        commit = CREDIT if is_load else DEBIT
        trap = Trap(commit if ins is None else ins, fault, response)
        self._torn(is_load, trap, 1 + n)

    @precondition(lambda self: self.model.balance <= AMOUNT_MAX - 100_001)
    @rule(is_load=st.booleans(), steps=st.integers(0, 9), n=st.integers(0, 100_000))
    def power_cut(self, is_load: bool, steps: int, n: int) -> None:
        """Power cut after ``steps`` NVM write steps of DEBIT FOR PURCHASE / CREDIT FOR LOAD."""
        trap = Trap(CREDIT if is_load else DEBIT, Fault.CUT, steps=steps)
        self._torn(is_load, trap, 1 + n)

    def _torn(self, is_load: bool, trap: Trap, n: int) -> None:
        """Run a valid transaction with ``trap`` set; then recover as Part 7 §14 says."""
        m = self.model
        amounts = (n % (m.balance + 1), n % 1000, n % 777)
        if m.predict_purchase(amounts, self.now.date()) is not Outcome.DONE:
            amounts = (amounts[0], 0, 0)
        self.slot.clear()
        self.slot.trap = trap
        try:
            with self.terminal.session() as conn:
                if is_load:
                    self._load(conn, n)
                else:
                    self._purchase(conn, amounts)
        except CardRemovedError as exc:
            if trap.ins in (DEBIT, CREDIT):
                assert "transaction proof" in str(exc), "the terminal must say how to recover"
        else:
            # Only a cut armed past the command's last write step lets it finish.
            assert trap.fault is Fault.CUT
            return
        assert self.slot.trap is None, "the trap never sprang"
        torn = self.slot.exchanges()
        self.card.insert()
        kind = purse.LOAD_TYPE if is_load else purse.PURCHASE_TYPE
        seq = m.load_seq if is_load else m.purchase_seq
        with self.terminal.session(expect=(CARD_ID, CARD_NUMBER)) as conn:
            recovery = self.card.last_recovery
            counter = self._counters(conn)[0 if is_load else 1]
            try:
                proof: tuple[bytes, bytes] | None = purse.transaction_proof(conn, kind, seq)
            except CardStatusError as exc:
                assert exc.sw == NO_PROOF
                proof = None
        assert counter in (seq, seq + 1)
        done = counter == seq + 1
        assert (proof is not None) == done
        note(f"{trap.fault.value}: {'done' if done else 'not done'} ({recovery.value})")
        if trap.fault is not Fault.CUT:
            assert done == trap.reaches_commit
        if recovery is Recovery.ROLLED_FORWARD:
            assert done
        if recovery is Recovery.DISCARDED:
            assert not done
        if not done:
            return
        expected = self._load_done(n, torn) if is_load else self._purchase_done(amounts, torn)
        assert proof == (expected.proof.mac, expected.proof.tac)
        if is_load:
            m.loaded(n, expected)
        else:
            m.purchased(amounts, self.now.date(), expected)

    # -- invariants -------------------------------------------------------------------------

    def _counters(self, conn: Connection) -> tuple[int, int]:
        """(load counter, purchase counter) from INITIALIZE answers (nothing is written)."""
        self._enter(conn)
        load = conn.card.call(b.initialize_for_load(1, 0, self.terminal_number), "INIT LOAD")
        buy = conn.card.call(
            b.initialize_for_purchase(1, 0, 0, 0, self.terminal_number), "INIT PURCHASE"
        )
        assert load[0:4] == buy[0:4]
        return int.from_bytes(load[4:6]), int.from_bytes(buy[14:16])

    @invariant()
    def card_agrees_with_model(self) -> None:
        m = self.model
        assert self.slot.trap is None
        with self.terminal.session() as conn:
            balance = purse.balance(conn)
            counters = self._counters(conn)
            records = purse.transactions(conn)
            proof = (
                None
                if m.proof is None
                else purse.transaction_proof(conn, m.proof.kind, m.proof.seq)
            )
            if m.proof is not None:
                with pytest.raises(CardStatusError) as later:
                    purse.transaction_proof(conn, m.proof.kind, m.proof.seq + 1)
                assert later.value.sw == NO_PROOF
        assert balance == purse.Balance(m.balance, m.spip, m.spfp, m.year)
        assert counters == (m.load_seq, m.purchase_seq)
        assert counters[0] >= self.seen[0] and counters[1] >= self.seen[1], "a counter went back"
        self.seen = counters
        assert len(records) <= m.capacity
        if m.load_seq + m.purchase_seq > m.capacity:
            note("EF08 has wrapped")
        assert records == m.records
        if m.proof is not None:
            assert proof == (m.proof.mac, m.proof.tac)
        assert m.tacs_checked == m.purchase_seq


PurseMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestPurseModel = PurseMachine.TestCase


# -- fixed scenarios through the same machine ------------------------------------------------


def started(generation: int, level: int | None = 3) -> PurseMachine:
    machine = PurseMachine()
    machine.insert_card(generation, level)
    machine.card_agrees_with_model()
    return machine


@pytest.mark.parametrize("generation", (2, 3))
def test_ef08_keeps_the_newest_records_in_cyclic_order(generation: int) -> None:
    machine = started(generation, None)
    capacity = machine.model.capacity
    with machine.terminal.session() as conn:
        machine._load(conn, 1_000_000)
        for i in range(capacity + 4):
            machine._purchase(conn, (i, i % 5, i % 7))
    machine.card_agrees_with_model()
    records = machine.model.records
    assert len(records) == capacity
    assert [r.seq for r in records] == list(range(capacity + 3, 3, -1))
    for number in (1, capacity, capacity + 1):
        machine.read_record(number)


@pytest.mark.parametrize("generation", (2, 3))
@pytest.mark.parametrize("is_load", (True, False))
def test_a_power_cut_at_every_step_is_all_or_nothing(generation: int, is_load: bool) -> None:
    machine = started(generation)
    with machine.terminal.session() as conn:
        machine._load(conn, 500_000)
    outcomes = []
    for steps in range(10):
        before = machine.model.load_seq if is_load else machine.model.purchase_seq
        machine.power_cut(is_load, steps, 1_000 + steps)
        machine.card_agrees_with_model()
        after = machine.model.load_seq if is_load else machine.model.purchase_seq
        outcomes.append(after > before)
    # Up to the commit mark the journal is discarded; from it on, the transaction is done.
    first_done = outcomes.index(True)
    assert first_done > 0 and all(outcomes[first_done:])


@pytest.mark.parametrize("generation", (2, 3))
@pytest.mark.parametrize("is_load", (True, False))
def test_a_card_pulled_at_every_stage_recovers(generation: int, is_load: bool) -> None:
    machine = started(generation, 1)
    with machine.terminal.session() as conn:
        machine._load(conn, 500_000)
    for stage in PULL_STAGES:
        machine.card_pulled(is_load, stage, 4_321)
        machine.card_agrees_with_model()
    reached = sum(
        1
        for ins, fault, response in PULL_STAGES
        if ins is None and (response or fault is Fault.PULL_AFTER)
    )
    seq = machine.model.load_seq - 1 if is_load else machine.model.purchase_seq
    assert seq == reached
