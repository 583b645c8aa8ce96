"""Portrait mode: strong style on the background, a content-preserving style on the person.

Two ways to use the person mask (``PortraitOptions.portrait_mode``):

``regions`` (default)
    ONE Gatys optimization with spatially weighted losses (:class:`atelier.core.gatys.Region`):

    ==============  ==============================  ====================================
    region          content weight (x alpha)        style weight (x beta)
    ==============  ==============================  ====================================
    background      1                               ``background_style``
    person          ``person_content``              ``person_style``
    face            ``face_content`` (extra)        0
    ==============  ==============================  ====================================

    Each region's style term compares the Gram matrix of the output *inside that region*
    with the style's, and its content term is the relative feature error inside it, so the
    weights change smoothly with the soft masks and there are no seams.
``twopass``
    The seed paper's scheme: stylize the whole image twice, once with the background
    weights and once with the person (and face) weights, then composite the two results
    by the soft person mask. Twice the time; kept for comparison.

``backend="sanet"`` or ``"ghiasi"`` runs the two-pass scheme on that feed-forward network
(alpha per pass; SANet's W1/W2 branch weights). ``augment`` widens the style with style-library neighbours
(:mod:`atelier.library.augment`) before either Gatys mode.

Masks come from :mod:`atelier.portrait.segment` (mediapipe, offline) or from the user (any size,
resized to the output; ``invert_mask`` for masks that mark the background). When no person
is found the result is a plain stylization and the metadata says so
(``portrait.fallback``), unless ``require_person`` is set.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image

from ..base.checks import check_choice, check_int, check_number
from ..base.errors import AtelierError, UsageError
from ..core.gatys import Progress, ProgressFn, Region
from ..core.options import StyleOptions, option_field
from ..core.pipeline import Styles, as_style_list, stylize_gatys
from ..core.tensors import fit_long_side
from ..io.images import ImageLike, load_image, shrink_long_side
from ..library.methods import PORTRAIT_BACKENDS
from . import segment

if TYPE_CHECKING:
    from ..library.augment import AugmentOptions

MODES = ("regions", "twopass")
BACKENDS = PORTRAIT_BACKENDS  # gatys, or a feed-forward method declaring portrait_backend



@dataclass
class PortraitOptions:
    """How portrait mode segments the content and weights the losses (see module doc)."""

    portrait_mode: str = option_field("regions", "regions (one optimization, spatial loss weights) "
                                                 "| twopass (composite of two)")
    segmenter: str = option_field("auto", "person segmenter: auto (selfie + pose) | selfie | landscape | pose")
    background_style: float = option_field(2.0, "style weight multiplier on the background")
    person_style: float = option_field(0.1, "style weight multiplier on the person")
    person_content: float = option_field(2.0, "content weight multiplier on the person")
    face_content: float = option_field(24.0, "extra content weight on the face (protected more than hair and clothes)")
    mask_threshold: float = option_field(0.5, "person mask threshold before refinement")
    feather: float = option_field(0.01, "mask feathering (Gaussian sigma) as a fraction of the long side")
    max_faces: int = option_field(8, "at most this many faces are protected")
    mask: str | None = option_field(None, "your own person mask image (any size; white = person), "
                                          "instead of segmentation")
    invert_mask: bool = option_field(False, "the mask marks the background, not the person")
    require_person: bool = option_field(False, "fail when no person is found instead of stylizing the whole image")
    backend: str = option_field("gatys", "gatys (optimization) | sanet | ghiasi (feed-forward, always two passes: "
                                 "alpha 1 behind, alpha = person_style on the person)")
    sanet_w1: float = option_field(1.0, "sanet backend: weight W1 of the relu4_1 attention branch")
    sanet_w2: float = option_field(1.0, "sanet backend: weight W2 of the relu5_1 attention branch")
    model: str | None = option_field(None, "feed-forward backend: model weights file (default: the method's own)")

    def validate(self) -> PortraitOptions:
        """Raise ``UsageError`` for out-of-range settings; returns self."""
        check_choice("portrait_mode", self.portrait_mode, MODES)
        check_choice("backend", self.backend, BACKENDS)
        check_choice("segmenter", self.segmenter, segment.SEGMENTERS)
        for name in ("background_style", "person_style", "person_content", "face_content"):
            check_number(name, getattr(self, name), 0)
        check_number("mask_threshold", self.mask_threshold, 0, 1, lo_open=True, hi_open=True)
        check_number("feather", self.feather, 0, 0.2)
        check_int("max_faces", self.max_faces, 1, 64)
        return self


@dataclass
class PortraitMasks:
    """Soft masks at the output resolution (H x W float32, 0..1) and where they came from."""

    person: np.ndarray      # everything protected (the face included)
    face: np.ndarray        # the face ovals, protected further
    found: bool             # a person (or a usable user mask) is present
    source: str             # "segmentation:<segmenter>" or "user mask"
    faces: int = 0

    def summary(self) -> dict[str, Any]:
        """What goes into the result's metadata."""
        return {"mask_source": self.source, "person_found": self.found, "faces": self.faces,
                "person_area": round(float((self.person > 0.5).mean()), 4),
                "face_area": round(float((self.face > 0.5).mean()), 4)}


