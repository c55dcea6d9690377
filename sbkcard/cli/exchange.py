"""``sbkcard exchange``: the issuer–bureau exchange of personalisation data (Part 10 §5.3, §6).

::

    sbkcard exchange keygen   --party NAME --out PREFIX            (each party, once)
    sbkcard exchange export   APPLICANTS --keys KEYSTORE --batch NAME --registry DB
                              --issuer-key ISSUER.key --bureau BUREAU.pub --out FILE
                              [--workers N | --scheduler tcp://HOST:PORT]   (issuer)
    sbkcard exchange personalise FILE --bureau-key BUREAU.key --issuer ISSUER.pub
                              --transport-keys KEYSTORE --out DIR      (bureau)
    sbkcard exchange result   DIR --bureau-key BUREAU.key --issuer ISSUER.pub --out FILE
    sbkcard exchange import   FILE --issuer-key ISSUER.key --bureau BUREAU.pub --registry DB
    sbkcard exchange delete   FILE DIR --transcript FILE --operator NAME --supervisor NAME

Private key files are opened with the passphrase in ``--key-passphrase-file`` or
``$SBKCARD_EXCHANGE_PASSPHRASE``; key stores with ``--passphrase-file`` or
``$SBKCARD_PASSPHRASE``. ``--json`` prints the outcome as JSON. Exit 0 done, 1 refused
or failed (the message says why), 2 a usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from sbkcard.applet_model.user_card import PROFILES
from sbkcard.applet_model.user_card.personalise import demo_transport_key
from sbkcard.cli._common import UsageError, emit_json, parse_date
from sbkcard.cli.keys import add_passphrase_argument
from sbkcard.database import is_url
from sbkcard.errors import SbkcardError
from sbkcard.issuance.applicants import read_applicants
from sbkcard.issuance.exchange.bureau import (
    BureauLedger,
    delete_batch_data,
    personalise_file,
    write_result,
)
from sbkcard.issuance.exchange.engine import local_client, prepare_locally, prepare_on_dask
from sbkcard.issuance.exchange.issuer import Ledger, export_batch, import_result
from sbkcard.issuance.exchange.parties import PartyKeys, PublicParty, generate_party
from sbkcard.issuance.exchange.prepare import PrepItem, PrepJob, open_keys
from sbkcard.issuance.registry import SqlRegistry
from sbkcard.keys import Algorithm
from sbkcard.keys.passphrase import PASSPHRASE_ENV, resolve_passphrase
from sbkcard.keys.store_keyset import is_demo, open_store, transport_key
from sbkcard.keys.zeroize import wiped

KEY_PASSPHRASE_ENV = "SBKCARD_EXCHANGE_PASSPHRASE"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sbkcard exchange``."""
    parser = subparsers.add_parser(
        "exchange",
        help="issuer–bureau exchange: export, personalise, result, import, delete",
        description=__doc__.split("::")[0].strip() if __doc__ else None,
    )
    sub = parser.add_subparsers(dest="exchange_command", metavar="STEP", required=True)

    p = sub.add_parser("keygen", help="make a party's key pairs (NAME.key, NAME.pub)")
    p.add_argument("--party", required=True, help="the party's name, as files will show it")
    p.add_argument("--out", type=Path, required=True, metavar="PREFIX", help="PREFIX.key/.pub")
    _common(p)
    p.set_defaults(func=_keygen)

    p = sub.add_parser("export", help="issuer: reserve a batch and export its data to the bureau")
    p.add_argument("applicants", type=Path, metavar="APPLICANTS", help="CSV or JSON file")
    p.add_argument("--keys", required=True, metavar="KEYSTORE", help="'demo' or a key store")
    p.add_argument("--transport-key", metavar="LABEL", help="the transport key in the store")
    p.add_argument("--batch", required=True, metavar="NAME", help="batch name (registry owner)")
    p.add_argument(
        "--registry", required=True, metavar="DB|URL", help="an SQLite file or a postgresql:// URL"
    )
    p.add_argument("--ledger", type=Path, metavar="DB", help="default: exchange.db beside DB")
    _party_files(p, "issuer", "bureau")
    p.add_argument("--out", type=Path, required=True, metavar="FILE")
    p.add_argument("--profile", type=int, choices=sorted(PROFILES), default=3)
    p.add_argument("--issue-date", metavar="YYYYMMDD")
    p.add_argument("--partition", type=int, default=500, metavar="N", help="cards per partition")
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=int,
        default=2,
        metavar="N",
        help="workers of the local Dask cluster (%(default)s); 0 prepares in this process",
    )
    where.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="an existing Dask cluster")
    add_passphrase_argument(p)
    _common(p)
    p.set_defaults(func=_export)

    p = sub.add_parser("personalise", help="bureau: personalise the cards of a file")
    p.add_argument("file", type=Path, metavar="FILE")
    _party_files(p, "bureau", "issuer")
    p.add_argument(
        "--transport-keys", required=True, metavar="KEYSTORE", help="'demo' or the bureau's store"
    )
    p.add_argument("--transport-key", metavar="LABEL", help="the transport key in that store")
    p.add_argument("--out", type=Path, required=True, metavar="DIR")
    p.add_argument(
        "--ledger",
        type=Path,
        metavar="DB",
        help="the bureau's ledger (default: bureau.db beside DIR)",
    )
    add_passphrase_argument(p)
    _common(p)
    p.set_defaults(func=_personalise)

    p = sub.add_parser("result", help="bureau: sign the outcomes into a result file")
    p.add_argument("dir", type=Path, metavar="DIR")
    _party_files(p, "bureau", "issuer")
    p.add_argument("--out", type=Path, required=True, metavar="FILE")
    _common(p)
    p.set_defaults(func=_result)

    p = sub.add_parser("import", help="issuer: import the bureau's result into the registry")
    p.add_argument("file", type=Path, metavar="FILE")
    _party_files(p, "issuer", "bureau")
    p.add_argument(
        "--registry", required=True, metavar="DB|URL", help="an SQLite file or a postgresql:// URL"
    )
    p.add_argument("--ledger", type=Path, metavar="DB", help="default: exchange.db beside DB")
    _common(p)
    p.set_defaults(func=_import)

    p = sub.add_parser("delete", help="bureau: delete the batch data, recorded (Part 10 §6.3.2)")
    p.add_argument("file", type=Path, metavar="FILE", help="the personalisation file")
    p.add_argument("dir", type=Path, metavar="DIR", help="the personalisation directory")
    p.add_argument("--transcript", type=Path, required=True, metavar="FILE")
    p.add_argument("--operator", required=True, help="the data manager who deletes")
    p.add_argument("--supervisor", required=True, help="the supervising security officer")
    p.add_argument("--witness", default="", help="the issuer's designated witness, if any")
    _common(p)
    p.set_defaults(func=_delete)


