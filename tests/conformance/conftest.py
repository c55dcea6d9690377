"""The ``target`` fixture: one card under test, cold-reset for each test (see ``__init__``).

A *bench* is a card in its reader for the whole package (one per target, so one pcscd
and one vpcd connection serve every ``pcsc-*`` test); the function-scoped ``target``
powers the bench's card up before each test and, after it, powers it down and puts a
simulated card back to its fresh image if the test changed its persistent state.

A test that applies to some cards only (a 3.00 card's rule, a 16-byte-block algorithm's)
is decorated with :func:`applies`: it is generated for the simulated targets that fit,
and for a real card, whose generation and algorithm are learnt when it is first read,
the ``target`` fixture skips it if they do not fit.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from sbkcard.apdu import ResponseAPDU
from sbkcard.keys.hierarchy import card_key
from sbkcard.pytest_plugin import DEMO_PIN, make_card, make_psam
from sbkcard.simulator import CardSnapshot, SimulatedCard
from sbkcard.simulator.pcscd import PcscdStack
from sbkcard.terminal.connection import Connection
from sbkcard.terminal.terminal import Terminal
from sbkcard.terminal.transports.transport import Transport

from .standard import AID, ALGORITHM, BLOCK_SIZE, pin_data

REAL_READER = "SBKCARD_REAL_READER"
"""The PC/SC reader holding a real card (the full name or a unique part of it)."""
REAL_PSAM_READER = "SBKCARD_REAL_PSAM_READER"
"""The PC/SC reader holding a PSAM able to authenticate to that card (optional)."""
REAL_PIN = "SBKCARD_REAL_PIN"
"""The real card's PIN (optional; used only while the card has two tries or more)."""

_CSOCK = "PCSCLITE_CSOCK_NAME"
_SOCKET_AT_START = os.environ.get(_CSOCK)


def _targets() -> tuple[str, ...]:
    """The targets of this run: the in-process ones always; then either the pcscd ones or,
    with ``SBKCARD_REAL_READER`` set, the real card (one pcscd socket per process)."""
    simulated = ("sim-gen2", "sim-gen3")
    if os.environ.get(REAL_READER):
        return (*simulated, "real")
    return (*simulated, "pcsc-gen2", "pcsc-gen3")


TARGETS = _targets()

_Test = TypeVar("_Test", bound=Callable[..., Any])


def _facts(generation: int, algorithm: int) -> dict[str, int]:
    """What :func:`applies` may ask of a card."""
    return {"generation": generation, "block_size": BLOCK_SIZE[algorithm]}


def _known_facts(target: str) -> dict[str, int] | None:
    """The facts of a simulated target, known before it runs (``None`` for a real card)."""
    _kind, _, generation = target.partition("-gen")
    if not generation:
        return None
    return _facts(int(generation), ALGORITHM[int(generation)])


def applies(reason: str, **facts: int) -> Callable[[_Test], _Test]:
    """Run the decorated test only on cards with these ``facts`` (``generation``,
    ``block_size``); ``reason`` says why not on the others (a real card's skip)."""
    fitting = [
        target
        for target in TARGETS
        if (known := _known_facts(target)) is None
        or all(known[name] == value for name, value in facts.items())
    ]

    def decorate(test: _Test) -> _Test:
        parametrized = pytest.mark.parametrize("bench", fitting, indirect=True, scope="package")
        return pytest.mark.applies(reason, **facts)(parametrized(test))

    return decorate


