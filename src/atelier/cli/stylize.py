"""``atelier stylize``, ``demo``, ``presets`` and ``layers``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..api import stylize
from ..base.checks import check_range
from ..base.errors import UsageError
from ..core.options import PRESETS, StyleOptions
from ..core.vgg import layer_names
from ..feedforward import registry
from ..feedforward.transfer import SHARED_WITH_GATYS, FeedForwardOptions
from ..io import samples, starter
from ..io.grid import make_grid
from ..io.images import load_image, save_image, to_pil
from ..library.augment import AugmentOptions
from ..library.methods import STYLIZE
from ..portrait.mode import PortraitOptions
from .augment import run_augmented
from .common import (
    STDIO,
    ProgressBar,
    announce,
    check_output,
    dataclass_from_kwargs,
    dataclass_options,
    is_stdout,
    json_option,
    read_content,
    write_result,
)
from .portrait import run_portrait


def _snapshotter(out: Path, every: int):
    if not every:
        return None

    def snap(p) -> None:
        if p.done % every == 0:
            save_image(to_pil(p.image), out.with_name(f"{out.stem}.iter{p.done:05d}{out.suffix}"))

    return snap


style_flags = dataclass_options(StyleOptions)
_method_option = click.option(
    "--method", default="gatys", show_default=True, type=click.Choice(STYLIZE),
    help="gatys (optimization) or a trained feed-forward network, one pass (docs/feedforward.md)")
_feedforward_flags = dataclass_options(FeedForwardOptions, exclude=SHARED_WITH_GATYS)


def method_flags(f: Callable) -> Callable:
    """``--method`` and the feed-forward settings' flags (those not shared with ``style_flags``)."""
    return _method_option(_feedforward_flags(f))


def feedforward_from_flags(method: str, kwargs: dict[str, Any]) -> FeedForwardOptions | None:
    """The feed-forward settings given by ``method_flags`` (None for gatys)."""
    return None if method == "gatys" else dataclass_from_kwargs(FeedForwardOptions, kwargs)


@click.command("stylize")
@click.argument("content", type=str)
@click.argument("styles", type=str, nargs=-1)
@click.option("-o", "--output", required=True, help="output image (.png, .jpg, .webp, .tif); - writes PNG to stdout")
@click.option("-q", "--quiet", is_flag=True, help="no progress bar")
@json_option
@style_flags
@click.option("--augment", default=0, show_default=True, type=int, metavar="K",
              help="widen the style with its K nearest style-library artworks (docs/library.md); 0: off")
@dataclass_options(AugmentOptions, exclude=("neighbours", "pool"))
@method_flags
@click.option("--portrait", is_flag=True,
              help="portrait mode with its default settings (`atelier portrait` has all of them; docs/portrait.md)")
def stylize_cmd(content: str, styles: tuple[str, ...], output: str, quiet: bool, as_json: bool, augment: int,
                method: str, portrait: bool, **kwargs: Any) -> None:
    """Repaint CONTENT in the style of STYLE [STYLE...] (Gatys et al., coarse-to-fine).

    CONTENT may be - (read from stdin). A STYLE is an image file or the name of a painting
    shipped with Atelier (`atelier styles` lists them), e.g. starry-night. The methods with
    styles built into their weights need none: `--method multistyle --style-index 3`,
    `--method johnson [--model PATH]`.
    """
    opts = dataclass_from_kwargs(StyleOptions, kwargs).resolved()
    out = check_output(output, as_json)
    builtin = method != "gatys" and not registry.spec(method).needs_style
    if not styles and not builtin:
        raise UsageError(f"--method {method} needs at least one STYLE")
    if builtin and styles:
        click.echo(f"atelier: note: {method} applies the style(s) built into its weights; STYLE images were ignored",
                   err=True)
        styles = ()
    check_range("--augment", augment, 0)
    if augment and method != "gatys":
        raise UsageError("--augment works with --method gatys only")
    if opts.save_every and is_stdout(out):
        raise UsageError("--save-every writes files beside the output: give -o a file name")
    styles = tuple(starter.resolve(s) for s in styles)  # unknown names fail before the photo is read
    photo = read_content(content)
    extra = {"content": "stdin"} if content == STDIO else None
    if portrait:
        if method != "gatys":
            raise UsageError("--portrait with a feed-forward method: use `atelier portrait --backend sanet|ghiasi`")
        aug = dataclass_from_kwargs(AugmentOptions, kwargs, base=AugmentOptions(neighbours=augment)).validate()
        return run_portrait(photo, styles, out, PortraitOptions(), opts, aug, quiet, as_json=as_json, extra=extra)
    if augment:
        if len(styles) != 1:
            raise UsageError("--augment widens exactly one style image; give one STYLE")
        aug = dataclass_from_kwargs(AugmentOptions, kwargs, base=AugmentOptions(neighbours=augment)).validate()
        return run_augmented(photo, styles[0], out, aug, opts, quiet, as_json=as_json, extra=extra)
    if method != "gatys":
        img = stylize(photo, list(styles), opts, method=method, feedforward=feedforward_from_flags(method, kwargs))
    else:
        with ProgressBar(quiet, snapshot=_snapshotter(out, opts.save_every)) as bar:
            img = stylize(photo, list(styles), opts, progress=bar)
    write_result(img, out, extra)
    announce(img, out, f"wrote {out} ({img.info['atelier']['seconds']:.1f} s)", quiet, as_json)


