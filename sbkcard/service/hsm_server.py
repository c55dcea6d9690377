"""``sbkcard hsm serve``'s server: the HSM service over HTTP (aiohttp).

``POST /hsm/{operation}`` (see :mod:`sbkcard.service.hsm_service`), each request with
``Authorization: Bearer TOKEN`` (the shared ``$SBKCARD_HSM_TOKEN``), rate-limited per
client, audited (one JSON line: client, operation, code, duration).  ``GET /hsm/status``
answers the algorithms the key service holds.
"""

from __future__ import annotations

import json
import time

from aiohttp import web

from sbkcard import __version__
from sbkcard.service.access import ClientAccess, bearer
from sbkcard.service.audit import AuditLog
from sbkcard.service.hsm_service import HsmService

_MAX_MESSAGE = 16384


def hsm_app(service: HsmService, access: ClientAccess, audit: AuditLog) -> web.Application:
    """The aiohttp application of the HSM service."""

    async def compute(request: web.Request) -> web.Response:
        token = bearer(request.headers.get("Authorization"))
        client = request.remote or "?"
        operation = request.match_info["operation"]
        if not access.token_ok(token) or token is None:
            audit.record(client=client, operation=operation, status=401)
            return web.json_response({"code": -11, "message": "bad or missing token"}, status=401)
        if not access.take(client):
            audit.record(client=client, operation=operation, status=429)
            return web.json_response({"code": -11, "message": "rate limit"}, status=429)
        started = time.perf_counter()
        try:
            message = json.loads(await request.read())
        except (ValueError, web.HTTPRequestEntityTooLarge):
            message = None
        status, body = service.handle(operation, message)
        audit.record(
            client=client,
            operation=operation,
            status=status,
            code=body["code"],
            ms=round((time.perf_counter() - started) * 1000.0, 3),
        )
        return web.json_response(body, status=status)

    async def status(_request: web.Request) -> web.Response:
        algorithms = sorted(a.label for a in service.host.service.algorithms)
        return web.json_response({"version": __version__, "algorithms": algorithms})

    async def close(_app: web.Application) -> None:
        audit.close()

    app = web.Application(client_max_size=_MAX_MESSAGE)
    app.router.add_post("/hsm/{operation}", compute)
    app.router.add_get("/hsm/status", status)
    app.on_cleanup.append(close)
    return app
