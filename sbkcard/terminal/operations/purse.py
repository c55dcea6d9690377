"""The medical purse of DF04: purchase, load, balance, transaction records (Part 7 §10–§15).

* :func:`purchase` — the offline medical purchase (Part 7 §12, Part 9 §9.9): the PIN,
  INITIALIZE FOR PURCHASE on the card, MAC1 from the security module (INIT SAM FOR
  PURCHASE on a PSAM), DEBIT FOR PURCHASE on the card, the card's MAC2 checked by the
  security module (CREDIT SAM FOR PURCHASE); the TAC is kept in the result for the
  settlement check of S3 App. C.7.  If the card leaves after DEBIT FOR PURCHASE was sent,
  the error says so and :func:`transaction_proof` recovers the MAC2/TAC once it is back
  (Part 7 §14).
* :func:`load` — account load (帐户划入, Part 7 §11): the host's side (MAC1 check, MAC2)
  is a key service, as an online host would do with its HSM.
* :func:`balance`, :func:`transactions` — GET BALANCE and the EF08 records.
"""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass

from sbkcard.apdu import bodies
from sbkcard.apdu import builders as b
from sbkcard.apdu.status import SW
from sbkcard.applet_model.data_items import FILE_ITEMS
from sbkcard.errors import CardRemovedError
from sbkcard.keys.hierarchy import card_key
from sbkcard.terminal.connection import Connection
from sbkcard.terminal.errors import CardStatusError, InvalidInputError, UnconfirmedPurchaseError
from sbkcard.terminal.operations.files import read_cyclic
from sbkcard.terminal.security.base import PurchaseInit, PurchaseRequest, hsm_address
from sbkcard.terminal.security.hsm import KeyService

DF04 = "DF04"
PURCHASE_TYPE = 0x32
"""交易类型 of a medical settlement: the ``an 1`` code ``'2'`` of S2 table 51."""
LOAD_TYPE = 0x31
"""交易类型 of an account load: ``'1'``."""
EF08 = 0x08


@dataclass(frozen=True)
class Balance:
    """GET BALANCE: account balance, yearly self-paid and pooled-fund totals (fen)."""

    account: int
    self_paid_total: int
    pooled_total: int
    year: int
    """The payment year (``cn 2`` on the card, e.g. 2024); 0 before the first payment."""


@dataclass(frozen=True)
class PurchaseResult:
    """A completed purchase: what the card recorded and the TAC for settlement."""

    card_seq: int
    terminal_seq: int
    account: int
    self_paid: int
    pooled: int
    tx_type: int
    terminal_number: str
    time: dt.datetime
    key_version: int
    algorithm_id: int
    balance_before: int
    mac2: bytes
    tac: bytes

    @property
    def amounts_hex(self) -> str:
        """交易金额 of iDoDebit: the last two amounts of the card command in hex (S3 §8.1.2)."""
        return f"{self.self_paid:08X}{self.pooled:08X}"


@dataclass(frozen=True)
class LoadResult:
    """A completed account load."""

    card_seq: int
    amount: int
    balance_after: int
    tac: bytes


@dataclass(frozen=True)
class TransactionRecord:
    """One record of DF04 EF08 (S2 §8.5.3): amounts in fen, newest record first."""

    seq: int
    kind: str
    terminal: str
    time: str
    account: int
    self_paid: int
    pooled: int


def _enter(conn: Connection) -> None:
    conn.select(DF04)
    if not conn.pin_verified:
        conn.verify_pin()


def balance(conn: Connection) -> Balance:
    """The purse's balances (GET BALANCE ``01``, ``02``, ``03``), the PIN first."""
    _enter(conn)
    card = conn.card
    with card.during("GET BALANCE"):
        account = card.call_body(
            b.get_balance(b.Balance.CIA), bodies.GET_BALANCE_ANSWER, "GET BALANCE"
        )
        spip = card.call_body(
            b.get_balance(b.Balance.SPIP), bodies.GET_SPIP_ANSWER, "GET BALANCE (SPIP)"
        )
        spfp = card.call_body(
            b.get_balance(b.Balance.SPFP), bodies.GET_SPFP_ANSWER, "GET BALANCE (SPFP)"
        )
    return Balance(account.balance, spip.spip, spfp.spfp, int(spip.year))


