"""The work a web job does: a callable for :class:`atelier.web.jobs.JobQueue`.

Inputs are decoded and shrunk to the output size when the job is submitted, so a queued
job holds small images and does not depend on its uploads staying on disk. The result is
written with :func:`atelier.images.save_image` (atomic, PNG with the metadata record).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Sequence

from PIL import Image

from ..api import stylize
from ..gatys import Progress
from ..images import resize_long_side, save_image, to_pil
from ..options import StyleOptions
from .jobs import JobContext

PREVIEW_EVERY_S = 0.3  # at most this often an intermediate image is converted for the page


def shrink(img: Image.Image, long_side: int) -> Image.Image:
    """``img`` with its long side at most ``long_side``."""
    return resize_long_side(img, long_side) if max(img.size) > long_side else img


def gatys_job(content: Image.Image, styles: Sequence[Image.Image], opts: StyleOptions, out: Path,
              extra: dict[str, Any]) -> Callable[[JobContext], Path]:
    """A job running :func:`atelier.stylize` and saving the result to ``out`` (PNG + metadata).

    Progress is the pyramid cost done / total (``Progress.cost / total_cost``); the
    intermediate image is published at most every ``PREVIEW_EVERY_S`` seconds.
    """
    style_side = max(16, round(opts.size * opts.style_scale))
    content = shrink(content, opts.size)
    styles = [shrink(s, style_side) for s in styles]

    def run(ctx: JobContext) -> Path:
        last = [0.0]

        def progress(p: Progress) -> None:
            now = time.monotonic()
            preview = None
            if now - last[0] >= PREVIEW_EVERY_S:
                preview, last[0] = to_pil(p.image), now
            ctx.report(p.cost / p.total_cost, preview)

        img = stylize(content, list(styles), opts, progress=progress)
        ctx.check()
        save_image(img, out, {**img.info["atelier"], **extra})
        return out

    return run
