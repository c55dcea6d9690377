"""``sbkcard read``: the cardholder's basic information, as a terminal reads it (S3 §1.1).

::

    sbkcard read (--card IMAGE | --reader NAME) [--psam IMAGE | --psam-reader NAME]
                 [--hsm-keys KEYSTORE [--passphrase-file FILE]] [--hotlist DB|URL]
                 [--national] [--trace] [--json]

The card is a simulated card image (--card, not modified) or a card in a PC/SC reader
(--reader); the PSAM likewise (--psam / --psam-reader).  Without a PSAM, --hsm-keys
authenticates through a software key service instead ('demo': the published TEST
keys); without either, a 2.0 card is read without the authenticity check and a 3.0
card cannot be read (its EF06 needs RKSSSE).  --national prints exactly the string of
iReadCardBas (with --hsm-keys and no PSAM, the HSM fallback of S3 App. C.1:
iReadCardBas_HSM_Step1/2); --trace adds the APDUs, PIN and key data masked; --json
prints the information as one JSON object.  A card the terminal refuses (hotlisted,
blocked, not genuine) is an error in every mode: one line on standard error, exit 1.
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from sbkcard.applet_model.ssse import Layout
from sbkcard.cli._common import UsageError, add_json_argument, command_parser, emit_json, plain_doc
from sbkcard.cli._terminal import add_terminal_arguments, build_terminal
from sbkcard.errors import SbkcardError
from sbkcard.identifiers.regions import region_name
from sbkcard.terminal.national.codes import HSM_FALLBACK
from sbkcard.terminal.national.interface import NationalInterface, national_date
from sbkcard.terminal.operations.basic import BasicInfo, read_basic_info
from sbkcard.terminal.security.hsm_host import HsmHost


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sbkcard read``."""
    parser = command_parser(
        subparsers,
        "read",
        help="read a card's basic information (iReadCardBas)",
        description=plain_doc(__doc__),
        example=(
            "sbkcard read --card card.json --psam psam.json",
            "sbkcard read --card card.json --hsm-keys demo --national",
            "sbkcard read --reader 'Virtual PCD 00 00' --psam-reader 'Virtual PCD 00 01' --json",
        ),
    )
    add_terminal_arguments(parser)
    parser.add_argument(
        "--national", action="store_true", help="print the exact iReadCardBas string"
    )
    parser.add_argument("--trace", action="store_true", help="print the APDUs (secrets masked)")
    add_json_argument(parser)
    parser.set_defaults(func=_read)


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
        function = "iReadCardBas"
        if code in HSM_FALLBACK and terminal.key_service is not None:
            # S3 App. C.1: the business system falls back to the HSM functions
            function = "iReadCardBas_HSM_Step1"
            code, step1 = national.iReadCardBas_HSM_Step1(1)
            if code == 0:
                function = "iReadCardBas_HSM_Step2"
                pkey = HsmHost(terminal.key_service).read_card_bas(step1)
                code, out = national.iReadCardBas_HSM_Step2(pkey)
            else:
                out = step1
        if args.trace:
            print(terminal.trace.text(), end="")
        if code != 0:
            raise SbkcardError(f"{function} returned {code} {out}")
        if args.json:
            emit_json({"function": function, "code": code, "text": out})
        else:
            print(out)
        return 0
    try:
        with terminal.session() as conn:
            secure = terminal.psam_reader is not None or terminal.key_service is not None
            if not secure and conn.layout is Layout.V3:
                raise UsageError(
                    "a 3.0 card's cardholder file needs RKSSSE: give --psam, --psam-reader "
                    "or --hsm-keys"
                )
            info = read_basic_info(conn, authenticate=secure)
    finally:
        if args.trace:
            console.print(terminal.trace.text(), end="", markup=False)
    if args.json:
        emit_json(info)
        return 0
    console.print(basic_table(info))
    console.print(f"{info.apdus} card APDUs (GET RESPONSE included)")
    return 0
