"""``sbkcard serve``'s server: HTTP and WebSocket on one port (aiohttp).

aiohttp serves HTTP and WebSocket from one asyncio application, with size limits, TLS
and a client for tests; it is well kept and typed.  The routes:

* ``GET /`` — the counter page (plain JavaScript);
* ``GET /ws`` (also ``/``, upgraded) — WebSocket, one request message per call;
* ``POST /api/{function}`` — one call;
* ``GET /api/status`` — readers, card and PSAM presence, versions;
* ``GET /api/openapi.json`` — the OpenAPI document.

Each reader runs its calls on its own thread, one transaction at a time: a request for a
busy reader waits ``busy_timeout`` seconds and then answers -11.  A non-final HSM step
keeps the reader for its client until the next step (or ``busy_timeout``, after which
the card is powered down).  A client that goes away mid-call does not cancel the card
work: it finishes, the card is powered down, and the answer is kept for recovery.
"""

from __future__ import annotations

import asyncio
import functools
import json
import platform
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from itertools import count
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp import __version__ as aiohttp_version

from sbkcard import __version__
from sbkcard.service.access import ClientAccess, bearer
from sbkcard.service.audit import AuditLog
from sbkcard.service.counter import HsmClient, Outcome, ReaderSlot
from sbkcard.service.openapi import openapi
from sbkcard.service.protocol import FUNCTIONS, Request, RequestError, answer, decode, next_step
from sbkcard.terminal.national.codes import TEXT, Code

_dumps = functools.partial(json.dumps, ensure_ascii=False)


@dataclass
class _Lane:
    """A reader's thread, its lock, and the client an HSM step keeps it for."""

    slot: ReaderSlot
    executor: ThreadPoolExecutor
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    holder: str | None = None
    expiry: asyncio.TimerHandle | None = None


