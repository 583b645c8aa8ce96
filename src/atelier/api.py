"""The Python API: ``atelier.stylize(content, styles, **options) -> PIL.Image``."""

from __future__ import annotations

import dataclasses
import platform
import time
from typing import Any, Optional, Sequence, Union

import torch
from PIL import Image

from . import __version__, starter
from .errors import UsageError
from .gatys import ProgressFn, Region, stylize_tensor
from .images import ImageLike, check_dimensions, load_image, resize_long_side, to_pil, to_tensor
from .options import StyleOptions

Styles = Union[ImageLike, Sequence[ImageLike]]


def as_style_list(styles: Styles) -> list[ImageLike]:
    """Accept one style (path, starter name, PIL, array, tensor) or a sequence of them;
    starter names (``starry-night``) become their files (:func:`atelier.starter.resolve`)."""
    return [starter.resolve(s) for s in (styles if isinstance(styles, (list, tuple)) else [styles])]


def describe_input(src: Any) -> str:
    return str(src) if isinstance(src, (str, bytes)) or hasattr(src, "__fspath__") else type(src).__name__


def metadata(opts: StyleOptions, seconds: float, **extra: Any) -> dict[str, Any]:
    """The record written beside every output (JSON file and PNG text chunk)."""
    return {
        "atelier": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "seconds": round(seconds, 3),
        "options": opts.to_dict(),
        **extra,
    }


def upscale_record(photo: tuple[int, int], output: tuple[int, int]) -> dict[str, Any]:
    """``{"upscaled": {"from": [w, h], "to": [W, H]}}`` when the output's long side exceeds the photo's, else ``{}``."""
    return {"upscaled": {"from": list(photo), "to": list(output)}} if max(output) > max(photo) else {}


def upscale_note(meta: dict[str, Any]) -> Optional[str]:
    """The line telling the user the output is larger than the photo (from :func:`upscale_record`), or None."""
    up = meta.get("upscaled")
    if not up:
        return None
    (w, h), (ow, oh) = up["from"], up["to"]
    return f"the output ({ow}x{oh}) is larger than the photo ({w}x{h}): upscaled to the long side asked for"


def prepare(content: ImageLike, styles: Styles, opts: StyleOptions):
    """Load and pre-shrink the inputs: (content tensor, style tensors, content alpha or None)."""
    c_img, alpha = load_image(content, with_alpha=True)
    check_dimensions(c_img.size, opts.size, "content image")
    if max(c_img.size) > opts.size:
        c_img = resize_long_side(c_img, opts.size)
    style_side = max(16, round(opts.size * opts.style_scale))
    s_imgs = []
    for s in as_style_list(styles):
        img = load_image(s)
        check_dimensions(img.size, style_side, "style image")
        s_imgs.append(resize_long_side(img, style_side) if max(img.size) > style_side else img)
    return to_tensor(c_img), [to_tensor(s) for s in s_imgs], alpha


def stylize(content: ImageLike, styles: Styles, options: Optional[StyleOptions] = None, *,
            regions: Optional[Sequence[Region]] = None, progress: Optional[ProgressFn] = None,
            method: str = "gatys", feedforward: Any = None, **overrides: Any) -> Image.Image:
    """Repaint ``content`` in the style of ``styles`` (Gatys et al., coarse-to-fine).

    ``options.size`` is the long side of the output for every method: a smaller photo is
    upscaled (the metadata then holds ``upscaled``, see :func:`upscale_note`).
    ``method`` other than ``"gatys"`` (``"adain"``, ``"wct"``, ``"sanet"``, ``"johnson"``,
    ``"ghiasi"``, ``"multistyle"``) runs a feed-forward network instead (docs/feedforward.md):
    ``options``' size, style_scale, style_blend, color, precision and device apply;
    ``feedforward`` (a :class:`atelier.feedforward.transfer.FeedForwardOptions`) carries its
    own settings (alpha, sanet_w1/w2, style_index, model); ``regions`` and ``progress`` need Gatys.

    Parameters
    ----------
    content : path, PIL image, HxWxC array or CxHxW tensor (0..1)
    styles : one style image or a list of them (blended by ``style_blend``)
    options : StyleOptions; keyword ``overrides`` replace single fields
        (e.g. ``stylize(c, s, size=256, style_weight=2)``).
    regions : optional spatial loss weights (see :class:`atelier.gatys.Region`)
    progress : optional callback receiving :class:`atelier.gatys.Progress`

    Returns
    -------
    PIL.Image
        RGB (RGBA if the content had an alpha channel, which is kept). Its
        ``info["atelier"]`` holds the metadata record (settings, versions, timing).
    """
    opts = dataclasses.replace(options or StyleOptions(), **overrides).resolved()
    if method != "gatys":
        if regions is not None:
            raise UsageError(f"spatial regions need method 'gatys', not {method!r}")
        from .feedforward.transfer import from_style_options, transfer  # it imports this module
        return transfer(content, as_style_list(styles), from_style_options(opts, method, feedforward))
    c, s, alpha = prepare(content, styles, opts)
    start = time.perf_counter()
    out = to_pil(stylize_tensor(c, s, opts, regions=regions, progress=progress))
    if alpha is not None:
        out.putalpha(alpha.resize(out.size, Image.LANCZOS))
    out.info["atelier"] = metadata(opts, time.perf_counter() - start, method="gatys",
                                   content=describe_input(content),
                                   styles=[describe_input(x) for x in as_style_list(styles)],
                                   **upscale_record((c.shape[-1], c.shape[-2]), out.size))
    return out
