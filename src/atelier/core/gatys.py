"""Optimization-based style transfer (Gatys, Ecker & Bethge 2016), coarse-to-fine.

The image is optimized in RGB pixel space (0..1) to match the content image's features on
the content layers and the (blended) style Gram matrices on the style layers. It runs on a
pyramid: each level is half the size of the next and gets ``coarse_factor`` times more
iterations; its result, upsampled, initialises the next level. Forward/backward passes run
under bf16 autocast; Grams and losses are computed in fp32.

Spatial control uses :class:`Region`: a soft mask with its own content and style weight
multipliers. Every region's style statistics are the masked Gram of the output inside the
region, so one optimization paints e.g. a background strongly and a person lightly, without
seams. With no regions given, the whole image is one region.
"""

from __future__ import annotations

import copy
import math
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from ..base.errors import AtelierError, UsageError
from ..io.images import load_image, to_tensor
from . import color
from .device import autocast, pick_device, uses_bf16
from .lbfgs import lbfgs
from .losses import content_loss, gram, gram_loss, tv_loss
from .options import StyleOptions
from .temporal import Anchor, temporal_loss
from .tensors import fit_long_side, resize
from .vgg import VGG, load_vgg


@dataclass
class Region:
    """A soft mask (1 x 1 x H x W, values 0..1, any resolution) with loss multipliers."""

    mask: torch.Tensor
    content_weight: float = 1.0
    style_weight: float = 1.0


@dataclass
class Progress:
    """What a progress callback receives after every optimizer evaluation."""

    level: int            # 0-based pyramid level
    levels: int
    step: int             # evaluations done on this level
    steps: int            # evaluations planned on this level
    done: int             # evaluations done overall
    total: int            # evaluations planned overall
    cost: float           # work done, in finest-level evaluations (for ETA)
    total_cost: float
    losses: dict[str, float]
    image: torch.Tensor   # current image (do not modify; clone to keep)


ProgressFn = Callable[[Progress], None]


def pyramid(size: tuple[int, int], levels: int, min_side: int = 48) -> list[tuple[int, int]]:
    """Sizes from coarse to fine, halving each level, never below ``min_side`` on the short side."""
    sizes = [size]
    for _ in range(levels - 1):
        h, w = sizes[0]
        nh, nw = round(h / 2), round(w / 2)
        if min(nh, nw) < min_side:
            break
        sizes.insert(0, (nh, nw))
    return sizes


def style_grams(vgg: VGG, styles: Sequence[torch.Tensor], blend: Sequence[float], layers: Sequence[str],
                long_side: float, precision: str = "auto") -> dict[str, torch.Tensor]:
    """Blend-weighted mean of the style images' Gram matrices, each image resized to ``long_side``."""
    total = float(sum(blend))
    out: dict[str, torch.Tensor] = {}
    device = next(vgg.parameters()).device
    for img, w in zip(styles, blend, strict=True):
        if w == 0:
            continue
        x = resize(img.to(device), fit_long_side(img.shape, long_side))
        with torch.no_grad(), autocast(device, precision):
            feats = vgg(x, layers)
        for name in layers:
            g = gram(feats[name]) * (w / total)
            out[name] = out[name] + g if name in out else g
    return out


_LOW_PRECISION: weakref.WeakKeyDictionary[VGG, VGG] = weakref.WeakKeyDictionary()


def _low_precision(vgg: VGG, device: torch.device, precision: str) -> VGG:
    """``vgg`` with its convolutions stored in bf16 when ``precision`` autocasts on ``device`` (else ``vgg``).

    Autocast re-casts fp32 weights that do not require grad on every call (its cache keeps
    only leaf tensors that require grad), about 13 M parameters per evaluation; casting once
    gives the same bf16 weights, so the same results. The copy is made once per network (the
    original, shared through ``load_vgg``'s cache, stays fp32); the mean/std buffers stay fp32.
    """
    if not uses_bf16(device, precision):
        return vgg
    fast = _LOW_PRECISION.get(vgg)
    if fast is None:
        # deepcopy takes the bf16 parameters from the memo, so no second fp32 copy is made
        memo = {id(p): torch.nn.Parameter(p.detach().to(torch.bfloat16), requires_grad=False)
                for conv in vgg.convs for p in conv.parameters()}
        fast = _LOW_PRECISION[vgg] = copy.deepcopy(vgg, memo)
    return fast


