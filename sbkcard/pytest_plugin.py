"""pytest fixtures for testing your own code against simulated social security cards.

Installed with sbkcard and registered as the ``pytest11`` plugin ``sbkcard``: in any
project that has sbkcard installed, a test asks for a card by naming a fixture as an
argument (tutorial: ``docs/guide/70-pcsc-and-pytest.rst``).  The cards carry the
documented demo data and the **published test keys** (never real keys).

In-process:

* ``sbk_card`` — a personalised user card (:class:`~sbkcard.simulator.SimulatedCard`),
  3rd generation by default: the card ``sbkcard card new --profile 3`` makes, with its
  certificate application (a signing key pair made on the card, the certificates of the
  demo CA; user PIN the demo PIN, administrator PIN ``12345678``).  Parametrize it
  indirectly with a profile (``2`` or ``3``) or a dict ``{"profile": 2, "applicant":
  {...}, "pin": "123456"}`` where the applicant is an
  :class:`~sbkcard.issuance.applicants.Applicant` or its raw record (the fields of an
  applicant file, validated the same way).
* ``sbk_card_2``, ``sbk_card_3`` — the demo card of that generation.
* ``sbk_card_factory`` — :func:`make_card` itself, for several cards in one test.
* ``sbk_psam`` — a PSAM holding the national roots of both demo key sets (it serves
  cards of both generations, any region).
* ``sbk_terminal`` — a :class:`~sbkcard.terminal.terminal.Terminal` with ``sbk_card`` in
  its card slot and ``sbk_psam`` in its PSAM slot; its PIN pad answers the demo PIN.

Through PC/SC (pcscd and vsmartcard-vpcd installed; the fixtures start a private pcscd):

* ``sbk_pcsc_reader`` — ``sbk_card`` in reader ``Virtual PCD 00 00`` and ``sbk_psam`` in
  ``Virtual PCD 00 01``, as a :class:`PcscReader` (names, the cards, removal and
  insertion).  Any PC/SC client of the test process and its subprocesses sees them.
* ``sbk_pcscd`` (session) — the running :class:`~sbkcard.simulator.pcscd.PcscdStack`.
* ``sbk_pcsc_required`` (session, ``False``) — override it in a ``conftest.py`` to return
  ``True`` and a missing PC/SC stack fails the tests that need it instead of skipping them.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sbkcard.issuance.applicants import Applicant
from sbkcard.simulator.card import SimulatedCard
from sbkcard.simulator.pcscd import PcscdStack
from sbkcard.simulator.vpcd import VpcdSlot

if TYPE_CHECKING:  # imported when used: pyscard is optional, the terminal is heavy
    from sbkcard.terminal.terminal import Terminal
    from sbkcard.terminal.transports.pcsc import PcscTransport

__all__ = ["DEMO_PIN", "PSAM_TERMINAL_NUMBER", "PcscReader", "make_card", "make_psam"]

PSAM_TERMINAL_NUMBER = "410100000001"
"""The terminal number (file 0016) of the PSAM of ``sbk_psam``."""
DEMO_PIN = "123456"
"""The PIN of the cards made here: the user card's ``DEMO_PIN`` (kept equal by a test;
not imported, so that loading the plugin imports no applet model)."""


def pytest_configure(config: pytest.Config) -> None:
    """Register the plugin's marker."""
    config.addinivalue_line(
        "markers", "pcsc: needs pcscd + vpcd (started by the sbk_pcscd fixture)"
    )


# -- cards ------------------------------------------------------------------------------