# --- masks ---------------------------------------------------------------------------

def load_user_mask(src: ImageLike, size: tuple[int, int], invert: bool = False) -> np.ndarray:
    """A user mask (path, PIL image, HxW array or tensor; any size) as H x W float32 at ``size`` = (H, W).

    Images with transparency use their alpha channel, others their luminance (white = person).
    Raises ``UsageError`` (prefixed ``mask:``) for unreadable input and for masks that are
    empty or cover the whole image after ``invert``.
    """
    try:
        rgb, alpha = load_image(src, with_alpha=True)
    except UsageError as exc:
        raise UsageError(f"mask: {exc}") from None
    gray = alpha if alpha is not None and alpha.getextrema()[0] < 255 else rgb.convert("L")
    m = np.asarray(gray.resize((size[1], size[0]), Image.BILINEAR), np.float32) / 255.0
    if invert:
        m = 1.0 - m
    inside = m > 0.5
    if not inside.any():
        raise UsageError("mask: the mask is empty (no pixel above 50%)" + (" after --invert-mask" if invert else ""))
    if inside.all():
        raise UsageError("mask: the mask covers the whole image, nothing is left for the background"
                         + (" (after --invert-mask)" if invert else "; did you mean --invert-mask?"))
    return m


def output_size(content: Image.Image, size: int) -> tuple[int, int]:
    """(H, W) of the stylized output for ``content`` at long side ``size`` (as :func:`atelier.stylize`)."""
    img = shrink_long_side(content, size)
    return fit_long_side((img.height, img.width), size)


def portrait_masks(content: ImageLike, size: int, popts: PortraitOptions,
                   mask: ImageLike | None = None) -> PortraitMasks:
    """Person and face masks of ``content`` at the output size for long side ``size``.

    ``mask`` (or ``popts.mask``) replaces segmentation of the person; detected faces inside
    it are still protected further.
    """
    popts.validate()
    img = load_image(content)
    h, w = output_size(img, size)
    user = mask if mask is not None else popts.mask
    if user is None:
        seg = segment.segment(img, (h, w), popts.segmenter, popts.mask_threshold, popts.feather, popts.max_faces)
        return PortraitMasks(seg.person, seg.face, seg.person_found, f"segmentation:{popts.segmenter}",
                             len(seg.faces))
    person = load_user_mask(user, (h, w), popts.invert_mask)
    faces = segment.detect_faces(img, popts.max_faces)
    face = np.minimum(segment.face_mask((h, w), faces, scale=w / img.width), person)
    return PortraitMasks(person, face, True, "user mask", len(faces) if face.max() > 0.5 else 0)


# --- losses and compositing -----------------------------------------------------------

def _region(mask: np.ndarray, content_weight: float, style_weight: float) -> Region:
    """A :class:`Region` whose weights act per pixel: each weight is scaled by the mask's area.

    The core's region losses are normalised inside each mask (relative content error, Gram
    divided by the mask's weight), which makes a small region's pixels pull as hard as the
    whole image's; scaling by the area fraction gives every pixel of every region the stated
    weight, keeps the optimization as well conditioned as a plain run and so leaves no part
    under-optimized for a given number of iterations.
    """
    area = float(mask.mean())
    return Region(torch.from_numpy(np.ascontiguousarray(mask, np.float32))[None, None],
                  content_weight * area, style_weight * area)


