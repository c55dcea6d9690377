"""``sbkcard sim``: simulated cards in PC/SC readers, through vpcd.

::

    sbkcard sim --vpcd --card card.json [--psam psam.json] [--host 127.0.0.1]
                [--port 35963] [--psam-port 35964] [--eject-after N]
                [--connect-timeout 30] [--ready-file PATH] [--contactless-port PORT]
    sbkcard sim --vpcd --echo [--port 35963]
    sbkcard sim --vpcd --blank-stock N --out-dir DIR [--region 410100] [--profile {2,3}]
                [--first-serial N] [--faulty-chip K …] [--port 35963]
                [--keys KEYSTORE --transport-key LABEL [--batch NAME] [--passphrase-file FILE]]

Each image is served in its own vpcd slot (one TCP connection per slot): the card on
``--port`` (vpcd's slot 0, reader ``Virtual PCD 00 00``), the PSAM on ``--psam-port``
(slot 1, ``Virtual PCD 00 01``).  pcscd must be running with the vpcd driver.

Start-up: the process says what it waits for (vpcd on HOST:PORT to take the card), and
once vpcd has taken every card it prints ``ready`` on stdout and writes its pid to
``--ready-file``: scripts wait for either.  What cannot work ends it with one line on
stderr and exit code 1: an unknown host; a server on the port that is not vpcd; the
slot or the image already in use by another ``sim`` (or an image by ``card send``); no
vpcd taking the card within ``--connect-timeout`` seconds (0: wait for ever).  Once
ready, the cards reconnect by themselves after pcscd restarts.

Every command the card commits is on disk before it answers (a journal beside the
image, ``IMAGE.journal``, ``fsync``-ed, folded into the image at exit): a ``kill -9``
or a power cut loses no debit, record or spent PIN try (``--no-fsync``: a kill only, for
speed).  The images are locked while served.

Signals (the process runs in the foreground until told to stop):

* ``SIGTERM`` / ``SIGINT`` (Ctrl-C): disconnect, write each card's state back to its
  image, exit 0;
* ``SIGUSR1``: take the card out of the reader, or put it back (a toggle);
* ``SIGUSR2``: the same for the PSAM.

``--eject-after N`` takes the card out after it has answered N command APDUs (it stays
out until ``SIGUSR1``).  ``--echo`` serves a card without logic that answers each
command with itself ‖ 9000: the floor of the bridge's round trip, for benchmarks and
for checking a PC/SC installation.

``--blank-stock N`` plays a personalisation machine's chip station: N blank chips (COS
activated, the batch's transport key, serials counted from ``--first-serial`` in their
ATRs for ``--region``) go into the reader one after another.  The transport key is the
demo one, or the key ``--transport-key`` names in the store ``--keys``, as ``sbkcard
issue`` takes it (a token's key never leaves it: the batch's key is diversified from it
for ``--batch``, the issuing line's ``--owner``); only its KCV is shown.  The issuing
line ends each card with the machine's eject command ``FF E7 P1 00`` (P1 00 finished, 01
set aside): the chip's image goes to ``DIR/<serial>.json`` (or ``DIR/set-aside/``) and
the next chip goes in.  ``--faulty-chip K`` makes the K-th chip lose power in the middle
of its personalisation.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from sbkcard.applet_model.user_card import PROFILES
from sbkcard.applet_model.user_card.personalise import demo_transport_key
from sbkcard.cli._common import HelpFormatter, UsageError, examples, plain_doc
from sbkcard.cli._terminal import store_secret
from sbkcard.cli.keys import add_passphrase_argument
from sbkcard.errors import SbkcardError
from sbkcard.keys import Algorithm, kcv
from sbkcard.keys.store_keyset import DEMO, is_demo, open_store, transport_key
from sbkcard.keys.zeroize import wiped
from sbkcard.simulator import SimulatedCard, load_image, save_image
from sbkcard.simulator.blank_stock import BlankStock, PersonalisationMachine
from sbkcard.simulator.contactless import ContactlessInterface
from sbkcard.simulator.image_journal import WriteThrough
from sbkcard.simulator.locks import LockedError, image_lock, slot_lock
from sbkcard.simulator.vpcd import DEFAULT_HOST, DEFAULT_PORT, Card, EchoCard, VpcdSlot

_HOLDER = "sbkcard sim"


@dataclass
class _Served:
    """One card in one slot, and the image it came from (``None`` for the echo card)."""

    role: str
    card: Card
    slot: VpcdSlot
    image: Path | None


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sbkcard sim``."""
    parser = subparsers.add_parser(
        "sim",
        help="serve simulated cards to pcscd through vpcd",
        description=plain_doc(__doc__),
        epilog="SIGTERM/Ctrl-C saves the images and exits 0; SIGUSR1 removes or re-inserts "
        "the card, SIGUSR2 the PSAM.\n\n"
        + examples("sbkcard sim --vpcd --card card.json --psam psam.json"),
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--vpcd", action="store_true", required=True, help="connect to vpcd (pcscd's driver)"
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--card", type=Path, metavar="IMAGE", help="the card image to serve")
    what.add_argument("--echo", action="store_true", help="serve a card without logic")
    what.add_argument(
        "--blank-stock",
        type=int,
        metavar="N",
        help="feed N blank chips one after another (a personalisation machine)",
    )
    parser.add_argument("--psam", type=Path, metavar="IMAGE", help="a PSAM image (second slot)")
    parser.add_argument("--host", default=DEFAULT_HOST, help="vpcd's host (%(default)s)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="vpcd's port for the card (%(default)s)"
    )
    parser.add_argument(
        "--psam-port", type=int, metavar="PORT", help="vpcd's port for the PSAM (--port + 1)"
    )
    parser.add_argument(
        "--eject-after", type=int, metavar="N", help="remove the card after N command APDUs"
    )
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="give up (exit 1) if vpcd has not taken the cards by then; 0: wait for ever "
        "(%(default)g)",
    )
    parser.add_argument(
        "--ready-file",
        type=Path,
        metavar="PATH",
        help="write the pid to PATH once vpcd has taken the cards (removed at exit)",
    )
    parser.add_argument(
        "--no-fsync",
        action="store_true",
        help="journal each commit without fsync: safe from a kill of this process, not "
        "from a crash of the machine (microseconds instead of milliseconds per commit)",
    )
    parser.add_argument(
        "--contactless-port",
        type=int,
        metavar="PORT",
        help="also serve the card's contactless interface (its ATS's pseudo-ATR) on this "
        "vpcd port: the same chip in a second reader; use one reader at a time",
    )
    stock = parser.add_argument_group("blank stock (with --blank-stock)")
    stock.add_argument("--out-dir", type=Path, metavar="DIR", help="where ejected chips go")
    stock.add_argument(
        "--region", default="410100", help="region the chips are ordered for (%(default)s)"
    )
    stock.add_argument(
        "--profile", type=int, choices=sorted(PROFILES), default=3, help="card generation (3)"
    )
    stock.add_argument(
        "--first-serial", type=int, default=1, metavar="N", help="the first chip's serial (1)"
    )
    stock.add_argument(
        "--faulty-chip",
        type=int,
        action="append",
        default=[],
        metavar="K",
        help="the K-th chip loses power mid-personalisation (repeatable)",
    )
    stock.add_argument(
        "--keys",
        metavar="KEYSTORE",
        help="where the chips' transport key comes from: 'demo' (the published TEST key; "
        "default), a software key store or pkcs11:token=LABEL[;module=/path.so]",
    )
    stock.add_argument(
        "--transport-key", metavar="LABEL", help="the batch transport key's label in --keys"
    )
    stock.add_argument(
        "--batch",
        metavar="NAME",
        help="with a token: the batch (issue's --owner) its transport key is diversified for",
    )
    add_passphrase_argument(parser)
    parser.add_argument("-v", "--verbose", action="store_true", help="log insertions and removals")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or SIGINT (exit 0), or fail at start with one line (exit 1)."""
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="sbkcard sim: %(message)s",
    )
    if args.eject_after is not None and args.eject_after < 1:
        raise UsageError("--eject-after must be at least 1")
    if args.connect_timeout < 0:
        raise UsageError("--connect-timeout must be 0 (wait for ever) or more")
    stock = _stock(args)
    with contextlib.ExitStack() as resources:
        try:
            served = _prepare(args, resources, stock)
        except LockedError as exc:
            print(f"sbkcard sim: error: {exc}", file=sys.stderr)
            return 1
        return _serve(args, served)


def _stock(args: argparse.Namespace) -> PersonalisationMachine | None:
    """The personalisation machine of ``--blank-stock``, or ``None``."""
    if args.blank_stock is None:
        if any((args.out_dir, args.faulty_chip, args.keys, args.transport_key, args.batch)):
            raise UsageError(
                "--out-dir, --faulty-chip, --keys, --transport-key and --batch go with "
                "--blank-stock"
            )
        return None
    if args.blank_stock < 1:
        raise UsageError("--blank-stock must be at least 1 chip")
    if args.out_dir is None:
        raise UsageError("--blank-stock needs --out-dir DIR for the finished chips")
    if args.out_dir.exists() and not args.out_dir.is_dir():
        raise UsageError(f"--out-dir {args.out_dir}: not a directory")
    if args.psam or args.contactless_port is not None or args.eject_after is not None:
        raise UsageError("--blank-stock takes no --psam, --contactless-port or --eject-after")
    profile = PROFILES[args.profile]
    key = _transport_key(args, profile.algorithm)
    try:
        stock = BlankStock(
            args.blank_stock,
            profile=profile,
            region=args.region,
            transport_key=key,
            first_serial=args.first_serial,
            faulty=frozenset(args.faulty_chip),
        )
    except (ValueError, SbkcardError) as exc:
        raise UsageError(f"--blank-stock: {exc}") from None
    print(
        f"sbkcard sim: {stock.count} blank chips, transport key KCV "
        f"{kcv(stock.transport_key, profile.algorithm).hex().upper()} "
        f"({'the demo key' if is_demo(args.keys or DEMO) else args.transport_key})",
        file=sys.stderr,
        flush=True,
    )
    args.out_dir.mkdir(parents=True, exist_ok=True)
    return PersonalisationMachine(stock, args.out_dir)


def _transport_key(args: argparse.Namespace, algorithm: Algorithm) -> bytes:
    """The stock's transport key (Part 10 §5.1.1), from ``--keys`` and ``--transport-key``."""
    spec = args.keys or DEMO
    if is_demo(spec):
        if args.transport_key or args.batch:
            raise UsageError("--transport-key and --batch need --keys KEYSTORE (not demo)")
        return demo_transport_key(algorithm)
    if not args.transport_key:
        raise UsageError("--transport-key LABEL: name the batch's transport key in the store")
    store = open_store(spec, store_secret(spec, args.passphrase_file, "--keys") or "")
    try:
        info = store.info(args.transport_key)
        if info.algorithm.value != algorithm.name:
            raise UsageError(
                f"--transport-key {args.transport_key}: {info.algorithm.value} key, but "
                f"profile {args.profile} chips take {algorithm.name} transport keys"
            )
        if not info.extractable and not args.batch:
            raise UsageError(
                f"--transport-key {args.transport_key}: the key stays in {store.description}; "
                "give --batch NAME (the issuing line's --owner) to diversify the batch's key"
            )
        with wiped(transport_key(store, args.transport_key, args.batch or "")) as key:
            return bytes(key)
    finally:
        store.close()


def _prepare(
    args: argparse.Namespace,
    resources: contextlib.ExitStack,
    machine: PersonalisationMachine | None = None,
) -> list[_Served]:
    """Lock each slot and image, load the images and journal them: the cards to serve."""
    if machine is not None:
        resources.enter_context(slot_lock(args.host, args.port, _HOLDER))
        slot = VpcdSlot(machine, host=args.host, port=args.port)
        machine.slot = slot
        return [_Served("chip station", machine, slot, None)]
    wanted: list[tuple[str, Path | None, int, int | None]] = [
        ("card", None if args.echo else args.card, args.port, args.eject_after)
    ]
    if args.psam is not None:
        port = args.psam_port if args.psam_port is not None else args.port + 1
        wanted.append(("PSAM", args.psam, port, None))
    served = []
    for role, image, port, eject_after in wanted:
        resources.enter_context(slot_lock(args.host, port, _HOLDER))
        card: Card
        if image is None:
            card = EchoCard()
        else:
            resources.enter_context(image_lock(image, _HOLDER))
            card = load_image(image)
            resources.callback(WriteThrough(card, image, fsync=not args.no_fsync).close)
        slot = VpcdSlot(card, host=args.host, port=port, eject_after=eject_after)
        served.append(_Served(role, card, slot, image))
    if args.contactless_port is not None:
        chip = served[0].card
        if not isinstance(chip, SimulatedCard):
            raise UsageError("--contactless-port needs --card")
        resources.enter_context(slot_lock(args.host, args.contactless_port, _HOLDER))
        field = ContactlessInterface(chip)
        slot = VpcdSlot(field, host=args.host, port=args.contactless_port)
        served.append(_Served("contactless", field, slot, None))
    return served


def _serve(args: argparse.Namespace, served: list[_Served]) -> int:
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    def _toggle(index: int) -> Callable[[int, FrameType | None], None]:
        def handler(signum: int, frame: FrameType | None) -> None:
            if index < len(served):
                present = served[index].slot.toggle()
                print(
                    f"sbkcard sim: {served[index].role} {'inserted' if present else 'removed'}",
                    file=sys.stderr,
                    flush=True,
                )

        return handler

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGUSR1, _toggle(0))
    signal.signal(signal.SIGUSR2, _toggle(1))

    limit = f"--connect-timeout {args.connect_timeout:g} s" if args.connect_timeout else "no limit"
    for item in served:
        item.slot.start()
        print(
            f"sbkcard sim: {item.role} (ATR {item.card.atr.hex().upper()}): waiting for vpcd "
            f"on {item.slot.host}:{item.slot.port} to take it (pcscd with the vpcd driver; "
            f"{limit}), pid {os.getpid()}",
            file=sys.stderr,
            flush=True,
        )
    ready = False
    try:
        failure = _wait_accepted(served, args.connect_timeout, stop)
        if failure is not None:
            print(f"sbkcard sim: error: {failure}", file=sys.stderr, flush=True)
            return 1
        ready = not stop.is_set()
        if ready:
            if args.ready_file is not None:
                args.ready_file.write_text(f"{os.getpid()}\n")
            print("ready", flush=True)
        while not stop.wait(1.0):
            pass
    finally:
        for item in served:
            item.slot.stop()
        if ready and args.ready_file is not None:
            args.ready_file.unlink(missing_ok=True)
        for item in served if ready else ():  # before vpcd took a card, nothing changed
            if item.image is not None and isinstance(item.card, SimulatedCard):
                save_image(item.card, item.image)
                print(
                    f"sbkcard sim: {item.role} saved to {item.image}", file=sys.stderr, flush=True
                )
    return 0


def _wait_accepted(served: list[_Served], timeout: float, stop: threading.Event) -> str | None:
    """Wait until vpcd has taken every card; why it cannot, or ``None`` (also when stopped)."""
    deadline = time.monotonic() + timeout if timeout else None
    for item in served:
        slot = item.slot
        while not slot.wait_accepted(0.1):
            if slot.failure is not None:
                return slot.failure
            if stop.is_set():
                return None
            if deadline is not None and time.monotonic() >= deadline:
                return _not_accepted(slot, timeout)
    return None


def _not_accepted(slot: VpcdSlot, timeout: float) -> str:
    where = f"{slot.host}:{slot.port}"
    if slot.connected:
        return (
            f"connected to {where}, but vpcd did not take the card within {timeout:g} s: its "
            "slot holds another card (a sbkcard sim of another user or machine?), or what "
            "listens there is not vpcd"
        )
    return (
        f"no vpcd on {where} within {timeout:g} s ({slot.last_error or 'not reachable'}): is "
        "pcscd running with the vpcd driver, and is this its port?"
    )