def make_card(
    profile: int = 3,
    applicant: Applicant | Mapping[str, object] | None = None,
    *,
    pin: str | None = DEMO_PIN,
) -> SimulatedCard:
    """A personalised user card of ``profile`` (1: DES "1.00", 2: DES "2.00", 3: SM4 "3.00").

    Without ``applicant`` it is the demo card (张三, card number ``A00000011``).  With
    one, the card carries the applicant's EF06 items (and DF04 EF05 items, if given);
    its serial and card number are derived from the SSN, so the same applicant always
    gets the same card.  Keys: the published demo key set of the profile's algorithm.
    A profile 3 card is a third-generation card as ``sbkcard card new --profile 3`` makes
    it: the certificate application personalised by the demo CA (its key pair drawn
    from a source seeded by the ATR, so the same card every time), its user PIN ``pin``
    (the demo PIN when ``pin`` is ``None``, a card whose SSSE has no PIN).
    """
    from sbkcard.applet_model.records import Cardholder, FileContent, MedicalInsurance
    from sbkcard.applet_model.user_card import PROFILES
    from sbkcard.applet_model.user_card.personalise import (
        DEMO_CARD_NUMBER,
        DEMO_CARDHOLDER,
        DEMO_EXPIRY,
        DEMO_ISSUE_DATE,
        card_atr,
        demo_card_content,
        user_card_content,
    )
    from sbkcard.identifiers import CardId, make_card_number
    from sbkcard.issuance.applicants import validate_applicant
    from sbkcard.keys import sm3
    from sbkcard.keys.hierarchy import demo_keyset, derive_card_keys

    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, not {profile!r}")
    spec = PROFILES[profile]
    if applicant is None:
        if profile < 3:
            from sbkcard.simulator.demo import demo_card

            return demo_card(profile, pin=pin)
        content = demo_card_content(spec, pin=pin)
        subject = f"{DEMO_CARDHOLDER.name} {DEMO_CARD_NUMBER}"
        return _third_generation(content, content["cos:atr"], subject, pin)
    person = applicant if isinstance(applicant, Applicant) else validate_applicant(applicant, 1)
    serial = sm3(person.ssn.encode())[:4]
    card_id = CardId(person.region, serial, b"\xff\xff\xff\xff")
    card_number = make_card_number(f"A{int.from_bytes(serial) % 10_000_000:07d}")
    atr = card_atr(spec, card_id)
    holder = Cardholder(
        ssn=person.ssn,
        name=person.name,
        gender=person.gender,
        ethnicity=person.ethnicity,
        birthplace=person.birthplace,
        birth_date=person.birth_date,
    )
    files: dict[str, FileContent] = {}
    if person.medical is not None:
        files["SSSE/DF04/EF05"] = MedicalInsurance(
            scheme=person.medical.insurance_type,
            region=person.medical.insured_region,
            category=person.medical.personnel_category,
        )
    content = user_card_content(
        spec,
        holder,
        derive_card_keys(demo_keyset(spec.algorithm), person.region, atr),
        card_id=card_id,
        card_number=card_number,
        issue_date=DEMO_ISSUE_DATE,
        expiry=DEMO_EXPIRY,
        atr=atr,
        pin=pin,
        files=files,
    )
    if profile < 3:
        return SimulatedCard.create("user-card", content, atr, profile=profile)
    return _third_generation(content, atr, f"{person.name} {card_number}", pin)


@functools.lru_cache(maxsize=32)
def _issued(
    content: tuple[tuple[str, bytes], ...], atr: bytes, subject: str, pin: str
) -> tuple[tuple[str, bytes], ...]:
    """The storage of the third-generation card issued from ``content``: issuing is SM2
    work, done once per process for each card; each call then gets a card of its own."""
    from sbkcard.issuance.certificates import third_generation_card

    card, _ = third_generation_card(dict(content), atr, subject, user_pin=pin)
    return tuple(card.snapshot().storage.items())


def _third_generation(
    content: Mapping[str, bytes], atr: bytes, subject: str, pin: str | None
) -> SimulatedCard:
    storage = _issued(tuple(sorted(content.items())), atr, subject, pin or DEMO_PIN)
    return SimulatedCard.create("user-card-3", dict(storage), atr, profile=3)


def make_psam(level: int = 3, terminal_number: str = PSAM_TERMINAL_NUMBER) -> SimulatedCard:
    """A PSAM with the demo key sets (DES and SM4) held at ``level`` (3: national roots)."""
    from sbkcard.simulator.demo import demo_psam

    return demo_psam(level, terminal_number)


def _card_from_param(param: object) -> SimulatedCard:
    if isinstance(param, int):
        return make_card(param)
    if isinstance(param, Mapping):
        unknown = sorted(set(param) - {"profile", "applicant", "pin"})
        if unknown:
            raise ValueError(f"sbk_card parameter: unknown key(s) {', '.join(unknown)}")
        return make_card(
            int(param.get("profile", 3)),
            param.get("applicant"),
            pin=param.get("pin", DEMO_PIN),
        )
    raise TypeError(f"sbk_card parameter must be a profile (1, 2, 3) or a dict, not {param!r}")


@pytest.fixture
def sbk_card_factory() -> Callable[..., SimulatedCard]:
    """:func:`make_card`: ``sbk_card_factory(2)``, ``sbk_card_factory(3, applicant)``."""
    return make_card


@pytest.fixture
def sbk_card(request: pytest.FixtureRequest) -> SimulatedCard:
    """A user card: profile 3 unless parametrized (indirectly) with a profile or a dict."""
    return _card_from_param(getattr(request, "param", 3))


@pytest.fixture
def sbk_card_2() -> SimulatedCard:
    """The 2nd-generation demo card (DES, "2.00")."""
    return make_card(2)


@pytest.fixture
def sbk_card_3() -> SimulatedCard:
    """The 3rd-generation demo card (SM4, "3.00")."""
    return make_card(3)