def _party_files(parser: argparse.ArgumentParser, mine: str, theirs: str) -> None:
    """``--MINE-key`` (this party's private key file) and ``--THEIRS`` (the other's public)."""
    parser.add_argument(
        f"--{mine}-key",
        type=Path,
        required=True,
        metavar=f"{mine.upper()}.key",
        help=f"the {mine}'s private keys",
    )
    parser.add_argument(
        f"--{theirs}",
        type=Path,
        required=True,
        metavar=f"{theirs.upper()}.pub",
        help=f"the {theirs}'s public keys",
    )


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--key-passphrase-file",
        type=Path,
        metavar="FILE",
        help=f"passphrase of the party's private key file (else ${KEY_PASSPHRASE_ENV})",
    )
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")


def _guarded(step: Callable[[argparse.Namespace], dict[str, Any]]) -> Callable[..., int]:
    def run(args: argparse.Namespace) -> int:
        try:
            report = step(args)
        except SbkcardError as exc:
            if args.json:
                emit_json({"ok": False, "error": str(exc)})
            else:
                print(f"sbkcard: error: {exc}", file=sys.stderr)
            return 1
        if args.json:
            emit_json({"ok": True, **report})
        else:
            for name, value in report.items():
                if name != "card_numbers":
                    print(f"{name}: {value}")
        return 0

    return run


def _key_passphrase(args: argparse.Namespace, *, confirm: bool = False) -> str:
    return resolve_passphrase(
        args.key_passphrase_file,
        prompt="Exchange key passphrase: ",
        env=KEY_PASSPHRASE_ENV,
        confirm=confirm,
    )


def _party(args: argparse.Namespace, path: Path) -> PartyKeys:
    return PartyKeys.load(path, _key_passphrase(args))


@_guarded
def _keygen(args: argparse.Namespace) -> dict[str, Any]:
    party = generate_party(args.party)
    key, pub = args.out.with_suffix(".key"), args.out.with_suffix(".pub")
    for path in (key, pub):
        if path.exists():
            raise SbkcardError(f"{path} exists; a party's keys are never overwritten")
    party.save(key, _key_passphrase(args, confirm=True))
    party.public.save(pub)
    return {
        "party": party.name,
        "fingerprint": party.public.fingerprint,
        "private": str(key),
        "public": str(pub),
    }


