"""Per-APDU round trip through pyscard → pcscd → vpcd → the simulated card.

The peer is an echo card (``sbkcard sim --vpcd --echo``) in the other slot of the same
pcscd: the same bridge, the same framing and the same kind of process, and no card
logic; so the ratio is what the card itself adds to a round trip.  Both cards run as
``sbkcard sim`` subprocesses; the client is pyscard's raw ``SCardTransmit``; samples of
the two are taken in alternating rounds.  Target: our median within 1.5× the echo's.

Starts and stops its own private pcscd (:class:`~sbkcard.simulator.pcscd.PcscdStack`).
"""

from __future__ import annotations

import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.harness import Row
from sbkcard.simulator.pcscd import PcscdStack, bound_to_caller

SSSE_AID = bytes.fromhex("7378312E73682EC9E7BBE1B1A3D5CF")
SELECT_SSSE = bytes.fromhex("00A404000F") + SSSE_AID
READ_EF05_CARD_NUMBER = bytes.fromhex("00B2072C0B")
"""READ RECORD of EF05 tag 07 (card number) by SFI 5, Le = 2 + 9 (Part 5 §6.10; S2 table 9)."""

ROUNDS = 15
PER_ROUND = 200


def _make_card(directory: Path) -> Path:
    """The 3rd-generation demo card's image (published test keys)."""
    from sbkcard.applet_model.user_card import THIRD_GENERATION
    from sbkcard.applet_model.user_card.personalise import (
        DEMO_CARD_ID,
        card_atr,
        demo_card_content,
    )
    from sbkcard.simulator import SimulatedCard, save_image

    image = directory / "card.json"
    atr = card_atr(THIRD_GENERATION, DEMO_CARD_ID)
    card = SimulatedCard.create("user-card", demo_card_content(THIRD_GENERATION), atr, profile=3)
    save_image(card, image)
    return image


def _serve(stack: PcscdStack, slot: int, *args: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "sbkcard", "sim", "--vpcd", "--port", str(stack.slot_port(slot))]
    return subprocess.Popen(
        bound_to_caller([*argv, *args]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _connect(scard: Any, ctx: Any, reader: str) -> Callable[[bytes], bytes]:
    rc, card, protocol = scard.SCardConnect(
        ctx, reader, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
    )
    if rc != scard.SCARD_S_SUCCESS:
        raise RuntimeError(f"connect to {reader}: {scard.SCardGetErrorMessage(rc)}")

    def transmit(apdu: bytes) -> bytes:
        rc, response = scard.SCardTransmit(card, protocol, list(apdu))
        if rc != scard.SCARD_S_SUCCESS:
            raise RuntimeError(f"transmit to {reader}: {scard.SCardGetErrorMessage(rc)}")
        return bytes(response)

    return transmit


def _samples(transmit: Callable[[bytes], bytes], apdu: bytes, count: int) -> list[float]:
    out = []
    clock = time.perf_counter
    for _ in range(count):
        start = clock()
        transmit(apdu)
        out.append(clock() - start)
    return out


def _median_pair(
    ours: Callable[[bytes], bytes], echo: Callable[[bytes], bytes], apdu: bytes
) -> tuple[float, float]:
    """Median round trips (µs) of ``apdu`` to our card and to the echo card, interleaved."""
    for transmit in (ours, echo):
        _samples(transmit, apdu, 50)  # warm up
    a: list[float] = []
    b: list[float] = []
    for _ in range(ROUNDS):
        a += _samples(ours, apdu, PER_ROUND)
        b += _samples(echo, apdu, PER_ROUND)
    return statistics.median(a) * 1e6, statistics.median(b) * 1e6


def run() -> list[Row]:
    from smartcard import scard

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="sbkcard-bench-pcsc-") as tmp, PcscdStack() as stack:
        stack.activate()
        image = _make_card(Path(tmp))
        procs = [_serve(stack, 0, "--card", str(image)), _serve(stack, 1, "--echo")]
        try:
            stack.wait_for_card(0)
            stack.wait_for_card(1)
            rc, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            if rc != scard.SCARD_S_SUCCESS:
                raise RuntimeError(f"pcscd: {scard.SCardGetErrorMessage(rc)}")
            ours = _connect(scard, ctx, stack.reader_name(0))
            echo = _connect(scard, ctx, stack.reader_name(1))
            if ours(SELECT_SSSE)[-2:] not in (b"\x90\x00", b"\x61\x1e"):
                raise RuntimeError("the simulated card did not select the SSSE")
            if ours(READ_EF05_CARD_NUMBER)[-2:] != b"\x90\x00":
                raise RuntimeError("the simulated card did not read EF05 tag 07")
            for label, apdu in (
                ("READ RECORD", READ_EF05_CARD_NUMBER),
                ("SELECT SSSE", SELECT_SSSE),
            ):
                mine, peer = _median_pair(ours, echo, apdu)
                rows.append(
                    Row(
                        name=f"PC/SC round trip, {label}",
                        ours=mine,
                        peer=peer,
                        unit="µs",
                        peer_name="echo card",
                        target="≤ 1.5× echo",
                        higher_is_better=False,
                    )
                )
            scard.SCardReleaseContext(ctx)
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(10)
    return rows
