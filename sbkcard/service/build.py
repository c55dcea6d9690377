"""A :class:`~sbkcard.service.server.CounterService` from a checked configuration."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from sbkcard.service.access import ClientAccess
from sbkcard.service.audit import AuditLog
from sbkcard.service.config import ConfigError, ReaderConfig, ServeConfig
from sbkcard.service.counter import ReaderSlot
from sbkcard.service.hsm_client import HttpHsmClient
from sbkcard.service.pinpad import ProgramPinPad
from sbkcard.service.run import client_tls
from sbkcard.service.server import CounterService
from sbkcard.terminal.hotlist import Hotlist
from sbkcard.terminal.national.interface import NationalInterface
from sbkcard.terminal.operations.pinpad import PinPad
from sbkcard.terminal.terminal import Terminal
from sbkcard.terminal.transports.transport import Transport

#: Opens a reader's card or PSAM: (simulated image, PC/SC name) → transport (or ``None``).
OpenTransport = Callable[[Path | None, str | None], Transport | None]


def reader_slot(
    reader: ReaderConfig,
    open_transport: OpenTransport,
    *,
    hotlist: Hotlist | None = None,
    pinpad: PinPad | None = None,
) -> ReaderSlot:
    """One reader's terminal and national interface."""
    card = open_transport(reader.card, reader.pcsc)
    assert card is not None
    terminal = Terminal(
        card,
        psam_reader=open_transport(reader.psam, reader.psam_pcsc),
        hotlist=hotlist,
        pinpad=pinpad,
        terminal_number=reader.terminal_number,
        device_number=reader.device_number,
    )
    return ReaderSlot(reader.name, NationalInterface(terminal))


def _secret(env: Mapping[str, str], name: str, where: str) -> str:
    value = env.get(name, "")
    if not value:
        raise ConfigError(f"{where}: ${name} is not set (the shared token)")
    return value


def build_service(
    config: ServeConfig, env: Mapping[str, str], open_transport: OpenTransport
) -> CounterService:
    """The service ``config`` describes (tokens read from ``env``)."""
    hotlist = Hotlist(config.hotlist) if config.hotlist is not None else None
    pinpad = ProgramPinPad(config.pinpad, timeout=config.pinpad_timeout) if config.pinpad else None
    slots = [reader_slot(r, open_transport, hotlist=hotlist, pinpad=pinpad) for r in config.readers]
    hsm = None
    if config.hsm_url is not None:
        token = _secret(env, config.hsm_token_env, "[hsm] token_env")
        context = None
        if config.hsm_ca is not None or config.hsm_client_cert is not None:
            context = client_tls(config.hsm_ca, config.hsm_client_cert, config.hsm_client_key)
        hsm = HttpHsmClient(config.hsm_url, token, timeout=config.hsm_timeout, context=context)
    tokens: frozenset[str] = frozenset()
    if config.token_env is not None:
        tokens = frozenset({_secret(env, config.token_env, "[serve] token_env")})
    access = ClientAccess(
        origins=frozenset(o.rstrip("/") for o in config.origins),
        tokens=tokens,
        rate=config.rate,
        burst=max(1, int(config.rate * 2)),
    )
    return CounterService(
        slots,
        access=access,
        hsm=hsm,
        hsm_fallback=config.hsm_fallback,
        audit=AuditLog(config.log_file),
        busy_timeout=config.busy_timeout,
        max_message=config.max_message,
    )