InitFn = Callable[[torch.Tensor, Sequence[torch.Tensor], StyleOptions, tuple[int, int]], torch.Tensor]
"""(content 1x3xHxW, styles, options, coarsest level size (h, w)) -> a 1x3xhxw image in 0..1 to
start the optimization from (it is resized to that size)."""

INITS: dict[str, InitFn] = {}
"""Named initial images computed by a higher layer (``feedforward``: :mod:`atelier.feedforward.transfer`)."""


def register_init(name: str, fn: InitFn) -> None:
    """Make ``opts.init == name`` start from ``fn(content, styles, opts, size)``."""
    INITS[name] = fn


def init_image(opts: StyleOptions, content: torch.Tensor, styles: Sequence[torch.Tensor],
               size: tuple[int, int], generator: torch.Generator) -> torch.Tensor:
    """The 1 x 3 x h x w image (``size``) that ``opts.init`` starts the optimization from."""
    if opts.init in INITS:
        return resize(INITS[opts.init](content, styles, opts, size).to(content.device), size)
    if opts.init == "content":
        return resize(content, size)
    if opts.init == "noise":
        return torch.rand((1, 3, *size), generator=generator).to(content.device)
    if opts.init == "style":
        return resize(styles[0], size)
    if not Path(opts.init).exists():
        names = ", ".join([*INITS, "content", "noise", "style"])
        raise UsageError(f"init must be one of {names} or an image file, got {opts.init!r}")
    return resize(to_tensor(load_image(opts.init)).to(content.device), size)


@dataclass
class Plan:
    """The coarse-to-fine schedule of one run (see :func:`plan`)."""

    final: tuple[int, int]         # output size (h, w)
    sizes: list[tuple[int, int]]   # level sizes, coarse to fine; the last is ``final``
    steps: list[int]               # optimizer evaluations planned per level
    unit: list[float]              # cost of one evaluation per level, in finest-level evaluations

    @property
    def total(self) -> int:
        return sum(self.steps)

    @property
    def total_cost(self) -> float:
        return sum(s * u for s, u in zip(self.steps, self.unit, strict=True))


def plan(shape: Sequence[int], opts: StyleOptions) -> Plan:
    """Sizes, evaluations and costs for a content image of ``shape`` (... x H x W) and resolved ``opts``.

    The finest level gets ``opts.iterations`` evaluations, each coarser one ``opts.coarse_factor``
    times more; an evaluation's cost is taken as proportional to its pixel count.
    """
    final = fit_long_side(shape, opts.size)
    sizes = pyramid(final, opts.levels)
    n = len(sizes)
    steps = [max(1, round(opts.iterations * opts.coarse_factor ** (n - 1 - i))) for i in range(n)]
    unit = [(h * w) / (final[0] * final[1]) for h, w in sizes]
    return Plan(final, sizes, steps, unit)


