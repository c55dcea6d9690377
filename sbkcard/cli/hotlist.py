"""``sbkcard hotlist``: the list of cards reported lost (挂失) and replaced (补卡).

::

    sbkcard hotlist new DB
    sbkcard hotlist report --hotlist DB CARDNUMBER --card-id HEX32 [--reason TEXT]
    sbkcard hotlist lift --hotlist DB CARDNUMBER --card-id HEX32 [--reason TEXT]
    sbkcard hotlist list --hotlist DB [--json]

A hotlist is configuration: new creates one, and every other command (here, and
'read', 'pin', 'purse') refuses a path where there is none, rather than make an empty
list that would let a lost card through.  A card is named by its card number and its
card identification code (32 hex digits, as 'read' shows them).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sbkcard.cli._common import UsageError, add_json_argument, command_parser, emit_json, plain_doc
from sbkcard.cli._terminal import existing_hotlist
from sbkcard.terminal.hotlist import Hotlist


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sbkcard hotlist``."""
    parser = command_parser(
        subparsers,
        "hotlist",
        help="cards reported lost: new, report, lift, list",
        description=plain_doc(__doc__),
        example=(
            "sbkcard hotlist new hotlist.db",
            "sbkcard hotlist report --hotlist hotlist.db A00000001 --card-id "
            "410100D156000005A000000011111111 --reason '电话挂失'",
            "sbkcard hotlist list --hotlist hotlist.db --json",
        ),
    )
    sub = parser.add_subparsers(dest="hotlist_command", metavar="COMMAND", required=True)
    new = command_parser(
        sub,
        "new",
        help="create an empty hotlist",
        description="Create a hotlist.",
        example=("sbkcard hotlist new hotlist.db",),
    )
    new.add_argument("db", type=Path, metavar="DB")
    add_json_argument(new)
    new.set_defaults(func=_new)
    for name, text in (
        ("report", "report a card lost (挂失)"),
        ("lift", "lift a loss report (解挂)"),
    ):
        op = command_parser(
            sub,
            name,
            help=text,
            description=f"{text[0].upper()}{text[1:]}.",
            example=(
                f"sbkcard hotlist {name} --hotlist hotlist.db A00000001 "
                "--card-id 410100D156000005A000000011111111 --reason '持卡人电话挂失'",
            ),
        )
        op.add_argument("--hotlist", type=Path, required=True, metavar="DB")
        op.add_argument("card_number", metavar="CARDNUMBER")
        op.add_argument(
            "--card-id", required=True, metavar="HEX32", help="card identification code"
        )
        op.add_argument("--reason", default="reported at the counter", help="(%(default)s)")
        add_json_argument(op)
        op.set_defaults(func=_change, operation=name)
    listing = command_parser(
        sub,
        "list",
        help="the listed cards",
        description="List the hotlist.",
        example=("sbkcard hotlist list --hotlist hotlist.db --json",),
    )
    listing.add_argument("--hotlist", type=Path, required=True, metavar="DB")
    add_json_argument(listing)
    listing.set_defaults(func=_list)


def _new(args: argparse.Namespace) -> int:
    if args.db.exists():
        raise UsageError(f"{args.db} exists")
    Hotlist(args.db).close()
    if args.json:
        emit_json({"hotlist": args.db, "entries": []})
    else:
        print(f"empty hotlist written to {args.db}")
    return 0


def _change(args: argparse.Namespace) -> int:
    with existing_hotlist(args.hotlist) as hotlist:
        if args.operation == "report":
            entry = hotlist.report(args.card_number, args.card_id, args.reason)
            document: dict[str, object] = {"operation": "report", "entry": entry}
        else:
            hotlist.lift(args.card_number, args.card_id, args.reason)
            document = {"operation": "lift", "card_number": args.card_number.upper()}
    if args.json:
        emit_json(document)
    else:
        done = "reported lost" if args.operation == "report" else "taken off the hotlist"
        print(f"card {args.card_number.upper()} {done}")
    return 0


def _list(args: argparse.Namespace) -> int:
    with existing_hotlist(args.hotlist) as hotlist:
        entries = hotlist.entries()
    if args.json:
        emit_json({"hotlist": args.hotlist, "entries": entries})
        return 0
    for e in entries:
        after = f" → {e.replaced_by}" if e.replaced_by else ""
        print(
            f"{e.card_number:<10} {e.card_id} {e.kind.value:<8} {e.listed_at:%Y-%m-%d} "
            f"{e.reason}{after}"
        )
    print(f"{len(entries)} cards listed")
    return 0
