"""Running a service until SIGTERM or Ctrl-C, and its TLS context."""

from __future__ import annotations

import asyncio
import signal
import ssl
import sys
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from sbkcard.errors import SbkcardError


def tls_context(cert: Path, key: Path, client_ca: Path | None = None) -> ssl.SSLContext:
    """A server TLS context; with ``client_ca``, clients must show a certificate it signed."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
        if client_ca is not None:
            context.load_verify_locations(client_ca)
            context.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise SbkcardError(f"TLS: cannot load {cert} / {key}: {exc}") from None
    return context


def client_tls(
    ca: Path | None, cert: Path | None = None, key: Path | None = None
) -> ssl.SSLContext:
    """A client TLS context trusting ``ca`` (else the system's), showing ``cert`` if given."""
    try:
        context = ssl.create_default_context(cafile=str(ca) if ca is not None else None)
        if cert is not None:
            context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise SbkcardError(f"TLS: cannot load {ca} / {cert}: {exc}") from None
    return context


def serve(
    app: web.Application,
    host: str,
    port: int,
    *,
    context: ssl.SSLContext | None = None,
    started: Callable[[int], None] | None = None,
) -> int:
    """Serve ``app`` on ``host:port`` until SIGTERM/SIGINT; ``started(port)`` once bound."""

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port, ssl_context=context)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise SbkcardError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        bound = port
        for sock in getattr(site._server, "sockets", None) or ():
            bound = int(sock.getsockname()[1])
        if started is not None:
            started(bound)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    asyncio.run(main())
    sys.stdout.flush()
    return 0
