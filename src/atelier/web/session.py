"""Browser sessions of the studio: a random id in an HTTP-only, same-site cookie.

A plain ASGI middleware (not Starlette's ``BaseHTTPMiddleware``, which reads request bodies in a
task of its own and so turns the body errors of :mod:`.guard` into exception groups). Routes
read the id as ``request.state.session``.
"""

from __future__ import annotations

import re
import secrets

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "atelier_session"
_SESSION = re.compile(r"[0-9a-f]{32}")


class Sessions:
    """Give every request a session id: the cookie's, or a new one (then set as the cookie)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        cookies = cookie_parser(next((v.decode("latin-1") for k, v in scope["headers"] if k == b"cookie"), ""))
        sid = cookies.get(SESSION_COOKIE, "")
        fresh = not _SESSION.fullmatch(sid)
        if fresh:
            sid = secrets.token_hex(16)
        scope["state"] = {**scope.get("state", {}), "session": sid}

        async def send_cookie(message: Message) -> None:
            if fresh and message["type"] == "http.response.start":
                cookie = f"{SESSION_COOKIE}={sid}; HttpOnly; Path=/; SameSite=strict".encode()
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie)]}
            await send(message)

        await self.app(scope, receive, send_cookie)