def purchase(
    conn: Connection,
    *,
    account: int,
    self_paid: int,
    pooled: int,
    time: dt.datetime | None = None,
    key_index: int = 1,
) -> PurchaseResult:
    """An offline medical purchase (amounts in fen), the PIN verified first."""
    for name, value in (("account", account), ("self_paid", self_paid), ("pooled", pooled)):
        if not 0 <= value <= 0xFFFFFFFF:
            raise InvalidInputError(f"{name} amount {value} out of range 0..4294967295 fen")
    _enter(conn)
    module = conn.module
    when = (time or conn.clock()).replace(microsecond=0)
    terminal = module.terminal_number
    card = conn.card
    with card.during("INITIALIZE FOR PURCHASE"):
        answer = card.call_body(
            b.initialize_for_purchase(key_index, account, self_paid, pooled, terminal),
            bodies.INITIALIZE_FOR_PURCHASE_ANSWER,
            "INITIALIZE FOR PURCHASE",
        )
    init = PurchaseInit.of(answer)
    request = PurchaseRequest(account, self_paid, pooled, PURCHASE_TYPE, terminal, when)
    terminal_seq, mac1 = module.purchase_mac1(conn.ctx, init, request)
    try:
        with card.during("DEBIT FOR PURCHASE"):
            proof = card.call_body(
                b.debit_for_purchase(terminal_seq, when, mac1),
                bodies.DEBIT_FOR_PURCHASE_ANSWER,
                "DEBIT FOR PURCHASE",
            )
    except CardRemovedError as exc:
        raise CardRemovedError(
            f"{exc}; the purchase (card sequence {init.seq}) may or may not have been made: "
            "re-insert the card and ask for its transaction proof"
        ) from exc
    tac, mac2 = proof.tac, proof.mac2
    result = PurchaseResult(
        card_seq=init.seq,
        terminal_seq=terminal_seq,
        account=account,
        self_paid=self_paid,
        pooled=pooled,
        tx_type=PURCHASE_TYPE,
        terminal_number=terminal.hex().upper(),
        time=when,
        key_version=init.key_version,
        algorithm_id=init.algorithm_id,
        balance_before=init.balance,
        mac2=mac2,
        tac=tac,
    )
    try:
        module.check_mac2(mac2)
    except CardStatusError as refusal:
        raise UnconfirmedPurchaseError(refusal, result) from refusal
    return result


def transaction_proof(conn: Connection, tx_type: int, seq: int) -> tuple[bytes, bytes]:
    """GET TRANSACTION PROOF: (MAC, TAC) of the transaction ``seq`` (Part 7 §14)."""
    conn.select(DF04)
    proof = conn.card.call_body(
        b.get_transaction_proof(tx_type, seq),
        bodies.GET_TRANSACTION_PROOF_ANSWER,
        "GET TRANSACTION PROOF",
    )
    return proof.mac, proof.tac


def load(
    conn: Connection,
    amount: int,
    host: KeyService,
    *,
    time: dt.datetime | None = None,
    key_index: int = 1,
) -> LoadResult:
    """Account load (帐户划入): the host (a key service with the DLK) checks MAC1, makes MAC2."""
    if not 0 < amount <= 0xFFFFFFFF:
        raise InvalidInputError(f"load amount {amount} out of range 1..4294967295 fen")
    _enter(conn)
    ctx = conn.ctx
    terminal = conn.module.terminal_number
    when = (time or conn.clock()).replace(microsecond=0)
    card = conn.card
    with card.during("INITIALIZE FOR LOAD"):
        answer = card.call_body(
            b.initialize_for_load(key_index, amount, terminal),
            bodies.INITIALIZE_FOR_LOAD_ANSWER,
            "INITIALIZE FOR LOAD",
        )
    before, seq = answer.balance, answer.seq
    address = hsm_address(card_key("DLK"), answer.key_version)
    session_input = bodies.build(
        bodies.LOAD_SESSION_INPUT, random=answer.random, seq=seq, pad=0x8000
    )
    expected = host.session_mac(
        ctx,
        address,
        session_input,
        bodies.build(
            bodies.LOAD_MAC1_INPUT, balance=before, amount=amount, kind=LOAD_TYPE, terminal=terminal
        ),
    )
    if not hmac.compare_digest(expected, answer.mac1):
        raise CardStatusError(
            SW.MAC_INVALID, "INITIALIZE FOR LOAD (MAC1 checked by the host)", device="host"
        )
    mac2 = host.session_mac(
        ctx,
        address,
        session_input,
        bodies.build(
            bodies.LOAD_MAC2_INPUT,
            amount=amount,
            kind=LOAD_TYPE,
            terminal=terminal,
            time=when.strftime("%Y%m%d%H%M%S"),
        ),
    )
    try:
        with card.during("CREDIT FOR LOAD"):
            tac = card.call_body(
                b.credit_for_load(when, mac2), bodies.CREDIT_FOR_LOAD_ANSWER, "CREDIT FOR LOAD"
            ).tac
    except CardRemovedError as exc:
        raise CardRemovedError(
            f"{exc}; the load (card sequence {seq}) may or may not have been "
            "made: re-insert the card and ask for its transaction proof (Part 7 §14)"
        ) from exc
    return LoadResult(seq, amount, before + amount, tac)


def transactions(conn: Connection) -> list[TransactionRecord]:
    """Every record of EF08, newest first (the PIN first)."""
    _enter(conn)
    ef = conn.ef(DF04, EF08)
    items = FILE_ITEMS["SSSE/DF04/EF08"]
    with conn.card.during("reading the transaction records (EF08)"):
        rows = read_cyclic(conn, EF08, ef, items, [])
    return [
        TransactionRecord(
            seq=int(r[0]),
            kind=r[1],
            terminal=r[2],
            time=r[3],
            account=int(r[4]),
            self_paid=int(r[5]),
            pooled=int(r[6]),
        )
        for r in rows
    ]
