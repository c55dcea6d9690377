"""``sbkcard demo``: the main job, end to end, on the built-in simulator (under a second).

::

    sbkcard demo [--profile {2,3}] [--workdir DIR] [--no-trace]

With the demo key set (published TEST keys, never for real cards) it issues a card for
the demo cardholder 张三 and a PSAM, loads the medical account, then plays

1. a hospital visit — insert the card, check the hotlist, read the basic information,
   verify the PIN, read the medical insurance data, pay from the purse (MAC1 from the
   PSAM, MAC2 checked by it, TAC kept), write the offline-settlement record, show the
   APDU trace;
2. a pharmacy purchase — a reader without PSAM, authenticating through the HSM key
   service, through the national interface's strings;
3. loss reporting — the card reported lost (挂失): the pharmacy and the hospital refuse
   it; a hospital terminal set to block hotlisted cards blocks its social security
   application (APPLICATION BLOCK, Part 7 §13.2), after which the card itself answers
   ``9303`` to SELECT in any reader; a replacement card (补卡) works while the old one
   stays refused.

Everything (card images, hotlist) lives in a temporary directory removed at the end,
unless ``--workdir`` names one to keep; images there that another process serves
(``sbkcard sim``) are not touched: the demo stops at once, naming it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sbkcard.applet_model.user_card import PROFILES
from sbkcard.applet_model.user_card.personalise import (
    DEMO_CARD_ID,
    DEMO_CARD_NUMBER,
    DEMO_CARDHOLDER,
    DEMO_PIN,
    card_atr,
    demo_card_content,
)
from sbkcard.cli._common import HelpFormatter, examples, plain_doc
from sbkcard.cli.read import basic_table
from sbkcard.identifiers import CardId
from sbkcard.identifiers.card_number import make_card_number
from sbkcard.keys.hierarchy import DEMO_LABEL
from sbkcard.simulator import SimulatedCard, save_image
from sbkcard.simulator.demo import demo_psam
from sbkcard.simulator.locks import images_locked
from sbkcard.terminal.connection import AuthPreference
from sbkcard.terminal.errors import ApplicationBlockedError, HotlistedCardError
from sbkcard.terminal.hotlist import Hotlist
from sbkcard.terminal.national.interface import NationalInterface, yuan
from sbkcard.terminal.operations import files, purse
from sbkcard.terminal.operations.basic import read_basic_info
from sbkcard.terminal.operations.pinpad import CallbackPinPad, PinPrompt
from sbkcard.terminal.policy import CardPolicy
from sbkcard.terminal.security.hsm import SoftwareKeyService
from sbkcard.terminal.security.hsm_host import CardFacts, HsmHost
from sbkcard.terminal.terminal import Terminal

HOSPITAL_PSAM = "410100000101"
"""The hospital's terminal number: 郑州市 (410100), terminal 000101."""
CARD, PSAM, REPLACEMENT = "card.json", "psam.json", "replacement.json"
"""The images the demo leaves in its working directory."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sbkcard demo``."""
    parser = subparsers.add_parser(
        "demo",
        help="the end-to-end demo: issue a card, a hospital visit, a pharmacy, loss",
        description=plain_doc(__doc__),
        epilog=examples("sbkcard demo", "sbkcard demo --profile 2 --workdir demo/ --no-trace"),
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--profile",
        dest="generation",
        type=int,
        choices=(2, 3),
        default=3,
        help="card profile: 2 (DES, 2.00) or 3 (SM4, 3.00; default)",
    )
    # the former name, kept for scripts
    parser.add_argument("--generation", type=int, choices=(2, 3), help=argparse.SUPPRESS)
    parser.add_argument(
        "--workdir", type=Path, metavar="DIR", help="keep the images and hotlist here"
    )
    parser.add_argument("--no-trace", action="store_true", help="do not print the APDU trace")
    parser.set_defaults(func=_demo)


class _Pad(CallbackPinPad):
    """The cardholder at the PIN pad: types the PIN, shown as asterisks."""

    def __init__(self, console: Console, pin: str) -> None:
        self.console = console
        self.pin = pin
        super().__init__(self._type)

    def _type(self, prompt: PinPrompt) -> str:
        self.console.print(f"    [dim]PIN pad: {prompt.value} {'*' * len(self.pin)}[/dim]")
        return self.pin


