"""``atelier portrait``: person-aware stylization (strong style behind, the face kept)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import numpy as np
from PIL import Image

from ..base.checks import check_range
from ..base.errors import UsageError
from ..core.options import StyleOptions
from ..io.images import ImageLike, save_image
from ..library.augment import AugmentOptions
from ..portrait.mode import PortraitOptions, portrait_masks, stylize_portrait
from .common import ProgressBar, announce, check_output, dataclass_from_kwargs, dataclass_options, write_result


def mask_image(mask: np.ndarray) -> Image.Image:
    """An H x W 0..1 mask as an 8-bit grayscale image (white = person), reusable with ``--mask``."""
    return Image.fromarray(np.clip(mask * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")


@click.command("portrait")
@click.argument("content", type=str)
@click.argument("styles", type=str, nargs=-1, required=True)
@click.option("-o", "--output", required=True, help="output image (.png, .jpg, .webp, .tif)")
@click.option("--save-mask", default=None, help="also write the person mask used (white = person) to this image")
@click.option("-q", "--quiet", is_flag=True, help="no progress bar and no notes")
@dataclass_options(PortraitOptions)
@dataclass_options(StyleOptions, exclude=("save_every",))
@click.option("--augment", default=0, show_default=True, type=int, metavar="K",
              help="widen the style with its K nearest style-library artworks (docs/library.md); 0: off")
@dataclass_options(AugmentOptions, exclude=("neighbours", "pool"))
def portrait_cmd(content: str, styles: tuple[str, ...], output: str, save_mask: str | None, quiet: bool,
                 augment: int, **kwargs: Any) -> None:
    """Stylize the portrait CONTENT with STYLE [STYLE...]: the background strongly, the person
    lightly and the face least, in one optimization (or two passes with --portrait-mode twopass).

    The person is found with mediapipe's bundled models (or given with --mask). Without a
    person the whole image is stylized normally, unless --require-person is given.
    --backend sanet|ghiasi uses that feed-forward network (two passes; SANet: W1/W2 blend); --augment K widens
    the style with style-library neighbours. See docs/portrait.md.
    """
    popts = dataclass_from_kwargs(PortraitOptions, kwargs).validate()
    opts = dataclass_from_kwargs(StyleOptions, kwargs).resolved()
    check_range("--augment", augment, 0)
    aug = dataclass_from_kwargs(AugmentOptions, kwargs, base=AugmentOptions(neighbours=augment)).validate()
    run_portrait(content, styles, check_output(output), popts, opts, aug, quiet,
                 check_output(save_mask) if save_mask else None)


def run_portrait(content: ImageLike, styles: tuple[str, ...], out: Path, popts: PortraitOptions, opts: StyleOptions,
                 aug: AugmentOptions, quiet: bool, mask_out: Path | None = None, as_json: bool = False,
                 extra: dict[str, Any] | None = None) -> None:
    """Run portrait mode and write the result (``extra`` added to its metadata; the mask too
    when ``mask_out`` is given)."""
    if mask_out is not None and mask_out.resolve() == out.resolve():
        raise UsageError("--save-mask must differ from the output path")
    masks = portrait_masks(content, opts.size, popts)
    if not masks.found and not popts.require_person and not quiet:
        where = content if isinstance(content, (str, Path)) else "the photo"
        click.echo(f"atelier: no person found in {where}; stylizing the whole image normally", err=True)
    with ProgressBar(quiet, desc=f"portrait ({popts.portrait_mode})") as bar:
        img = stylize_portrait(content, list(styles), popts, opts, progress=bar, masks=masks, augment=aug)
    write_result(img, out, extra, quiet)
    if mask_out is not None:
        save_image(mask_image(masks.person), mask_out)
    info = img.info["atelier"]
    faces = info["portrait"]["faces"]
    announce(img, out, f"wrote {out} ({info['seconds']:.1f} s; {faces} face{'s' * (faces != 1)} protected)"
             + (f" and {mask_out}" if mask_out else ""), quiet, as_json)


COMMANDS = [portrait_cmd]
