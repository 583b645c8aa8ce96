"""``atelier transfer``: instant stylization with a feed-forward model; ``atelier multistyle-sheet``."""

from __future__ import annotations

from typing import Any

import click

from ..feedforward import registry
from ..feedforward.transfer import FeedForwardOptions, transfer
from .common import (
    STDIO,
    announce,
    check_output,
    dataclass_from_kwargs,
    dataclass_options,
    json_option,
    read_content,
    write_result,
)


@click.command("transfer")
@click.argument("content", type=str)
@click.argument("styles", type=str, nargs=-1)
@click.option("-o", "--output", required=True, help="output image (.png, .jpg, .webp, .tif); - writes PNG to stdout")
@click.option("-q", "--quiet", is_flag=True, help="print nothing on success")
@json_option
@dataclass_options(FeedForwardOptions)
def transfer_cmd(content: str, styles: tuple[str, ...], output: str, quiet: bool, as_json: bool, **kwargs: Any) -> None:
    """Stylize CONTENT (- for stdin) with STYLE [STYLE...] (files or names from `atelier styles`)
    in one forward pass (AdaIN, WCT, SANet, and `--method ghiasi`: Magenta's pretrained arbitrary
    network), with a per-style Johnson net (`--method johnson [--model PATH]`) or with the 26
    built-in styles of `--method multistyle --style-index N|N:w,M:w` (no STYLE needed for these two)."""
    opts = dataclass_from_kwargs(FeedForwardOptions, kwargs)
    out = check_output(output, as_json)
    ignored = not registry.spec(opts.method).needs_style and bool(styles)
    img = transfer(read_content(content), [] if ignored else list(styles), opts)
    write_result(img, out, {"content": "stdin"} if content == STDIO else None)
    if ignored:
        click.echo(f"note: {opts.method} applies the style(s) built into its weights; STYLE images were ignored",
                   err=True)
    announce(img, out, f"wrote {out} ({opts.method}, {img.info['atelier']['seconds']:.2f} s)", quiet, as_json)


@click.command("multistyle-sheet")
@click.argument("content", type=str, required=False)
@click.option("-o", "--output", default="multistyle-sheet.png", show_default=True, help="contact sheet image to write")
@click.option("--size", default=192, show_default=True, type=click.IntRange(32, 1024), help="long side of each tile")
@click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda")
def multistyle_sheet_cmd(content: str | None, output: str, size: int, device: str) -> None:
    """Show the 26 built-in styles of `--method multistyle` on CONTENT (default: a sample photo),
    each tile labelled with its `--style-index`."""
    from ..feedforward.sheet import multistyle_sheet
    from ..io import samples
    from ..io.images import save_image

    out = check_output(output)
    save_image(multistyle_sheet(content or samples.content(), cell=size, device=device), out)
    click.echo(f"wrote {out}")


COMMANDS = [transfer_cmd, multistyle_sheet_cmd]
