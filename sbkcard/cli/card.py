"""``sbkcard card``: simulated cards kept in image files.

::

    sbkcard card new --profile {2,3} --out IMAGE [--applicant FILE.json] [--card-id HEX32]
                     [--card-number X] [--atr HEX] [--issue-date YYYYMMDD]
                     [--expiry YYYYMMDD] [--keys KEYSTORE [--passphrase-file FILE]]
                     [--force]
    sbkcard card send IMAGE APDU... [--dry-run] [--trace]
    sbkcard card show IMAGE [--json]

``new`` personalises a user card and writes its image.  Without ``--applicant`` the
cardholder is the documented demo cardholder (张三, ``DEMO_CARDHOLDER`` of
:mod:`sbkcard.applet_model.user_card.personalise`), without ``--keys`` the keys are the
documented demo key set (``demo``): **published test keys**, never for a real card.
``send`` powers the card on, sends each hex APDU in turn (one session), prints one hex
response (data ‖ SW) per line, and saves the card's new state back unless ``--dry-run``;
it works on PSAM images too.  ``show`` decodes the image, one section per file; keys and
PINs are masked (keys are identified by their check values).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import enum
import json
import string
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from sbkcard.apdu.tlv import parse_ber_tlv
from sbkcard.apdu.trace import Tracer
from sbkcard.applet_model.cert_app.content import is_secret
from sbkcard.applet_model.data_items import FILE_ITEMS, DataItem, v1_length
from sbkcard.applet_model.psam import ApplicationInfo, PublicInfo, TerminalInfo
from sbkcard.applet_model.psam import KeyRecord as PsamKeyRecord
from sbkcard.applet_model.psam.files import decode_sequence
from sbkcard.applet_model.records import (
    Cardholder,
    FileContent,
    IssuerData,
    MedicalInsurance,
    decode_file,
)
from sbkcard.applet_model.ssse import DIR_SFI, Layout
from sbkcard.applet_model.user_card import PROFILES, Profile
from sbkcard.applet_model.user_card.fcp import (
    LIFE_BLOCKED,
    KeyRecord,
    block_key,
    body_key,
    counter_key,
    key_kid,
    pin_key,
    proof_key,
)
from sbkcard.applet_model.user_card.personalise import (
    DEMO_CARD_ID,
    DEMO_CARD_NUMBER,
    DEMO_CARDHOLDER,
    DEMO_EXPIRY,
    DEMO_ISSUE_DATE,
    card_atr,
    demo_files,
    key_home,
    user_card_content,
)
from sbkcard.applet_model.user_card.purse import PurseData
from sbkcard.cli._card_pki import cert_app_rows
from sbkcard.cli._common import (
    UsageError,
    add_json_argument,
    command_parser,
    emit_json,
    parse_date,
    plain_doc,
)
from sbkcard.cli._terminal import store_secret
from sbkcard.cli.keys import add_keys_arguments
from sbkcard.errors import SbkcardError
from sbkcard.identifiers import CardId, validate_card_number
from sbkcard.issuance.applicants import Applicant, ApplicantError, validate_applicant
from sbkcard.issuance.certificates import DEMO_CA_NAME, ca_from_store, third_generation_card
from sbkcard.keys import kcv
from sbkcard.keys.hierarchy import CARD_KEYS, DEMO_LABEL
from sbkcard.keys.store_keyset import DEMO, card_keys_of, issuer_keys
from sbkcard.simulator import SimulatedCard, load_image, save_image
from sbkcard.simulator.image import IMAGE_FORMAT, MAX_ATR, secret_keys
from sbkcard.simulator.locks import image_lock, images_locked

MASK = "••••••"
"""What ``show`` prints in place of a key or a PIN."""


class CardCommandError(UsageError):
    """A ``sbkcard card`` argument that cannot be used (names the option and why)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sbkcard card``."""
    parser = command_parser(
        subparsers,
        "card",
        help="simulated user cards in image files: new, send, show",
        description=plain_doc(__doc__),
        example=(
            "sbkcard card new --profile 3 --out card.json",
            "sbkcard card send card.json 00A404000F7378312E73682EC9E7BBE1B1A3D5CF",
            "sbkcard card show card.json --json",
        ),
    )
    sub = parser.add_subparsers(dest="card_command", metavar="COMMAND", required=True)

    new = command_parser(
        sub,
        "new",
        help="personalise a user card and write its image",
        description="Personalise a simulated user card. Without --applicant and --keys it "
        "holds the demo cardholder and the demo key set: TEST keys, never for real cards.",
        example=(
            "sbkcard card new --profile 3 --out card.json",
            "sbkcard card new --profile 2 --out card.json --applicant person.json "
            "--keys store.keys --passphrase-file pass.txt",
        ),
    )
    new.add_argument(
        "--profile",
        type=int,
        choices=sorted(PROFILES),
        required=True,
        help="1: 1st generation (DES, version 1.00, LB002-2000); 2: 2nd generation (DES, "
        "2.00); 3: 3rd generation (SM4, 3.00)",
    )
    new.add_argument("--out", type=Path, required=True, metavar="IMAGE", help="image to write")
    new.add_argument(
        "--applicant",
        type=Path,
        metavar="FILE.json",
        help="the cardholder: ssn, name, gender, ethnicity, birthplace, birth_date "
        "[, region, insurance_type, insured_region, personnel_category]",
    )
    new.add_argument("--card-id", metavar="HEX32", help="card identification code (32 hex)")
    new.add_argument("--card-number", metavar="X", help="card number, 9 characters")
    new.add_argument("--atr", metavar="HEX", help="the ATR (default: from the card ID)")
    new.add_argument("--issue-date", metavar="YYYYMMDD", help="issue date (default 20240101)")
    new.add_argument(
        "--expiry", metavar="YYYYMMDD", help="expiry date (default: 10 years after the issue date)"
    )
    add_keys_arguments(new)
    new.add_argument(
        "--ca",
        metavar="LABEL",
        help="profile 3: the SM2 key LABEL in the --keys store issues the certificates "
        "(default: the demo CA, TEST only)",
    )
    new.add_argument("--force", action="store_true", help="overwrite an existing image")
    new.set_defaults(func=_new)

    send = command_parser(
        sub,
        "send",
        help="send APDUs to the card in an image and save its new state",
        description="Power the card on, send each APDU (hex) in turn in one session, print "
        "each response (data ‖ SW, hex) on its own line, save the card's state back.",
        example=(
            "sbkcard card send card.json 00A404000F7378312E73682EC9E7BBE1B1A3D5CF 00C000001E",
            "sbkcard card send --dry-run --trace card.json 0084000008",
        ),
    )
    send.add_argument("image", type=Path, metavar="IMAGE", help="card image (user card or PSAM)")
    send.add_argument("apdus", nargs="+", metavar="APDU", help="command APDU in hex")
    send.add_argument("--dry-run", action="store_true", help="do not save the card's new state")
    send.add_argument(
        "--trace",
        action="store_true",
        help="print the trace (commands and responses, PINs and keys masked)",
    )
    send.set_defaults(func=_send)

    show = command_parser(
        sub,
        "show",
        help="decode a card image, one section per file, secrets masked",
        description="Decode the content of a card image. Keys and PINs are never shown.",
        example=("sbkcard card show card.json", "sbkcard card show psam.json --json"),
    )
    show.add_argument("image", type=Path, metavar="IMAGE", help="card image")
    add_json_argument(show)
    show.set_defaults(func=_show)


# -- card new ---------------------------------------------------------------------------------


def _hex(text: str, option: str) -> bytes:
    cleaned = "".join(text.split())
    wrong = [c for c in cleaned if c not in string.hexdigits]
    if wrong:
        where = cleaned.index(wrong[0]) + 1
        raise CardCommandError(f"{option} {text!r}: {wrong[0]!r} (character {where}) is not hex")
    if not cleaned or len(cleaned) % 2:
        raise CardCommandError(
            f"{option} {text!r}: {len(cleaned)} hex digits; bytes need an even number"
        )
    return bytes.fromhex(cleaned)


def _applicant(path: Path, region: str) -> Applicant:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CardCommandError(f"--applicant {path}: cannot read ({exc.strerror})") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CardCommandError(f"--applicant {path}: not JSON ({exc})") from exc
    if not isinstance(raw, dict):
        raise CardCommandError(f"--applicant {path}: expected one JSON object (an applicant)")
    raw.setdefault("region", region)
    try:
        return validate_applicant(raw, line=1)
    except ApplicantError as exc:
        raise CardCommandError(f"--applicant {path}: {exc.field}: {exc.reason}") from None


def _new(args: argparse.Namespace) -> int:
    out: Path = args.out
    if out.exists() and not args.force:
        raise CardCommandError(f"{out} exists (use --force to overwrite it)")
    with images_locked([out], "sbkcard card new"):  # refused while a sim serves it
        return _make(args, out)


def _make(args: argparse.Namespace, out: Path) -> int:
    profile: Profile = PROFILES[args.profile]
    try:
        card_id = CardId.from_hex(args.card_id) if args.card_id else None
    except SbkcardError as exc:
        raise CardCommandError(f"--card-id {args.card_id}: {exc}") from None
    try:
        number = validate_card_number(args.card_number) if args.card_number else DEMO_CARD_NUMBER
    except SbkcardError as exc:
        raise CardCommandError(f"--card-number {args.card_number}: {exc}") from None
    applicant = None
    if args.applicant is not None:
        applicant = _applicant(args.applicant, (card_id or DEMO_CARD_ID).region)
        if card_id is None:
            card_id = dataclasses.replace(DEMO_CARD_ID, region=applicant.region)
    card_id = card_id or DEMO_CARD_ID
    atr = _hex(args.atr, "--atr") if args.atr else card_atr(profile, card_id)
    if not 2 <= len(atr) <= MAX_ATR:
        raise CardCommandError(f"--atr: an ATR is 2 to {MAX_ATR} bytes, not {len(atr)}")
    issued = parse_date(args.issue_date, "--issue-date") or DEMO_ISSUE_DATE
    expiry = parse_date(args.expiry, "--expiry")
    if expiry is None:
        expiry = DEMO_EXPIRY if args.issue_date is None else issued.replace(year=issued.year + 10)
    if expiry <= issued:
        raise CardCommandError(
            f"--expiry {expiry:%Y%m%d}: not after the issue date {issued:%Y%m%d}"
        )

    files: dict[str, FileContent]
    if applicant is None:
        cardholder = DEMO_CARDHOLDER
        files = dict(demo_files(profile))
    else:
        cardholder = Cardholder(
            applicant.ssn,
            applicant.name,
            applicant.gender,
            applicant.ethnicity,
            applicant.birthplace,
            applicant.birth_date,
        )
        files = {}
        if applicant.medical is not None:
            medical = applicant.medical
            files["SSSE/DF04/EF05"] = MedicalInsurance(
                scheme=medical.insurance_type,
                region=medical.insured_region,
                category=medical.personnel_category,
            )
    if args.ca is not None and (profile.generation != 3 or args.keys == DEMO):
        raise CardCommandError("--ca: needs --profile 3 and a key store in --keys")
    ca = None
    secret = store_secret(args.keys, args.passphrase_file, "--keys")
    with issuer_keys(args.keys, secret, algorithm=profile.algorithm) as (keyset, store):
        if keyset.algorithm is not profile.algorithm:
            raise CardCommandError(
                f"--keys {args.keys}: a {keyset.algorithm.label} key set; profile "
                f"{profile.generation} cards use {profile.algorithm.label}"
            )
        keys = card_keys_of(keyset, card_id.region, atr)
        if args.ca is not None and store is not None:
            ca = ca_from_store(store, args.ca, f"CA {args.ca}")
    content = user_card_content(
        profile,
        cardholder,
        keys,
        card_id=card_id,
        card_number=number,
        issue_date=issued,
        expiry=expiry,
        atr=atr,
        files=files,
    )
    if profile.generation == 3:
        subject = f"{cardholder.name} {number}"
        card, certificates = third_generation_card(content, atr, subject, ca=ca)
    else:
        generation = profile.generation
        card = SimulatedCard.create("user-card", content, atr, profile=generation)
        certificates = None
    save_image(card, out)
    demo_keys = args.keys == DEMO or args.keys.startswith(DEMO + ":")
    print(f"card image written to {out}")
    print(f"  profile      {profile}")
    print(f"  ATR          {atr.hex().upper()}")
    print(f"  card ID      {card_id.hex}")
    print(f"  card number  {number}")
    print(f"  issued       {issued.isoformat()}, expires {expiry.isoformat()}")
    who = "demo cardholder" if applicant is None else str(args.applicant)
    print(f"  cardholder   {cardholder.name} ({who})")
    print(f"  keys         {len(keys)} card keys from key set {args.keys!r}")
    if demo_keys:
        print(f"  TEST KEYS    {DEMO_LABEL}")
    print("  PIN          the documented demo PIN (TEST only; change it with CHANGE PIN)")
    if certificates is not None:
        issuer = DEMO_CA_NAME if ca is None else ca.name
        print(f"  certificates signing and encryption, issued by {issuer}")
    return 0


# -- card send --------------------------------------------------------------------------------


def _send(args: argparse.Namespace) -> int:
    apdus = [_hex(text, "APDU") for text in args.apdus]
    if args.dry_run:
        return _send_to(args, apdus)
    with image_lock(args.image, "sbkcard card send"):  # refused while a sim serves it
        return _send_to(args, apdus)


def _send_to(args: argparse.Namespace, apdus: list[bytes]) -> int:
    card = load_image(args.image)
    card.power_on()
    tracer = Tracer(card.transmit, sink=print) if args.trace else None
    for apdu in apdus:
        if tracer is not None:
            tracer(apdu)
        else:
            print(card.transmit(apdu).hex().upper())
    card.power_off()
    if not args.dry_run:
        save_image(card, args.image)
    return 0


# -- card show --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """One titled table of ``card show``."""

    title: str
    columns: tuple[str, ...]
    rows: Sequence[Sequence[str]]


def describe_card(card: SimulatedCard) -> list[Section]:
    """The sections ``card show`` prints for ``card``: decoded, secrets masked."""
    storage = card.nvm.contents()
    secrets = secret_keys(card)
    summary = [
        ("format", IMAGE_FORMAT),
        ("applet", card.kind),
        ("profile", "" if card.profile is None else str(card.profile)),
        ("ATR", card.atr.hex().upper()),
        ("storage cells", f"{len(storage)} ({len(secrets)} secret, masked)"),
    ]
    if card.kind in ("user-card", "user-card-3"):
        sections = _user_card(storage, card.profile, summary)
    elif card.kind == "psam":
        sections = _psam(storage, secrets, summary)
    else:
        sections = [Section("Card", ("", ""), summary)]
        sections += _other(storage, secrets, set())
    return sections


def _blank(body: bytes) -> bool:
    return not body.strip(b"\x00\xff")


def _value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        if len(value) > 32:
            return f"{len(value)} bytes" + ("" if any(value) else ", all 00")
        return value.hex().upper()
    if isinstance(value, enum.Enum):
        return value.name
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return ", ".join(f"{f.name}={_value(getattr(value, f.name))}" for f in fields)
    if isinstance(value, tuple):
        return "; ".join(_value(v) for v in value) if value else "—"
    return str(value)


def _item_rows(
    content: Any, items: Sequence[DataItem], prefix: str = ""
) -> Iterator[tuple[str, ...]]:
    by_field = {it.field: it for it in items}
    for f in dataclasses.fields(content):
        value = getattr(content, f.name)
        if f.name != "extra" and f.name not in by_field:
            continue  # an item this layout's card does not have (★ on a 1.00 card)
        if f.name == "extra":
            for tag, raw in value:
                yield (f"{prefix}{tag:02X}", "(not in the standard's tables)", raw.hex().upper())
            continue
        it = by_field.get(f.name)
        label = f"{it.zh} {it.en}" if it else f.name
        yield (f"{prefix}{it.label if it else '-'}", label, _value(value))


def _file_rows(path: str, content: FileContent, layout: Layout) -> list[tuple[str, ...]]:
    items = [
        it
        for it in FILE_ITEMS.get(path, ())
        if layout is not Layout.V1 or v1_length(path, it) is not None
    ]
    records = getattr(content, "records", None)
    if isinstance(records, tuple):
        rows: list[tuple[str, ...]] = []
        for number, record in enumerate(records, start=1):
            if any(
                getattr(record, f.name) not in (None, "", 0) for f in dataclasses.fields(record)
            ):
                rows += _item_rows(record, items, prefix=f"#{number} ")
        return rows or [("", "(no records)", "")]
    return list(_item_rows(content, items))


def _user_card(
    storage: Mapping[str, bytes], generation: int | None, summary: list[tuple[str, str]]
) -> list[Section]:
    used: set[str] = {"cos:atr", "cos:life"}
    layout = Layout.V2
    issuer = storage.get(body_key("SSSE/EF05"))
    if issuer:
        try:
            layout = IssuerData.decode(issuer, Layout.V2).layout
        except SbkcardError:
            layout = Layout.V2
    by_layout = {Layout.V1: 1, Layout.V2: 2, Layout.V3: 3}
    profile = PROFILES.get(generation or by_layout[layout])
    life = storage.get("cos:life")
    summary = [
        *summary,
        ("life cycle", "card blocked" if life == LIFE_BLOCKED else "operational"),
        ("layout", layout.name),
    ]
    sections = [Section("Card", ("", ""), summary)]
    empty: list[str] = []
    tree = (profile or PROFILES[2]).tree
    for path, ef in tree.files().items():
        key = body_key(path)
        body = storage.get(key)
        used.update({key, f"fs:{path}"})
        if body is None:
            continue
        title = f"{path}  {ef.zh} {ef.en}"
        if path.endswith("/PURSE"):
            purse = PurseData.from_bytes(body)
            fields = dataclasses.fields(purse)
            purse_rows = [(f.name, _value(getattr(purse, f.name))) for f in fields]
            sections.append(Section(title, ("field", "value"), purse_rows))
            continue
        if _blank(body):
            empty.append(path)
            continue
        if ef.sfi == DIR_SFI and ef.fid is None:
            sections.append(Section(title, ("AID", "label"), _dir_rows(body)))
            continue
        rows: Sequence[Sequence[str]]
        try:
            rows = _file_rows(path, decode_file(path, body, layout), layout)
        except SbkcardError as exc:
            rows = [("", f"does not decode: {exc}", body.hex().upper())]
        sections.append(Section(title, ("tag", "item", "value"), rows))
    for path in tree.ssse.dedicated():
        used.add(f"fs:{path}")
    used.add("fs:MF")
    if empty:
        sections.append(Section("Files without data", ("files",), [(", ".join(empty),)]))
    sections.append(_user_security(storage, tree.ssse.dedicated(), used))
    sections.append(_user_keys(storage, used))
    pki_rows, pki_used = cert_app_rows(storage)
    if pki_rows:
        used |= pki_used
        sections.append(Section("Certificate application", ("file", "what", "value"), pki_rows))
    secrets = frozenset(k for k in storage if is_secret(k))
    return sections + _other(storage, secrets, used)


def _dir_rows(body: bytes) -> list[tuple[str, str]]:
    """The DIR file's application templates ``61`` (``4F`` AID, ``50`` label; Part 3 §6.3)."""
    rows = []
    try:
        for template in parse_ber_tlv(body):
            aid, label = template.find(0x4F), template.find(0x50)
            name = label.value.decode("gbk", errors="replace") if label else ""
            rows.append((aid.value.hex().upper() if aid else "—", name))
    except SbkcardError as exc:
        rows.append((f"does not decode: {exc}", body.hex().upper()))
    return rows


