"""The work a web job does: callables for :class:`atelier.web.jobs.JobQueue`.

Each ``*_job`` function checks its inputs when the job is submitted (so a bad request
fails at once, with a message) and returns the callable the queue runs later. Inputs are
decoded and shrunk to the working size at submission, so a waiting job holds small images
and does not depend on its uploads staying on disk. Results are written with
:func:`atelier.io.images.save_image` (atomic, PNG with the metadata record) and returned as
an :class:`Outcome`.

Optional features (style library, portrait mode, feed-forward methods) are imported only
inside the jobs that use them, so this module works without them.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from ..api import stylize
from ..base.errors import UsageError
from ..core.gatys import Progress, ProgressFn
from ..core.options import StyleOptions
from ..core.record import upscale_note
from ..io.images import save_image, shrink_long_side, style_side, to_pil
from .jobs import JobContext

PREVIEW_EVERY_S = 0.3  # at most this often an intermediate image is converted for the page
JobFn = Callable[[JobContext], "Outcome"]


@dataclass
class Outcome:
    """What a finished job made: result files (PNG with metadata) and notes for the user."""

    paths: list[Path]
    notes: list[str] = field(default_factory=list)


def progress_reporter(ctx: JobContext, runs: int = 1) -> ProgressFn:
    """A Gatys progress callback feeding ``ctx``: fraction from the pyramid cost, and the
    intermediate image at most every ``PREVIEW_EVERY_S`` s. ``runs`` optimizations in a row
    (variants) are reported as one: a run starts when the work done (``cost``, which only
    grows within a run) drops."""
    state = {"last": 0.0, "run": 0, "cost": 0.0}

    def report(p: Progress) -> None:
        if p.cost < state["cost"]:
            state["run"] += 1
        state["cost"] = p.cost
        now = time.monotonic()
        preview = None
        if now - state["last"] >= PREVIEW_EVERY_S:
            preview, state["last"] = to_pil(p.image), now
        ctx.report((min(state["run"], runs - 1) + min(1.0, p.cost / p.total_cost)) / runs, preview)

    return report


def notes_of(meta: dict[str, Any]) -> list[str]:
    """User-facing notes in a result's metadata (portrait fallback, augmentation notes, upscaling)."""
    notes = list(meta.get("augment", {}).get("notes", []))
    fallback = meta.get("portrait", {}).get("fallback")
    return notes + [n for n in (fallback, upscale_note(meta)) if n]


def save_all(ctx: JobContext, images: Sequence[Image.Image], out_dir: Path, extra: dict[str, Any]) -> Outcome:
    """Write every image as ``<random>.png`` in ``out_dir`` with its metadata plus ``extra``."""
    ctx.check()
    paths, notes = [], []
    for img in images:
        meta = {**img.info.get("atelier", {}), **extra}
        paths.append(save_image(img, out_dir / f"{secrets.token_hex(16)}.png", meta))
        notes += [n for n in notes_of(meta) if n not in notes]
    return Outcome(paths, notes)


def gatys_job(content: Image.Image, styles: Sequence[Image.Image], opts: StyleOptions, out_dir: Path,
              extra: dict[str, Any], portrait: str | None = None) -> JobFn:
    """:func:`atelier.stylize`, or :func:`atelier.portrait.mode.stylize_portrait` with the backend
    ``portrait`` ("gatys", or "sanet"/"ghiasi": two feed-forward passes composited by the person mask)."""
    content = shrink_long_side(content, opts.size)
    styles = [shrink_long_side(s, style_side(opts.size, opts.style_scale)) for s in styles]

    def run(ctx: JobContext) -> Outcome:
        if portrait:
            from ..portrait.mode import PortraitOptions, stylize_portrait

            img = stylize_portrait(content, list(styles), PortraitOptions(backend=portrait), opts,
                                   progress=progress_reporter(ctx))
        else:
            img = stylize(content, list(styles), opts, progress=progress_reporter(ctx))
        return save_all(ctx, [img], out_dir, extra)

    return run