def portrait_regions(masks: PortraitMasks, popts: PortraitOptions) -> list[Region]:
    """The loss regions of the one-optimization mode: background, person, face (see module doc)."""
    regions = [_region(1.0 - masks.person, 1.0, popts.background_style),
               _region(masks.person, popts.person_content, popts.person_style)]
    if popts.face_content > 0 and masks.face.max() > 0.5:
        regions.append(_region(masks.face, popts.face_content, 0.0))
    return regions


def background_pass_regions(masks: PortraitMasks, popts: PortraitOptions) -> list[Region]:
    """The single region of the two-pass mode's background pass: the whole image, strongly styled."""
    return [_region(np.ones_like(masks.person), 1.0, popts.background_style)]


def person_pass_regions(masks: PortraitMasks, popts: PortraitOptions) -> list[Region]:
    """Regions of the two-pass mode's person pass: whole image lightly styled, face kept further."""
    regions = [_region(np.ones_like(masks.person), popts.person_content, popts.person_style)]
    if popts.face_content > 0 and masks.face.max() > 0.5:
        regions.append(_region(masks.face, popts.face_content, 0.0))
    return regions


def composite(person: Image.Image, background: Image.Image, mask: np.ndarray) -> Image.Image:
    """``mask * person + (1 - mask) * background`` (alpha channels, if any, come from ``person``)."""
    m = Image.fromarray(np.clip(mask * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if m.size != person.size:
        m = m.resize(person.size, Image.BILINEAR)
    return Image.composite(person, background.resize(person.size, Image.LANCZOS), m)


def _pass_progress(progress: ProgressFn | None, index: int, passes: int) -> ProgressFn | None:
    """Report pass ``index`` of ``passes`` equally expensive runs as one continuous progress."""
    if progress is None:
        return None

    def report(p: Progress) -> None:
        progress(dataclasses.replace(p, done=p.done + index * p.total, total=p.total * passes,
                                     cost=p.cost + index * p.total_cost, total_cost=p.total_cost * passes))

    return report


# --- other backends and style sets -------------------------------------------------------

def feedforward_transfer(content: ImageLike, styles: Styles, popts: PortraitOptions, opts: StyleOptions,
                         alpha: float) -> Image.Image:
    """One stylization by the feed-forward ``popts.backend`` with the portrait's W1/W2, model, size and device."""
    from ..feedforward.transfer import FeedForwardOptions, transfer

    ff = FeedForwardOptions(method=popts.backend, size=opts.size, sanet_w1=popts.sanet_w1, sanet_w2=popts.sanet_w2,
                            model=popts.model, device=opts.device, alpha=min(1.0, alpha))
    return transfer(content, as_style_list(styles), ff)


def feedforward_portrait(content: ImageLike, styles: Styles, masks: PortraitMasks, popts: PortraitOptions,
                         opts: StyleOptions) -> Image.Image:
    """The two-pass scheme on the feed-forward backend: alpha ``min(1, background_style)`` for the
    background, ``min(1, person_style)`` for the person, composited by the person mask."""
    background = feedforward_transfer(content, styles, popts, opts, popts.background_style)
    person = feedforward_transfer(content, styles, popts, opts, popts.person_style)
    out = composite(person, background, masks.person)
    out.info["atelier"] = {**background.info["atelier"], "seconds": round(
        background.info["atelier"]["seconds"] + person.info["atelier"]["seconds"], 3)}
    return out


def augmented_style_set(style: ImageLike, aug: AugmentOptions, opts: StyleOptions,
                        library: Any = None) -> tuple[list[Image.Image], list[float], dict[str, Any]]:
    """The augmented style set of :mod:`atelier.library.augment` for ``style``: (images, Gram blend weights,
    a record of the neighbours), the query first, neighbours recoloured to it if ``aug.recolor``."""
    from ..library import augment

    lib = augment.open_library(library, aug.validate())
    try:
        cands = augment.find_candidates(style, lib, aug, aug.neighbours)
    finally:
        if lib is not library:
            lib.close()
    images, weights, used, notes = augment.style_set(cands, cands.hits, aug, opts)
    record = {"library": cands.library, "notes": notes, "query_weight": weights[0],
              "neighbours": [{"path": h.entry.path, "artist": h.entry.artist, "title": h.entry.title,
                              "distance": round(h.distance, 3)} for h in used]}
    return images, weights, record


# --- entry point -----------------------------------------------------------------------

def stylize_portrait(content: ImageLike, styles: Styles, portrait_options: PortraitOptions | None = None,
                     style_options: StyleOptions | None = None, progress: ProgressFn | None = None, *,
                     masks: PortraitMasks | None = None, mask: ImageLike | None = None,
                     augment: AugmentOptions | None = None, library: Any = None) -> Image.Image:
    """Stylize ``content`` with ``styles`` in portrait mode; returns a PIL image.

    Parameters
    ----------
    content, styles : as for :func:`atelier.stylize`
    portrait_options : :class:`PortraitOptions` (segmentation, region weights, mode)
    style_options : :class:`atelier.StyleOptions` of the underlying optimization; its
        ``style_weight`` is the background's style weight before ``background_style``.
    progress : optional callback receiving :class:`atelier.core.gatys.Progress` (both passes of
        ``twopass`` are reported as one run)
    masks : precomputed :func:`portrait_masks` (e.g. to save or show them first)
    mask : a user mask overriding segmentation (see :func:`load_user_mask`)
    augment, library : widen the (single) style with its style-library neighbours
        (:class:`atelier.library.augment.AugmentOptions`; ``neighbours=0`` or None: off)

    Returns
    -------
    PIL.Image
        ``info["atelier"]`` is the metadata of :func:`atelier.stylize` plus a ``portrait``
        record (mode, weights, mask source, person/face areas, ``fallback`` when no
        person was found).

    Raises
    ------
    AtelierError
        ``require_person`` is set and no person was found.
    """
    popts = (portrait_options or PortraitOptions()).validate()
    opts = (style_options or StyleOptions()).resolved()
    if masks is None:
        masks = portrait_masks(content, opts.size, popts, mask)
    if not masks.found and popts.require_person:
        raise AtelierError("no person found in the content image (--require-person)")
    record: dict[str, Any] = {**dataclasses.asdict(popts), **masks.summary()}
    if augment is not None and augment.neighbours > 0:
        if len(as_style_list(styles)) != 1:
            raise UsageError("augmentation widens exactly one style image; give one style")
        if popts.backend != "gatys":
            raise UsageError("the augmented style set needs the gatys backend")
        styles, weights, record["augment"] = augmented_style_set(as_style_list(styles)[0], augment, opts, library)
        opts = dataclasses.replace(opts, style_blend=tuple(weights))
    if not masks.found:
        out = (stylize_gatys(content, styles, opts, progress=progress) if popts.backend == "gatys"
               else feedforward_transfer(content, styles, popts, opts, popts.background_style))
        record["fallback"] = "no person found: plain stylization"
    elif popts.backend != "gatys":
        out = feedforward_portrait(content, styles, masks, popts, opts)
        record["portrait_mode"] = "twopass"
    elif popts.portrait_mode == "regions":
        out = stylize_gatys(content, styles, opts, regions=portrait_regions(masks, popts), progress=progress)
    else:
        background = stylize_gatys(content, styles, opts, regions=background_pass_regions(masks, popts),
                             progress=_pass_progress(progress, 0, 2))
        person = stylize_gatys(content, styles, opts, regions=person_pass_regions(masks, popts),
                         progress=_pass_progress(progress, 1, 2))
        out = composite(person, background, masks.person)
        record["seconds_per_pass"] = [background.info["atelier"]["seconds"], person.info["atelier"]["seconds"]]
        out.info["atelier"] = {**person.info["atelier"],
                               "seconds": round(sum(record["seconds_per_pass"]), 3)}
    out.info["atelier"] = {**out.info["atelier"], "portrait": record}
    return out