class Objective:
    """The loss of one pyramid level, ``alpha * L_content + beta * L_style (+ tv_weight * L_tv)``.

    Built once per level from the level's content image ``content`` (1 x 3 x h x w) and the
    style images (1 x 3 x H x W, any size, resized to the level's long side times
    ``opts.style_scale``): the content features and the blended style Grams (C x C per layer)
    are computed here, under ``no_grad``. ``regions`` hold 1 x 1 x H x W masks at any size.
    Calling it with an image ``x`` (1 x 3 x h x w, requires grad) returns the scalar loss and
    fills ``self.parts`` with the content/style/tv/total values of that evaluation.
    """

    def __init__(self, vgg: VGG, content: torch.Tensor, styles: Sequence[torch.Tensor], blend: Sequence[float],
                 regions: Sequence[Region], opts: StyleOptions, anchor: Anchor | None = None):
        self.vgg, self.opts, self.regions = vgg, opts, regions
        self.device = next(vgg.parameters()).device
        self.alpha, self.beta = opts.loss_weights
        self.layer_w = [w / sum(opts.style_layer_weights) for w in opts.style_layer_weights]
        self.layers = set(opts.content_layers) | set(opts.style_layers)
        with torch.no_grad(), autocast(self.device, opts.precision):
            self.c_feats = {k: v.float() for k, v in vgg(content, opts.content_layers).items()}
        self.s_grams = style_grams(vgg, styles, blend, opts.style_layers,
                                   max(content.shape[-2:]) * opts.style_scale, opts.precision)
        masks = [r.mask.to(self.device).float() for r in regions]
        self.masks = [None if bool((m == 1).all()) else m for m in masks]  # None: the whole image
        self.anchor = None  # the temporal term (video): a target and its weight mask at this level's size
        if anchor is not None and anchor.weight:
            size = tuple(content.shape[-2:])
            self.anchor = (resize(anchor.target.to(self.device), size),
                           resize(anchor.mask.to(self.device).float(), size), anchor.weight)
        self.parts: dict[str, float] = {}

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        o = self.opts
        with autocast(self.device, o.precision):
            feats = self.vgg(x.contiguous(memory_format=torch.channels_last), self.layers)
        lc, ls = x.new_zeros(()), x.new_zeros(())
        for r, mask in zip(self.regions, self.masks, strict=True):
            if self.alpha * r.content_weight:
                lc = lc + r.content_weight * sum(content_loss(feats[k], self.c_feats[k], mask)
                                                 for k in o.content_layers) / len(o.content_layers)
            if self.beta * r.style_weight:
                ls = ls + r.style_weight * sum(w * gram_loss(gram(feats[k], mask), self.s_grams[k])
                                               for w, k in zip(self.layer_w, o.style_layers, strict=True))
        loss = self.alpha * lc + self.beta * ls
        parts: dict[str, float] = {}
        if o.tv_weight:
            lt = tv_loss(x)
            loss = loss + o.tv_weight * lt
            parts["tv"] = lt.item()
        if self.anchor is not None:
            target, mask, weight = self.anchor
            lt = temporal_loss(x, target, mask)
            loss = loss + weight * lt
            parts["temporal"] = lt.item()
        parts.update(content=lc.item(), style=ls.item(), total=loss.item())
        self.parts = parts
        return loss


def optimize(objective: Objective, x: torch.Tensor, n_steps: int, opts: StyleOptions,
             on_eval: Callable[[torch.Tensor], None]) -> torch.Tensor:
    """Run the optimizer on one level from ``x`` (1 x 3 x h x w, 0..1) for at most ``n_steps``
    evaluations of ``objective``, calling ``on_eval(image)`` after each; returns the result
    (1 x 3 x h x w, 0..1). L-BFGS may stop earlier when its direction stops descending."""
    # L-BFGS is invariant to a uniform rescaling of its variables except for its first
    # step, a plain gradient step of L1 length 1; optimizing y = x * scale makes that first
    # step change pixels by ~1/100 on average instead of ~1/numel, so no evaluations are wasted.
    scale = 100.0 / x.numel() if opts.optimizer == "lbfgs" else 1.0
    y0 = (x.detach() * scale).contiguous()

    def value_and_grad(y: torch.Tensor) -> tuple[float, torch.Tensor]:
        y = y.detach().requires_grad_(True)
        image = y / scale
        loss = objective(image)
        (grad,) = torch.autograd.grad(loss, y)
        on_eval(image.detach())
        return objective.parts["total"], grad

    if opts.optimizer == "lbfgs":
        y, loss = lbfgs(value_and_grad, y0, n_steps)
    else:
        y = y0.clone().requires_grad_(True)
        optimizer = torch.optim.Adam([y], lr=opts.lr)
        for _ in range(n_steps):
            optimizer.zero_grad(set_to_none=True)
            loss, y.grad = value_and_grad(y)
            optimizer.step()
    if not math.isfinite(loss):
        raise AtelierError("optimization diverged (loss is not finite); try lower weights or fp32")
    return (y.detach() / scale).clamp(0, 1)


