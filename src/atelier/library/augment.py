"""Retrieval-augmented stylization: widen one style image with similar artworks.

A single style image is a narrow, sometimes awkward target. :func:`stylize_augmented` looks
up the query style's nearest artworks in a :class:`~atelier.library.store.StyleLibrary` (Euclidean
distance between descriptors, at most ``neighbours`` of them within ``threshold``),
optionally recolours each neighbour to the query's colour histogram (scikit-image's
``match_histograms``, per RGB channel), and runs the ordinary Gatys optimization against the
weighted mean of the Gram matrices of the query and its neighbours:

    G_target = query_weight * G(query) + sum_i (1 - query_weight) / n * G(neighbour_i)

so the query keeps ``query_weight`` of the target whatever the number ``n`` of neighbours,
and the neighbours share the rest equally. ``query_weight = 1`` is plain stylization.

Why these defaults (K=3, recolour on, query weight 0.85; ``benchmarks/augment_study.py``,
numbers in ``docs/library.md``): naive equal averaging of several Grams pulls the target
toward a "mean style", and the result drifts from the query (style distance to the query
+28 % over 8 pairs). Recolouring removes the largest difference (the palette) and the query's
share sets the rest of the trade-off: +18 % at 0.5, +9 % at 0.7, +4 % at 0.85, always as
crisp as plain stylization. Lower ``query_weight`` for more of the neighbours' character.

If no artwork lies within the threshold the plain style is used and the result says so.

Configurations (``AugmentOptions.augment_config``, CLI ``--augment-config``):

``atelier`` (default)
    the fields as given (defaults above).
``paper``
    the setup of "Automatic image style transfer using an augmented style set" (2024): K = 3,
    Euclidean distance on the concatenated channel-mean descriptor, the threshold
    :data:`PAPER_THRESHOLD` (calibrated on our descriptor scale so that >= 90 % of the shared
    library's artworks have a neighbour within it; ``benchmarks/bench_neighbours.py``,
    ``docs/library.md``), and equal Gram weights ``1 / (n + 1)`` for the query and each of
    its ``n`` neighbours. Recolouring stays a choice (``--recolor`` / ``--no-recolor``: the
    paper has both). A field given another value than its ``atelier`` default keeps it.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.exposure import match_histograms

from ..base.checks import check_choice, check_int, check_number
from ..base.errors import UsageError
from ..core.gatys import ProgressFn
from ..core.options import StyleOptions
from ..core.pipeline import stylize_gatys
from ..core.record import describe_input
from ..io import starter
from ..io.images import ImageLike, load_image, shrink_long_side, style_side
from . import starter as starter_library
from .store import Hit, StyleLibrary, file_sha256

LibraryLike = StyleLibrary | str | os.PathLike | None
COPY_SLACK = 4  # extra hits fetched so that skipped copies of the query do not shorten the list
PAPER_THRESHOLD = 4700.0  # 90.7 % of the 635 shared artworks have a neighbour within it (docs/library.md)
CONFIGS = ("atelier", "paper")


@dataclass
class AugmentOptions:
    """How a style is augmented with library neighbours (CLI: one option per field)."""

    neighbours: int = field(default=3, metadata={"help": "K: at most this many library neighbours join the style"})
    threshold: float = field(default=4000.0, metadata={
        "help": "largest descriptor distance of a neighbour (see `atelier library info` and docs/library.md)"})
    min_distance: float = field(default=1000.0, metadata={
        "help": "closer artworks are copies of the query (another size or format) and are skipped"})
    recolor: bool = field(default=True, metadata={"help": "histogram-match each neighbour to the query's colours"})
    query_weight: float | None = field(default=0.85, metadata={
        "help": "share of the query in the averaged Gram matrices; the neighbours split the rest equally "
                "(None in Python, or --augment-config paper: equal weights 1/(n+1))"})
    pool: int = field(default=8, metadata={
        "help": "variants: draw neighbour subsets from this many nearest candidates"})
    library: str | None = field(default=None, metadata={
        "help": "style library file [default: $ATELIER_LIBRARY or ~/.cache/atelier/library.sqlite]"})
    augment_config: str = field(default="atelier", metadata={
        "help": "atelier | paper: paper = the paper's setup (K=3, calibrated threshold, equal Gram weights "
                "1/(n+1)); fields set to other values than their defaults keep them (docs/library.md)"})

    def validate(self) -> AugmentOptions:
        """Return self after checking every field; raises ``UsageError``."""
        check_int("neighbours", self.neighbours, 0)
        check_int("pool", self.pool, 1)
        check_number("threshold", self.threshold, 0)
        check_number("min_distance", self.min_distance, 0)
        if self.query_weight is not None:
            check_number("query_weight", self.query_weight, 0, 1, lo_open=True)
        check_choice("augment_config", self.augment_config, CONFIGS)
        return self

    def resolved(self) -> AugmentOptions:
        """A validated copy with the configuration applied: for ``paper``, each of ``neighbours``,
        ``threshold`` and ``query_weight`` still at its ``atelier`` default becomes the paper's
        (3, :data:`PAPER_THRESHOLD`, equal weights)."""
        self.validate()
        if self.augment_config == "atelier":
            return dataclasses.replace(self)
        default = AugmentOptions()
        paper = {"neighbours": 3, "threshold": PAPER_THRESHOLD, "query_weight": None}
        return dataclasses.replace(self, **{k: v for k, v in paper.items() if getattr(self, k) == getattr(default, k)})


# --- pure pieces ---------------------------------------------------------------------

def blend_weights(n_neighbours: int, query_weight: float | None) -> list[float]:
    """Gram blend weights ``[query, neighbour_1, ...]``: the query gets ``query_weight``, the
    ``n_neighbours`` split ``1 - query_weight`` equally (``[1.0]`` when there are none);
    ``query_weight=None``: all ``n + 1`` images weigh ``1 / (n + 1)``."""
    if n_neighbours == 0:
        return [1.0]
    if query_weight is None:
        return [1.0 / (n_neighbours + 1)] * (n_neighbours + 1)
    return [float(query_weight)] + [(1.0 - query_weight) / n_neighbours] * n_neighbours


def recolor(image: Image.Image, reference: Image.Image) -> Image.Image:
    """``image`` with each RGB channel's histogram matched to ``reference``'s."""
    matched = match_histograms(np.asarray(image.convert("RGB")), np.asarray(reference.convert("RGB")),
                               channel_axis=-1)
    return Image.fromarray(np.clip(matched + 0.5, 0, 255).astype(np.uint8), "RGB")


def choose_subsets(n_candidates: int, k: int, n: int, seed: int) -> list[tuple[int, ...]]:
    """``n`` distinct subsets of candidate indices ``0..n_candidates-1``, drawn with ``seed``.

    Subsets have ``min(k, n_candidates)`` members; when there are fewer than ``n`` of those,
    smaller subsets follow. Fewer than ``n`` come back only if all non-empty subsets of size
    <= k are used up. Each subset is sorted (nearest candidate first).
    """
    rng = random.Random(seed)
    out: list[tuple[int, ...]] = []
    for size in range(min(k, n_candidates), 0, -1):
        want = n - len(out)
        if math.comb(n_candidates, size) <= 4 * want:  # few: enumerate and shuffle
            combos = list(itertools.combinations(range(n_candidates), size))
            rng.shuffle(combos)
            out += combos[:want]
        else:  # many: rejection-sample distinct ones
            seen: set[tuple[int, ...]] = set()
            while len(seen) < want:
                pick = tuple(sorted(rng.sample(range(n_candidates), size)))
                if pick not in seen:
                    seen.add(pick)
                    out.append(pick)
        if len(out) >= n:
            break
    return out


# --- library look-up -----------------------------------------------------------------

@dataclass
class Candidates:
    """Neighbours of a query style within the threshold, nearest first, plus notes for the user."""

    query: Image.Image
    hits: list[Hit]
    notes: list[str]
    library: str
    threshold: float | None = None  # the threshold applied, when not the options' one (starter library)


def open_library(library: LibraryLike, aug: AugmentOptions) -> StyleLibrary:
    """``library`` if already open, else the file it names (or ``aug.library``, or the default,
    or the starter library when there is no default one: :mod:`atelier.library.starter`)."""
    if isinstance(library, StyleLibrary):
        return library
    return StyleLibrary.open(library or aug.library or starter_library.default_or_starter()[0])


def find_candidates(style: ImageLike, lib: StyleLibrary, aug: AugmentOptions, count: int) -> Candidates:
    """Up to ``count`` library neighbours of ``style`` within ``aug.threshold``.

    The query is never its own neighbour: entries holding the same file (by sha256) and
    entries closer than ``aug.min_distance`` (the same artwork at another size or in another
    format) are skipped. Notes explain a short list: a library smaller than ``count``, or a
    threshold that excludes everything. With the starter library and the default threshold,
    :data:`atelier.library.starter.THRESHOLD` applies instead (its few paintings lie farther apart).
    """
    style = starter.resolve(style)
    query = load_image(style)
    sha = file_sha256(Path(style)) if isinstance(style, (str, os.PathLike)) else None
    found = lib.search(lib.describe(query), count + COPY_SLACK, exclude_sha256=sha)
    copies = [h for h in found if h.distance < aug.min_distance]
    nearest = [h for h in found if h.distance >= aug.min_distance][:count]
    threshold, notes = aug.threshold, []
    if starter_library.is_starter(lib.path):
        notes.append(starter_library.note())
        if aug.threshold == AugmentOptions().threshold:
            threshold = starter_library.THRESHOLD
            notes.append(f"threshold {threshold:g} for the starter library, whose paintings lie farther apart "
                         "than a large library's (--threshold sets another)")
    hits = [h for h in nearest if h.distance <= threshold]
    if copies:
        notes.append(f"skipped {len(copies)} copies of the query (closer than {aug.min_distance:g}): "
                     + ", ".join(h.entry.label for h in copies))
    if len(nearest) < count:
        notes.append(f"the library holds only {len(nearest)} other artworks ({count} asked)")
    if not hits:
        notes.append(f"no artwork within threshold {threshold:g} (nearest at {nearest[0].distance:.1f}): "
                     "plain style used" if nearest else "the library has no other artwork: plain style used")
    elif len(hits) < min(count, len(nearest)):
        notes.append(f"{len(hits)} of {min(count, len(nearest))} nearest artworks lie within threshold {threshold:g}")
    return Candidates(query, hits, notes, str(lib.path), threshold)


# --- stylization ---------------------------------------------------------------------

def style_set(candidates: Candidates, hits: Sequence[Hit], aug: AugmentOptions, style_options: StyleOptions
              ) -> tuple[list[Image.Image], list[float], list[Hit], list[str]]:
    """The augmented style set: (images with the query first, Gram blend weights, hits used, notes).

    Neighbour images are read from their library paths (a missing or unreadable one is left
    out and noted), shrunk to the style size, recoloured to the query if ``aug.recolor``, and
    weighted by :func:`blend_weights`.
    """
    side = style_side(style_options.size, style_options.style_scale)
    query = shrink_long_side(candidates.query, side)
    notes = list(candidates.notes)
    used, images = [], []
    for h in hits:
        try:
            img = load_image(h.entry.path)
        except UsageError as exc:
            notes.append(f"left out {h.entry.label}: {exc}")
            continue
        img = shrink_long_side(img, side)
        images.append(recolor(img, query) if aug.recolor else img)
        used.append(h)
    return [query] + images, blend_weights(len(used), aug.query_weight), used, notes


def stylize_with(content: ImageLike, candidates: Candidates, hits: Sequence[Hit], aug: AugmentOptions,
                 style_options: StyleOptions, progress: ProgressFn | None = None,
                 style_name: str = "") -> Image.Image:
    """Stylize ``content`` with the query of ``candidates`` augmented by ``hits`` (:func:`style_set`).

    The result's ``info["atelier"]`` gains ``method="augmented"`` and an ``augment`` record
    listing the neighbours used (path, artist, title, distance, weight).
    """
    images, weights, used, notes = style_set(candidates, hits, aug, style_options)
    opts = dataclasses.replace(style_options, style_blend=tuple(weights))
    out = stylize_gatys(content, images, opts, progress=progress)
    meta = out.info["atelier"]
    meta["method"] = "augmented" if used else "gatys"
    meta["styles"] = [style_name or "query"] + [h.entry.path for h in used]
    meta["augment"] = {
        "library": candidates.library, "neighbours_asked": aug.neighbours,
        "threshold": aug.threshold if candidates.threshold is None else candidates.threshold,
        "config": aug.augment_config, "recolor": aug.recolor, "query_weight": weights[0], "notes": notes,
        "neighbours": [{"id": h.entry.id, "path": h.entry.path, "artist": h.entry.artist, "title": h.entry.title,
                        "distance": round(h.distance, 3), "weight": w} for h, w in zip(used, weights[1:], strict=True)],
    }
    return out


def stylize_augmented(content: ImageLike, style: ImageLike, library: LibraryLike, aug_options: AugmentOptions,
                      style_options: StyleOptions | None = None,
                      progress: ProgressFn | None = None) -> Image.Image:
    """Stylize ``content`` with ``style`` widened by its nearest library artworks.

    ``library``: an open :class:`StyleLibrary`, a path, or None (``aug_options.library`` or
    the default library). Returns a PIL image whose ``info["atelier"]["augment"]`` lists the
    neighbours used and any notes (e.g. the plain-style fallback when none is close enough).
    """
    aug = aug_options.resolved()
    opts = (style_options or StyleOptions()).resolved()
    style = starter.resolve(style)
    if aug.neighbours == 0:
        cands = Candidates(load_image(style), [], ["0 neighbours asked: plain style used"], "")
    else:
        lib = open_library(library, aug)
        try:
            cands = find_candidates(style, lib, aug, aug.neighbours)
        finally:
            if lib is not library:
                lib.close()
    return stylize_with(content, cands, cands.hits, aug, opts, progress, describe_input(style))


def stylize_variants(content: ImageLike, style: ImageLike, library: LibraryLike, aug_options: AugmentOptions,
                     n: int, style_options: StyleOptions | None = None,
                     progress: ProgressFn | None = None) -> tuple[list[Image.Image], Candidates]:
    """``n`` augmented stylizations, each with a different subset of the nearest ``aug.pool``
    candidates (:func:`choose_subsets`, seeded by ``style_options.seed``).

    Returns the images (each with its neighbours in ``info["atelier"]["augment"]``) and the
    candidates they were drawn from. Raises ``UsageError`` if no candidate lies within the
    threshold (every variant would be the plain result).
    """
    aug = aug_options.resolved()
    opts = (style_options or StyleOptions()).resolved()
    check_int("n", n, 1)
    style = starter.resolve(style)
    lib = open_library(library, aug)
    try:
        cands = find_candidates(style, lib, aug, max(aug.pool, aug.neighbours))
    finally:
        if lib is not library:
            lib.close()
    if not cands.hits:
        raise UsageError(f"variants need library neighbours: {'; '.join(cands.notes)}")
    subsets = choose_subsets(len(cands.hits), max(1, aug.neighbours), n, opts.seed)
    if len(subsets) < n:
        cands.notes.append(f"only {len(subsets)} distinct neighbour subsets exist: {len(subsets)} variants made")
    images = []
    for i, subset in enumerate(subsets):
        img = stylize_with(content, cands, [cands.hits[j] for j in subset], aug, opts, progress, describe_input(style))
        img.info["atelier"]["augment"]["variant"] = {"index": i + 1, "seed": opts.seed,
                                                     "candidates": [j + 1 for j in subset]}
        images.append(img)
    return images, cands
