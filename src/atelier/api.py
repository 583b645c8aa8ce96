"""The Python API: ``atelier.stylize(content, styles, **options) -> PIL.Image``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from PIL import Image

from .base.errors import UsageError
from .core.gatys import ProgressFn, Region
from .core.options import StyleOptions
from .core.pipeline import Styles, as_style_list, stylize_gatys
from .feedforward.transfer import from_style_options, transfer


def stylize(content: Any, styles: Styles, options: StyleOptions | None = None, *,
            regions: Sequence[Region] | None = None, progress: ProgressFn | None = None,
            method: str = "gatys", feedforward: Any = None, **overrides: Any) -> Image.Image:
    """Repaint ``content`` in the style of ``styles`` (Gatys et al., coarse-to-fine).

    ``options.size`` is the long side of the output for every method: a smaller photo is
    upscaled (the metadata then holds ``upscaled``, see :func:`atelier.core.record.upscale_note`).
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
    regions : optional spatial loss weights (see :class:`atelier.core.gatys.Region`)
    progress : optional callback receiving :class:`atelier.core.gatys.Progress`

    Returns
    -------
    PIL.Image
        RGB (RGBA if the content had an alpha channel, which is kept). Its
        ``info["atelier"]`` holds the metadata record (settings, versions, timing).
    """
    opts = dataclasses.replace(options or StyleOptions(), **overrides).resolved()
    if method == "gatys":
        return stylize_gatys(content, styles, opts, regions=regions, progress=progress)
    if regions is not None:
        raise UsageError(f"spatial regions need method 'gatys', not {method!r}")
    return transfer(content, as_style_list(styles), from_style_options(opts, method, feedforward))
