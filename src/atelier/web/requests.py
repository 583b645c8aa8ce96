"""What a browser asks for (``POST /api/jobs``) and how it becomes a queued job.

:func:`plan_job` checks the whole request before anything is queued (method available,
settings in range, images found, feature combinations supported) and raises
:class:`~atelier.base.errors.UsageError` with one line otherwise, so a bad request fails at once
instead of after waiting in the queue.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ..base.errors import UsageError
from ..io.images import check_dimensions
from .config import JobSettings, style_options
from .studio import Studio
from .tasks import JobFn, feedforward_job, gatys_job, library_job, refine_options


class AugmentRequest(BaseModel):
    """Style-library augmentation of a job: the chosen artworks, optionally as ``variants``."""

    neighbours: list[int] = Field(default_factory=list, max_length=16)  # library ids from a search
    search_k: int = Field(default=12, ge=1, le=48)                      # k of that search
    query_weight: float | None = Field(default=None, gt=0, le=1)  # None: AugmentOptions', as the page's slider
    recolor: bool = True
    variants: int = Field(default=0, ge=0, le=8)  # > 0: this many results, each from a subset of neighbours


class JobRequest(BaseModel):
    """Body of ``POST /api/jobs``. Images are ``upload:<id>`` or ``sample:<name>``."""

    content: str
    styles: list[str] = Field(default_factory=list, max_length=8)  # none for a method with a trained style
    method: str = "gatys"
    quality: str = "balanced"
    size: int | None = None
    iterations: int | None = Field(default=None, ge=1, le=2000)
    strength: float = 1.0
    color: str = "none"
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    look: str = "classic"
    portrait: bool = False
    augment: AugmentRequest | None = None
    refine: str | None = None  # id of an earlier job whose result starts the optimization


def plan_job(studio: Studio, req: JobRequest, session: str) -> tuple[JobFn, dict[str, Any]]:
    """The callable to queue for ``req`` and the job's ``info`` record (shown in history)."""
    caps = studio.caps
    if req.method not in caps["methods"]:
        raise UsageError(f"method {req.method!r} is not available; choose from {', '.join(caps['methods'])}")
    if not req.styles and req.method not in caps["trained_styles"]:
        raise UsageError("choose at least one style image")
    sopts = style_options(JobSettings(**req.model_dump(include=set(JobSettings.__dataclass_fields__))),
                          studio.opts.max_size)
    content, content_name = studio.resolve(req.content)
    styles = [studio.resolve(r) for r in req.styles]
    images = [s for s, _ in styles]
    for img, what in [(content, "content image"), *((s, "style image") for s in images)]:
        # Gatys scales the content to the size asked for; the feed-forward methods only shrink
        check_dimensions(img.size, sopts.size if req.method == "gatys" else min(max(img.size), sopts.size), what)
    extra = {"content": content_name, "styles": [n for _, n in styles], "interface": "web"}
    info = {"method": req.method, "quality": req.quality, "size": sopts.size, "iterations": sopts.iterations,
            "strength": req.strength, "color": req.color, "seed": req.seed, "look": req.look,
            "content": content_name, "styles": extra["styles"], "portrait": req.portrait}
    out = studio.results
    if req.portrait and not caps["features"]["portrait"]["available"]:
        raise UsageError("portrait mode is not available in this installation")
    if req.method in caps["feedforward"]:
        from ..library.methods import PORTRAIT_FEEDFORWARD

        if req.portrait and req.method in PORTRAIT_FEEDFORWARD:  # portrait mode's feed-forward backends
            return gatys_job(content, images, sopts, out, extra, portrait=req.method), info
        if req.portrait or req.augment or req.refine:
            raise UsageError(f"{req.method} runs in one pass: portrait mode (except with "
                             f"{' or '.join(PORTRAIT_FEEDFORWARD)}), the style library and refining need the "
                             "gatys method")
        alpha = min(1.0, req.strength)  # feed-forward style strength is a blend factor in [0, 1]
        return feedforward_job(content, images, req.method, sopts.size, alpha, req.color, out, extra), info
    if req.refine:
        sopts = refine_options(sopts, studio.refine_source(req.refine, session))
        info["refines"] = req.refine
    if req.augment is None:
        return gatys_job(content, images, sopts, out, extra, portrait="gatys" if req.portrait else None), info
    a = req.augment
    if req.portrait:
        raise UsageError("portrait mode and the style library cannot be combined yet: turn one of them off")
    if len(images) != 1:
        raise UsageError("the style library augments exactly one style image: remove the others")
    info["augment"] = a.model_dump()
    return library_job(content, images[0], sopts, out, extra, studio.library_path(), a.neighbours,
                       a.search_k, a.query_weight, a.recolor, a.variants), info
