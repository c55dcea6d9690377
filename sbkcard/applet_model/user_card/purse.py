"""The DF04 medical purse: its state, the MAC/TAC inputs and its command states (Part 7 §11–12).

The purse file (S2 §7, "医疗保险金额文件"): online (load) counter 2 ‖ offline (purchase)
counter 2 ‖ balance (CIA) 4 ‖ year's self-paid total (SPIP) 4 ‖ year's pooled-fund
total (SPFP) 4 ‖ payment year (``cn 2``, ``CCYY``) ‖ year start (``cn 2``, ``MMDD``).
Amounts are binary, in fen.

Cryptograms (Part 7 §11.2–11.8, §12.2–12.6, §15; Part 5 §7); the MACs are computed
without a command header (Part 4 §8.2.4), the transaction type is the ``an 1`` code of
EF08 (S2 table 51: ``'1'`` load, ``'2'`` medical settlement):

========  ==========  ============================================================
value     key         input
========  ==========  ============================================================
SESPK     DPK         random(4) ‖ purchase seq(2) ‖ terminal seq[2:4]
MAC1      SESPK       account ‖ self-paid ‖ pooled ‖ type ‖ terminal(6) ‖ time(7)
MAC2      SESPK       account ‖ self-paid ‖ pooled
TAC       DTK         account ‖ self-paid ‖ pooled ‖ type ‖ terminal ‖ terminal seq(4)
                      ‖ time
SESLK     DLK         random(4) ‖ load seq(2) ‖ ``80 00``
MAC1      SESLK       balance ‖ amount ‖ type ‖ terminal
MAC2      SESLK       amount ‖ type ‖ terminal ‖ host time(7)
TAC       DTK         new balance ‖ load seq (before +1) ‖ amount ‖ type ‖ terminal ‖
                      host time
========  ==========  ============================================================

The TAC uses no session key: for DES the key is DTK's halves XORed (Part 7 §15,
:func:`sbkcard.keys.tac`).

Command states (Part 5 §7, table 49) are an explicit transition table,
:data:`TRANSITIONS`: after a successful command the purse moves to the state the table
gives; a command the table does not allow answers ``6901`` and leaves the purse idle; a
failed command leaves it idle, and so does any other command, since an INITIALIZE is
good for the next command only (Part 5 §7.5.1, §7.6.1).
"""

from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass, fields, replace
from enum import Enum

from sbkcard.apdu import bodies
from sbkcard.keys import Algorithm, mac, session_key, tac

__all__ = [
    "LOAD",
    "PURCHASE",
    "TRANSITIONS",
    "Command",
    "PurseData",
    "State",
    "load_mac1",
    "load_mac2",
    "load_session_key",
    "load_tac",
    "purchase_mac1",
    "purchase_mac2",
    "purchase_session_key",
    "purchase_tac",
    "settle_year",
]

LOAD = b"1"
"""Transaction type of an account load (S2 table 51)."""
PURCHASE = b"2"
"""Transaction type of a medical settlement (S2 table 51)."""


class State(Enum):
    """The purse's command states (Part 5 §7)."""

    IDLE = "空闲"
    LOAD = "帐户划入"
    PURCHASE = "医疗消费"


class Command(Enum):
    """The purse commands of Part 5 table 49."""

    INITIALIZE_FOR_LOAD = "INITIALIZE FOR LOAD"
    INITIALIZE_FOR_PURCHASE = "INITIALIZE FOR PURCHASE"
    CREDIT_FOR_LOAD = "CREDIT FOR LOAD"
    DEBIT_FOR_PURCHASE = "DEBIT FOR PURCHASE"
    GET_BALANCE = "GET BALANCE"
    GET_TRANSACTION_PROOF = "GET TRANSACTION PROOF"


_I, _L, _P = State.IDLE, State.LOAD, State.PURCHASE
TRANSITIONS: dict[tuple[State, Command], State] = {
    (_I, Command.INITIALIZE_FOR_LOAD): _L,
    (_L, Command.INITIALIZE_FOR_LOAD): _L,
    (_P, Command.INITIALIZE_FOR_LOAD): _L,
    (_I, Command.INITIALIZE_FOR_PURCHASE): _P,
    (_L, Command.INITIALIZE_FOR_PURCHASE): _P,
    (_P, Command.INITIALIZE_FOR_PURCHASE): _P,
    (_L, Command.CREDIT_FOR_LOAD): _I,
    (_P, Command.DEBIT_FOR_PURCHASE): _I,
    (_I, Command.GET_BALANCE): _I,
    (_L, Command.GET_BALANCE): _L,
    (_P, Command.GET_BALANCE): _P,
    (_I, Command.GET_TRANSACTION_PROOF): _I,
    (_L, Command.GET_TRANSACTION_PROOF): _L,
    (_P, Command.GET_TRANSACTION_PROOF): _P,
}
"""Part 5 table 49: (state, command) → state after success; absent pairs answer ``6901``."""

COUNTER_MAX = 0xFFFF
BALANCE_MAX = 0xFFFFFFFF


