"""``atelier transfer``: instant stylization with a trained feed-forward model."""

from __future__ import annotations

from typing import Any

import click

from ..feedforward.transfer import FeedForwardOptions, transfer
from .common import check_output, dataclass_from_kwargs, dataclass_options, write_result


@click.command("transfer")
@click.argument("content", type=str)
@click.argument("styles", type=str, nargs=-1)
@click.option("-o", "--output", required=True, help="output image (.png, .jpg, .webp, .tif)")
@click.option("-q", "--quiet", is_flag=True, help="print nothing on success")
@dataclass_options(FeedForwardOptions)
def transfer_cmd(content: str, styles: tuple[str, ...], output: str, quiet: bool, **kwargs: Any) -> None:
    """Stylize CONTENT with STYLE [STYLE...] in one forward pass (AdaIN, WCT, SANet),
    or with a per-style Johnson net (`--method johnson [--model PATH]`, no STYLE needed)."""
    opts = dataclass_from_kwargs(FeedForwardOptions, kwargs)
    out = check_output(output)
    ignored = opts.method == "johnson" and bool(styles)
    img = transfer(content, [] if ignored else list(styles), opts)
    write_result(img, out)
    if ignored:
        click.echo("note: johnson applies the style its model was trained on; STYLE images were ignored", err=True)
    if not quiet:
        click.echo(f"wrote {out} ({opts.method}, {img.info['atelier']['seconds']:.2f} s)")


COMMANDS = [transfer_cmd]
