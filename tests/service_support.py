"""Shared setup of the service tests: real servers on loopback sockets, simulated cards."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from terminal_support import ScriptedPad, psam, terminal, user_card

from sbkcard.service.access import ClientAccess
from sbkcard.service.audit import AuditLog
from sbkcard.service.counter import ReaderSlot
from sbkcard.service.hsm_server import hsm_app
from sbkcard.service.hsm_service import HsmService
from sbkcard.service.server import CounterService
from sbkcard.simulator import SimulatedCard
from sbkcard.terminal.national.interface import NationalInterface
from sbkcard.terminal.security.hsm import SoftwareKeyService
from sbkcard.terminal.security.hsm_host import HsmHost
from sbkcard.terminal.transports.transport import Transport

T = TypeVar("T")
TOKEN = "test-token-0123"


def run(coro: Awaitable[T]) -> T:
    """Run a coroutine on a fresh event loop."""

    async def main() -> T:
        return await coro

    return asyncio.run(main())


def slot(
    name: str = "default",
    *,
    generation: int = 3,
    with_psam: bool = True,
    card: SimulatedCard | Transport | None = None,
) -> ReaderSlot:
    """A reader with the demo card (PIN pad answering 123456) and a PSAM or none."""
    chip = card if card is not None else user_card(generation)
    term = terminal(chip, psam_card=psam() if with_psam else None)  # type: ignore[arg-type]
    term.pinpad = ScriptedPad()
    return ReaderSlot(name, NationalInterface(term))


@asynccontextmanager
async def counter(
    *slots: ReaderSlot, **options: Any
) -> AsyncIterator[tuple[str, ClientSession, CounterService]]:
    """A counter service on a loopback port: (base URL, HTTP session, service)."""
    service = CounterService(list(slots) or [slot()], **options)
    server = TestServer(service.app(), host="127.0.0.1")
    await server.start_server()
    base = f"http://127.0.0.1:{server.port}"
    service.access.allow_own([base])
    try:
        async with ClientSession() as session:
            yield base, session, service
    finally:
        await server.close()


@asynccontextmanager
async def hsm_service(
    app_factory: Callable[[], Any] | None = None,
) -> AsyncIterator[str]:
    """The HSM service (demo keys) on a loopback port; its URL."""
    app = (
        app_factory()
        if app_factory
        else hsm_app(
            HsmService(HsmHost(SoftwareKeyService())),
            ClientAccess(tokens=frozenset({TOKEN})),
            AuditLog(None),
        )
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        await server.close()


async def post(session: ClientSession, url: str, body: object, **kw: Any) -> tuple[int, Any]:
    async with session.post(url, json=body, **kw) as response:
        return response.status, await response.json()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class CliServer:
    """``sbkcard ARGS`` as a subprocess, up once it prints its URL; stopped by pid."""

    def __init__(self, log: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sbkcard", *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env={**os.environ, **(env or {})},
            )
        deadline = time.monotonic() + 30
        while "://" not in log.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"sbkcard {' '.join(args)} did not start:\n{self.output()}")
            time.sleep(0.05)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)


class PulledAt:
    """A simulated card that leaves the reader just as ``ins`` is sent (a card pulled)."""

    def __init__(self, card: SimulatedCard, ins: int) -> None:
        self.card = card
        self.ins = ins
        self.armed = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.card, name)

    def transmit(self, apdu: bytes) -> bytes:
        if self.armed and len(apdu) > 1 and apdu[1] == self.ins:
            self.armed = False
            self.card.remove()
        return self.card.transmit(apdu)


HSM_TOKEN_ENV = {"SBKCARD_HSM_TOKEN": TOKEN}


class WrongMac2:
    """A simulated card whose DEBIT FOR PURCHASE answer reaches the terminal with MAC2
    altered (a forged card, a tampered line): the card has debited all the same."""

    def __init__(self, card: SimulatedCard) -> None:
        self.card = card
        self.armed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.card, name)

    def transmit(self, apdu: bytes) -> bytes:
        answer = self.card.transmit(apdu)
        ins = apdu[1] if len(apdu) > 1 else -1
        if ins == 0x2C and answer[-2] == 0x61:  # T=0: the answer follows on GET RESPONSE
            self.armed = True
            return answer
        if ins == 0x2C or (ins == 0xC0 and self.armed):
            self.armed = False
            return answer[:-3] + bytes([answer[-3] ^ 0x01]) + answer[-2:]  # MAC2's last byte
        self.armed = False
        return answer
