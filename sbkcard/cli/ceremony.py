"""``sbkcard ceremony``: the key ceremonies of a provincial key-management centre.

::

    sbkcard ceremony generate --label DES:IRK --algorithm DES --length 16
            --custodian 张伟 --custodian 王芳 --custodian 李娜 [--threshold 2]
            (--out-dir DIR | --show) [--store STORE [--extractable]]
            --operator NAME --transcript FILE
    sbkcard ceremony reform (PART... | --enter) --store STORE [--label L]
            [--generation-transcript FILE --generation-head DIGEST]
            --operator NAME --transcript FILE
    sbkcard ceremony export --store STORE --algorithm DES --region 330100 --kek LABEL
            --out PACKAGE [--level {1,2}] --operator NAME --transcript FILE
    sbkcard ceremony import PACKAGE --store STORE --kek LABEL
            [--exporter-transcript FILE --exporter-head DIGEST]
            --operator NAME --transcript FILE
    sbkcard ceremony key-card --keys KEYSTORE --algorithm DES --terminal-number N
            --out IMAGE [--level {1,2,3}] --operator NAME --transcript FILE
    sbkcard ceremony load-psam (IMAGE | --reader NAME) --keys KEYSTORE ... (as key-card,
            into an existing PSAM: a simulated one, or one in a PC/SC reader)
    sbkcard ceremony verify TRANSCRIPT [--head DIGEST] [--allow-open] [--json]

Every ceremony writes its steps to ``--transcript`` (created, or continued if it is
still open) and closes it at the end unless ``--keep-open``; a step that fails closes
it too, recording the failure; either way the closing digest is printed for the
minutes. A transcript another ceremony relies on (``--generation-transcript``,
``--exporter-transcript``) is checked against the head in its minutes (``--…-head``).
Only labels, names and KCVs are ever printed; the one
exception is ``generate --show``, which shows each component once, on a terminal, to
its custodian alone. Custodians' part files are sealed under their own passphrases:
asked at the terminal, or read from ``--custodian-passphrases DIR/<name>`` (rehearsals);
each must meet the passphrase policy, checked before the key is generated.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sbkcard.applet_model.psam import AdminKeys, KeyRecord, demo_admin_keys
from sbkcard.cli._common import add_json_argument, command_parser, emit_json, plain_doc
from sbkcard.cli.keys import add_passphrase_argument, open_store_from_args
from sbkcard.errors import SbkcardError
from sbkcard.issuance.key_cards import (
    LoadedKey,
    PsamTransport,
    load_psam_keys,
    make_key_card,
    psam_key_records,
)
from sbkcard.keys import Algorithm
from sbkcard.keys.ceremony import (
    CeremonyError,
    Expected,
    KeyPart,
    PartKind,
    expected_from_transcript,
    export_keys,
    generate_parts,
    import_keys,
    part_check_value,
    read_part,
    reform_into_store,
    write_part,
)
from sbkcard.keys.hierarchy import KeySet, Level, demo_keyset
from sbkcard.keys.passphrase import resolve_passphrase
from sbkcard.keys.sealing import SCRYPT_N, check_new_passphrase, check_scrypt_n
from sbkcard.keys.store import KeyAlgorithm, KeyStore
from sbkcard.keys.store_keyset import DEMO, StoreKeySet
from sbkcard.keys.transcript import Transcript, TranscriptError, verify_transcript
from sbkcard.simulator import load_image, save_image
from sbkcard.simulator.locks import images_locked

__all__ = ["register"]

_CLEAR = "\033[H\033[2J\033[3J"
"""Cursor home, clear the screen, clear the scrollback (xterm ``ED 3``): a part shown
on screen is not left in the terminal's history."""


