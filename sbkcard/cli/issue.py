"""``sbkcard issue``: a personalisation batch, applicants to checked card images.

::

    sbkcard issue APPLICANTS --keys KEYSTORE --out DIR [--registry DB|URL] [--profile {2,3}]
                  [--owner NAME] [--hotlist DB|URL] [--psam IMAGE] [--transport-key LABEL]
                  [--issue-date YYYYMMDD] [--number-prefix XX] [--passphrase-file FILE]
                  [--reader NAME …]

APPLICANTS is a CSV (UTF-8 or GBK) or JSON file of applicant records. Each valid record
gets a card personalised by APDUs, read back and authenticated by a terminal, saved as
``DIR/<card number>.json`` and marked issued in the registry; replacements (补卡) put the
old card on the hotlist. Running the same command again resumes an interrupted batch.
The registry is an SQLite file or a ``postgresql://`` URL shared by several issuing
lines (each with its own DIR); the database keeps one live card per person.
``--keys demo`` uses the published TEST keys and the demo transport key; a key store
(software file or ``pkcs11:token=LABEL``) needs ``--transport-key`` naming the batch's
transport key in it, and is opened once. A token's roots never leave it: each card's
keys are derived inside the token (DES only: PKCS#11 has no SM4), the batch's
transport key is diversified there from the named key, and cards are checked through
``--psam``. No key or PIN is shown.

``--reader NAME`` (repeatable) personalises blank chips in PC/SC readers instead, a
personalisation machine's chip stations, one worker per reader in parallel: each chip's
serial comes from its ATR, the card is read back and authenticated in the reader, and
the machine's eject command (``FF E7 P1 00``) moves it to the output stack, or a chip
that fails to the reject bin (the next chip takes over its card).  DIR then holds a
receipt per card instead of an image.
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import fields
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sbkcard.applet_model.user_card import PROFILES
from sbkcard.applet_model.user_card.personalise import demo_transport_key
from sbkcard.cli._common import (
    HelpFormatter,
    Interrupted,
    UsageError,
    add_json_argument,
    emit_json,
    examples,
    parse_date,
    plain_doc,
)
from sbkcard.cli._terminal import existing_hotlist
from sbkcard.cli.keys import add_passphrase_argument
from sbkcard.database import is_url, shown
from sbkcard.issuance.applicants import Applicant, ApplicantRejection, read_applicants
from sbkcard.issuance.batch import SUMMARY_NAME, BatchSummary, CardResult, IssuingLine, Outcome
from sbkcard.issuance.personalise import Verifier
from sbkcard.issuance.readers import CHIP_TIMEOUT, ReaderLine
from sbkcard.issuance.registry import Registry, SqlRegistry
from sbkcard.keys import Algorithm, kcv
from sbkcard.keys.hierarchy import DEMO_LABEL, KeySet
from sbkcard.keys.passphrase import resolve_passphrase
from sbkcard.keys.store_keyset import IssuerKeys, is_demo, issuer_keys, transport_key
from sbkcard.keys.zeroize import wiped
from sbkcard.simulator import SimulatedCard, load_image
from sbkcard.terminal.hotlist import Hotlist
from sbkcard.terminal.security.hsm import SoftwareKeyService


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sbkcard issue``."""
    parser = subparsers.add_parser(
        "issue",
        help="personalise cards for a file of applicants (resumable batch)",
        description=plain_doc(__doc__),
        epilog=examples(
            "sbkcard issue applicants.csv --keys demo --out cards/",
            "sbkcard issue applicants.csv --keys store.keys --transport-key TK --out cards/ --json",
        ),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("applicants", type=Path, metavar="APPLICANTS", help="CSV or JSON file")
    parser.add_argument(
        "--keys",
        required=True,
        metavar="KEYSTORE",
        help="issuer keys: 'demo' (published TEST keys, never for real cards), a software "
        "key store or pkcs11:token=LABEL[;module=/path.so]",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="card images")
    parser.add_argument(
        "--registry",
        metavar="DB",
        help="registry: an SQLite file (default DIR/registry.db) or a postgresql:// URL",
    )
    parser.add_argument(
        "--profile",
        type=int,
        choices=sorted(PROFILES),
        default=3,
        help="card generation: 1 (DES, version 1.00), 2 (DES, 2.00) or 3 (SM4, 3.00) (%(default)s)",
    )
    parser.add_argument(
        "--owner",
        metavar="NAME",
        help="this batch's name in the registry (default HOST:DIR; the same owner resumes)",
    )
    parser.add_argument(
        "--hotlist",
        metavar="DB|URL",
        help="an existing hotlist: an SQLite file or a postgresql:// URL (default: hotlist.db "
        "beside the registry, created, or the registry's own PostgreSQL database)",
    )
    parser.add_argument(
        "--psam",
        type=Path,
        metavar="IMAGE",
        help="check cards through this PSAM image (default: a software key service)",
    )
    parser.add_argument(
        "--transport-key",
        metavar="LABEL",
        help="label of the batch transport key in the key store (not with --keys demo); "
        "in a token, the key the batch's transport key is diversified from",
    )
    parser.add_argument(
        "--issue-date", metavar="YYYYMMDD", help="issue date (default: the reservation's date)"
    )
    parser.add_argument(
        "--number-prefix",
        default="HA",
        metavar="XX",
        help="two letters opening the card numbers this line allocates (%(default)s)",
    )
    parser.add_argument(
        "--reader",
        action="append",
        default=[],
        metavar="NAME",
        help="a PC/SC reader with blank chips (a personalisation machine's chip station; "
        "repeat for several, worked in parallel)",
    )
    parser.add_argument(
        "--chip-timeout",
        type=float,
        default=CHIP_TIMEOUT,
        metavar="SECONDS",
        help="with --reader: how long a reader may stay empty before its worker stops "
        "(%(default)g)",
    )
    add_passphrase_argument(parser)
    add_json_argument(parser)
    parser.set_defaults(func=_issue)


def _keys(
    args: argparse.Namespace, algorithm: Algorithm, owner: str, stack: ExitStack
) -> tuple[IssuerKeys, bytes]:
    """The issuer keys and the transport key named by ``--keys`` and ``--transport-key``.

    The store is opened once and stays open (on ``stack``) while the batch runs: a
    token derives every card's keys.
    """
    spec = str(args.keys)
    secret = (
        None
        if is_demo(spec)
        else resolve_passphrase(args.passphrase_file, prompt=f"Key store passphrase ({spec}): ")
    )
    keys, store = stack.enter_context(issuer_keys(spec, secret, algorithm=algorithm))
    if store is None:  # the demo set
        if args.transport_key:
            raise UsageError("--transport-key: the demo key set has its own transport key")
        if keys.algorithm is not algorithm:
            raise UsageError(f"--keys {spec}: profile {args.profile} needs {algorithm.name}")
        return keys, demo_transport_key(algorithm)
    if not args.transport_key:
        raise UsageError("--transport-key LABEL: name the batch's transport key in the store")
    with wiped(transport_key(store, args.transport_key, owner)) as key:
        return keys, bytes(key)


def _registry_target(args: argparse.Namespace) -> str:
    return str(args.registry or args.out / "registry.db")


def _hotlist_target(registry: str) -> str:
    """The line's own hotlist: beside an SQLite registry, or in its PostgreSQL database."""
    return registry if is_url(registry) else str(Path(registry).parent / "hotlist.db")


def _line(args: argparse.Namespace, stack: ExitStack) -> IssuingLine:
    out: Path = args.out
    profile = PROFILES[args.profile]
    owner = args.owner or f"{socket.gethostname()}:{out.resolve()}"
    keyset, transport = _keys(args, profile.algorithm, owner, stack)
    psam = load_image(args.psam) if args.psam else None
    if psam is None and not isinstance(keyset, KeySet):
        raise UsageError(
            f"--keys {args.keys}: the roots stay in the store, so no software key service "
            "can check the cards; give --psam IMAGE (a PSAM holding the same keys)"
        )
    # a hotlist named is configuration and must exist; the default one is the line's own
    named = existing_hotlist(args.hotlist) if args.hotlist else None
    # everything checked: only now are the registry and the hotlist created
    target = _registry_target(args)
    if not is_url(target):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    registry = SqlRegistry(target, number_prefix=args.number_prefix)
    stack.callback(registry.close)
    hotlist = named or Hotlist(_hotlist_target(target))
    stack.callback(hotlist.close)
    line = IssuingLine(
        keyset=keyset,
        transport_key=transport,
        profile=profile,
        registry=registry,
        out_dir=out,
        owner=owner,
        verifier=_verifier(keyset, hotlist, psam),
        hotlist=hotlist,
        issue_date=parse_date(args.issue_date, "--issue-date"),
    )
    if not args.reader:
        return line
    if args.chip_timeout <= 0:
        raise UsageError("--chip-timeout must be more than 0 seconds")

    @contextmanager
    def station() -> Iterator[tuple[Registry, Verifier]]:
        """A worker's own registry connection, hotlist and PSAM (a copy of the image)."""
        with ExitStack() as own:
            worker_registry = SqlRegistry(target, number_prefix=args.number_prefix)
            own.callback(worker_registry.close)
            worker_hotlist = Hotlist(args.hotlist or _hotlist_target(target))
            own.callback(worker_hotlist.close)
            worker_psam = load_image(args.psam) if args.psam else None
            yield worker_registry, _verifier(keyset, worker_hotlist, worker_psam)

    settings = {f.name: getattr(line, f.name) for f in fields(IssuingLine) if f.init}
    return ReaderLine(
        **settings, readers=args.reader, station=station, chip_timeout=args.chip_timeout
    )


def _verifier(keyset: IssuerKeys, hotlist: Hotlist, psam: SimulatedCard | None) -> Verifier:
    """The check terminal: through the PSAM when given, else a software key service."""
    if psam is not None:
        return Verifier(psam=psam, hotlist=hotlist)
    assert isinstance(keyset, KeySet)
    return Verifier(key_service=SoftwareKeyService(keyset), hotlist=hotlist)


def _table(summary: BatchSummary) -> Table:
    table = Table(title="issuance summary")
    table.add_column("outcome")
    table.add_column("cards", justify="right")
    for outcome, count in summary.counts().items():
        table.add_row(outcome, str(count))
    return table


def _details(title: str, results: list[CardResult]) -> Table:
    table = Table(title=title)
    for column in ("line", "SSN", "field", "reason"):
        table.add_column(column)
    for r in results:
        table.add_row(str(r.line), r.ssn, r.field, r.reason)
    return table


def _issue(args: argparse.Namespace) -> int:
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: not a directory (card images go in a directory)")
    accepted, rejected = read_applicants(args.applicants)
    if not accepted:
        # nothing to issue: no registry, hotlist or output directory is created
        _report(args, None, BatchSummary(_rejections(rejected)))
        return 1
    with ExitStack() as stack:
        return _run(args, _line(args, stack), accepted, rejected)


def _rejections(rejected: list[ApplicantRejection]) -> list[CardResult]:
    return [
        CardResult(r.line, r.ssn, Outcome.REJECTED, field=r.field, reason=r.reason)
        for r in rejected
    ]


def _run(
    args: argparse.Namespace,
    line: IssuingLine,
    accepted: list[Applicant],
    rejected: list[ApplicantRejection],
) -> int:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    done = 0

    def advance(_result: CardResult) -> None:
        nonlocal done
        done += 1
        bar.advance(task)

    try:
        console = Console(stderr=True)
        # no bar where nobody watches (a pipe, a log): it would only leave a blank line
        hidden = not console.is_terminal
        with Progress(*columns, console=console, transient=True, disable=hidden) as bar:
            task = bar.add_task("personalising", total=len(accepted))
            summary = line.run(accepted, rejected, progress=advance)
    except (KeyboardInterrupt, Interrupted) as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        print(
            f"sbkcard issue: stopped by {signal.Signals(signum).name} after {done} of "
            f"{len(accepted)} cards; summary in {line.out_dir / SUMMARY_NAME}; run the same "
            "command again to finish",
            file=sys.stderr,
        )
        return 128 + signum
    return _report(args, line, summary)


def _report(args: argparse.Namespace, line: IssuingLine | None, summary: BatchSummary) -> int:
    """Print the summary (a table, or JSON); the exit code it calls for."""
    failed = bool(summary.of(Outcome.FAILED))
    nothing = all(r.outcome is Outcome.REJECTED for r in summary.results)
    keys: dict[str, object] = {}
    if line is not None:
        keys = {
            "algorithm": line.keyset.algorithm.name,
            "kcvs": line.keyset.kcvs(),
            "transport_kcv": kcv(line.transport_key, line.keyset.algorithm).hex().upper(),
            "demo": is_demo(str(args.keys)),
        }
    if args.json:
        emit_json(
            {
                **summary.to_json(),
                "out": None if line is None else str(line.out_dir),
                "registry": None if line is None else shown(_registry_target(args)),
                "keys": keys,
            }
        )
        return 1 if failed or nothing else 0
    console = Console()
    console.print(_table(summary))
    for title, outcome in (("rejected", Outcome.REJECTED), ("failed", Outcome.FAILED)):
        results = summary.of(outcome)
        if results:
            console.print(_details(title, results))
    if line is None:
        console.print(f"every record of {args.applicants} was rejected: nothing issued")
        return 1
    console.print(f"card images in {line.out_dir}; registry {shown(_registry_target(args))}")
    kcvs = line.keyset.kcvs()
    where = "in clear" if isinstance(line.keyset, KeySet) else "kept in the store"
    console.print(
        f"keys: {len(kcvs)} {line.keyset.algorithm.name} roots ({where}), "
        f"IRK KCV {kcvs.get('IRK', '-')}; transport key KCV {keys['transport_kcv']}"
    )
    if keys["demo"]:
        console.print(f"keys: {DEMO_LABEL}")
    if failed:
        console.print("some cards failed: run the same command again to finish them")
        return 1
    return 0