def _issue_card(card_id: CardId, number: str, generation: int) -> SimulatedCard:
    profile = PROFILES[generation]
    content = demo_card_content(profile, card_id=card_id, card_number=number)
    atr = card_atr(profile, card_id)
    return SimulatedCard.create("user-card", content, atr, profile=generation)


def _step(console: Console, number: str, text: str) -> None:
    console.print(f"  [bold cyan]{number}[/bold cyan] {text}")


def _exact(console: Console, text: str) -> None:
    """A national-interface string, exactly as returned (never wrapped)."""
    console.print(f"      {text}", style="green", soft_wrap=True, markup=False)


@contextmanager
def _workdir(path: Path | None) -> Iterator[Path]:
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="sbkcard-demo-") as tmp:
        yield Path(tmp)


def _demo(args: argparse.Namespace) -> int:
    console = Console(highlight=False, soft_wrap=True)
    started = time.perf_counter()
    with (
        _workdir(args.workdir) as workdir,
        images_locked([workdir / name for name in (CARD, PSAM, REPLACEMENT)], "sbkcard demo"),
    ):
        run_demo(console, workdir, generation=args.generation, trace=not args.no_trace)
        kept = f" (files kept in {workdir})" if args.workdir else ""
    console.print(f"\n[green]Demo finished in {time.perf_counter() - started:.2f} s{kept}.[/green]")
    return 0


def run_demo(console: Console, workdir: Path, *, generation: int = 3, trace: bool = True) -> None:
    """Play the whole demo, printing to ``console``; images and hotlist in ``workdir``."""
    console.rule("[bold]sbkcard demo[/bold] — 社会保障卡 at a hospital and a pharmacy")
    console.print(f"[yellow]Keys: {DEMO_LABEL}.[/yellow]\n")
    scene = _issue(console, workdir, generation)
    hospital = _hospital_visit(scene)
    if trace:
        _print_trace(console, hospital)
    facts = _pharmacy_purchase(scene)
    _loss_and_replacement(scene, hospital, facts, trace=trace)
    scene.hotlist.close()
    # the images as the story left them: the purse paid from, the application blocked
    save_image(scene.card, workdir / CARD)
    save_image(scene.psam, workdir / PSAM)


@dataclass(frozen=True)
class _Scene:
    """What the demo's acts share: the card, the hospital's PSAM, the hotlist, the HSM."""

    console: Console
    workdir: Path
    generation: int
    when: dt.datetime
    card: SimulatedCard
    psam: SimulatedCard
    hotlist: Hotlist
    hsm: SoftwareKeyService

    def pad(self) -> _Pad:
        return _Pad(self.console, DEMO_PIN)


def _issue(console: Console, workdir: Path, generation: int) -> _Scene:
    """The provincial card centre issues the card and the PSAM and loads the purse."""
    console.print("[bold]Issuing[/bold] (the provincial card centre)")
    card = _issue_card(DEMO_CARD_ID, DEMO_CARD_NUMBER, generation)
    psam = demo_psam(level=2, terminal_number=HOSPITAL_PSAM)
    when = dt.datetime.now().replace(microsecond=0)
    scene = _Scene(
        console,
        workdir,
        generation,
        when,
        card,
        psam,
        Hotlist(workdir / "hotlist.db"),
        SoftwareKeyService(),
    )
    _step(
        console,
        "•",
        f"card for {DEMO_CARDHOLDER.name}: {PROFILES[generation]}, card number "
        f"{DEMO_CARD_NUMBER}, ATR {card.atr.hex().upper()}",
    )
    _step(console, "•", f"hospital PSAM: provincial keys (level 2), terminal {HOSPITAL_PSAM}")
    loader = Terminal(card, key_service=scene.hsm, pinpad=scene.pad(), hotlist=scene.hotlist)
    with loader.session() as conn:
        loaded = purse.load(conn, 50_000, scene.hsm, time=when)
    _step(console, "•", f"medical account loaded onto the card (帐户划入): ¥{yuan(loaded.amount)}")
    return scene