def _ledger(args: argparse.Namespace) -> Ledger:
    if args.ledger is not None:
        return Ledger(args.ledger)
    if is_url(args.registry):
        raise UsageError("--ledger DB: name the exchange ledger when --registry is a URL")
    return Ledger(Path(args.registry).parent / "exchange.db")


@_guarded
def _export(args: argparse.Namespace) -> dict[str, Any]:
    if args.partition < 1:
        raise SbkcardError("--partition: at least 1 card")
    issuer = _party(args, args.issuer_key)
    bureau = PublicParty.load(args.bureau)
    job = PrepJob(str(args.keys), args.transport_key, args.batch, args.profile)
    secret = None
    if not is_demo(job.keys):
        secret = resolve_passphrase(args.passphrase_file, prompt=f"Key store ({job.keys}): ")
    accepted, rejected = read_applicants(args.applicants)
    with ExitStack() as stack:
        keys = open_keys(job, stack, secret)
        prepare: Callable[[Iterable[Sequence[PrepItem]]], Iterable[bytes]]
        if args.workers < 0:
            raise SbkcardError("--workers: 0 or more")
        if args.workers or args.scheduler:
            env = {PASSPHRASE_ENV: secret} if secret else {}
            client = stack.enter_context(
                local_client(args.workers, scheduler=args.scheduler, env=env)
            )
            in_flight = 2 * max(1, len(client.scheduler_info()["workers"]))
            prepare = lambda parts: prepare_on_dask(client, job, parts, in_flight=in_flight)  # noqa: E731
        else:
            prepare = lambda parts: prepare_locally(keys, job, parts)  # noqa: E731
        summary = export_batch(
            accepted,
            registry=SqlRegistry(args.registry),
            ledger=_ledger(args),
            job=job,
            keys=keys,
            issuer=issuer,
            bureau=bureau,
            out=args.out,
            prepare=prepare,
            issue_date=parse_date(args.issue_date, "--issue-date"),
            partition=args.partition,
        )
    report = summary.to_json()
    report["rejected"] = [
        {"line": r.line, "ssn": r.ssn, "reason": f"{r.field}: {r.reason}"} for r in rejected
    ] + list(report["rejected"])
    report["transport_kcv"] = keys.transport_kcv
    return report


@_guarded
def _personalise(args: argparse.Namespace) -> dict[str, Any]:
    bureau = _party(args, args.bureau_key)
    issuer = PublicParty.load(args.issuer)
    spec = str(args.transport_keys)

    def transport(algorithm: Algorithm, batch: str) -> bytes:
        if is_demo(spec):
            return demo_transport_key(algorithm)
        if not args.transport_key:
            raise SbkcardError("--transport-key LABEL: name the transport key in the store")
        secret = resolve_passphrase(args.passphrase_file, prompt=f"Key store ({spec}): ")
        store = open_store(spec, secret)
        try:
            with wiped(transport_key(store, args.transport_key, batch)) as key:
                return bytes(key)
        finally:
            store.close()

    ledger = BureauLedger(args.ledger or args.out.parent / "bureau.db")
    summary = personalise_file(
        args.file,
        bureau=bureau,
        issuer=issuer,
        transport_key=transport,
        out_dir=args.out,
        ledger=ledger,
    )
    return summary.to_json()


@_guarded
def _result(args: argparse.Namespace) -> dict[str, Any]:
    bureau = _party(args, args.bureau_key)
    issuer = PublicParty.load(args.issuer)
    return {
        "result_id": write_result(args.dir, bureau=bureau, issuer=issuer, out=args.out),
        "file": str(args.out),
    }


@_guarded
def _import(args: argparse.Namespace) -> dict[str, Any]:
    issuer = _party(args, args.issuer_key)
    bureau = PublicParty.load(args.bureau)
    summary = import_result(
        args.file,
        registry=SqlRegistry(args.registry),
        ledger=_ledger(args),
        issuer=issuer,
        bureau=bureau,
    )
    return summary.to_json()


@_guarded
def _delete(args: argparse.Namespace) -> dict[str, Any]:
    return delete_batch_data(
        args.file,
        args.dir,
        transcript=args.transcript,
        operator=args.operator,
        supervisor=args.supervisor,
        witness=args.witness,
    )