@dataclass(frozen=True)
class PurseData:
    """The 20 bytes of the purse file (:data:`sbkcard.apdu.bodies.PURSE`)."""

    load_seq: int = 0
    purchase_seq: int = 0
    balance: int = 0
    spip: int = 0
    spfp: int = 0
    year: str = "0000"
    start: str = "0101"

    @classmethod
    def from_bytes(cls, raw: bytes) -> PurseData:
        """The purse of the file's bytes; an absent file is a new purse."""
        if not raw:
            return cls()
        value = bodies.parse(bodies.PURSE, raw)
        return cls(*(value[f.name] for f in fields(cls)))

    def to_bytes(self) -> bytes:
        return bodies.build(bodies.PURSE, **asdict(self))


def settle_year(purse: PurseData, when: datetime.date, self_paid: int, pooled: int) -> PurseData:
    """SPIP/SPFP after a settlement on ``when`` (Part 7 §12.6).

    ``n = yyyymmdd − (year × 10000 + start)``: below 10000 the date is inside the card's
    settlement year and the totals grow; otherwise the year becomes the actual
    settlement year (the one starting on the last ``start`` day on or before ``when``)
    and the totals restart from this settlement.
    """
    today = when.year * 10000 + when.month * 100 + when.day
    n = today - (int(purse.year) * 10000 + int(purse.start))
    if n < 10000:
        return replace(purse, spip=purse.spip + self_paid, spfp=purse.spfp + pooled)
    mmdd = when.month * 100 + when.day
    year = when.year if mmdd >= int(purse.start) else when.year - 1
    return replace(purse, year=f"{year:04d}", spip=self_paid, spfp=pooled)


def _amounts(account: int, self_paid: int, pooled: int) -> dict[str, int]:
    return {"account": account, "self_paid": self_paid, "pooled": pooled}


def purchase_session_key(
    dpk: bytes, random: bytes, purchase_seq: int, terminal_seq: bytes, algorithm: Algorithm
) -> bytes:
    """SESPK = DPK session key of random ‖ purchase seq ‖ terminal seq's last 2 bytes."""
    data = bodies.build(
        bodies.PURCHASE_SESSION_INPUT,
        random=random,
        seq=purchase_seq,
        terminal_seq=terminal_seq[-2:],
    )
    return session_key(dpk, data, algorithm)


def purchase_mac1(
    sespk: bytes,
    amounts: tuple[int, int, int],
    terminal: bytes,
    time: bytes,
    algorithm: Algorithm,
) -> bytes:
    """MAC1 of a medical purchase (Part 7 §12.3), computed by the PSAM, checked by the card."""
    data = bodies.build(
        bodies.PURCHASE_MAC1_INPUT,
        **_amounts(*amounts),
        kind=PURCHASE[0],
        terminal=terminal,
        time=time.hex(),
    )
    return mac(sespk, data, algorithm)


def purchase_mac2(sespk: bytes, amounts: tuple[int, int, int], algorithm: Algorithm) -> bytes:
    """MAC2 of a medical purchase (Part 7 §12.6), computed by the card, checked by the PSAM."""
    return mac(sespk, bodies.build(bodies.PURCHASE_AMOUNTS, **_amounts(*amounts)), algorithm)


def purchase_tac(
    dtk: bytes,
    amounts: tuple[int, int, int],
    terminal: bytes,
    terminal_seq: bytes,
    time: bytes,
    algorithm: Algorithm,
) -> bytes:
    """TAC of a medical purchase (Part 7 §12.6, §15)."""
    data = bodies.build(
        bodies.PURCHASE_TAC_INPUT,
        **_amounts(*amounts),
        kind=PURCHASE[0],
        terminal=terminal,
        terminal_seq=int.from_bytes(terminal_seq, "big"),
        time=time.hex(),
    )
    return tac(dtk, data, algorithm)


def load_session_key(dlk: bytes, random: bytes, load_seq: int, algorithm: Algorithm) -> bytes:
    """SESLK = DLK session key of random ‖ load seq ‖ ``80 00`` (Part 7 §11.2)."""
    data = bodies.build(bodies.LOAD_SESSION_INPUT, random=random, seq=load_seq, pad=0x8000)
    return session_key(dlk, data, algorithm)


def load_mac1(
    seslk: bytes, balance: int, amount: int, terminal: bytes, algorithm: Algorithm
) -> bytes:
    """MAC1 of an account load (Part 7 §11.2), computed by the card, checked by the host."""
    data = bodies.build(
        bodies.LOAD_MAC1_INPUT, balance=balance, amount=amount, kind=LOAD[0], terminal=terminal
    )
    return mac(seslk, data, algorithm)


def load_mac2(
    seslk: bytes, amount: int, terminal: bytes, time: bytes, algorithm: Algorithm
) -> bytes:
    """MAC2 of an account load (Part 7 §11.5), computed by the host, checked by the card."""
    data = bodies.build(
        bodies.LOAD_MAC2_INPUT, amount=amount, kind=LOAD[0], terminal=terminal, time=time.hex()
    )
    return mac(seslk, data, algorithm)


def load_tac(
    dtk: bytes,
    balance: int,
    load_seq: int,
    amount: int,
    terminal: bytes,
    time: bytes,
    algorithm: Algorithm,
) -> bytes:
    """TAC of an account load over the new balance and the seq before +1 (Part 7 §11.8)."""
    data = bodies.build(
        bodies.LOAD_TAC_INPUT,
        balance=balance,
        seq=load_seq,
        amount=amount,
        kind=LOAD[0],
        terminal=terminal,
        time=time.hex(),
    )
    return tac(dtk, data, algorithm)
