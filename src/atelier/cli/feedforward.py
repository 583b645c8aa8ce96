"""``atelier transfer``: instant stylization with a trained feed-forward model."""

from __future__ import annotations

from typing import Any

import click

from ..feedforward.transfer import FeedForwardOptions, transfer
from .common import (STDIO, announce, check_output, dataclass_from_kwargs, dataclass_options, json_option,
                     read_content, write_result)


@click.command("transfer")
@click.argument("content", type=str)
@click.argument("styles", type=str, nargs=-1)
@click.option("-o", "--output", required=True, help="output image (.png, .jpg, .webp, .tif); - writes PNG to stdout")
@click.option("-q", "--quiet", is_flag=True, help="print nothing on success")
@json_option
@dataclass_options(FeedForwardOptions)
def transfer_cmd(content: str, styles: tuple[str, ...], output: str, quiet: bool, as_json: bool, **kwargs: Any) -> None:
    """Stylize CONTENT (- for stdin) with STYLE [STYLE...] (files or names from `atelier styles`)
    in one forward pass (AdaIN, WCT, SANet), or with a per-style Johnson net
    (`--method johnson [--model PATH]`, no STYLE needed)."""
    opts = dataclass_from_kwargs(FeedForwardOptions, kwargs)
    out = check_output(output, as_json)
    ignored = opts.method == "johnson" and bool(styles)
    img = transfer(read_content(content), [] if ignored else list(styles), opts)
    write_result(img, out, {"content": "stdin"} if content == STDIO else None)
    if ignored:
        click.echo("note: johnson applies the style its model was trained on; STYLE images were ignored", err=True)
    announce(img, out, f"wrote {out} ({opts.method}, {img.info['atelier']['seconds']:.2f} s)", quiet, as_json)


COMMANDS = [transfer_cmd]
