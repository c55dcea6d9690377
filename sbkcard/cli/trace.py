"""``sbkcard trace``: read and replay APDU traces.

::

    sbkcard trace decode FILE [--device {card,psam}] [--json]
    sbkcard trace replay FILE --card IMAGE [--psam IMAGE] [--device {card,psam}]
                         [--fresh-random]
    sbkcard trace diagram FILE [--device {card,psam}] [--svg] [--collapse]

FILE is a trace in the format of :mod:`sbkcard.apdu.trace` (``-``: standard input), as
``sbkcard card send --trace`` prints it, or a terminal's trace whose lines start with
``card`` or ``psam`` (``sbkcard read --trace``); lines without a device went to
``--device`` (default ``card``).

``decode`` annotates every exchange (:mod:`sbkcard.applet_model.traces`): the command,
the DF and EF it addressed, records decoded into data items, the status word, the
secure-messaging layout.  PINs and key data are masked, even in an unmasked trace.

``diagram`` draws the trace as a sequence diagram of the terminal, the card and the PSAM
(Graphviz ``dot`` text; ``--svg`` renders it with Graphviz's ``dot -Tsvg``): each command
an arrow labelled with its name, each answer an arrow back with its status word;
``--collapse`` draws a run of the same command and status word as one arrow.

``replay`` sends the commands again to the simulated card (and PSAM) in the images,
which are not modified, and compares every answer with the recorded one.  The devices
get back the randomness the trace recorded (challenges, the purse's random), so that
MACs and authentications replay exactly; ``--fresh-random`` gives them new random
numbers instead, and then answers that depend on them are reported "differs (random)".
The trace must be unmasked (recorded with ``Tracer(..., mask=False)``) wherever it
carries a PIN or a key.  Exit code 0 when every deterministic answer matches, 1 when one
differs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import cast

from sbkcard.apdu.command import CommandAPDU
from sbkcard.apdu.status import describe
from sbkcard.applet_model.applet import Applet
from sbkcard.applet_model.drawing import render_svg
from sbkcard.applet_model.traces import (
    DEVICES,
    Outcome,
    RecordedRandom,
    TracedExchange,
    Verdict,
    decode_trace,
    decoded_text,
    read_trace,
    replay_trace,
)
from sbkcard.applet_model.traces.diagram import sequence_dot
from sbkcard.cli._common import add_json_argument, command_parser, emit_json, plain_doc
from sbkcard.errors import SbkcardError
from sbkcard.simulator import SimulatedCard, load_image
from sbkcard.simulator.applets import applet_kind


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sbkcard trace``."""
    parser = command_parser(
        subparsers,
        "trace",
        help="decode, replay or draw an APDU trace",
        description=plain_doc(__doc__),
        example=(
            "sbkcard read --card card.json --psam psam.json --trace | sbkcard trace decode -",
            "sbkcard trace decode read.trace --json",
            "sbkcard trace replay session.trace --card card.json --psam psam.json",
            "sbkcard trace diagram read.trace --svg > read.svg",
        ),
    )
    sub = parser.add_subparsers(dest="trace_command", metavar="COMMAND", required=True)

    decode = command_parser(
        sub,
        "decode",
        example=("sbkcard trace decode read.trace", "sbkcard trace decode - --json < read.trace"),
        help="annotate every exchange: files, data items, status words (secrets masked)",
        description="Annotate a trace: command names, the DF/EF selected, records decoded "
        "into data items, status words, secure messaging. PINs and keys are never shown.",
    )
    decode.add_argument("file", metavar="FILE", help="the trace ('-': standard input)")
    _device_option(decode)
    add_json_argument(decode)
    decode.set_defaults(func=_decode)

    replay = command_parser(
        sub,
        "replay",
        example=("sbkcard trace replay session.trace --card card.json --psam psam.json",),
        help="send a trace's commands to simulated cards and compare the answers",
        description="Replay an unmasked trace on the simulated card (and PSAM) of the "
        "images, which are left unchanged, and compare every answer with the recorded "
        "one. Exit code 1 when a deterministic answer differs.",
    )
    replay.add_argument("file", metavar="FILE", help="the trace ('-': standard input)")
    replay.add_argument(
        "--card", type=Path, required=True, metavar="IMAGE", help="image of the 'card' device"
    )
    replay.add_argument("--psam", type=Path, metavar="IMAGE", help="image of the 'psam' device")
    replay.add_argument(
        "--fresh-random",
        action="store_true",
        help="give the devices new random numbers instead of the recorded ones",
    )
    _device_option(replay)
    replay.set_defaults(func=_replay)

    diagram = command_parser(
        sub,
        "diagram",
        example=(
            "sbkcard trace diagram read.trace > read.dot",
            "sbkcard trace diagram read.trace --svg",
        ),
        help="draw a trace as a sequence diagram (Graphviz dot text, or SVG)",
        description="Draw a trace as a sequence diagram of the terminal, the card and the "
        "PSAM: command names and status words only, so no secret is drawn.",
    )
    diagram.add_argument("file", metavar="FILE", help="the trace ('-': standard input)")
    diagram.add_argument("--svg", action="store_true", help="render SVG with Graphviz's dot")
    diagram.add_argument(
        "--collapse",
        action="store_true",
        help="one arrow for a run of the same command with the same status word",
    )
    _device_option(diagram)
    diagram.set_defaults(func=_diagram)


