"""``atelier serve``: the local studio web page (see docs/web.md)."""

from __future__ import annotations

import socket
from typing import Any

import click

from ..base.errors import UsageError
from ..web.config import ServeOptions
from .common import dataclass_from_kwargs, dataclass_options


def check_port(host: str, port: int) -> None:
    """Raise :class:`UsageError` if ``host:port`` cannot be listened on (in use, bad address)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UsageError(f"cannot resolve host {host!r}: {exc.strerror}") from None
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


@click.command("serve")
@dataclass_options(ServeOptions)
def serve_cmd(**kwargs: Any) -> None:
    """Start the studio web page (default http://127.0.0.1:7860, this machine only)."""
    from ..web.app import create_app
    from ..web.server import serve

    opts = dataclass_from_kwargs(ServeOptions, kwargs).validate()
    check_port(opts.host, opts.port)
    if not opts.is_local:
        click.echo(f"atelier: warning: listening on {opts.host}: other machines can reach this server", err=True)
    app = create_app(opts)
    click.echo(f"Atelier studio on http://{opts.host}:{opts.port}/  (Ctrl-C to stop)")
    serve(app, opts.host, opts.port)


COMMANDS = [serve_cmd]