def stylize_tensor(content: torch.Tensor, styles: Sequence[torch.Tensor], opts: StyleOptions,
                   regions: Sequence[Region] | None = None,
                   progress: ProgressFn | None = None, init: torch.Tensor | None = None,
                   anchor: Anchor | None = None) -> torch.Tensor:
    """Stylize ``content`` (1 x 3 x H x W, 0..1) with ``styles``; returns 1 x 3 x h x w in 0..1.

    The output's long side is ``opts.size``. ``styles`` are 1 x 3 x H x W tensors of any
    size, blended by ``opts.style_blend``. ``regions`` (optional) give spatial loss weights.
    ``init`` (1 x 3 x H x W, optional) replaces ``opts.init``; ``anchor`` adds a temporal loss.
    Steps: :func:`plan` the pyramid, then per level build the :class:`Objective` and
    :func:`optimize` it, starting from the upsampled previous level plus ``opts.detail`` of the
    photo's detail that level could not hold.
    """
    opts = opts.resolved()
    device = pick_device(opts.device)
    if len(styles) == 0:
        raise UsageError("at least one style image is needed")
    blend = list(opts.style_blend) if opts.style_blend is not None else [1.0] * len(styles)
    if len(blend) != len(styles):
        raise UsageError(f"{len(styles)} style images but {len(blend)} blend weights")
    torch.manual_seed(opts.seed)
    generator = torch.Generator().manual_seed(opts.seed)
    vgg = load_vgg(opts.backbone, opts.weights, opts.pooling).to(device, memory_format=torch.channels_last)
    vgg = _low_precision(vgg, device, opts.precision)

    content = content.to(device)
    styles = [s.to(device) for s in styles]
    original_content = content
    if opts.color == "luminance":
        styles = [color.match_luminance(s, content) for s in styles]
        content = color.gray3(content)
    elif opts.color == "match":
        styles = [color.match_color(s, content) for s in styles]

    p = plan(content.shape, opts)
    regions = list(regions) if regions else [Region(torch.ones(1, 1, *p.final))]
    x = (init_image(opts, content, styles, p.sizes[0], generator) if init is None
         else resize(init.to(device), p.sizes[0]))
    done, cost = 0, 0.0
    for level, (size, n_steps) in enumerate(zip(p.sizes, p.steps, strict=True)):
        c = resize(content, size)
        if level > 0:  # upsampled coarse result + the content's detail the coarse level could not hold
            prev = p.sizes[level - 1]
            x = (resize(x, size) + opts.detail * (c - resize(resize(c, prev), size))).clamp(0, 1)
        objective = Objective(vgg, c, styles, blend, regions, opts, anchor)
        start = done

        def on_eval(image: torch.Tensor, level: int = level, n_steps: int = n_steps, start: int = start,
                    objective: Objective = objective) -> None:
            nonlocal done, cost
            done += 1
            cost += p.unit[level]
            if progress is not None:
                progress(Progress(level, len(p.sizes), min(n_steps, done - start), n_steps, done, p.total,
                                  cost, p.total_cost, dict(objective.parts), image))

        x = optimize(objective, x, n_steps, opts, on_eval)
        done = sum(p.steps[: level + 1])  # L-BFGS may stop early on convergence
    x = x.contiguous()
    if opts.color == "luminance":
        x = color.combine_luminance(x, resize(original_content, tuple(x.shape[-2:])))
    return x