@click.command("demo")
@click.option("-o", "--output-dir", default="atelier-demo", show_default=True, help="where to write the results")
@click.option("--content", "content_name", default="astronaut", show_default=True,
              type=click.Choice(samples.CONTENTS), help="built-in sample photo")
@click.option("--style", "style_name", default="starry-night", show_default=True,
              help=f"a painting from `atelier styles`, or a procedural style ({', '.join(samples.STYLES)})")
@click.option("--size", default=384, show_default=True, type=int, help="long side of the output")
@click.option("-q", "--quiet", is_flag=True, help="no progress bar")
def demo_cmd(output_dir: str, content_name: str, style_name: str, size: int, quiet: bool) -> None:
    """Stylize a built-in sample photo with a painting shipped with Atelier: no files needed."""
    opts = StyleOptions(size=size).resolved()
    style = samples.style(style_name) if style_name in samples.STYLES else load_image(starter.resolve(style_name))
    out_dir = Path(output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    content = samples.content(content_name)
    with ProgressBar(quiet, desc="demo") as bar:
        img = stylize(content, style, opts, progress=bar)
    result = out_dir / "stylized.png"
    write_result(img, result, {"content": f"sample:{content_name}", "styles": [f"sample:{style_name}"]}, quiet)
    grid = make_grid([content, style, img], ["content", f"style: {style_name}", "atelier (gatys)"], cell=size)
    save_image(grid, out_dir / "grid.png")
    click.echo(f"wrote {result} and {out_dir / 'grid.png'}")


@click.command("presets")
@click.argument("content", required=False)
@click.argument("style", required=False)
@click.option("-o", "--output", default="presets.png", show_default=True, help="grid image to write")
@click.option("--size", default=384, show_default=True, type=int)
@click.option("-q", "--quiet", is_flag=True)
def presets_cmd(content: str | None, style: str | None, output: str, size: int, quiet: bool) -> None:
    """Run every layer preset on CONTENT and STYLE (default: built-in samples) and write a grid."""
    out = check_output(output)
    c = load_image(content) if content else samples.content()
    s = load_image(starter.resolve(style)) if style else samples.style()
    images, labels = [c, s], ["content", "style"]
    for name in PRESETS:
        with ProgressBar(quiet, desc=name) as bar:
            images.append(stylize(c, s, StyleOptions(size=size, preset=name), progress=bar))
        labels.append(f"preset: {name}")
    save_image(make_grid(images, labels, cell=size), out)
    click.echo(f"wrote {out}")


@click.command("layers")
@click.option("--backbone", default="vgg19", type=click.Choice(["vgg19", "vgg16"]), show_default=True)
def layers_cmd(backbone: str) -> None:
    """List the backbone's layer names and the presets' layers and weights."""
    click.echo(" ".join(layer_names(backbone)))
    for name, p in PRESETS.items():
        pairs = zip(p["style_layers"], p["style_layer_weights"], strict=True)
        style = ", ".join(f"{layer}:{w:g}" for layer, w in pairs)
        click.echo(f"preset {name}: content {', '.join(p['content_layers'])}; style {style}")


COMMANDS = [stylize_cmd, demo_cmd, presets_cmd, layers_cmd]


