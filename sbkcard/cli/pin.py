"""``sbkcard pin``: the cardholder's PIN at the counter (Part 7 §5.6–5.8, §13.3).

::

    sbkcard pin {tries,verify,change,reload,unblock,cert-change,cert-unblock}
                (--card IMAGE | --reader NAME)
                [--psam IMAGE | --psam-reader NAME | --hsm-keys KEYSTORE]
                [--pin-file FILE] [--hotlist DB] [--json]

PINs come from the PIN pad: typed without echo at a terminal, or read from --pin-file
(one per line in the order asked; '-' is standard input) by scripts; never from the
command line, never printed.  verify asks for the PIN, change for the old one and the
new one twice, reload for the new one twice; reload and unblock are the issuer's
operations and need the PSAM or the key service (PUK and STKSSSE).  cert-change and
cert-unblock are the third-generation card's certificate application's user PIN (the one
PKI_SignData asks for): cert-change asks for the old one and the new one twice,
cert-unblock for the administrator PIN and the new user PIN twice (GM/T 0016
SKF_ChangePIN, SKF_UnblockPIN).  A simulated card's new state (the tries counter) is
saved back to its image.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from sbkcard.cli._common import add_json_argument, command_parser, emit_json, plain_doc
from sbkcard.cli._terminal import (
    add_terminal_arguments,
    build_terminal,
    card_image_locked,
    save_card,
)
from sbkcard.terminal.connection import Connection
from sbkcard.terminal.operations import cert_pin, pin

_OPERATIONS: dict[str, tuple[str, Callable[[Connection], object]]] = {
    "tries": ("the tries left (VERIFY without data)", pin.pin_tries),
    "verify": ("verify the PIN", pin.verify_pin),
    "change": ("change the PIN (old PIN, new PIN twice)", pin.change_pin),
    "reload": ("reset the PIN (重置; needs the PSAM or key service)", pin.reload_pin),
    "unblock": ("unblock the PIN (解锁; needs the PSAM or key service)", pin.unblock_pin),
    "cert-change": (
        "change the certificate application's user PIN (old PIN, new PIN twice)",
        cert_pin.change_user_pin,
    ),
    "cert-unblock": (
        "unblock the certificate application's user PIN (administrator PIN, new PIN twice)",
        cert_pin.unblock_user_pin,
    ),
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sbkcard pin``."""
    parser = command_parser(
        subparsers,
        "pin",
        help="the cardholder's PIN: tries, verify, change, reload, unblock",
        description=plain_doc(__doc__),
        example=(
            "sbkcard pin verify --card card.json --psam psam.json",
            "printf '123456\\n' | sbkcard pin verify --card card.json --pin-file - --json",
            "sbkcard pin unblock --card card.json --psam psam.json",
            "sbkcard pin cert-unblock --card card.json",
        ),
    )
    sub = parser.add_subparsers(dest="pin_command", metavar="COMMAND", required=True)
    for name, (text, _) in _OPERATIONS.items():
        op = command_parser(
            sub,
            name,
            help=text,
            description=f"{text[0].upper()}{text[1:]}.",
            example=(f"sbkcard pin {name} --card card.json --psam psam.json",),
        )
        add_terminal_arguments(op, pin=True)
        add_json_argument(op)
        op.set_defaults(func=_run, operation=name)


def _run(args: argparse.Namespace) -> int:
    with card_image_locked(args, "sbkcard pin"):
        terminal = build_terminal(args)
        operation = _OPERATIONS[args.operation][1]
        try:
            with terminal.session() as conn:
                result = operation(conn)
        finally:
            save_card(args, terminal)
    if args.operation == "tries":
        document: dict[str, object] = {"operation": "tries", "tries_left": result}
    else:
        assert isinstance(result, pin.PinResult)
        document = {"operation": result.operation, "tries_left": result.tries_left}
    if args.json:
        emit_json(document)
    elif args.operation == "tries":
        print("no PIN needed" if result is None else f"{result} tries left")
    else:
        left = "" if document["tries_left"] is None else f"; {document['tries_left']} tries left"
        print(f"PIN {args.operation}: done{left}")
    return 0