@pytest.fixture
def sbk_psam() -> SimulatedCard:
    """A demo PSAM with national roots of both key sets, terminal ``410100000001``."""
    return make_psam()


@pytest.fixture
def sbk_terminal(sbk_card: SimulatedCard, sbk_psam: SimulatedCard) -> Terminal:
    """A terminal with ``sbk_card`` and ``sbk_psam`` in its slots, in-process."""
    from sbkcard.terminal.operations.pinpad import CallbackPinPad
    from sbkcard.terminal.terminal import Terminal

    return Terminal(
        card_reader=sbk_card,
        psam_reader=sbk_psam,
        pinpad=CallbackPinPad(lambda prompt: DEMO_PIN),
    )


# -- PC/SC ------------------------------------------------------------------------------


class _ProcessStack:
    """One private pcscd per process, shared by nested sessions (libpcsclite reads its
    socket path once per process, so every stack of a process uses the same workdir)."""

    def __init__(self) -> None:
        self.stack: PcscdStack | None = None
        self.users = 0

    def acquire(self) -> PcscdStack:
        if self.stack is None:
            workdir = Path(tempfile.gettempdir()) / f"sbkcard-pcscd-{os.getpid()}"
            self.stack = PcscdStack(workdir)
        stack = self.stack
        stack.activate()
        if not stack.running:
            stack.start()
        self.users += 1
        return stack

    def release(self) -> None:
        self.users -= 1
        if self.users == 0 and self.stack is not None:
            self.stack.stop()
            shutil.rmtree(self.stack.workdir, ignore_errors=True)
            self.stack = None


_process_stack = _ProcessStack()


@pytest.fixture(scope="session")
def sbk_pcsc_required() -> bool:
    """Whether a missing PC/SC stack fails the tests that need it (else they skip)."""
    return False


@pytest.fixture(scope="session")
def sbk_pcscd(sbk_pcsc_required: bool) -> Iterator[PcscdStack]:
    """A private pcscd with two vpcd slots (``Virtual PCD 00 00`` and ``… 00 01``)."""
    from sbkcard.simulator.pcscd import PcscdStackError

    try:
        stack = _process_stack.acquire()
    except PcscdStackError as exc:
        if sbk_pcsc_required:
            pytest.fail(f"the PC/SC stack is required here: {exc}", pytrace=False)
        pytest.skip(f"no PC/SC stack: {exc}")
    try:
        yield stack
    finally:
        _process_stack.release()


@dataclass
class PcscReader:
    """A simulated card and PSAM in the two PC/SC readers of a private pcscd."""

    name: str
    """The card's reader (``Virtual PCD 00 00``)."""
    psam_name: str
    """The PSAM's reader (``Virtual PCD 00 01``)."""
    card: SimulatedCard
    psam: SimulatedCard
    slot: VpcdSlot
    psam_slot: VpcdSlot
    stack: PcscdStack

    @property
    def env(self) -> dict[str, str]:
        """Environment a PC/SC client process needs to see these readers."""
        return dict(self.stack.env)

    def remove(self) -> None:
        """Take the card out, and wait until pcscd has seen it go."""
        self.slot.remove()
        self.stack.wait_for_removal(0)

    def insert(self) -> None:
        """Put the card back, and wait until pcscd has seen it."""
        self.slot.insert()
        self.stack.wait_for_card(0)

    def transport(self) -> PcscTransport:
        """An sbkcard transport to the card's reader."""
        from sbkcard.terminal.transports.pcsc import PcscTransport

        return PcscTransport(self.name)

    def psam_transport(self) -> PcscTransport:
        """An sbkcard transport to the PSAM's reader."""
        from sbkcard.terminal.transports.pcsc import PcscTransport

        return PcscTransport(self.psam_name)


@pytest.fixture
def sbk_pcsc_reader(
    sbk_pcscd: PcscdStack, sbk_card: SimulatedCard, sbk_psam: SimulatedCard
) -> Iterator[PcscReader]:
    """``sbk_card`` and ``sbk_psam`` in PC/SC readers, served from this process."""
    slots = [
        VpcdSlot(sbk_card, port=sbk_pcscd.slot_port(0)),
        VpcdSlot(sbk_psam, port=sbk_pcscd.slot_port(1)),
    ]
    for slot in slots:
        slot.start()
    try:
        for number in (0, 1):
            sbk_pcscd.wait_for_card(number)
        yield PcscReader(
            sbk_pcscd.reader_name(0),
            sbk_pcscd.reader_name(1),
            sbk_card,
            sbk_psam,
            slots[0],
            slots[1],
            sbk_pcscd,
        )
    finally:
        for slot in slots:
            slot.stop()
        if sbk_pcscd.running:
            # The next test's cards must not reach vpcd before pcscd saw these go.
            for number in (0, 1):
                sbk_pcscd.wait_for_removal(number)