class CounterService:
    """The counter service over ``readers`` (see the module docstring)."""

    def __init__(
        self,
        readers: list[ReaderSlot],
        *,
        access: ClientAccess | None = None,
        hsm: HsmClient | None = None,
        hsm_fallback: bool = True,
        audit: AuditLog | None = None,
        busy_timeout: float = 10.0,
        hold_timeout: float | None = None,
        max_message: int = 65536,
    ) -> None:
        self.readers = {r.name: r for r in readers}
        self.access = access or ClientAccess()
        self.hsm = hsm
        self.hsm_fallback = hsm_fallback
        self.audit = audit or AuditLog(None)
        self.busy_timeout = busy_timeout
        self.hold_timeout = busy_timeout if hold_timeout is None else hold_timeout
        self.max_message = max_message
        self._lanes: dict[str, _Lane] = {}
        self._clients = count(1)

    # -- calls -------------------------------------------------------------------------------

    def _lane(self, name: str) -> _Lane:
        lane = self._lanes.get(name)
        if lane is None:
            executor = ThreadPoolExecutor(1, thread_name_prefix=f"reader-{name}")
            lane = self._lanes[name] = _Lane(self.readers[name], executor)
        return lane

    def _reader_for(self, request: Request) -> str:
        if request.reader is None:
            if len(self.readers) == 1:
                return next(iter(self.readers))
            raise RequestError(
                Code.READER_CONNECT,
                f'this counter has {len(self.readers)} readers: name one with "reader" '
                f"({', '.join(self.readers)})",
                request.request_id,
            )
        if request.reader not in self.readers:
            raise RequestError(
                Code.READER_CONNECT, f"no reader {request.reader!r}", request.request_id
            )
        return request.reader

    async def call(self, request: Request, client: str) -> dict[str, Any]:
        """Run one request for ``client``; the answer message."""
        name = request.function.name
        reader = self._reader_for(request)
        lane = self._lane(reader)
        if lane.holder != client:
            try:
                await asyncio.wait_for(lane.lock.acquire(), self.busy_timeout)
            except TimeoutError:
                raise RequestError(
                    Code.READER_CONNECT,
                    f"reader {reader!r} is busy with another transaction "
                    f"(waited {self.busy_timeout:g} s)",
                    request.request_id,
                ) from None
        self._cancel_expiry(lane)
        hsm = self.hsm if self.hsm_fallback and request.hsm is not False else None
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        job = loop.run_in_executor(lane.executor, lane.slot.run, request, hsm)

        def finished(done: asyncio.Future[Outcome]) -> None:
            elapsed = (time.perf_counter() - started) * 1000.0
            failed = done.cancelled() or done.exception() is not None
            outcome = None if failed else done.result()
            self.audit.record(
                client=client,
                reader=reader,
                function=name,
                code=outcome.code if outcome else int(Code.LIBRARY_LOAD),
                card=outcome.card_number if outcome else "",
                hsm=outcome.via_hsm if outcome else False,
                debited=outcome.debited if outcome else False,
                ms=round(elapsed, 3),
            )
            if outcome is not None and outcome.code == 0 and next_step(name):
                lane.holder = client
                lane.expiry = loop.call_later(self.hold_timeout, self._expire, lane, client)
            else:
                self._release(lane)

        job.add_done_callback(finished)
        try:
            outcome = await asyncio.shield(job)
        except Exception as exc:  # a bug below the interface: answer, keep serving
            return answer(request.request_id, name, int(Code.LIBRARY_LOAD), f"内部错误：{exc!r}")
        return answer(request.request_id, name, outcome.code, outcome.out)

    def _release(self, lane: _Lane) -> None:
        self._cancel_expiry(lane)
        lane.holder = None
        if lane.lock.locked():
            lane.lock.release()

    @staticmethod
    def _cancel_expiry(lane: _Lane) -> None:
        if lane.expiry is not None:
            lane.expiry.cancel()
            lane.expiry = None

    def _expire(self, lane: _Lane, client: str) -> None:
        """The client kept the reader past the timeout (or left): power the card down."""
        if lane.holder != client:
            return
        lane.expiry = None
        done: Future[None] = lane.executor.submit(lane.slot.abandon)
        wrapped = asyncio.wrap_future(done)
        wrapped.add_done_callback(lambda _f: self._release(lane) if lane.holder == client else None)

    def client_left(self, client: str) -> None:
        """A WebSocket client closed: the readers it kept are released."""
        for lane in self._lanes.values():
            if lane.holder == client:
                self._cancel_expiry(lane)
                self._expire(lane, client)

    def status(self) -> dict[str, Any]:
        """What ``GET /api/status`` answers."""
        readers = []
        for name, slot in self.readers.items():
            lane = self._lanes.get(name)
            busy = lane is not None and lane.lock.locked()
            readers.append({**slot.status(), "busy": busy})
        return {
            "service": "sbkcard counter service",
            "version": __version__,
            "versions": {
                "sbkcard": __version__,
                "aiohttp": aiohttp_version,
                "python": platform.python_version(),
            },
            "readers": readers,
            "hsm": self.hsm is not None,
            "hsm_fallback": self.hsm_fallback and self.hsm is not None,
            "functions": sorted(FUNCTIONS),
        }

    def close(self) -> None:
        for lane in self._lanes.values():
            lane.executor.shutdown(wait=True)
        self.audit.close()

    # -- HTTP and WebSocket ------------------------------------------------------------------

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application(middlewares=[self._guard], client_max_size=self.max_message)
        app.router.add_get("/", self._index)
        app.router.add_get("/counter.js", self._script)
        app.router.add_get("/ws", self._websocket)
        app.router.add_get("/api/status", self._status)
        app.router.add_get("/api/openapi.json", self._openapi)
        app.router.add_post("/api/{function}", self._post)
        app.router.add_route("OPTIONS", "/api/{function}", self._preflight)
        app.on_cleanup.append(self._cleanup)
        return app

    async def _cleanup(self, _app: web.Application) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Origin, token and rate checks before any handler; CORS for allowed origins."""
        origin = request.headers.get("Origin")
        if not self.access.origin_allowed(origin):
            return _refusal(403, Code.READER_CONNECT, f"origin {origin} is not allowed")
        token = bearer(request.headers.get("Authorization")) or request.query.get("token")
        public = request.path in ("/", "/counter.js") and not request.headers.get("Upgrade")
        if not public and not self.access.token_ok(token):
            return _refusal(401, Code.READER_CONNECT, "a valid client token is required")
        if request.path.startswith("/api/") and request.method == "POST":
            client = _client(request, token)
            if not self.access.take(client):
                return _refusal(429, Code.READER_CONNECT, f"rate limit exceeded for {client}")
        response = await handler(request)
        if origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
        return response

    async def _preflight(self, _request: web.Request) -> web.Response:
        return web.Response(
            status=204,
            headers={
                "Access-Control-Allow-Methods": "POST, GET",
                "Access-Control-Allow-Headers": "Content-Type, Authorization",
            },
        )

    async def _index(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request)
        return web.Response(text=_static("index.html"), content_type="text/html", charset="utf-8")

    async def _script(self, _request: web.Request) -> web.Response:
        return web.Response(
            text=_static("counter.js"), content_type="application/javascript", charset="utf-8"
        )

    async def _status(self, _request: web.Request) -> web.Response:
        return _json(self.status())

    async def _openapi(self, _request: web.Request) -> web.Response:
        return _json(openapi(__version__))

    async def _post(self, request: web.Request) -> web.Response:
        function = request.match_info["function"]
        if request.content_length is not None and request.content_length > self.max_message:
            return _refusal(413, Code.BAD_PARAMETER, f"message over {self.max_message} bytes")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _refusal(413, Code.BAD_PARAMETER, f"message over {self.max_message} bytes")
        client = _client(request, bearer(request.headers.get("Authorization")))
        try:
            parsed = decode(body or b"{}", function)
            message = await self.call(parsed, client)
        except RequestError as exc:
            status = 404 if exc.code is Code.UNSUPPORTED_COMMAND else 200
            return _json(exc.answer(function), status=status)
        return _json(message)

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=self.max_message, heartbeat=30.0)
        await ws.prepare(request)
        client = f"ws-{next(self._clients)}"
        tasks: set[asyncio.Task[None]] = set()
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    await ws.send_json(
                        dumps=_dumps,
                        data=RequestError(Code.BAD_PARAMETER, "send JSON text messages").answer(),
                    )
                    continue
                if not self.access.take(client):
                    error = RequestError(Code.READER_CONNECT, f"rate limit exceeded for {client}")
                    await ws.send_json(dumps=_dumps, data=error.answer())
                    continue
                task = asyncio.create_task(self._ws_call(ws, msg.data, client))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            self.client_left(client)
        return ws

    async def _ws_call(self, ws: web.WebSocketResponse, data: str, client: str) -> None:
        try:
            message = await self.call(decode(data), client)
        except RequestError as exc:
            message = exc.answer(_function_of(data))
        if not ws.closed:
            await ws.send_json(dumps=_dumps, data=message)


def _function_of(data: str) -> str | None:
    try:
        value = json.loads(data).get("function")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _client(request: web.Request, token: str | None) -> str:
    if token is not None:
        return f"token-{token[:4]}…"
    return f"http-{request.remote}"


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=_dumps)


def _refusal(status: int, code: Code, message: str) -> web.Response:
    body = {"id": None, "function": None, "code": int(code), "pOutInfo": f"{TEXT[code]}：{message}"}
    return _json(body, status=status)


def _static(name: str) -> str:
    return (resources.files("sbkcard.service") / "static" / name).read_text(encoding="utf-8")
