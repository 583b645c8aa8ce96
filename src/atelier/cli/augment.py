"""``atelier augment`` and ``atelier variants``: stylization with a style widened by library neighbours."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from PIL import Image

from ..base.checks import check_range
from ..base.errors import UsageError
from ..core.options import StyleOptions
from ..io.grid import make_grid
from ..io.images import ImageLike, load_image, save_image
from ..library.augment import AugmentOptions, stylize_augmented, stylize_variants
from .common import (
    ProgressBar,
    announce,
    check_output,
    dataclass_from_kwargs,
    dataclass_options,
    is_stdout,
    write_result,
)


def split_options(kwargs: dict[str, Any]) -> tuple[AugmentOptions, StyleOptions]:
    """Build (AugmentOptions, StyleOptions) from the CLI keyword arguments of both dataclasses."""
    aug = dataclass_from_kwargs(AugmentOptions, kwargs).validate()
    return aug, dataclass_from_kwargs(StyleOptions, kwargs).resolved()


def report(img: Image.Image, neighbours: bool = True, err: bool = False) -> None:
    """Print an augmented result's notes on stderr and (if ``neighbours``) the neighbours it
    used (on stderr with ``err``)."""
    rec = img.info["atelier"].get("augment", {})
    for note in rec.get("notes", []):
        click.echo(f"atelier: note: {note}", err=True)
    for n in rec.get("neighbours", []) if neighbours else []:
        click.echo(f"  neighbour {n['distance']:8.1f}  w={n['weight']:.3f}  {n['artist']} - {n['title']}  "
                   f"({n['path']})", err=err)


def run_augmented(content: ImageLike, style: str, out: Path, aug: AugmentOptions, opts: StyleOptions, quiet: bool,
                  as_json: bool = False, extra: dict[str, Any] | None = None) -> None:
    """Stylize, write ``out`` plus its JSON (``extra`` added to the metadata), and print what was
    used (shared with ``stylize --augment``)."""
    with ProgressBar(quiet, desc="augment") as bar:
        img = stylize_augmented(content, style, None, aug, opts, progress=bar)
    write_result(img, out, extra)
    report(img, neighbours=not as_json, err=is_stdout(out))
    announce(img, out, f"wrote {out} ({img.info['atelier']['seconds']:.1f} s)", quiet, as_json)


@click.command("augment")
@click.argument("content", type=str)
@click.argument("style", type=str)
@click.option("-o", "--output", required=True, help="output image (.png, .jpg, .webp, .tif)")
@click.option("-q", "--quiet", is_flag=True, help="no progress bar")
@dataclass_options(AugmentOptions)
@dataclass_options(StyleOptions, exclude=("style_blend",))
def augment_cmd(content: str, style: str, output: str, quiet: bool, **kwargs: Any) -> None:
    """Stylize CONTENT with STYLE widened by its nearest artworks in the style library."""
    aug, opts = split_options(kwargs)
    run_augmented(content, style, check_output(output), aug, opts, quiet)


@click.command("variants")
@click.argument("content", type=str)
@click.argument("style", type=str)
@click.option("-n", "count", default=4, show_default=True, type=int, help="number of variants")
@click.option("-o", "--output-dir", default="variants", show_default=True,
              help="folder for variant_N.png (+ .json) and grid.png (created if its parent exists)")
@click.option("--cell", default=256, show_default=True, type=int, help="grid cell size (px)")
@click.option("-q", "--quiet", is_flag=True, help="no progress bar")
@dataclass_options(AugmentOptions)
@dataclass_options(StyleOptions, exclude=("style_blend",))
def variants_cmd(content: str, style: str, count: int, output_dir: str, cell: int, quiet: bool,
                 **kwargs: Any) -> None:
    """Several augmented stylizations, each with another seeded subset of STYLE's nearest artworks,
    and a labelled grid: content, style and candidates on top, the variants below."""
    aug, opts = split_options(kwargs)
    out_dir = Path(output_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"output folder is a file: {out_dir}")
    if not out_dir.parent.is_dir():
        raise UsageError(f"output directory does not exist: {out_dir.parent}")
    check_range("-n", count, 1)
    with ProgressBar(quiet, desc="variants") as bar:
        images, cands = stylize_variants(content, style, None, aug, count, opts, progress=bar)
    out_dir.mkdir(exist_ok=True)
    for i, img in enumerate(images, 1):
        click.echo(f"variant {i}: candidates {img.info['atelier']['augment']['variant']['candidates']}")
        write_result(img, out_dir / f"variant_{i}.png")
    for note in cands.notes:
        click.echo(f"atelier: note: {note}", err=True)
    top = [load_image(content), cands.query] + [load_image(h.entry.path) for h in cands.hits]
    top_labels = ["content", "style"] + [f"#{i} {h.distance:.0f} {h.entry.label}" for i, h in enumerate(cands.hits, 1)]
    cols = max(len(top), len(images))
    blank = Image.new("RGB", (8, 8), "white")
    cells = top + [blank] * (cols - len(top)) + images
    labels = top_labels + [""] * (cols - len(top)) + [
        "v{}: {}".format(i, " ".join(f"#{j}" for j in img.info["atelier"]["augment"]["variant"]["candidates"]))
        for i, img in enumerate(images, 1)]
    save_image(make_grid(cells, labels, cols=cols, cell=cell), out_dir / "grid.png")
    click.echo(f"wrote {len(images)} variants and {out_dir / 'grid.png'}")


COMMANDS = [augment_cmd, variants_cmd]
