"""``atelier info``: versions, device, shipped models, and where the data lives."""

from __future__ import annotations

from typing import Any

import click

from .common import emit_json, json_option


def _size(d: dict[str, Any]) -> str:
    if not d["exists"]:
        return f"{d['path']} (not created yet)"
    return f"{d['path']} ({d['bytes'] / 1e6:.1f} MB, {d['files']} file{'s' * (d['files'] != 1)})"


@click.command("info")
@json_option
def info_cmd(as_json: bool) -> None:
    """Versions, device and precision, the shipped models (with their training summary), and
    where the style library, the cache and the starter paintings live, with their sizes."""
    from ..about import report

    r = report()
    if as_json:
        return emit_json(r)
    click.echo("versions   " + ", ".join(f"{k} {v}" for k, v in r["versions"].items() if v))
    c = r["compute"]
    click.echo(f"device     {c['device']} ({c.get('gpu') or c.get('cpu_capability')}), "
               f"{c['threads']} thread{'s' * (c['threads'] != 1)}")
    click.echo(f"precision  {c['precision']}")
    click.echo("models")
    for m in r["models"]:
        if not m["shipped"]:
            click.echo(f"  {m['method']:8s} not shipped")
            continue
        trained = m.get("trained", "(no model card)")
        click.echo(f"  {m['method']:10s} {m['bytes'] / 1e6:.1f} MB, trained {trained}")
    s = r["starter"]
    click.echo(f"starter    {s['paintings']} paintings in {_size(s)}; `atelier styles` lists them")
    lib = r["library"]
    held = f", {lib['artworks']} artworks" if "artworks" in lib else ""
    click.echo(f"library    {_size(lib)}{held}" + (f"; {lib['error']}" if "error" in lib else ""))
    if not lib["exists"]:
        click.echo(f"           searches and --augment use the starter library: {_size(r['starter_library'])}")
    click.echo(f"cache      {_size(r['cache'])}")


COMMANDS = [info_cmd]
