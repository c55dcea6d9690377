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

from sbkcard.apdu import builders as b
from sbkcard.applet_model.data_items import FILE_ITEMS
from sbkcard.errors import CardRemovedError
from sbkcard.identifiers.formats import decode_cn
from sbkcard.keys.hierarchy import card_key
from sbkcard.terminal.connection import Connection
from sbkcard.terminal.errors import CardStatusError, InvalidInputError
from sbkcard.terminal.operations.files import read_cyclic
from sbkcard.terminal.security.base import PurchaseInit, PurchaseRequest, bcd_time, hsm_address
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
        account = card.call(b.get_balance(b.Balance.CIA), "GET BALANCE")
        spip = card.call(b.get_balance(b.Balance.SPIP), "GET BALANCE (SPIP)")
        spfp = card.call(b.get_balance(b.Balance.SPFP), "GET BALANCE (SPFP)")
    return Balance(
        int.from_bytes(account[:4]),
        int.from_bytes(spip[:4]),
        int.from_bytes(spfp[:4]),
        int(decode_cn(spip[4:6], field="payment year") or 0),
    )


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
        answer = card.call(
            b.initialize_for_purchase(key_index, account, self_paid, pooled, terminal),
            "INITIALIZE FOR PURCHASE",
        )
    init = PurchaseInit(
        balance=int.from_bytes(answer[0:4]),
        spip=int.from_bytes(answer[4:8]),
        spfp=int.from_bytes(answer[8:12]),
        year=int.from_bytes(answer[12:14]),
        seq=int.from_bytes(answer[14:16]),
        key_version=answer[16],
        algorithm_id=answer[17],
        random=answer[18:22],
    )
    request = PurchaseRequest(account, self_paid, pooled, PURCHASE_TYPE, terminal, when)
    terminal_seq, mac1 = module.purchase_mac1(conn.ctx, init, request)
    try:
        with card.during("DEBIT FOR PURCHASE"):
            proof = card.call(b.debit_for_purchase(terminal_seq, when, mac1), "DEBIT FOR PURCHASE")
    except CardRemovedError as exc:
        raise CardRemovedError(
            f"{exc}; the purchase (card sequence {init.seq}) may or may not have been made: "
            "re-insert the card and ask for its transaction proof"
        ) from exc
    tac, mac2 = proof[:4], proof[4:8]
    module.check_mac2(mac2)
    return PurchaseResult(
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


def transaction_proof(conn: Connection, tx_type: int, seq: int) -> tuple[bytes, bytes]:
    """GET TRANSACTION PROOF: (MAC, TAC) of the transaction ``seq`` (Part 7 §14)."""
    conn.select(DF04)
    data = conn.card.call(b.get_transaction_proof(tx_type, seq), "GET TRANSACTION PROOF")
    return data[:4], data[4:8]


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
        answer = card.call(
            b.initialize_for_load(key_index, amount, terminal), "INITIALIZE FOR LOAD"
        )
    before, seq = int.from_bytes(answer[0:4]), answer[4:6]
    version, random, mac1 = answer[6], answer[8:12], answer[12:16]
    address = hsm_address(card_key("DLK"), version)
    session_input = random + seq + b"\x80\x00"
    expected = host.session_mac(
        ctx,
        address,
        session_input,
        answer[0:4] + amount.to_bytes(4) + bytes([LOAD_TYPE]) + terminal,
    )
    if not hmac.compare_digest(expected, mac1):
        raise CardStatusError(
            0x9302, "INITIALIZE FOR LOAD (MAC1 checked by the host)", device="host"
        )
    mac2 = host.session_mac(
        ctx,
        address,
        session_input,
        amount.to_bytes(4) + bytes([LOAD_TYPE]) + terminal + bcd_time(when),
    )
    try:
        with card.during("CREDIT FOR LOAD"):
            tac = card.call(b.credit_for_load(when, mac2), "CREDIT FOR LOAD")
    except CardRemovedError as exc:
        raise CardRemovedError(
            f"{exc}; the load (card sequence {int.from_bytes(seq)}) may or may not have been "
            "made: re-insert the card and ask for its transaction proof (Part 7 §14)"
        ) from exc
    return LoadResult(int.from_bytes(seq), amount, before + amount, tac)


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
