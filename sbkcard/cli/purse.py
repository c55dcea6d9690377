"""``sbkcard purse``: the medical purse of DF04 at the counter (Part 7 §10–§15).

::

    sbkcard purse {balance,records} (--card IMAGE | --reader NAME) [--pin-file FILE] ...
    sbkcard purse purchase ... --amount YUAN [--self-paid YUAN] [--pooled YUAN]
                  (--psam IMAGE | --psam-reader NAME | --hsm-keys KEYSTORE)
    sbkcard purse load ... --amount YUAN --hsm-keys KEYSTORE
    sbkcard purse proof ... --type {purchase,load} --seq N

Amounts are in yuan (1.50) and kept in fen.  Every operation verifies the PIN first
(from the PIN pad, or --pin-file for scripts; never on the command line).  purchase
takes the account amount from the purse and records the self-paid and pooled-fund
parts; MAC1 comes from the PSAM (or key service), which checks MAC2; the TAC is shown
for settlement.  load (帐户划入) needs the host's load key DLK: the key service of
--hsm-keys ('demo' or a key store), as an online host would use its HSM.  proof asks
the card again for the MAC and TAC of a transaction (after a card left the reader).
A simulated card's new state is saved back to its image.
"""

from __future__ import annotations

import argparse
import decimal
from collections.abc import Callable

from sbkcard.cli._common import UsageError, add_json_argument, command_parser, emit_json, plain_doc
from sbkcard.cli._terminal import (
    add_terminal_arguments,
    build_terminal,
    card_image_locked,
    save_card,
)
from sbkcard.terminal.connection import Connection
from sbkcard.terminal.national.interface import yuan
from sbkcard.terminal.operations import purse
from sbkcard.terminal.terminal import Terminal

_TYPES = {"purchase": purse.PURCHASE_TYPE, "load": purse.LOAD_TYPE}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sbkcard purse``."""
    parser = command_parser(
        subparsers,
        "purse",
        help="the medical purse: balance, purchase, load, records, transaction proof",
        description=plain_doc(__doc__),
        example=(
            "sbkcard purse balance --card card.json --psam psam.json",
            "sbkcard purse load --card card.json --hsm-keys demo --amount 500",
            "sbkcard purse purchase --card card.json --psam psam.json --amount 1.50 --json",
        ),
    )
    sub = parser.add_subparsers(dest="purse_command", metavar="COMMAND", required=True)
    card = "--card card.json --pin-file pin.txt"
    commands = {
        "balance": ("the balances (GET BALANCE)", "--json"),
        "records": ("the transaction records (EF08), newest first", ""),
        "purchase": ("an offline medical purchase", "--psam psam.json --amount 35.80"),
        "load": (
            "an account load (帐户划入), with the host's key service",
            "--amount 500 --hsm-keys demo",
        ),
        "proof": (
            "the MAC and TAC of a transaction (GET TRANSACTION PROOF)",
            "--type purchase --seq 3",
        ),
    }
    for name, (text, example) in commands.items():
        op = command_parser(
            sub,
            name,
            help=text,
            description=f"{text[0].upper()}{text[1:]}.",
            example=(f"sbkcard purse {name} {card} {example}".rstrip(),),
        )
        add_terminal_arguments(op, pin=True)
        if name in ("purchase", "load"):
            op.add_argument("--amount", required=True, type=_fen, metavar="YUAN", help="e.g. 1.50")
        if name == "purchase":
            for option, what in (("--self-paid", "self-paid part"), ("--pooled", "pooled fund")):
                op.add_argument(option, type=_fen, default=0, metavar="YUAN", help=what)
        if name == "proof":
            op.add_argument("--type", required=True, choices=sorted(_TYPES), dest="tx_type")
            op.add_argument("--seq", required=True, type=int, metavar="N", help="card sequence")
        add_json_argument(op)
        op.set_defaults(func=_run, operation=name)


def _fen(text: str) -> int:
    """Yuan (up to two decimals) as fen."""
    try:
        value = decimal.Decimal(text)
    except decimal.InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount in yuan") from None
    fen = value * 100
    if not value.is_finite() or fen != fen.to_integral_value() or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: yuan with at most two decimals, not negative")
    return int(fen)


def _operation(args: argparse.Namespace, terminal: Terminal) -> Callable[[Connection], object]:
    name = args.operation
    if name == "balance":
        return purse.balance
    if name == "records":
        return purse.transactions
    if name == "purchase":
        return lambda conn: purse.purchase(
            conn, account=args.amount, self_paid=args.self_paid, pooled=args.pooled
        )
    if name == "load":
        host = terminal.key_service
        if host is None:
            raise UsageError("purse load: the host's load key (DLK) comes from --hsm-keys")
        return lambda conn: purse.load(conn, args.amount, host)
    return lambda conn: _proof(conn, _TYPES[args.tx_type], args.seq)


def _proof(conn: Connection, tx_type: int, seq: int) -> dict[str, object]:
    mac, tac = purse.transaction_proof(conn, tx_type, seq)
    return {"seq": seq, "mac": mac, "tac": tac}


def _run(args: argparse.Namespace) -> int:
    with card_image_locked(args, "sbkcard purse"):
        terminal = build_terminal(args)
        operation = _operation(args, terminal)
        try:
            with terminal.session() as conn:
                result = operation(conn)
        finally:
            save_card(args, terminal)
    if args.json:
        emit_json(result)
        return 0
    for line in _lines(result):
        print(line)
    return 0


def _lines(result: object) -> list[str]:
    if isinstance(result, purse.Balance):
        return [
            f"balance ¥{yuan(result.account)}",
            f"self-paid this year ¥{yuan(result.self_paid_total)}, pooled fund "
            f"¥{yuan(result.pooled_total)} (year {result.year or '-'})",
        ]
    if isinstance(result, purse.PurchaseResult):
        return [
            f"paid ¥{yuan(result.account)} from the purse (self-paid ¥{yuan(result.self_paid)}, "
            f"pooled ¥{yuan(result.pooled)}); "
            f"balance ¥{yuan(result.balance_before - result.account)}",
            f"card sequence {result.card_seq}, terminal {result.terminal_number} sequence "
            f"{result.terminal_seq}, TAC {result.tac.hex().upper()}",
        ]
    if isinstance(result, purse.LoadResult):
        return [
            f"loaded ¥{yuan(result.amount)}; balance ¥{yuan(result.balance_after)}",
            f"card sequence {result.card_seq}, TAC {result.tac.hex().upper()}",
        ]
    if isinstance(result, list):
        if not result:
            return ["no transaction records"]
        return [
            f"#{r.seq:<5} {r.kind} {r.time} terminal {r.terminal} account ¥{yuan(r.account)} "
            f"self-paid ¥{yuan(r.self_paid)} pooled ¥{yuan(r.pooled)}"
            for r in result
        ]
    assert isinstance(result, dict)
    return [
        f"transaction {result['seq']}: MAC {result['mac'].hex().upper()}, "
        f"TAC {result['tac'].hex().upper()}"
    ]
