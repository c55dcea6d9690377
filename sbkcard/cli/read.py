"""``sbkcard read``: the cardholder's basic information, as a terminal reads it (S3 §1.1).

::

    sbkcard read [--sim IMAGE | --reader NAME] [--psam IMAGE | --psam-reader NAME]
                 [--hsm-keys KEYSTORE] [--hotlist DB] [--national] [--trace]

The card is a simulated card image (``--sim``, not modified) or a card in a PC/SC reader
(``--reader``); the PSAM likewise (``--psam`` / ``--psam-reader``).  Without a PSAM,
``--hsm-keys`` authenticates through a software key service instead (``demo``: the
published TEST keys); without either, a 2.0 card is read without the authenticity check
and a 3.0 card cannot be read (its EF06 needs RKSSSE).  ``--national`` prints exactly the
string of iReadCardBas (or its error code and text; with ``--hsm-keys`` and no PSAM, the
HSM fallback of S3 App. C.1: iReadCardBas_HSM_Step1/2); ``--trace`` adds the APDUs, PIN
and key data masked.  The card APDU count is shown under the table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sbkcard.applet_model.ssse import Layout
from sbkcard.errors import SbkcardError
from sbkcard.identifiers.regions import region_name
from sbkcard.keys import Algorithm
from sbkcard.terminal.hotlist import Hotlist
from sbkcard.terminal.national.codes import HSM_FALLBACK
from sbkcard.terminal.national.interface import NationalInterface, national_date
from sbkcard.terminal.operations.basic import BasicInfo, read_basic_info
from sbkcard.terminal.security.hsm import SoftwareKeyService
from sbkcard.terminal.security.hsm_host import HsmHost
from sbkcard.terminal.terminal import Terminal
from sbkcard.terminal.transports.transport import Transport


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sbkcard read``."""
    parser = subparsers.add_parser(
        "read",
        help="read a card's basic information (iReadCardBas)",
        description=__doc__.split("::")[0].strip() if __doc__ else None,
    )
    card = parser.add_mutually_exclusive_group(required=True)
    card.add_argument("--sim", type=Path, metavar="IMAGE", help="a simulated card image")
    card.add_argument("--reader", metavar="NAME", help="a PC/SC reader holding the card")
    psam = parser.add_mutually_exclusive_group()
    psam.add_argument("--psam", type=Path, metavar="IMAGE", help="a simulated PSAM image")
    psam.add_argument("--psam-reader", metavar="NAME", help="a PC/SC reader holding the PSAM")
    parser.add_argument(
        "--hsm-keys",
        metavar="KEYSTORE",
        help="without a PSAM: authenticate with a software key service ('demo': TEST keys)",
    )
    parser.add_argument("--hotlist", type=Path, metavar="DB", help="refuse cards on this hotlist")
    parser.add_argument(
        "--national", action="store_true", help="print the exact iReadCardBas string"
    )
    parser.add_argument("--trace", action="store_true", help="print the APDUs (secrets masked)")
    parser.set_defaults(func=_read)


def _transport(image: Path | None, reader: str | None) -> Transport | None:
    if image is not None:
        from sbkcard.simulator.image import load_image

        return load_image(image)
    if reader is not None:
        from sbkcard.terminal.transports.pcsc import PcscTransport

        return PcscTransport(reader)
    return None


def _key_service(spec: str | None) -> SoftwareKeyService | None:
    """The software key service of ``--hsm-keys`` (DES and SM4 roots, whichever it has)."""
    if spec is None:
        return None
    from sbkcard.keys.store_keyset import DEMO, load_keyset

    secret = None
    if spec != DEMO and not spec.startswith(DEMO + ":"):
        from sbkcard.keys.passphrase import resolve_passphrase

        secret = resolve_passphrase(None, prompt=f"Key store passphrase ({spec}): ")
    keysets = {}
    for algorithm in (Algorithm.DES, Algorithm.SM4):
        try:
            keys = load_keyset(spec, secret, algorithm=algorithm)
        except SbkcardError:
            continue
        keysets[keys.algorithm] = keys
    if not keysets:
        raise SbkcardError(f"--hsm-keys {spec}: no DES or SM4 roots")
    return SoftwareKeyService(list(keysets.values()))


def build_terminal(args: argparse.Namespace) -> Terminal:
    """The terminal ``args`` describe (card, PSAM or key service, hotlist)."""
    card = _transport(args.sim, args.reader)
    assert card is not None
    psam = _transport(args.psam, args.psam_reader)
    service = None if psam is not None else _key_service(args.hsm_keys)
    hotlist = Hotlist(args.hotlist) if args.hotlist is not None else None
    return Terminal(card, psam_reader=psam, key_service=service, hotlist=hotlist)


def basic_table(info: BasicInfo) -> Table:
    """The basic information as a rich table."""
    table = Table(title="社会保障卡基本信息 basic information", show_header=False)
    table.add_column("item", style="bold")
    table.add_column("value")
    try:
        region = f"{info.region} {region_name(info.region)}"
    except SbkcardError:
        region = info.region
    rows = [
        ("姓名 name", info.holder.name),
        ("社会保障号码 SSN", info.holder.ssn),
        ("性别 gender", {"1": "1 男", "2": "2 女"}.get(info.holder.gender, info.holder.gender)),
        ("民族 ethnicity", info.holder.ethnicity),
        ("出生日期 birth date", info.holder.birth_date),
        ("出生地 birthplace", info.holder.birthplace),
        ("卡号 card number", info.issuer.card_number),
        ("卡识别码 card id", str(info.issuer.card_id)),
        ("发卡地区 region", region),
        ("规范版本 version", info.issuer.version),
        ("发卡日期 issued", national_date(info.issue_date)),
        ("卡有效期 expiry", national_date(info.expiry)),
        ("算法 algorithm", info.algorithm.label),
        ("复位信息 ATR history", info.history.hex().upper()),
        ("真伪 authenticity", "genuine (IRK checked)" if info.genuine else "not checked"),
        ("终端机编号 terminal", info.terminal_number),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def _read(args: argparse.Namespace) -> int:
    terminal = build_terminal(args)
    console = Console(highlight=False, soft_wrap=True)
    if args.national:
        national = NationalInterface(terminal)
        code, out = national.iReadCardBas(1)
        if code in HSM_FALLBACK and terminal.key_service is not None:
            # S3 App. C.1: the business system falls back to the HSM functions
            code, step1 = national.iReadCardBas_HSM_Step1(1)
            if code == 0:
                pkey = HsmHost(terminal.key_service).read_card_bas(step1)
                code, out = national.iReadCardBas_HSM_Step2(pkey)
            else:
                out = step1
        print(out if code == 0 else f"{code} {out}")
        if args.trace:
            print(terminal.trace.text(), end="")
        return 0 if code == 0 else 1
    try:
        with terminal.session() as conn:
            secure = terminal.psam_reader is not None or terminal.key_service is not None
            if not secure and conn.layout is Layout.V3:
                raise SbkcardError(
                    "a 3.0 card's cardholder file needs RKSSSE: give --psam, --psam-reader "
                    "or --hsm-keys"
                )
            info = read_basic_info(conn, authenticate=secure)
    finally:
        if args.trace:
            console.print(terminal.trace.text(), end="", markup=False)
    console.print(basic_table(info))
    console.print(f"{info.apdus} card APDUs (GET RESPONSE included)")
    return 0
