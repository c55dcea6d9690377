"""Sphinx extension: the docs' pictures, drawn at build time from the code.

On ``builder-inited`` it writes ``docs/_pictures/*.dot``: the national file tree from its
declaration (:func:`sbkcard.applet_model.drawing.tree_dot`) and the sequence diagrams of
the main flows (:func:`sbkcard.applet_model.traces.diagram.sequence_dot`), each flow run
in-process on simulated cards with the terminal's own (masked) trace.  The pages include
them with the ``graphviz`` directive, so the pictures cannot drift from the code.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sbkcard.apdu.trace import Tracer
from sbkcard.applet_model.drawing import tree_dot
from sbkcard.applet_model.psam import psam_atr, psam_content
from sbkcard.applet_model.ssse import Layout, national_tree
from sbkcard.applet_model.traces import read_trace
from sbkcard.applet_model.traces.diagram import sequence_dot
from sbkcard.applet_model.user_card import PROFILES
from sbkcard.applet_model.user_card import personalise as perso
from sbkcard.keys import Algorithm
from sbkcard.keys.hierarchy import demo_keyset, derive_card_keys
from sbkcard.simulator import SimulatedCard
from sbkcard.terminal import SoftwareKeyService, read_basic_info
from sbkcard.terminal.national.interface import NationalInterface
from sbkcard.terminal.operations import purse
from sbkcard.terminal.operations.pinpad import CallbackPinPad
from sbkcard.terminal.security.hsm_host import HsmHost
from sbkcard.terminal.terminal import Terminal

PROFILE = PROFILES[3]
TERMINAL_NUMBER = "410100000001"


def _card() -> SimulatedCard:
    atr = perso.card_atr(PROFILE, perso.DEMO_CARD_ID)
    return SimulatedCard.create("user-card", perso.demo_card_content(PROFILE), atr, profile=3)


def _terminal(psam: bool) -> Terminal:
    sam = None
    if psam:
        content = psam_content(level=3, terminal_number=TERMINAL_NUMBER)
        sam = SimulatedCard.create("psam", content, psam_atr(TERMINAL_NUMBER))
    pad = CallbackPinPad(lambda _prompt: perso.DEMO_PIN)
    return Terminal(_card(), psam_reader=sam, pinpad=pad)


def basic_read() -> str:
    """iReadCardBas through a PSAM: internal and external authentication, EF05, EF06."""
    counter = _terminal(psam=True)
    with counter.session() as conn:
        read_basic_info(conn, authenticate=True)
    return counter.trace.text()


def hsm_two_step() -> str:
    """iReadCardBas_HSM_Step1/Step2 without a PSAM; the HSM host answers in between."""
    counter = _terminal(psam=False)
    national = NationalInterface(counter)
    _, step1 = national.iReadCardBas_HSM_Step1(1)
    national.iReadCardBas_HSM_Step2(HsmHost(SoftwareKeyService()).read_card_bas(step1))
    return counter.trace.text()


def purchase() -> str:
    """A load of 100 元 from the host, then a purchase of 1.50 元 with the PSAM's MAC1."""
    counter = _terminal(psam=True)
    with counter.session() as conn:
        purse.load(conn, 10000, SoftwareKeyService())
        purse.purchase(conn, account=1234, self_paid=100, pooled=50)
    return counter.trace.text()


def personalisation() -> str:
    """A blank 3rd-generation card personalised with the demo cardholder and keys."""
    atr = perso.card_atr(PROFILE, perso.DEMO_CARD_ID)
    transport = perso.demo_transport_key(PROFILE.algorithm)
    content = perso.blank_card_content(transport, atr=atr, algorithm=PROFILE.algorithm)
    blank = SimulatedCard.create("user-card", content, atr, profile=3)
    blank.power_on()
    tracer = Tracer(blank.transmit)
    keys = derive_card_keys(demo_keyset(PROFILE.algorithm), perso.DEMO_CARD_ID.region, atr)
    holder, card_id, number = perso.DEMO_CARDHOLDER, perso.DEMO_CARD_ID, perso.DEMO_CARD_NUMBER
    issued, expiry = perso.DEMO_ISSUE_DATE, perso.DEMO_EXPIRY
    perso.personalise(
        tracer,
        transport,
        PROFILE,
        holder,
        keys,
        card_id=card_id,
        card_number=number,
        issue_date=issued,
        expiry=expiry,
        files=perso.DEMO_FILES,
    )
    return tracer.text()


FLOWS: dict[str, Callable[[], str]] = {
    "basic-read": basic_read,
    "hsm-two-step": hsm_two_step,
    "purchase": purchase,
    "personalisation": personalisation,
}


def write_pictures(directory: Path) -> None:
    """Write ``tree.dot`` and one ``<flow>.dot`` per flow into ``directory``."""
    directory.mkdir(exist_ok=True)
    pictures = {"tree": tree_dot(national_tree(Layout.V3, Algorithm.SM4))}
    for name, flow in FLOWS.items():
        pictures[name] = sequence_dot(read_trace(flow()), title=name, collapse=True)
    for name, text in pictures.items():
        path = directory / f"{name}.dot"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


def setup(app: Any) -> dict[str, Any]:
    """Register the hook that draws the pictures before the pages are read."""
    app.connect("builder-inited", lambda app: write_pictures(Path(app.srcdir) / "_pictures"))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
