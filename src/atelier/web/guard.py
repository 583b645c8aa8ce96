"""HTTP hardening shared by the studio (``atelier serve``) and the study server (``atelier study serve``).

:func:`install` puts one ASGI middleware, :class:`Guard`, in front of an app and makes every
error an app gives JSON ``{"detail": "<one line>"}`` with the :data:`SECURITY_HEADERS`:

* a server bound to a loopback address answers only to loopback host names (no DNS rebinding);
* state-changing requests whose ``Origin`` is another site are refused (403);
* at most ``max_requests`` requests are served at once; more wait for a turn (their bodies
  unread), and get 503 with ``Retry-After`` if none comes within ``BUSY_WAIT_S``;
* a body is counted as it streams in and refused with 413 once past the route's limit, with
  or without a ``Content-Length`` (so nothing large is ever spooled to disk);
* a body must arrive within ``read_timeout`` seconds, with no pause longer than
  ``idle_timeout`` (408 otherwise);
* unhandled exceptions become a JSON 500.

Request *headers* are timed by the server itself (:mod:`.server`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import NamedTuple
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = {
    # everything comes from this server: no CDN, no inline script
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' blob: data:; object-src 'none'; "
                                "frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
RETRY_AFTER_S = 2  # what a client told "busy" (503) should wait
BUSY_WAIT_S = 10.0  # a request past the concurrency limit waits this long for a turn
READ_TIMEOUT_S = 120.0  # a whole request body must arrive within this
IDLE_TIMEOUT_S = 15.0  # ... with no pause longer than this


def json_error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The one shape of every error: ``{"detail": message}`` with the security headers."""
    return JSONResponse({"detail": message}, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})


class BodyLimit(NamedTuple):
    """How many body bytes a route takes, and the message when a body has more (given its size,
    or at least the bytes seen so far)."""

    bytes: int
    message: Callable[[int], str]


def request_limit(n: int) -> BodyLimit:
    """A plain ``n``-byte limit."""
    return BodyLimit(n, lambda size: f"request too large ({size / 1e6:.1f} MB; limit {n / 1e6:.1f} MB)")


class BodyError(HTTPException):
    """Raised from ``receive`` when a body is too large (413) or too slow (408)."""


def _host_name(host_header: str) -> str:
    """``localhost`` from ``localhost:7860``, ``::1`` from ``[::1]:7860``."""
    if host_header.startswith("["):
        return host_header[1:].partition("]")[0]
    return host_header.rpartition(":")[0] if host_header.count(":") == 1 else host_header


class Guard:
    """The ASGI middleware described in the module docstring."""

    def __init__(self, app: ASGIApp, *, local: bool, body_limit: Callable[[str], BodyLimit], max_requests: int,
                 read_timeout: float, idle_timeout: float):
        self.app, self.local, self.body_limit = app, local, body_limit
        self.read_timeout, self.idle_timeout = read_timeout, idle_timeout
        self._turns = asyncio.Semaphore(max_requests)
        self._headers = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                names = {k.lower() for k, _ in message.get("headers", [])}
                message = {**message, "headers": [*message.get("headers", []),
                                                  *(h for h in self._headers if h[0] not in names)]}
            await send(message)

        refusal = self._refusal(scope)
        if refusal is not None:
            return await refusal(scope, receive, send)
        try:
            await asyncio.wait_for(self._turns.acquire(), BUSY_WAIT_S)
        except TimeoutError:
            busy = json_error(503, "the server is busy; try again in a moment", {"Retry-After": str(RETRY_AFTER_S)})
            return await busy(scope, receive, send)
        try:
            await self.app(scope, self._counted(scope, receive), send_with_headers)
        except BodyError as exc:  # the app let it through (it did not handle HTTP errors)
            if started:
                raise
            await json_error(exc.status_code, exc.detail)(scope, receive, send)
        finally:
            self._turns.release()

    def _refusal(self, scope: Scope) -> JSONResponse | None:
        """The response to a request refused before the app sees it, or None."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        if self.local and _host_name(host).lower() not in LOOPBACK_NAMES:
            return json_error(400, "unknown host name (this server answers to localhost only)")
        origin = headers.get("origin")
        if scope["method"] not in ("GET", "HEAD", "OPTIONS") and origin is not None \
                and urlsplit(origin).netloc != host:  # another web site posting through the user's browser
            return json_error(403, "cross-site requests are refused")
        length = headers.get("content-length", "")
        limit = self.body_limit(scope["path"])
        if length.isdigit() and int(length) > limit.bytes:
            return json_error(413, limit.message(int(length)))
        return None

    def _counted(self, scope: Scope, receive: Receive) -> Receive:
        """``receive`` that counts body bytes against the limit and enforces the timeouts."""
        limit, seen = self.body_limit(scope["path"]), 0
        deadline = time.monotonic() + self.read_timeout

        async def counted() -> Message:
            nonlocal seen
            wait = min(self.idle_timeout, deadline - time.monotonic())
            try:
                message = await asyncio.wait_for(receive(), timeout=max(wait, 0.0))
            except TimeoutError:
                raise BodyError(408, "the request body arrived too slowly") from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit.bytes:
                    raise BodyError(413, limit.message(seen))
            return message

        return counted


def install(app: FastAPI, *, local: bool, body_limit: Callable[[str], BodyLimit], max_requests: int = 64,
            read_timeout: float | None = None, idle_timeout: float | None = None) -> None:
    """Put a :class:`Guard` in front of ``app`` (call it after adding the app's own middleware)
    and answer HTTP errors and unhandled exceptions as JSON with the security headers."""

    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return json_error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        return json_error(500, f"internal error ({type(exc).__name__}); the server log has the details")

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, server_error)
    app.add_middleware(Guard, local=local, body_limit=body_limit, max_requests=max_requests,
                       read_timeout=READ_TIMEOUT_S if read_timeout is None else read_timeout,
                       idle_timeout=IDLE_TIMEOUT_S if idle_timeout is None else idle_timeout)