def _user_security(storage: Mapping[str, bytes], dfs: Mapping[str, Any], used: set[str]) -> Section:
    rows: list[tuple[str, ...]] = []
    for df in ("MF", *dfs):
        pin = storage.get(pin_key(df))
        if pin is not None:
            left = storage.get(counter_key(df, None), b"")
            used.update({pin_key(df), counter_key(df, None)})
            state = f"set, {MASK}" if len(pin) > 1 else "none"
            tries = f"{left[0] if left else '?'} of {pin[0] if pin else '?'} tries left"
            rows.append((df, "PIN", f"{state}; {tries}"))
        if block_key(df) in storage:
            used.add(block_key(df))
            rows.append((df, "application", "BLOCKED (answers 9303)"))
        proof = storage.get(proof_key(df))
        if proof is not None:
            used.add(proof_key(df))
            rows.append((df, "last purse transaction proof", proof.hex().upper()))
    return Section("Security state", ("DF", "what", "state"), rows)


def _user_keys(storage: Mapping[str, bytes], used: set[str]) -> Section:
    names = {(key_home(spec), key_kid(spec)): spec.name for spec in CARD_KEYS}
    rows: list[tuple[str, ...]] = []
    for key in sorted(k for k in storage if k.startswith("key:")):
        used.add(key)
        home, _, ident = key[len("key:") :].rpartition("/")
        kid_text, _, version = ident.partition(".")
        try:
            kid = int(kid_text, 16)
        except ValueError:
            rows.append((home, kid_text, "?", version, "bad: not DF/KID.version", "", "", "", MASK))
            continue
        left = storage.get(counter_key(home, kid))
        used.add(counter_key(home, kid))
        try:
            record = KeyRecord.from_bytes(storage[key])
        except (ValueError, SbkcardError) as exc:
            name = names.get((home, kid), "?")
            rows.append((home, kid_text, name, version, f"bad: {exc}", "", "", "", MASK))
            continue
        tries = "—" if not record.tries else f"{left[0] if left else '?'} of {record.tries}"
        check = kcv(record.key, record.algorithm).hex().upper()
        rows.append(
            (
                home,
                kid_text,
                names.get((home, kid), "?"),
                version,
                record.role.name,
                record.algorithm.name,
                tries,
                check,
                MASK,
            )
        )
    columns = ("DF", "KID", "name", "ver", "role", "alg", "tries", "KCV", "value")
    return Section("Keys", columns, rows)