def pytest_configure(config: pytest.Config) -> None:
    """Register the suite's marker."""
    config.addinivalue_line(
        "markers", "destructive: spends PIN or key tries (never run on a real card)"
    )
    config.addinivalue_line(
        "markers", "applies(reason, **facts): only for cards with these facts (see applies())"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark this suite's ``pcsc-*`` runs ``pcsc``, as the other PC/SC tests are."""
    here = Path(__file__).parent
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or here not in item.path.parents:
            continue
        if str(callspec.params.get("bench", "")).startswith("pcsc-"):
            item.add_marker(pytest.mark.pcsc)


def pytest_report_header(config: pytest.Config) -> str:
    """Say which targets run (shown when this directory is where pytest starts)."""
    absent = "" if "real" in TARGETS else f" (real card: set {REAL_READER}=<reader name>)"
    return f"conformance targets: {', '.join(TARGETS)}{absent}"


@dataclass
class Bench:
    """A card in its reader, kept for the whole package."""

    name: str
    transport: Transport
    generation: int
    """2 or 3: the first digit of the spec version (EF05 tag 03)."""
    algorithm: int
    """The SSSE's algorithm identifier (FCI tag 86, or the S3 §10.1 default)."""
    card: SimulatedCard | None = None
    """The simulated card (``None`` for a real card)."""
    psam: Transport | None = None
    pin: str | None = None
    fresh: CardSnapshot | None = None

    def tidy(self) -> None:
        """Power down; a simulated card whose NVM a test changed goes back to its image."""
        self.transport.power_off()
        card, fresh = self.card, self.fresh
        if card is None or fresh is None:
            return
        if dict(card.snapshot().storage) != dict(fresh.storage):
            card.restore(fresh)


@dataclass
class Target:
    """The card under test in one test: raw APDUs in, data ‖ SW out (no T=0 help)."""

    bench: Bench
    atr: bytes
    """The ATR of this test's cold reset."""

    @property
    def generation(self) -> int:
        return self.bench.generation

    @property
    def algorithm(self) -> int:
        return self.bench.algorithm

    @property
    def simulated(self) -> bool:
        """Whether the card is one of ours (its content is the documented demo card)."""
        return self.bench.card is not None

    @property
    def transport(self) -> Transport:
        return self.bench.transport

    def send(self, apdu: bytes | str) -> ResponseAPDU:
        """One APDU as it is (hex allowed, spaces ignored); the card's answer."""
        raw = bytes.fromhex(apdu) if isinstance(apdu, str) else apdu
        return ResponseAPDU.from_bytes(self.transport.transmit(raw))

    def sw(self, apdu: bytes | str) -> str:
        """The status word of ``apdu``'s answer, as four hex digits (for assertions)."""
        return f"{self.send(apdu).sw:04X}"

    def ok(self, apdu: bytes | str) -> bytes:
        """Send ``apdu``; its data, after checking the answer is ``9000``."""
        response = self.send(apdu)
        assert f"{response.sw:04X}" == "9000", f"{apdu!r} answered {response.sw:04X}"
        return response.data

    def read(self, apdu: bytes | str) -> bytes:
        """A case-2 command sent with Le ``00``, then again with the Le its ``6Cxx`` gave."""
        raw = bytes.fromhex(apdu) if isinstance(apdu, str) else apdu
        first = self.send(raw[:4] + b"\x00")
        assert first.sw >> 8 == 0x6C, f"Le 00 answered {first.sw:04X}, not 6Cxx"
        return self.ok(raw[:4] + bytes((first.sw & 0xFF,)))

    def select_ssse(self) -> bytes:
        """SELECT the SSSE by name and fetch its FCI with GET RESPONSE (Part 3 §6.4)."""
        response = self.send(b"\x00\xa4\x04\x00\x0f" + AID)
        assert response.sw >> 8 == 0x61, f"SELECT SSSE answered {response.sw:04X}"
        return self.ok(bytes((0x00, 0xC0, 0x00, 0x00, response.sw & 0xFF)))

    def power_cycle(self) -> bytes:
        """Power down and up again (volatile security state lost, Part 7 §5.8); the ATR."""
        self.transport.power_off()
        self.atr = self.transport.power_on()
        return self.atr

    @contextmanager
    def session(self) -> Iterator[Connection]:
        """A terminal session on the card with the bench's PSAM (SSSE selected, EF05 read).

        The card stays powered for the ``with`` block and raw commands may be sent
        meanwhile; it is powered down at the end.
        """
        if self.bench.psam is None:
            pytest.skip(f"needs a PSAM for external authentication: set {REAL_PSAM_READER}")
        terminal = Terminal(card_reader=self.transport, psam_reader=self.bench.psam)
        with terminal.session() as conn:
            yield conn

    @staticmethod
    def cryptogram(conn: Connection, challenge: bytes, original: bytes, key: str) -> bytes:
        """The PSAM's authentication data of ``original`` under ``challenge`` (Part 4 §9.3)."""
        return conn.module.auth_data(conn.ctx, card_key(key), 1, challenge, original)

    def pin(self) -> bytes:
        """The cardholder's PIN as VERIFY sends it, if it may be used on this card.

        A real card's PIN comes from ``SBKCARD_REAL_PIN``; it is used only while the
        card reports two tries or more (a mistyped variable must not block the card).
        """
        pin = self.bench.pin
        if pin is None:
            pytest.skip(f"needs the card's PIN: set {REAL_PIN}")
        if not self.simulated:
            left = self.send("00200000").sw
            if left & 0xFFF0 != 0x63C0 or left & 0x0F < 2:
                pytest.skip(f"the card answers {left:04X} to an empty VERIFY: PIN not tried")
        return pin_data(pin)


# -- benches ------------------------------------------------------------------------------


def _sim_bench(generation: int) -> Iterator[Bench]:
    card, psam = make_card(generation), make_psam()
    yield Bench(
        f"sim-gen{generation}",
        card,
        generation,
        ALGORITHM[generation],
        card=card,
        psam=psam,
        pin=DEMO_PIN,
        fresh=card.snapshot(),
    )


def _pcsc_bench(request: pytest.FixtureRequest, generation: int) -> Iterator[Bench]:
    from sbkcard.simulator.vpcd import VpcdSlot
    from sbkcard.terminal.transports.pcsc import PcscTransport

    stack: PcscdStack = request.getfixturevalue("sbk_pcscd")
    card, psam = make_card(generation), make_psam()
    slot = VpcdSlot(card, port=stack.slot_port(0)).start()
    try:
        stack.wait_for_card(0)
        transport = PcscTransport(stack.reader_name(0))
        try:
            yield Bench(
                f"pcsc-gen{generation}",
                transport,
                generation,
                ALGORITHM[generation],
                card=card,
                psam=psam,
                pin=DEMO_PIN,
                fresh=card.snapshot(),
            )
        finally:
            transport.close()
    finally:
        slot.stop()
        if stack.running:  # the next user of slot 0 must not race this card's removal
            stack.wait_for_removal(0)


def _real_bench() -> Iterator[Bench]:
    reader = os.environ[REAL_READER]
    if os.environ.get(_CSOCK) != _SOCKET_AT_START:
        pytest.skip(
            "this process already talks to a private pcscd (libpcsclite keeps one socket "
            "per process): run `pytest tests/conformance -k real` on its own"
        )
    from sbkcard.terminal.transports.pcsc import PcscTransport

    transport = PcscTransport(reader)
    psam_reader = os.environ.get(REAL_PSAM_READER)
    psam = PcscTransport(psam_reader) if psam_reader else None
    try:
        with Terminal(card_reader=transport).session() as conn:
            context = conn.ctx
        if context.generation not in (2, 3):
            pytest.skip(f"the card in {reader!r} is a {context.version!r} card, not 2.0x/3.0x")
        yield Bench(
            "real",
            transport,
            context.generation,
            context.algorithm.value,
            psam=psam,
            pin=os.environ.get(REAL_PIN) or None,
        )
    finally:
        transport.close()
        if psam is not None:
            psam.close()


@pytest.fixture(scope="package", params=TARGETS)
def bench(request: pytest.FixtureRequest) -> Iterator[Bench]:
    """The card under test of one target, in its reader for the whole package."""
    kind, _, generation = str(request.param).partition("-gen")
    if kind == "sim":
        yield from _sim_bench(int(generation))
    elif kind == "pcsc":
        yield from _pcsc_bench(request, int(generation))
    else:
        yield from _real_bench()


@pytest.fixture
def target(bench: Bench, request: pytest.FixtureRequest) -> Iterator[Target]:
    """The card under test, cold-reset; powered down (and restored) after the test."""
    if bench.card is None and request.node.get_closest_marker("destructive"):
        pytest.skip("destructive (spends PIN or key tries): never run on a real card")
    applicable = request.node.get_closest_marker("applies")
    if applicable is not None:
        facts = _facts(bench.generation, bench.algorithm)
        if any(facts[name] != value for name, value in applicable.kwargs.items()):
            pytest.skip(applicable.args[0])
    atr = bench.transport.power_on()
    try:
        yield Target(bench, atr)
    finally:
        bench.tidy()