def _hospital_visit(scene: _Scene) -> Terminal:
    """The hospital reads, authenticates, pays from the purse and writes the settlement."""
    console = scene.console
    console.print("\n[bold]Hospital visit[/bold] (郑州市, reader with the PSAM)")
    hospital = Terminal(
        scene.card, psam_reader=scene.psam, hotlist=scene.hotlist, pinpad=scene.pad()
    )
    with hospital.session() as conn:
        _step(console, "1", "card inserted; hotlist checked: not reported lost")
        info = read_basic_info(conn)
        _step(
            console,
            "2",
            f"basic information read and the card authenticated (IRK through the PSAM): "
            f"{info.apdus} card APDUs",
        )
        console.print(basic_table(info), justify="left")
        conn.verify_pin()
        _step(console, "3", "PIN verified")
        medical = files.read_address(
            conn, "DF04EF05|81|84|8C|8B|83|8F|$", prefer=AuthPreference.PIN
        )
        _step(console, "4", "medical insurance data read (DF04 EF05)")
        console.print(_medical_table(medical.files[0].values))
        paid = purse.purchase(conn, account=12_050, self_paid=3_600, pooled=8_900, time=scene.when)
        _step(
            console,
            "5",
            f"paid from the purse: account ¥{yuan(paid.account)}, self-paid "
            f"¥{yuan(paid.self_paid)}, pooled fund ¥{yuan(paid.pooled)}; MAC2 checked by the "
            f"PSAM; TAC {paid.tac.hex().upper()} kept for settlement",
        )
        total = paid.account + paid.self_paid + paid.pooled
        files.write_address(conn, "DF04EF06|92|93|$", f"DF04EF06|{total:08d}|01|$")
        _step(console, "6", "offline-settlement record written and read back (DF04 EF06)")
        balance = purse.balance(conn)
        _step(console, "7", f"balance now ¥{yuan(balance.account)}")
    return hospital


def _print_trace(console: Console, terminal: Terminal) -> None:
    """The visit's APDUs, PIN and key data masked."""
    console.print(
        f"\n  [bold]APDU trace of the visit[/bold]: {terminal.trace.count('card')} card "
        f"and {terminal.trace.count('psam')} PSAM APDUs (PIN and key data masked)"
    )
    for line in terminal.trace.text().splitlines():
        console.print(f"    {line}", style="dim", soft_wrap=True, markup=False)


def _pharmacy_purchase(scene: _Scene) -> CardFacts:
    """A pharmacy without a PSAM reads and debits through the HSM's national strings."""
    console = scene.console
    console.print("\n[bold]Pharmacy purchase[/bold] (no PSAM: the HSM, through national strings)")
    national = NationalInterface(Terminal(scene.card, hotlist=scene.hotlist, pinpad=scene.pad()))
    host = HsmHost(scene.hsm)
    code, out = national.iReadCardBas(1)
    _step(console, "1", f"iReadCardBas → {code} {out}  (no PSAM: fall back to the HSM)")
    code, step1 = national.iReadCardBas_HSM_Step1(1)
    code, basic = national.iReadCardBas_HSM_Step2(host.read_card_bas(step1))
    _step(console, "2", f"iReadCardBas_HSM_Step1/2 → {code}")
    _exact(console, basic)
    facts = CardFacts.from_basic(basic)
    card_info = f"{facts.card_id}|{facts.card_number}|"
    pay_info = f"35.80|0.00|{scene.when:%Y%m%d%H%M%S}|"
    code, step1 = national.iDoDebit_HSM_Step1(1, card_info, pay_info)
    code, out = national.iDoDebit_HSM_Step2(host.debit(step1, facts))
    _step(console, "3", f"iDoDebit_HSM_Step1/2 (¥35.80) → {code}")
    _exact(console, out)
    mac2 = "right" if host.check_mac2(step1, out, facts) else "WRONG"
    _step(console, "4", f"the card's MAC2 checked by the HSM (S3 §8.3.2): {mac2}")
    settled = "right" if host.check_tac(out, facts, mac2_first=True) else "WRONG"
    _step(console, "5", f"settlement check of the TAC (S3 App. C.7): {settled}")
    code, records = national.iReadDebitRecord(1)
    _step(console, "6", f"iReadDebitRecord → {code}")
    _exact(console, records)
    return facts