def _psam(
    storage: Mapping[str, bytes], secrets: frozenset[str], summary: list[tuple[str, str]]
) -> list[Section]:
    sections = [Section("Card", ("", ""), summary)]
    files: list[tuple[str, ...]] = []
    keys: list[tuple[str, ...]] = []
    used: set[str] = set()
    decoders = {
        "0015": PublicInfo.from_bytes,
        "0016": TerminalInfo.from_bytes,
        "0019": decode_sequence,
        "001A": ApplicationInfo.from_bytes,
        "001B": ApplicationInfo.from_bytes,
        "001C": ApplicationInfo.from_bytes,
    }
    for key, value in sorted(storage.items()):
        last = key.rpartition("/")[2]
        if key in secrets:
            used.add(key)
            try:
                record = PsamKeyRecord.from_bytes(value)
            except SbkcardError:
                keys.append((key, "(ADF master key)" if last == "MK" else "", "", MASK))
                continue
            check = kcv(record.key, record.algorithm.cipher).hex().upper()
            what = f"{record.key_type.name}, {record.levels} levels, id {record.ident:02X}"
            keys.append((key, what, check, MASK))
        elif last in decoders:
            used.add(key)
            try:
                files.append((key, _value(decoders[last](value))))
            except (SbkcardError, ValueError) as exc:
                files.append((key, f"does not decode ({exc}): {value.hex().upper()}"))
    sections.append(Section("Files", ("file", "content"), files))
    sections.append(Section("Keys", ("key record", "usage", "KCV", "value"), keys))
    return sections + _other(storage, secrets, used)


def _other(storage: Mapping[str, bytes], secrets: frozenset[str], used: set[str]) -> list[Section]:
    rows = [
        (key, MASK if key in secrets else (value.hex().upper() or "(empty)"))
        for key, value in sorted(storage.items())
        if key not in used
    ]
    return [Section("Other storage", ("key", "value"), rows)] if rows else []


def _show(args: argparse.Namespace) -> int:
    card = load_image(args.image)
    sections = describe_card(card)
    if args.json:
        emit_json(
            {
                "image": str(args.image),
                "sections": [
                    {
                        "title": s.title,
                        "rows": [dict(zip(s.columns or ("",), row, strict=False)) for row in s.rows]
                        if any(s.columns)
                        else [list(row) for row in s.rows],
                    }
                    for s in sections
                ],
            }
        )
        return 0
    console = Console()
    console.print(f"[bold]{args.image}[/bold]")
    for section in sections:
        table = Table(title=section.title, title_justify="left", show_header=any(section.columns))
        for column in section.columns:
            table.add_column(column, overflow="fold")
        for row in section.rows:
            table.add_row(*row)
        console.print(table)
    return 0