def _device_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device",
        choices=DEVICES,
        default="card",
        help="the device of lines without one (default: card)",
    )


def _read(file: str, device: str) -> list[TracedExchange]:
    if file == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except OSError as exc:
            raise SbkcardError(f"{file}: cannot read ({exc.strerror or exc})") from exc
        except UnicodeDecodeError as exc:
            raise SbkcardError(f"{file}: not UTF-8 text ({exc.reason})") from exc
    return read_trace(text, device=device)


def _decode(args: argparse.Namespace) -> int:
    decoded = decode_trace(_read(args.file, args.device))
    if args.json:
        emit_json(decoded)
    else:
        print(decoded_text(decoded), end="")
    return 0


def _diagram(args: argparse.Namespace) -> int:
    name = "trace" if args.file == "-" else Path(args.file).name
    text = sequence_dot(_read(args.file, args.device), title=name, collapse=args.collapse)
    if args.svg:
        text = render_svg(text)
    print(text, end="")
    return 0


def _load(path: Path, random: RecordedRandom | None) -> SimulatedCard:
    """The device in ``path``, its applet drawing from ``random`` when given."""
    card = load_image(path)
    if random is None:
        return card
    try:
        applet = cast(Applet, applet_kind(card.kind).applet_class()(card.nvm, random=random))
    except TypeError:
        raise SbkcardError(
            f"{path}: applet kind {card.kind!r} takes no random source; use --fresh-random"
        ) from None
    return SimulatedCard(applet, card.nvm, card.atr, kind=card.kind, profile=card.profile)


def _replay(args: argparse.Namespace) -> int:
    traced = _read(args.file, args.device)
    images = {"card": args.card} | ({"psam": args.psam} if args.psam is not None else {})
    randoms = {name: RecordedRandom() for name in images} if not args.fresh_random else {}
    devices = {name: _load(path, randoms.get(name)) for name, path in images.items()}
    for device in devices.values():
        device.power_on()
    try:
        outcomes = replay_trace(
            traced, {name: d.transmit for name, d in devices.items()}, randoms=randoms
        )
    finally:
        for device in devices.values():
            device.power_off()
    names = [decoded.name for decoded in decode_trace(traced)]
    for outcome, name in zip(outcomes, names, strict=True):
        for line in _lines(outcome, name):
            print(line)
    counts = {verdict: 0 for verdict in Verdict}
    for outcome in outcomes:
        counts[outcome.verdict] += 1
    summary = ", ".join(f"{n} {v.value}" for v, n in counts.items() if n)
    source = "fresh random numbers" if args.fresh_random else "the recorded randomness"
    print(f"{len(outcomes)} exchanges replayed with {source}: {summary or 'none'}")
    return 1 if counts[Verdict.DIFFERS] else 0


def _shown(raw: bytes, ins: int | None) -> str:
    """An answer as ``data SW`` in hex, with the meaning of the SW."""
    if len(raw) < 2:
        return f"raw={raw.hex().upper()}"
    data = f"{raw[:-2].hex().upper()} " if len(raw) > 2 else ""
    info = describe(int.from_bytes(raw[-2:], "big"), ins)
    return f"{data}{info.hex}  {info.en} ({info.zh})"


def _lines(outcome: Outcome, name: str) -> list[str]:
    ex = outcome.traced.exchange
    verdict = outcome.verdict.value
    if outcome.verdict is Verdict.RANDOM:
        verdict = f"differs (random: {outcome.reason})"
    head = (
        f"#{outcome.number:<3} {outcome.traced.device:<4} line {outcome.traced.line:<4} "
        f"{name:<26} {verdict}"
    )
    if outcome.verdict in (Verdict.MATCH, Verdict.NOT_RECORDED) or ex.response is None:
        return [head]
    ins = ex.command.ins if isinstance(ex.command, CommandAPDU) else None
    return [
        head,
        f"      recorded << {_shown(bytes(ex.response), ins)}",
        f"      replayed << {_shown(outcome.actual, ins)}",
    ]
