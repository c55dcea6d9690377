"""Power cut at every NVM write step of every write command of the terminal and issuing flows.

For each command and each step k of its untorn run, :func:`tear_every_step` restores the
card, cuts power after k steps, powers up (journal recovery) and checks that the card is
in a state its untorn run passed through (every file wholly old or wholly new), never
earlier than for a smaller k; then the checks here: the card still answers SELECT with
its FCI, no retry counter went up, no purse counter went down, and a wrong PIN or
cryptogram that the card compared always cost its try.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pytest

from sbkcard.apdu import builders as B
from sbkcard.apdu.t0 import transmit_t0
from sbkcard.applet_model.user_card import PROFILES, Profile, UserCard
from sbkcard.applet_model.user_card import purse as P
from sbkcard.applet_model.user_card.fcp import KeyRecord, body_key, counter_key, key_kid
from sbkcard.applet_model.user_card.personalise import (
    DEMO_CARD_ID,
    DEMO_PIN,
    card_atr,
    demo_card_content,
    external_auth_command,
    key_record,
    write_key_command,
    write_pin_command,
)
from sbkcard.keys import Algorithm, mac, session_key
from sbkcard.keys.hierarchy import card_key, demo_keyset, derive_card_keys
from sbkcard.simulator import JournaledNVM, Recovery, SimulatedCard
from sbkcard.simulator.faults import TearOutcome, TearReport, tear_every_step

SSSE = bytes.fromhex("7378312E73682EC9E7BBE1B1A3D5CF")
DF04 = bytes.fromhex("D15600000503")
TERMINAL = bytes.fromhex("410100000001")
TIME = bytes.fromhex("20240305103000")
PURSE = body_key("SSSE/DF04/PURSE")


@dataclass
class Bench:
    """A demo card of one profile with its own keys, and helpers that talk to it."""

    profile: Profile
    card: SimulatedCard
    keys: Mapping[str, bytes]
    notes: dict[str, bytes] = field(default_factory=dict)

    @property
    def alg(self) -> Algorithm:
        return self.profile.algorithm

    def send(self, command: B.CommandAPDU | bytes) -> tuple[bytes, int]:
        answer = transmit_t0(self.card.transmit, bytes(command))
        return answer[:-2], int.from_bytes(answer[-2:], "big")

    def ok(self, command: B.CommandAPDU | bytes) -> bytes:
        data, sw = self.send(command)
        assert sw == 0x9000, f"{bytes(command)[:4].hex()} answered {sw:04X}"
        return data

    def select(self, aid: bytes) -> None:
        self.ok(B.select_by_name(aid))

    def challenge(self) -> bytes:
        return self.ok(B.get_challenge(8))

    def authenticate(self, name: str) -> None:
        kid = key_kid(card_key(name))
        self.ok(external_auth_command(kid, self.keys[name], self.alg, self.challenge()))

    def verify_pin(self) -> None:
        self.ok(B.verify(DEMO_PIN))


def make_bench(generation: int) -> Bench:
    """The demo card; its challenges and purse randoms are fixed, so that every run of a
    command leaves the same bytes (a purse proof holds a MAC over the card's random)."""
    profile = PROFILES[generation]
    atr = card_atr(profile, DEMO_CARD_ID)
    keys = derive_card_keys(demo_keyset(profile.algorithm), DEMO_CARD_ID.region, atr)
    nvm = JournaledNVM(demo_card_content(profile))
    applet = UserCard(nvm, random=lambda n: bytes(range(0xA0, 0xA0 + n)))
    card = SimulatedCard(applet, nvm, atr, kind="user-card", profile=generation)
    return Bench(profile, card, keys)


def _load(b: Bench, amount: int) -> bytes:
    """INITIALIZE FOR LOAD ‖ CREDIT FOR LOAD of ``amount`` fen (DF04 selected, PIN verified)."""
    init = b.ok(B.initialize_for_load(1, amount, TERMINAL))
    seq, random = int.from_bytes(init[4:6], "big"), init[8:12]
    seslk = P.load_session_key(b.keys["DLK"], random, seq, b.alg)
    return bytes(B.credit_for_load(TIME, P.load_mac2(seslk, amount, TERMINAL, TIME, b.alg)))


def _in_df04(b: Bench) -> None:
    b.select(SSSE)
    b.select(DF04)
    b.verify_pin()


# -- the commands: (prepare, command) per write command of the flows ------------------------

Step = Callable[[Bench], object]


def update_record(b: Bench) -> tuple[Step, Step]:
    def prepare(b: Bench) -> None:
        b.select(SSSE)
        b.select(DF04)
        b.authenticate("UK1DF04")

    record = bytes((0x8F, 0x01)) + b"1"
    mode = B.RecordMode.FIRST_OCCURRENCE
    return prepare, lambda b: b.ok(B.update_record(0x8F, record, sfi=5, mode=mode))


def update_binary(b: Bench) -> tuple[Step, Step]:
    def prepare(b: Bench) -> None:
        b.select(SSSE)
        b.authenticate("UKSSSE")

    return prepare, lambda b: b.ok(B.update_binary(bytes(range(0x80)), sfi=7))


def verify_wrong_pin(b: Bench) -> tuple[Step, Step]:
    def command(b: Bench) -> None:
        assert b.send(B.verify("999999"))[1] == 0x63C2

    return lambda b: b.select(SSSE), command


def verify_right_pin(b: Bench) -> tuple[Step, Step]:
    return lambda b: b.select(SSSE), Bench.verify_pin


def change_pin(b: Bench) -> tuple[Step, Step]:
    return lambda b: b.select(SSSE), lambda b: b.ok(B.change_pin(DEMO_PIN, "654321"))


def external_auth_failure(b: Bench) -> tuple[Step, Step]:
    kid = key_kid(card_key("RKSSSE"))

    def prepare(b: Bench) -> None:
        b.select(SSSE)
        b.notes["challenge"] = b.challenge()

    def command(b: Bench) -> None:
        wrong = bytes(8)
        assert b.send(B.external_authenticate(kid, wrong, bytes(8)))[1] == 0x63C2

    return prepare, command


def purse_credit(b: Bench) -> tuple[Step, Step]:
    def prepare(b: Bench) -> None:
        _in_df04(b)
        b.notes["credit"] = _load(b, 5000)

    return prepare, lambda b: b.ok(b.notes["credit"])


def purse_debit(b: Bench) -> tuple[Step, Step]:
    amounts = (1200, 300, 800)
    terminal_seq = bytes.fromhex("00000007")

    def prepare(b: Bench) -> None:
        _in_df04(b)
        init = b.ok(B.initialize_for_purchase(1, *amounts, TERMINAL))
        seq, random = int.from_bytes(init[14:16], "big"), init[18:22]
        sespk = P.purchase_session_key(b.keys["DPK"], random, seq, terminal_seq, b.alg)
        mac1 = P.purchase_mac1(sespk, amounts, TERMINAL, TIME, b.alg)
        b.notes["debit"] = bytes(B.debit_for_purchase(7, TIME, mac1))

    return prepare, lambda b: b.ok(b.notes["debit"])


def write_key(b: Bench) -> tuple[Step, Step]:
    spec = card_key("UKSSSE")
    fresh = bytes(reversed(b.keys["UKSSSE"]))

    def prepare(b: Bench) -> None:
        b.select(SSSE)
        record = key_record(spec, fresh, b.alg)
        command = write_key_command(key_kid(spec), record, b.keys["MKSSSE"], b.alg, b.challenge())
        b.notes["write key"] = command

    return prepare, lambda b: b.ok(b.notes["write key"])


def write_pin(b: Bench) -> tuple[Step, Step]:
    def prepare(b: Bench) -> None:
        b.select(SSSE)
        master = b.keys["MKSSSE"]
        b.notes["write pin"] = write_pin_command("87654321", 5, master, b.alg, b.challenge())

    return prepare, lambda b: b.ok(b.notes["write pin"])


def create_file(b: Bench) -> tuple[Step, Step]:
    # An issuer extension file EF0C (S2 §6): transparent, 16 bytes, free read, UKSSSE write.
    header = bytes.fromhex("01EF0C0C001000000204")

    def prepare(b: Bench) -> None:
        b.select(SSSE)
        b.authenticate("MKSSSE")

    return prepare, lambda b: b.ok(b"\x80\xe0\x00\x00" + bytes((len(header),)) + header)


def application_block(b: Bench) -> tuple[Step, Step]:
    def prepare(b: Bench) -> None:
        b.select(SSSE)
        b.select(DF04)
        b.authenticate("LKDF04")
        sk = session_key(b.keys["STKDF04"], b.challenge(), b.alg)
        b.notes["block"] = bytes(B.application_block(mac(sk, b"\x84\x1e\x00\x01\x04", b.alg)))

    return prepare, lambda b: b.ok(b.notes["block"])


COMMANDS = {
    "UPDATE RECORD": update_record,
    "UPDATE BINARY": update_binary,
    "VERIFY (wrong PIN)": verify_wrong_pin,
    "VERIFY (right PIN)": verify_right_pin,
    "CHANGE PIN": change_pin,
    "EXTERNAL AUTHENTICATE (failure)": external_auth_failure,
    "CREDIT FOR LOAD": purse_credit,
    "DEBIT FOR PURCHASE": purse_debit,
    "WRITE KEY": write_key,
    "WRITE PIN": write_pin,
    "CREATE FILE": create_file,
    "APPLICATION BLOCK": application_block,
}


def _counters(storage: Mapping[str, bytes]) -> dict[str, int]:
    return {k: v[0] for k, v in storage.items() if k.startswith("ctr:")}


def _purse(storage: Mapping[str, bytes]) -> P.PurseData:
    return P.PurseData.from_bytes(storage[PURSE])


def _tear(b: Bench, name: str) -> TearReport:
    base = b.card.snapshot().storage
    prepare, command = COMMANDS[name](b)

    def check(card: SimulatedCard, outcome: TearOutcome) -> None:
        answer = transmit_t0(card.transmit, bytes(B.select_by_name(SSSE)))
        assert answer[-2:] == b"\x90\x00" and answer[:2] == b"\x6f\x1c", answer.hex()
        now = outcome.storage
        before = _counters(base)
        for key, value in _counters(now).items():
            if key in before and not name.startswith(("WRITE", "VERIFY (right", "CHANGE")):
                assert value <= before[key], f"{key} went up from {before[key]} to {value}"
        old, new = _purse(base), _purse(now)
        assert (new.load_seq, new.purchase_seq) >= (old.load_seq, old.purchase_seq)

    return tear_every_step(b.card, lambda _: command(b), prepare=lambda _: prepare(b), check=check)


@pytest.mark.parametrize("generation", [2, 3])
@pytest.mark.parametrize("name", list(COMMANDS))
def test_tear_at_every_step(generation: int, name: str) -> None:
    b = make_bench(generation)
    if name == "DEBIT FOR PURCHASE":
        b.card.power_on()
        _in_df04(b)  # a balance to spend
        b.ok(_load(b, 10000))
        b.card.power_off()
    report = _tear(b, name)
    assert report.steps >= 4
    assert len(report.outcomes) == report.steps + 1
    # Early cuts leave the command undone, late ones done; recovery both ways.
    assert report.outcomes[0].state == 0
    assert report.outcomes[-1].state == len(report.states) - 1
    recoveries = {o.recovery for o in report.outcomes}
    assert {Recovery.DISCARDED, Recovery.ROLLED_FORWARD, Recovery.CLEAN} <= recoveries
    # Every command writes: the untorn run committed at least one transaction.
    assert len(report.states) >= 2


@pytest.mark.parametrize("generation", [2, 3])
def test_a_compared_pin_always_costs_its_try(generation: int) -> None:
    b = make_bench(generation)
    report = _tear(b, "VERIFY (wrong PIN)")
    counter = counter_key("SSSE", None)
    assert [s[counter] for s in report.states] == [b"\x03", b"\x02"]
    # Only cuts before the decrement's commit mark leave 3 tries; the comparison comes
    # after that commit, so no cut can both compare the PIN and keep the try.
    assert [o.storage[counter][0] for o in report.outcomes] == [3, 3, 2, 2, 2]


@pytest.mark.parametrize("generation", [2, 3])
def test_a_torn_debit_is_wholly_done_or_not_at_all(generation: int) -> None:
    b = make_bench(generation)
    b.card.power_on()
    _in_df04(b)
    b.ok(_load(b, 10000))
    b.card.power_off()
    report = _tear(b, "DEBIT FOR PURCHASE")
    log = body_key("SSSE/DF04/EF08")
    proof = "proof:SSSE/DF04"
    for outcome in report.outcomes:
        purse, storage = _purse(outcome.storage), outcome.storage
        done = purse.balance == 10000 - 1200
        assert done == (outcome.state == len(report.states) - 1)
        # Balance, counter, transaction record and proof move together.
        assert (purse.purchase_seq == 1) == done
        assert (storage[log][:2] == b"\x00\x00" and storage[log][2:3] == P.PURCHASE) == done
        assert (storage[proof][:1] == P.PURCHASE) == done


def test_write_key_roles_survive_every_tear() -> None:
    b = make_bench(3)
    report = _tear(b, "WRITE KEY")
    uk = "key:SSSE/04.01"
    for outcome in report.outcomes:
        # Every key record parses after recovery (none is left torn), and UKSSSE is the
        # old key or the new one, never a mix.
        for key, value in outcome.storage.items():
            if key.startswith("key:"):
                KeyRecord.from_bytes(value)
        assert outcome.storage[uk][4:] in (b.keys["UKSSSE"], bytes(reversed(b.keys["UKSSSE"])))
