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

import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F

from . import color
from .losses import content_loss, gram, gram_loss, tv_loss
from .options import StyleOptions
from .device import autocast, pick_device
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
    for img, w in zip(styles, blend):
        if w == 0:
            continue
        x = resize(img.to(device), fit_long_side(img.shape, long_side))
        with torch.no_grad(), autocast(device, precision):
            feats = vgg(x, layers)
        for name in layers:
            g = gram(feats[name]) * (w / total)
            out[name] = out[name] + g if name in out else g
    return out


def _init_image(opts: StyleOptions, content: torch.Tensor, styles: Sequence[torch.Tensor],
                size: tuple[int, int], generator: torch.Generator) -> torch.Tensor:
    if opts.init == "content":
        return resize(content, size)
    if opts.init == "noise":
        return torch.rand((1, 3, *size), generator=generator).to(content.device)
    if opts.init == "style":
        return resize(styles[0], size)
    from ..io.images import load_image, to_tensor  # a path to an init image
    return resize(to_tensor(load_image(opts.init)).to(content.device), size)


def stylize_tensor(content: torch.Tensor, styles: Sequence[torch.Tensor], opts: StyleOptions,
                   regions: Optional[Sequence[Region]] = None,
                   progress: Optional[ProgressFn] = None, init: Optional[torch.Tensor] = None,
                   anchor: Optional[Anchor] = None) -> torch.Tensor:
    """Stylize ``content`` (1 x 3 x H x W, 0..1) with ``styles``; returns 1 x 3 x h x w in 0..1.

    The output's long side is ``opts.size``. ``styles`` are 1 x 3 x H x W tensors of any
    size, blended by ``opts.style_blend``. ``regions`` (optional) give spatial loss weights.
    ``init`` (1 x 3 x H x W, optional) replaces ``opts.init``; ``anchor`` adds a temporal loss.
    """
    opts = opts.resolved()
    device = pick_device(opts.device)
    if len(styles) == 0:
        from ..base.errors import UsageError
        raise UsageError("at least one style image is needed")
    blend = list(opts.style_blend) if opts.style_blend is not None else [1.0] * len(styles)
    if len(blend) != len(styles):
        from ..base.errors import UsageError
        raise UsageError(f"{len(styles)} style images but {len(blend)} blend weights")
    torch.manual_seed(opts.seed)
    generator = torch.Generator().manual_seed(opts.seed)
    vgg = load_vgg(opts.backbone, opts.weights, opts.pooling).to(device, memory_format=torch.channels_last)

    content = content.to(device)
    styles = [s.to(device) for s in styles]
    original_content = content
    if opts.color == "luminance":
        styles = [color.match_luminance(s, content) for s in styles]
        content = color.gray3(content)
    elif opts.color == "match":
        styles = [color.match_color(s, content) for s in styles]

    final = fit_long_side(content.shape, opts.size)
    sizes = pyramid(final, opts.levels)
    steps = [max(1, round(opts.iterations * opts.coarse_factor ** (len(sizes) - 1 - i))) for i in range(len(sizes))]
    unit = [(h * w) / (final[0] * final[1]) for h, w in sizes]  # cost of one evaluation, finest = 1
    total_cost = sum(s * u for s, u in zip(steps, unit))
    alpha, beta = opts.loss_weights
    layer_w = torch.tensor(opts.style_layer_weights) / sum(opts.style_layer_weights)
    regions = list(regions) if regions else [Region(torch.ones(1, 1, *final))]
    all_layers = set(opts.content_layers) | set(opts.style_layers)

    x = _init_image(opts, content, styles, sizes[0], generator) if init is None else resize(init.to(device), sizes[0])
    done, cost = 0, 0.0
    for level, (size, n_steps) in enumerate(zip(sizes, steps)):
        c = resize(content, size)
        if level > 0:  # upsampled coarse result + the content's detail the coarse level could not hold
            prev = sizes[level - 1]
            x = (resize(x.detach(), size) + opts.detail * (c - resize(resize(c, prev), size))).clamp(0, 1)
        # L-BFGS is invariant to a uniform rescaling of its variables except for its first
        # step, a plain gradient step of L1 length 1; optimizing y = x * scale makes that first
        # step change pixels by ~1/100 on average instead of ~1/numel, so no evaluations are wasted.
        scale = 100.0 / x.numel() if opts.optimizer == "lbfgs" else 1.0
        y = (x.detach() * scale).contiguous().requires_grad_(True)
        with torch.no_grad(), autocast(device, opts.precision):
            c_feats = {k: v.float() for k, v in vgg(c, opts.content_layers).items()}
        s_grams = style_grams(vgg, styles, blend, opts.style_layers, max(size) * opts.style_scale, opts.precision)
        masks = [r.mask.to(device).float() for r in regions]
        whole = [bool((m == 1).all()) for m in masks]
        last: dict[str, float] = {}
        if anchor is not None:
            a_target, a_mask = resize(anchor.target.to(device), size), resize(anchor.mask.to(device).float(), size)

        def closure() -> torch.Tensor:
            nonlocal done, cost
            optimizer.zero_grad(set_to_none=True)
            x = y / scale
            with autocast(device, opts.precision):
                feats = vgg(x.contiguous(memory_format=torch.channels_last), all_layers)
            lc = x.new_zeros(())
            ls = x.new_zeros(())
            for r, m, full in zip(regions, masks, whole):
                mask = None if full else m
                if alpha * r.content_weight:
                    lc = lc + r.content_weight * sum(content_loss(feats[k], c_feats[k], mask)
                                                     for k in opts.content_layers) / len(opts.content_layers)
                if beta * r.style_weight:
                    ls = ls + r.style_weight * sum(wl * gram_loss(gram(feats[k], mask), s_grams[k])
                                                   for wl, k in zip(layer_w.tolist(), opts.style_layers))
            loss = alpha * lc + beta * ls
            if opts.tv_weight:
                lt = tv_loss(x)
                loss = loss + opts.tv_weight * lt
                last["tv"] = lt.item()
            if anchor is not None and anchor.weight:
                l_temp = temporal_loss(x, a_target, a_mask)
                loss = loss + anchor.weight * l_temp
                last["temporal"] = l_temp.item()
            loss.backward()
            last.update(content=lc.item(), style=ls.item(), total=loss.item())
            done += 1
            cost += unit[level]
            step = min(n_steps, done - sum(steps[:level]))
            if progress is not None:
                progress(Progress(level, len(sizes), step, n_steps, done, sum(steps), cost, total_cost,
                                  dict(last), x.detach()))
            return loss

        if opts.optimizer == "lbfgs":
            optimizer = torch.optim.LBFGS([y], lr=1.0, max_iter=n_steps, max_eval=n_steps, history_size=50,
                                          tolerance_grad=0.0, tolerance_change=0.0, line_search_fn="strong_wolfe")
            optimizer.step(closure)
        else:
            optimizer = torch.optim.Adam([y], lr=opts.lr)
            for _ in range(n_steps):
                optimizer.step(closure)
        if not all(math.isfinite(v) for v in last.values()):
            from ..base.errors import AtelierError
            raise AtelierError("optimization diverged (loss is not finite); try lower weights or fp32")
        done = sum(steps[: level + 1])  # L-BFGS may stop early on convergence
        x = (y.detach() / scale).clamp(0, 1)
    x = x.contiguous()
    if opts.color == "luminance":
        x = color.combine_luminance(x, resize(original_content, tuple(x.shape[-2:])))
    return x