def _common(parser: argparse.ArgumentParser, ceremony: str) -> None:
    parser.add_argument("--operator", required=True, metavar="NAME", help="who runs the step")
    parser.add_argument(
        "--transcript", required=True, type=Path, metavar="FILE", help="the ceremony record"
    )
    parser.add_argument(
        "--keep-open", action="store_true", help="leave the transcript open for a next step"
    )
    parser.add_argument(
        "--hash", choices=("SM3", "SHA-256"), default="SM3", help="transcript chain hash"
    )
    parser.set_defaults(ceremony=ceremony)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sbkcard ceremony``."""
    parser = command_parser(
        subparsers,
        "ceremony",
        help="key ceremonies: components, shares, export/import, key cards, transcripts",
        description=plain_doc(__doc__),
        example=(
            "sbkcard ceremony generate --label DES:IRK --algorithm DES --length 16 "
            "--custodian A --custodian B --custodian C --threshold 2 --out-dir parts/ "
            "--store centre.json --operator O --transcript irk.jsonl",
            "sbkcard ceremony verify irk.jsonl --head DIGEST --json",
        ),
    )
    sub = parser.add_subparsers(dest="ceremony_command", metavar="COMMAND", required=True)

    gen = sub.add_parser("generate", help="generate a key as components or M-of-N shares")
    gen.add_argument("--label", required=True, help="key label, e.g. DES:IRK or KEK-330100")
    gen.add_argument(
        "--algorithm", type=str.upper, required=True, choices=[a.value for a in KeyAlgorithm]
    )
    gen.add_argument("--length", type=int, required=True, help="bytes (DES 8/16, SM4 16)")
    gen.add_argument("--custodian", action="append", required=True, metavar="NAME")
    gen.add_argument("--threshold", type=int, metavar="M", help="M-of-N Shamir shares")
    out = gen.add_mutually_exclusive_group(required=True)
    out.add_argument("--out-dir", type=Path, metavar="DIR", help="one sealed file per custodian")
    out.add_argument("--show", action="store_true", help="show each part once, on this terminal")
    gen.add_argument("--store", metavar="STORE", help="also keep the key in this store")
    gen.add_argument("--extractable", action="store_true", help="(with --store)")
    gen.add_argument("--custodian-passphrases", type=Path, metavar="DIR")
    gen.add_argument("--scrypt-n", type=int, default=SCRYPT_N, metavar="N")
    add_passphrase_argument(gen)
    _common(gen, "key generation")
    gen.set_defaults(func=_generate)

    ref = sub.add_parser("reform", help="re-form a key from its parts into a store")
    ref.add_argument("parts", nargs="*", type=Path, metavar="PART")
    ref.add_argument("--enter", action="store_true", help="custodians type their parts")
    ref.add_argument("--store", required=True, metavar="STORE")
    ref.add_argument("--label", help="store under this label (default: the key's own)")
    ref.add_argument("--generation-transcript", type=Path, metavar="FILE")
    ref.add_argument(
        "--generation-head", metavar="DIGEST", help="the generation minutes' head digest"
    )
    ref.add_argument("--extractable", action="store_true")
    ref.add_argument("--custodian-passphrases", type=Path, metavar="DIR")
    add_passphrase_argument(ref)
    _common(ref, "key re-forming")
    ref.set_defaults(func=_reform)

    exp = sub.add_parser("export", help="derive a city's keys and wrap them under a KEK")
    exp.add_argument("--store", required=True, metavar="STORE")
    exp.add_argument("--algorithm", type=str.upper, required=True, choices=("DES", "SM4"))
    exp.add_argument("--region", required=True, help="6-digit region code of the city")
    exp.add_argument("--level", type=int, choices=(1, 2), default=1, help="1 city, 2 province")
    exp.add_argument("--kek", required=True, metavar="LABEL", help="transport key (AES or SM4)")
    exp.add_argument("--name", action="append", metavar="KEY", help="only these keys")
    exp.add_argument("--out", required=True, type=Path, metavar="PACKAGE")
    add_passphrase_argument(exp)
    _common(exp, "key export")
    exp.set_defaults(func=_export)

    imp = sub.add_parser("import", help="unwrap an export package into a city's store")
    imp.add_argument("package", type=Path, metavar="PACKAGE")
    imp.add_argument("--store", required=True, metavar="STORE")
    imp.add_argument("--kek", required=True, metavar="LABEL")
    imp.add_argument("--exporter-transcript", type=Path, metavar="FILE")
    imp.add_argument("--exporter-head", metavar="DIGEST", help="the export minutes' head digest")
    imp.add_argument("--extractable", action="store_true")
    add_passphrase_argument(imp)
    _common(imp, "key import")
    imp.set_defaults(func=_import)

    for name, func, what in (
        ("key-card", _key_card, "make a key card: a PSAM image loaded with a city's keys"),
        ("load-psam", _load_psam, "load keys into an existing PSAM image (CREATE KEY)"),
    ):
        psam = sub.add_parser(name, help=what)
        if name == "load-psam":
            where = psam.add_mutually_exclusive_group(required=True)
            where.add_argument("image", nargs="?", type=Path, metavar="IMAGE", help="a PSAM image")
            where.add_argument("--reader", metavar="NAME", help="a PC/SC reader holding the PSAM")
        else:
            psam.add_argument("--out", required=True, type=Path, metavar="IMAGE")
            psam.add_argument("--serial", default="41010020240101000001", metavar="DIGITS")
        psam.add_argument("--keys", required=True, metavar="KEYSTORE", help="'demo' or a store")
        psam.add_argument("--algorithm", type=str.upper, required=True, choices=("DES", "SM4"))
        psam.add_argument("--level", type=int, choices=(1, 2, 3), default=1)
        psam.add_argument("--terminal-number", required=True, metavar="N")
        psam.add_argument(
            "--admin",
            default=DEMO,
            metavar="KEYSTORE",
            help="the PSAM's MK and KID-01..03: 'demo' (TEST keys) or a store holding "
            "PSAM-MK-<ALG> and PSAM-KID0n-<ALG> (extractable)",
        )
        add_passphrase_argument(psam)
        _common(psam, name)
        psam.set_defaults(func=func)

    ver = sub.add_parser("verify", help="check a transcript's hash chain")
    ver.add_argument("transcript_path", type=Path, metavar="TRANSCRIPT")
    ver.add_argument("--head", metavar="DIGEST", help="the closing digest from the minutes")
    ver.add_argument("--allow-open", action="store_true", help="accept an unclosed transcript")
    add_json_argument(ver)
    ver.set_defaults(func=_verify)


# -- shared steps ----------------------------------------------------------------------------


@contextmanager
def _transcript(args: argparse.Namespace) -> Iterator[Transcript]:
    path: Path = args.transcript
    if path.exists():
        transcript = Transcript.resume(path)
    else:
        transcript = Transcript.create(
            path, ceremony=args.ceremony, actor=args.operator, hash_name=args.hash
        )
    try:
        yield transcript
    except BaseException as exc:
        _close_failed(transcript, args.operator, exc)
        raise
    if not args.keep_open:
        head = transcript.close(args.operator, outcome="completed")
        print(f"transcript {path} closed; head digest (write it in the minutes):")
        print(f"  {head}")


def _close_failed(transcript: Transcript, operator: str, exc: BaseException) -> None:
    """Close ``transcript`` on a failed step, so its end is in the minutes (Part 10 §6.6).

    An open transcript could be cut back to before the failure and resumed as if the
    step had never failed; its head, printed for the minutes, prevents that.
    """
    if transcript.closed:
        return
    reason = str(exc) if isinstance(exc, SbkcardError) else type(exc).__name__
    try:
        head = transcript.close(operator, outcome="failed", reason=reason)
    except (SbkcardError, OSError):
        return  # the transcript itself failed: the original error says why
    print(
        f"transcript {transcript.path} closed after the failure; "
        "head digest (write it in the minutes):"
    )
    print(f"  {head}")


@contextmanager
def _store(args: argparse.Namespace, spec: str) -> Iterator[KeyStore]:
    store = open_store_from_args(args, spec)
    try:
        yield store
    finally:
        store.close()


def _custodian_passphrase(args: argparse.Namespace, custodian: str, *, confirm: bool) -> str:
    directory: Path | None = args.custodian_passphrases
    if directory is not None:
        return resolve_passphrase(directory / custodian, env="")
    if not sys.stdin.isatty():
        raise SbkcardError(
            f"custodian {custodian}: no terminal to ask the passphrase on "
            "(give --custodian-passphrases DIR for a rehearsal)"
        )
    return resolve_passphrase(
        None, prompt=f"Custodian {custodian}, your passphrase: ", env="", confirm=confirm
    )


def _interactive(what: str) -> None:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise SbkcardError(f"{what} needs a terminal: custodians must see and type on it")


def _grouped(value: bytearray) -> str:
    text = value.hex().upper()
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


# -- generate, reform ------------------------------------------------------------------------


def _generate(args: argparse.Namespace) -> int:
    if args.show:
        _interactive("--show")
    algorithm = KeyAlgorithm(args.algorithm)
    passphrases: dict[str, str] = {}
    if not args.show:
        check_scrypt_n(args.scrypt_n)
        for custodian in args.custodian:
            secret = _custodian_passphrase(args, custodian, confirm=True)
            check_new_passphrase(secret, where=f"custodian {custodian}")
            passphrases[custodian] = secret
    with _transcript(args) as transcript:
        store = open_store_from_args(args, args.store) if args.store else None
        try:
            generated = generate_parts(
                args.label,
                algorithm,
                args.length,
                args.custodian,
                transcript=transcript,
                operator=args.operator,
                threshold=args.threshold,
                store=store,
                extractable=args.extractable,
            )
        finally:
            if store is not None:
                store.close()
        try:
            for part in generated.parts:
                if args.show:
                    _show_part(part)
                else:
                    _write_part_file(args, part, passphrases[part.custodian])
                transcript.record(
                    f"{part.kind.value} handed over",
                    part.custodian,
                    label=part.key_label,
                    index=part.index,
                    medium="shown on screen" if args.show else "sealed file",
                )
        finally:
            generated.wipe()
        print(f"{args.label}: {algorithm.value} {args.length} bytes, KCV {generated.kcv}")
        for part in generated.parts:
            print(f"  {part.title:<40} check value {part.check}")
    return 0


def _write_part_file(args: argparse.Namespace, part: KeyPart, passphrase: str) -> None:
    directory: Path = args.out_dir
    directory.mkdir(parents=True, exist_ok=True)
    safe = part.key_label.replace(":", "_").replace("@", "_").replace("/", "_")
    path = directory / f"{safe}.{part.kind.value}{part.index}.{part.custodian}.json"
    write_part(path, part, passphrase, scrypt_n=args.scrypt_n)
    print(f"  {part.title}: sealed file {path}")


def _show_part(part: KeyPart) -> None:
    input(f"{_CLEAR}Custodian {part.custodian}: make sure you are alone, then press Enter. ")
    print(f"{part.title} of {part.key_label}")
    print(f"  value         {_grouped(part.value)}")
    print(f"  check value   {part.check}")
    input("Write both down, then press Enter to clear the screen. ")
    print(_CLEAR, end="", flush=True)


def _typed_parts(expected: Expected, algorithm: KeyAlgorithm, length: int) -> list[KeyPart]:
    parts = []
    for index, custodian in sorted(expected.custodians.items()):
        answer = input(f"Custodian {custodian} ({expected.kind.value} {index}): present? [y/N] ")
        if answer.strip().lower() != "y":
            continue
        typed = getpass.getpass("  value (hex, not shown): ").replace(" ", "")
        check = input("  check value: ").strip().upper()
        try:
            value = bytearray(bytes.fromhex(typed))
        except ValueError:
            raise CeremonyError(f"{custodian}: the value is not hex") from None
        size = length if expected.kind is PartKind.COMPONENT else len(value)
        if len(value) != size:
            raise CeremonyError(f"{custodian}: {len(value)} bytes typed, {size} expected")
        parts.append(
            KeyPart(
                expected.kind,
                expected.label,
                algorithm,
                length,
                expected.kcv,
                index,
                expected.count,
                expected.threshold,
                custodian,
                value,
                check,
            )
        )
        print(f"  recomputed check value {part_check_value(value, algorithm)}")
    return parts


def _reform(args: argparse.Namespace) -> int:
    parts: list[KeyPart] = []
    try:
        expected: Expected | None = None
        if args.enter:
            _interactive("--enter")
            if args.generation_transcript is None or args.label is None:
                raise SbkcardError("--enter needs --generation-transcript and --label")
            expected = expected_from_transcript(
                args.generation_transcript, args.label, head=_head(args, "generation")
            )
            length, algorithm = _generated_shape(args.generation_transcript, args.label)
            parts = _typed_parts(expected, algorithm, length)
        else:
            if not args.parts:
                raise SbkcardError("give the custodians' part files, or --enter")
            for path in args.parts:
                parts.append(
                    read_part(
                        path,
                        lambda custodian: _custodian_passphrase(args, custodian, confirm=False),
                    )
                )
            if args.generation_transcript:
                expected = expected_from_transcript(
                    args.generation_transcript,
                    parts[0].key_label,
                    head=_head(args, "generation"),
                )
        with _transcript(args) as transcript, _store(args, args.store) as store:
            info = reform_into_store(
                parts,
                store,
                transcript=transcript,
                operator=args.operator,
                label=None if args.enter else args.label,
                expected=expected,
                extractable=args.extractable,
            )
            print(f"{info.label} re-formed into {store.description}: KCV {info.kcv}")
    finally:
        for part in parts:
            part.wipe()
    return 0


def _head(args: argparse.Namespace, which: str) -> str:
    """``--generation-head`` / ``--exporter-head``: required with its transcript."""
    head: str | None = getattr(args, f"{which}_head")
    if not head:
        raise SbkcardError(
            f"--{which}-transcript needs --{which}-head DIGEST, the head digest written in "
            f"the {which} ceremony's minutes (a transcript alone can be re-chained by a forger)"
        )
    return head


def _generated_shape(path: Path, label: str) -> tuple[int, KeyAlgorithm]:
    for entry in verify_transcript(path).entries:
        if entry.step == "key generated" and entry.details.get("label") == label:
            return int(entry.details["length"]), KeyAlgorithm(entry.details["algorithm"])
    raise CeremonyError(f"{path}: no generation of {label!r}")


# -- export, import --------------------------------------------------------------------------


def _export(args: argparse.Namespace) -> int:
    with _transcript(args) as transcript, _store(args, args.store) as store:
        kcvs = export_keys(
            store,
            algorithm=Algorithm[args.algorithm],
            region=args.region,
            kek_label=args.kek,
            out=args.out,
            transcript=transcript,
            operator=args.operator,
            level=Level(args.level),
            names=args.name,
        )
        print(f"{len(kcvs)} keys of {args.region} (level {args.level}) written to {args.out}")
        for name, kcv in kcvs.items():
            print(f"  {name:<10} KCV {kcv}")
    return 0


def _import(args: argparse.Namespace) -> int:
    head = _head(args, "exporter") if args.exporter_transcript else None
    with _transcript(args) as transcript, _store(args, args.store) as store:
        imported = import_keys(
            args.package,
            store,
            kek_label=args.kek,
            transcript=transcript,
            operator=args.operator,
            exporter_transcript=args.exporter_transcript,
            exporter_head=head,
            extractable=args.extractable,
        )
        print(f"{len(imported)} keys imported into {store.description}")
        for info in imported:
            print(f"  {info.label:<24} KCV {info.kcv}")
        if args.exporter_transcript is None:
            print("  checked against the package's own KCVs only (no --exporter-transcript)")
    return 0


# -- PSAMs and key cards ---------------------------------------------------------------------


def _admin_keys(args: argparse.Namespace, cipher: Algorithm) -> AdminKeys:
    if args.admin == DEMO:
        return demo_admin_keys(cipher)
    with _store(args, args.admin) as store:
        keys = []
        for name in ("MK", "KID01", "KID02", "KID03"):
            with store.use(f"PSAM-{name}-{cipher.name}") as key:
                keys.append(bytes(key))
    return AdminKeys(keys[0], (keys[1], keys[2], keys[3]))


@contextmanager
def _key_source(args: argparse.Namespace, cipher: Algorithm) -> Iterator[KeySet | StoreKeySet]:
    if args.keys == DEMO:
        yield demo_keyset(cipher)
        return
    with _store(args, args.keys) as store:
        yield StoreKeySet.from_store(store, cipher, args.terminal_number[:6])


def _psam_step(
    args: argparse.Namespace, action: Callable[[KeySet | StoreKeySet, AdminKeys, Transcript], int]
) -> int:
    cipher = Algorithm[args.algorithm]
    image = getattr(args, "image", None) or getattr(args, "out", None)  # None: a reader
    with images_locked([image] if image else [], "sbkcard ceremony"):
        admin = _admin_keys(args, cipher)
        with _transcript(args) as transcript, _key_source(args, cipher) as source:
            return action(source, admin, transcript)


def _key_card(args: argparse.Namespace) -> int:
    def action(source: KeySet | StoreKeySet, admin: AdminKeys, transcript: Transcript) -> int:
        card = make_key_card(
            args.out,
            source,
            level=Level(args.level),
            terminal_number=args.terminal_number,
            serial=args.serial,
            admin=admin,
            transcript=transcript,
            operator=args.operator,
        )
        print(f"key card {card.path}: ATR {card.atr.hex().upper()}, {len(card.keys)} keys")
        _print_loaded(card.keys)
        return 0

    return _psam_step(args, action)


def _load_psam(args: argparse.Namespace) -> int:
    def action(source: KeySet | StoreKeySet, admin: AdminKeys, transcript: Transcript) -> int:
        records = psam_key_records(source, level=Level(args.level), region=args.terminal_number[:6])
        if args.reader is not None:
            from sbkcard.terminal.transports.pcsc import PcscTransport

            with PcscTransport(args.reader, exclusive=True) as reader:
                reader.power_on()
                loaded = _load(reader, records, source, admin, transcript, args.operator)
            where = f"the PSAM in {args.reader}"
        else:
            card = load_image(args.image)
            card.power_on()
            try:
                loaded = _load(card, records, source, admin, transcript, args.operator)
            finally:
                card.power_off()
            save_image(card, args.image)
            where = str(args.image)
        print(f"{len(loaded)} keys loaded into {where}")
        _print_loaded(loaded)
        return 0

    return _psam_step(args, action)


def _load(
    transport: PsamTransport,
    records: Sequence[KeyRecord],
    source: KeySet | StoreKeySet,
    admin: AdminKeys,
    transcript: Transcript,
    operator: str,
) -> list[LoadedKey]:
    return load_psam_keys(
        transport,
        records,
        cipher=source.algorithm,
        admin=admin,
        transcript=transcript,
        operator=operator,
    )


def _print_loaded(loaded: Sequence[LoadedKey]) -> None:
    for item in loaded:
        print(
            f"  file {item.key_file:04X} usage {item.levels << 5 | item.key_type:02X} "
            f"id {item.ident:02X}  {item.algorithm.name:<4} KCV {item.kcv}"
        )


# -- verify ----------------------------------------------------------------------------------


def _verify(args: argparse.Namespace) -> int:
    try:
        report = verify_transcript(
            args.transcript_path, head=args.head, require_closed=not args.allow_open
        )
    except TranscriptError as exc:
        raise SbkcardError(f"transcript FAILED: {exc}") from exc
    state = "closed" if report.closed else "open"
    if args.json:
        emit_json(
            {
                "path": report.path,
                "ceremony": report.ceremony,
                "hash": report.hash_name,
                "state": state,
                "head": report.head,
                "entries": [
                    {"seq": e.seq, "time": e.time, "actor": e.actor, "step": e.step}
                    for e in report.entries
                ],
            }
        )
        return 0
    print(
        f"{args.transcript_path}: {len(report.entries)} entries, chain intact ({report.hash_name})"
    )
    print(f"  ceremony   {report.ceremony}")
    print(f"  state      {state}")
    print(f"  head       {report.head}")
    for entry in report.entries:
        print(f"  {entry.seq:>4} {entry.time} {entry.actor:<12} {entry.step}")
    return 0
