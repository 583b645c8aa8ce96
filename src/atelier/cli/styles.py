"""``atelier styles``: the named styles (the starter paintings), with credits and a contact sheet."""

from __future__ import annotations

from typing import Any

import click

from ..io import starter
from ..io.grid import make_grid
from ..io.images import load_image, save_image
from .common import check_output, emit_json, json_option


def entries() -> list[dict[str, Any]]:
    """One record per named style: name, credit, file and public-domain note."""
    return [{"name": p.slug, "kind": "painting", "title": p.title, "artist": p.artist, "year": p.year,
             "movement": p.movement, "path": str(p.path), "public_domain": p.public_domain, "source": p.source}
            for p in starter.paintings()]


@click.command("styles")
@click.argument("name", required=False)
@click.option("--sheet", default=None, metavar="PNG", help="also write a labelled contact sheet of the styles")
@click.option("--cell", default=160, show_default=True, type=click.IntRange(32, 1024),
              help="contact sheet cell size (px)")
@json_option
def styles_cmd(name: str | None, sheet: str | None, cell: int, as_json: bool) -> None:
    """List the named styles usable wherever a style image is accepted
    (`atelier stylize photo.jpg starry-night -o out.png`), with their credits; NAME shows one
    in full (provenance and why it is in the public domain)."""
    out = check_output(sheet) if sheet else None
    items = entries()
    if name is not None:
        starter.get(name)  # unknown: one line with the closest name
        items = [e for e in items if e["name"] == name]
    if out is not None:
        images = [load_image(e["path"]) for e in items]
        save_image(make_grid(images, [e["name"] for e in items], cols=min(len(items), 6), cell=cell), out)
    if as_json:
        return emit_json({"styles": items, "sheet": str(out) if out else None})
    for e in items:
        year = f" ({e['year']})" if e["year"] else ""
        click.echo(f"{e['name']:28s} {e['artist']}, {e['title']}{year}")
        if name is not None:
            src = e["source"]
            click.echo(f"  file           {e['path']}\n  movement       {e['movement']}\n"
                       f"  source         {src['repo']} {src['path']} @ {src['commit'][:12]} "
                       f"(sha256 {src['original_sha256'][:16]}...)\n  public domain  {e['public_domain']}")
    if out is not None:
        click.echo(f"wrote {out}", err=True)


COMMANDS = [styles_cmd]
