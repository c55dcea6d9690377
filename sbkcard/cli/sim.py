"""``sbkcard sim``: simulated cards in PC/SC readers, through vpcd (PCSC.md).

::

    sbkcard sim --vpcd --card card.json [--psam psam.json] [--host 127.0.0.1]
                [--port 35963] [--psam-port 35964] [--eject-after N]
                [--contactless-port PORT]
    sbkcard sim --vpcd --echo [--port 35963]

Each image is served in its own vpcd slot (one TCP connection per slot): the card on
``--port`` (vpcd's slot 0, reader ``Virtual PCD 00 00``), the PSAM on ``--psam-port``
(slot 1, ``Virtual PCD 00 01``).  pcscd must be running with the vpcd driver; the cards
connect whenever vpcd listens and reconnect after pcscd restarts.

Signals (the process runs in the foreground until told to stop):

* ``SIGTERM`` / ``SIGINT`` (Ctrl-C): disconnect, write each card's state back to its
  image, exit 0;
* ``SIGUSR1``: take the card out of the reader, or put it back (a toggle);
* ``SIGUSR2``: the same for the PSAM.

``--eject-after N`` takes the card out after it has answered N command APDUs (it stays
out until ``SIGUSR1``).  ``--echo`` serves a card without logic that answers each
command with itself ‖ 9000: the floor of the bridge's round trip, for benchmarks and
for checking a PC/SC installation.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from sbkcard.simulator import SimulatedCard, load_image, save_image
from sbkcard.simulator.contactless import ContactlessInterface
from sbkcard.simulator.vpcd import DEFAULT_HOST, DEFAULT_PORT, Card, EchoCard, VpcdSlot


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
        description=__doc__.split("::")[0].strip() if __doc__ else None,
        epilog="SIGTERM/Ctrl-C saves the images and exits 0; SIGUSR1 removes or re-inserts "
        "the card, SIGUSR2 the PSAM.",
    )
    parser.add_argument(
        "--vpcd", action="store_true", required=True, help="connect to vpcd (pcscd's driver)"
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--card", type=Path, metavar="IMAGE", help="the card image to serve")
    what.add_argument("--echo", action="store_true", help="serve a card without logic")
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
        "--contactless-port",
        type=int,
        metavar="PORT",
        help="also serve the card's contactless interface (its ATS's pseudo-ATR) on this "
        "vpcd port: the same chip in a second reader; use one reader at a time",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log insertions and removals")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or SIGINT, then save the images; exit code 0."""
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="sbkcard sim: %(message)s",
    )
    if args.eject_after is not None and args.eject_after < 1:
        print("sbkcard sim: --eject-after must be at least 1", file=sys.stderr)
        return 2
    served: list[_Served] = []
    if args.echo:
        card: Card = EchoCard()
        image = None
    else:
        card, image = load_image(args.card), args.card
    served.append(
        _Served(
            "card",
            card,
            VpcdSlot(card, host=args.host, port=args.port, eject_after=args.eject_after),
            image,
        )
    )
    if args.psam is not None:
        psam: SimulatedCard = load_image(args.psam)
        port = args.psam_port if args.psam_port is not None else args.port + 1
        served.append(_Served("PSAM", psam, VpcdSlot(psam, host=args.host, port=port), args.psam))

    if args.contactless_port is not None:
        if not isinstance(card, SimulatedCard):
            print("sbkcard sim: --contactless-port needs --card", file=sys.stderr)
            return 2
        field = ContactlessInterface(card)
        slot = VpcdSlot(field, host=args.host, port=args.contactless_port)
        served.append(_Served("contactless", field, slot, None))

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

    for item in served:
        item.slot.start()
        print(
            f"sbkcard sim: {item.role} (ATR {item.card.atr.hex().upper()}) on vpcd "
            f"{item.slot.host}:{item.slot.port}, pid {os.getpid()}",
            file=sys.stderr,
            flush=True,
        )
    try:
        while not stop.wait(1.0):
            pass
    finally:
        for item in served:
            item.slot.stop()
    for item in served:
        if item.image is not None and isinstance(item.card, SimulatedCard):
            save_image(item.card, item.image)
            print(f"sbkcard sim: {item.role} saved to {item.image}", file=sys.stderr, flush=True)
    return 0
