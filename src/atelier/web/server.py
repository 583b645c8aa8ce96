"""Running an app under uvicorn with the limits both Atelier servers use (see docs/web.md).

* a request's line and headers must arrive within ``header_timeout`` seconds of the
  connection opening or of the previous response (uvicorn itself times only idle keep-alive
  connections, so a client dribbling a header byte now and then would hold a connection forever);
* idle keep-alive connections close after ``KEEP_ALIVE_S``;
* at most ``MAX_CONNECTIONS`` connections at once (uvicorn answers 503 beyond);
* headers are limited to ``MAX_HEADER_BYTES``.

Bodies are counted and timed by :class:`atelier.web.guard.Guard`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT_S = 10.0
KEEP_ALIVE_S = 5
MAX_CONNECTIONS = 256
MAX_HEADER_BYTES = 32 * 1024


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose request headers are late."""

    header_timeout = HEADER_TIMEOUT_S

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_late)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            if self.conn.our_state != h11.ERROR:
                self.conn.send(h11.ConnectionClosed())
            self.transport.close()

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a request's headers are complete: the app takes over (Guard times the body)
            self._disarm()

    def on_response_complete(self) -> None:
        if not self.transport.is_closing():
            self._arm()  # the next request's headers are timed too (a pipelined one disarms it at once)
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def protocol_with(header_timeout: float) -> type[TimedH11Protocol]:
    """:class:`TimedH11Protocol` with another header timeout (tests use a short one)."""
    return type("TimedH11Protocol", (TimedH11Protocol,), {"header_timeout": header_timeout})


def config(app: Any, host: str, port: int, header_timeout: float = HEADER_TIMEOUT_S,
           max_connections: int = MAX_CONNECTIONS) -> uvicorn.Config:
    """The uvicorn configuration of an Atelier server."""
    return uvicorn.Config(app, host=host, port=port, log_level="warning", http=protocol_with(header_timeout),
                          timeout_keep_alive=KEEP_ALIVE_S, limit_concurrency=max_connections,
                          h11_max_incomplete_event_size=MAX_HEADER_BYTES, timeout_graceful_shutdown=5)


def serve(app: Any, host: str, port: int) -> None:
    """Serve ``app`` until Ctrl-C."""
    uvicorn.Server(config(app, host, port)).run()
