"""Gatys transfer from image files to a PIL image with its record: load, pre-shrink, optimize, annotate."""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch
from PIL import Image

from ..io import starter
from ..io.images import ImageLike, check_dimensions, load_image, shrink_long_side, style_side, to_pil, to_tensor
from . import tiled
from .gatys import ProgressFn, Region
from .options import StyleOptions
from .record import describe_input, metadata, upscale_record

Styles = ImageLike | Sequence[ImageLike]


def as_style_list(styles: Styles) -> list[ImageLike]:
    """Accept one style (path, starter name, PIL, array, tensor) or a sequence of them;
    starter names (``starry-night``) become their files (:func:`atelier.io.starter.resolve`)."""
    return [starter.resolve(s) for s in (styles if isinstance(styles, (list, tuple)) else [styles])]


def prepare(content: ImageLike, styles: Styles,
            opts: StyleOptions) -> tuple[torch.Tensor, list[torch.Tensor], Image.Image | None]:
    """Load and pre-shrink the inputs: (content 1x3xHxW, style tensors 1x3xHxW, content alpha or None)."""
    c_img, alpha = load_image(content, with_alpha=True)
    check_dimensions(c_img.size, opts.size, "content image")
    c_img = shrink_long_side(c_img, opts.size)
    side = style_side(opts.size, opts.style_scale)
    s_imgs = []
    for s in as_style_list(styles):
        img = load_image(s)
        check_dimensions(img.size, side, "style image")
        s_imgs.append(shrink_long_side(img, side))
    return to_tensor(c_img), [to_tensor(s) for s in s_imgs], alpha


def stylize_gatys(content: ImageLike, styles: Styles, opts: StyleOptions, *,
                  regions: Sequence[Region] | None = None,
                  progress: ProgressFn | None = None) -> Image.Image:
    """Gatys transfer of ``content`` with ``styles`` under resolved ``opts``; RGB (RGBA kept),
    ``info["atelier"]`` holds the record (:func:`atelier.core.record.metadata`)."""
    opts = opts.resolved()
    c, s, alpha = prepare(content, styles, opts)
    start = time.perf_counter()
    out = to_pil(tiled.stylize(c, s, opts, regions=regions, progress=progress))
    if alpha is not None:
        out.putalpha(alpha.resize(out.size, Image.LANCZOS))
    out.info["atelier"] = metadata(opts, time.perf_counter() - start, method="gatys",
                                   content=describe_input(content),
                                   styles=[describe_input(x) for x in as_style_list(styles)],
                                   **upscale_record((c.shape[-1], c.shape[-2]), out.size))
    return out