def _loss_and_replacement(
    scene: _Scene, hospital: Terminal, facts: CardFacts, *, trace: bool
) -> None:
    """The card is reported lost, refused, blocked, and a replacement is issued."""
    console, hotlist = scene.console, scene.hotlist
    console.print("\n[bold]Loss reporting[/bold] (挂失 and 补卡)")
    hotlist.report(facts.card_number, facts.card_id, "持卡人电话挂失")
    _step(console, "1", f"card {facts.card_number} reported lost")
    pharmacy = NationalInterface(Terminal(scene.card, hotlist=hotlist, pinpad=scene.pad()))
    code, out = pharmacy.iReadCardBas_HSM_Step1(1)
    _step(console, "2", f"the pharmacy refuses it: iReadCardBas_HSM_Step1 → {code} {out}")
    try:
        with hospital.session():
            pass
    except HotlistedCardError as exc:
        _step(console, "3", f"so does the hospital: [red]{exc}[/red]")
    _block_lost_card(console, scene.card, scene.psam, hotlist, trace=trace)
    new_id = CardId(DEMO_CARD_ID.region, bytes.fromhex("00000002"), bytes.fromhex("FFFFFFFF"))
    new_number = make_card_number("A0000002")
    replacement = _issue_card(new_id, new_number, scene.generation)
    hotlist.replace(facts.card_number, facts.card_id, new_number, new_id.hex)
    save_image(replacement, scene.workdir / REPLACEMENT)
    fresh = Terminal(replacement, psam_reader=scene.psam, hotlist=hotlist)
    code, out = NationalInterface(fresh).iReadCardBas(1)
    _step(console, "6", f"replacement card {new_number} issued (补卡): iReadCardBas → {code}")
    _exact(console, out)
    listed = ", ".join(f"{e.card_number} ({e.kind.value})" for e in hotlist.entries())
    _step(console, "7", f"hotlist now: {listed}")


def _block_lost_card(
    console: Console, card: SimulatedCard, psam: SimulatedCard, hotlist: Hotlist, *, trace: bool
) -> None:
    """A terminal with the blocking policy blocks the lost card's SSSE; then SELECT: 9303."""
    policy = CardPolicy(block_hotlisted="SSSE")
    blocker = Terminal(card, psam_reader=psam, hotlist=hotlist, policy=policy)
    try:
        with blocker.session():
            pass
    except HotlistedCardError as exc:
        _step(
            console,
            "4",
            f"a hospital terminal set to block hotlisted cards (block_hotlisted='SSSE'): "
            f"[red]{exc.action}[/red], then refused — APPLICATION BLOCK after BK external "
            f"authentication, MAC of STKSSSE from the PSAM" + (":" if trace else ""),
        )
    blocked = [e for e in blocker.trace.entries if e.device == "card"][3:] if trace else []
    for entry in blocked:
        for line in entry.lines():
            console.print(f"      {line}", style="dim", soft_wrap=True, markup=False)
    anywhere = Terminal(card, psam_reader=psam)  # no hotlist: the card refuses by itself
    try:
        with anywhere.session():
            pass
    except ApplicationBlockedError as exc:
        _step(console, "5", f"in any reader, even one without the hotlist: [red]{exc}[/red]")
    code, out = NationalInterface(anywhere).iReadCardBas(1)
    _exact(console, f"iReadCardBas → {code} {out}")


def _medical_table(values: tuple[str, ...]) -> Table:
    table = Table(title="医疗保险基本信息 (DF04 EF05)", show_header=False)
    table.add_column("item", style="bold")
    table.add_column("value")
    names = ["险种类型及标识", "参保地", "参保人员类别", "个人账号", "定点医疗机构 1", "用卡方式"]
    for name, value in zip(names, values, strict=True):
        table.add_row(name, value)
    return table