def library_job(content: Image.Image, style: Image.Image, opts: StyleOptions, out_dir: Path,
                extra: dict[str, Any], library: Path, neighbour_ids: Sequence[int], search_k: int,
                query_weight: float | None, recolor: bool, variants: int = 0) -> JobFn:
    """Stylize with ``style`` augmented by the chosen library artworks (ids from a search of
    ``search_k`` neighbours; ``query_weight`` None: ``AugmentOptions``' default). ``variants`` > 0:
    that many results, each augmented by a different subset of the chosen artworks
    (:func:`atelier.library.augment.choose_subsets`, seeded by ``opts.seed``)."""
    from ..library.augment import AugmentOptions

    if not neighbour_ids:
        raise UsageError("choose at least one library artwork to augment the style with")
    per_run = len(neighbour_ids) if not variants else max(1, min(AugmentOptions().neighbours, len(neighbour_ids) - 1))
    aug = AugmentOptions(neighbours=per_run, recolor=recolor, library=str(library),
                         query_weight=AugmentOptions.query_weight if query_weight is None else query_weight).validate()
    content = shrink_long_side(content, opts.size)
    style = shrink_long_side(style, style_side(opts.size, opts.style_scale))
    wanted = set(neighbour_ids)

    def run(ctx: JobContext) -> Outcome:
        from ..library.augment import Candidates, choose_subsets, stylize_with
        from ..library.store import StyleLibrary

        with StyleLibrary.open(library) as lib:
            chosen = [h for h in lib.search(lib.describe(style), search_k) if h.entry.id in wanted]
        if not chosen:
            raise UsageError("the chosen artworks are no longer in the library: search again")
        notes = [] if len(chosen) == len(wanted) else ["some chosen artworks are no longer in the library"]
        subsets = choose_subsets(len(chosen), per_run, variants, opts.seed) if variants else [tuple(range(len(chosen)))]
        if variants and len(subsets) < variants:
            notes.append(f"only {len(subsets)} distinct subsets of the chosen artworks: {len(subsets)} variants made")
        cands = Candidates(style, chosen, notes, str(library))
        progress = progress_reporter(ctx, runs=len(subsets))
        images = []
        for i, subset in enumerate(subsets):
            img = stylize_with(content, cands, [chosen[j] for j in subset], aug, opts, progress,
                               extra.get("styles", ["query"])[0])
            if variants:
                img.info["atelier"]["augment"]["variant"] = {"index": i + 1, "seed": opts.seed,
                                                             "candidates": [j + 1 for j in subset]}
            images.append(img)
        return save_all(ctx, images, out_dir, extra)

    return run


def feedforward_job(content: Image.Image, styles: Sequence[Image.Image], method: str, size: int, alpha: float,
                    color: str, out_dir: Path, extra: dict[str, Any]) -> JobFn:
    """One forward pass of a shipped feed-forward model (:func:`atelier.feedforward.transfer.transfer`)."""
    from ..feedforward import registry
    from ..feedforward.transfer import FeedForwardOptions

    styles = list(styles) if registry.spec(method).needs_style else []  # else the styles are in the weights
    opts = FeedForwardOptions(method=method, size=size, alpha=alpha, color=color)
    opts.validate(len(styles))
    content, styles = shrink_long_side(content, size), [shrink_long_side(s, size) for s in styles]

    def run(ctx: JobContext) -> Outcome:
        from ..feedforward.transfer import transfer

        ctx.check()
        img = transfer(content, styles, opts)
        return save_all(ctx, [img], out_dir, extra)

    return run


def refine_options(opts: StyleOptions, init: Path) -> StyleOptions:
    """``opts`` starting from the image at ``init`` (an earlier result) instead of the content."""
    return dataclasses.replace(opts, init=str(init)).resolved()
