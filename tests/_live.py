"""A real server for tests: uvicorn with Atelier's server settings, on a free loopback port, in a thread."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from atelier.web import server as web_server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


class Served:
    """``app`` served on ``url`` until :meth:`stop`."""

    def __init__(self, app, port: int | None = None, header_timeout: float = web_server.HEADER_TIMEOUT_S):
        port = port or free_port()
        self.app, self.url = app, f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(web_server.config(app, "127.0.0.1", port, header_timeout=header_timeout))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_for(lambda: self.server.started)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
