"""Gatys at any size in bounded memory: untiled coarse levels, tiled fine levels.

The coarse-to-fine pyramid of :func:`.gatys.stylize_tensor` runs untiled as far up as its
memory model (:data:`GATYS_MEMORY`) fits the budget. Every finer level is optimized in tiles:

* each iteration cuts the image into ``tile`` x ``tile`` tiles on a grid whose offset is
  drawn afresh (multiples of 16 px, VGG's relu5_1 stride), so no tile border stays put;
* a tile's VGG pass sees the tile plus ``MARGIN`` px of context on every side; only the
  features of the tile itself count, so the tiles' features partition the image's;
* the losses are the untiled ones: the style target Grams are global (the style image
  resized to the level's size x ``style_scale``, its Grams summed over tiles), the output's
  Gram is the sum of its tiles' parts, and each tile's backward pass carries the global
  ``dL/dG = 2 (G - S) / ||S||^2`` (G from the previous iteration's tiles), so the gradients
  of all tiles sum to the gradient of the whole image's loss;
* each evaluation first sums the tiles' Gram parts (no gradients), then runs the tiles'
  backward passes, so the loss and gradient L-BFGS sees are those of the whole image (up to
  the margin); L-BFGS then steps the whole image, keeping as many history pairs as the
  budget allows (untiled it keeps up to 50).

Adam in its place (steps on the accumulated gradient, no line search) made the 8 finest
evaluations *raise* the loss of the upsampled coarse result (docs/scale.md). Memory beyond
the image-sized buffers (content, image, gradient, L-BFGS's vectors) is that of one tile's
pass, whatever the image size.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from ..base.errors import AtelierError, UsageError
from . import color
from .budget import MemoryModel, budget, describe
from .device import autocast, pick_device, resolve_precision
from .gatys import INITS, Progress, ProgressFn, Region, init_image, pyramid, stylize_tensor
from .lbfgs import lbfgs
from .losses import tv_loss
from .options import StyleOptions
from .tensors import fit_long_side, resize
from .vgg import VGG, load_vgg

ALIGN = 16    # relu5_1's stride: tile cuts and margins are multiples of it
MARGIN = 64   # context (px) around a tile in its VGG pass
MIN_TILE = 32
# calibrated on 2 cores (benchmarks/bench_scale.py --calibrate, docs/scale.md): bf16 VGG19 to relu5_1,
# forward + backward; per_pixel covers the pass, image_bytes the tiled level's image-sized buffers
GATYS_MEMORY = MemoryModel(fixed=0.97e9, per_pixel=2000.0, image_bytes=200.0)
LBFGS_BYTES = 24.0  # per pixel and history entry (two fp32 RGB vectors)
MIN_HISTORY = 2
MAX_HISTORY = 50  # what gatys.stylize_tensor keeps
FP32_FACTOR = 1.6   # activations in fp32 instead of bf16


@dataclass(frozen=True)
class Tile:
    """One tile: ``window`` (y0, y1, x0, x1) is what the network sees, ``inner`` the tile itself."""

    window: tuple[int, int, int, int]
    inner: tuple[int, int, int, int]

    def crop(self, features: torch.Tensor, stride: int) -> torch.Tensor:
        """The tile's own part of features (N x C x h x w) computed on the window at ``stride``."""
        wy0, wy1, wx0, wx1 = self.window
        y0, y1, x0, x1 = self.inner
        ys = slice((y0 - wy0) // stride, None if y1 == wy1 else (y1 - wy0) // stride)
        xs = slice((x0 - wx0) // stride, None if x1 == wx1 else (x1 - wx0) // stride)
        return features[..., ys, xs]


def margin_for(tile: int) -> int:
    """Context around a tile: ``MARGIN`` px, at most half the tile (rounded to ``ALIGN``)."""
    return min(MARGIN, max(ALIGN, tile // 2 // ALIGN * ALIGN))


def tiles(size: tuple[int, int], tile: int, offset: tuple[int, int] = (0, 0),
          margin: int | None = None) -> list[Tile]:
    """Tiles covering an image of ``size`` (h, w) on a grid shifted by ``offset`` (0 <= offset < tile),
    each window ``margin`` px larger on every side (default :func:`margin_for`), clipped to the image."""
    h, w = size
    margin = margin_for(tile) if margin is None else margin
    ys = sorted(set(_grid(h, tile, offset[0])))
    xs = sorted(set(_grid(w, tile, offset[1])))
    out = []
    # consecutive cut positions: each list is zipped with itself shifted by one, so one shorter
    for y0, y1 in zip(ys, ys[1:], strict=False):
        for x0, x1 in zip(xs, xs[1:], strict=False):
            window = (max(0, y0 - margin), min(h, y1 + margin), max(0, x0 - margin), min(w, x1 + margin))
            out.append(Tile(window, (y0, y1, x0, x1)))
    return out


def _grid(n: int, tile: int, offset: int) -> list[int]:
    """Cut positions 0 < k * tile - offset < n, plus 0 and n."""
    return [0, *(p for p in range(tile - offset, n, tile) if p > 0), n]


def layer_stride(name: str) -> int:
    """Spatial stride of a VGG layer (relu4_2 -> 8, pool2 -> 4)."""
    block = int(name[4]) if name.startswith(("relu", "conv", "pool")) else 1
    return 2 ** (block - (0 if name.startswith("pool") else 1))


def _view(x: torch.Tensor, t: Tile) -> torch.Tensor:
    y0, y1, x0, x1 = t.window
    return x[..., y0:y1, x0:x1]


def _matmul_t(f: torch.Tensor) -> tuple[torch.Tensor, int]:
    """(F F^T, positions) of 1 x C x h x w features, in fp32."""
    flat = f.float().flatten(2)[0]
    return flat @ flat.T, flat.shape[1]


def tiled_grams(vgg: VGG, image: torch.Tensor, layers: Sequence[str], tile: int, precision: str,
                offset: tuple[int, int] = (0, 0)) -> dict[str, torch.Tensor]:
    """Gram matrices (1 x C x C, normalised by positions) of ``image``'s features (1 x 3 x H x W),
    summed over the tiles of a grid shifted by ``offset``; no gradients."""
    sums: dict[str, torch.Tensor] = {}
    counts = dict.fromkeys(layers, 0)
    for t in tiles(tuple(image.shape[-2:]), tile, offset):
        with torch.no_grad(), autocast(image.device, precision):
            feats = vgg(_view(image, t).contiguous(memory_format=torch.channels_last), layers)
        for name in layers:
            g, n = _matmul_t(t.crop(feats[name], layer_stride(name)))
            sums[name] = sums[name] + g if name in sums else g
            counts[name] += n
    return {k: (sums[k] / max(counts[k], 1))[None] for k in layers}


def content_energy(vgg: VGG, content: torch.Tensor, layers: Sequence[str], tile: int,
                   precision: str) -> dict[str, float]:
    """``||F_c||^2`` of ``content``'s features per layer, summed over tiles (the content loss's denominator)."""
    total = dict.fromkeys(layers, 0.0)
    for t in tiles(tuple(content.shape[-2:]), tile):
        with torch.no_grad(), autocast(content.device, precision):
            feats = vgg(_view(content, t).contiguous(memory_format=torch.channels_last), layers)
        for k in layers:
            total[k] += float(t.crop(feats[k], layer_stride(k)).float().pow(2).sum())
    return {k: max(v, 1e-8) for k, v in total.items()}


# --- planning --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """How a run is cut: pyramid ``sizes``, the first ``untiled`` levels whole (by :func:`.gatys.stylize_tensor`;
    0: all tiled, from the content), the rest in ``tile`` px tiles with ``history`` L-BFGS pairs."""

    sizes: list[tuple[int, int]]
    steps: list[int]
    untiled: int
    tile: int
    history: int
    budget: int

    @property
    def tiled(self) -> bool:
        return self.untiled < len(self.sizes)


def untiled_peak(size: tuple[int, int], steps: int, precision: str) -> float:
    """Estimated peak RSS (bytes) of an untiled L-BFGS level of ``size`` with ``steps`` evaluations."""
    px = size[0] * size[1]
    return GATYS_MEMORY.fixed + _activation_bytes(precision) * px + LBFGS_BYTES * min(steps, MAX_HISTORY) * px


def _activation_bytes(precision: str) -> float:
    """Activation bytes per pixel for a resolved ``precision`` (bf16 | fp32)."""
    return GATYS_MEMORY.per_pixel * (FP32_FACTOR if precision == "fp32" else 1.0)


def tiled_peak(size: tuple[int, int], tile: int, history: int, precision: str) -> float:
    """Estimated peak RSS (bytes) of a tiled level of ``size`` with ``tile`` px tiles and ``history`` L-BFGS pairs."""
    side = tile + 2 * margin_for(tile)
    return (GATYS_MEMORY.peak(0, size[0] * size[1]) + _activation_bytes(precision) * side * side
            + LBFGS_BYTES * history * size[0] * size[1])


def plan(content_shape: Sequence[int], opts: StyleOptions) -> Plan:
    """Cut the pyramid of ``opts`` for a content of ``content_shape`` under ``opts.max_memory``
    (or ``opts.tile``); raises ``UsageError`` when even tiles do not fit."""
    final = fit_long_side(content_shape, opts.size)
    sizes = pyramid(final, opts.levels)
    steps = [max(1, round(opts.iterations * opts.coarse_factor ** (len(sizes) - 1 - i))) for i in range(len(sizes))]
    limit = budget(opts.max_memory)
    precision = resolve_precision(pick_device(opts.device), opts.precision)
    px = final[0] * final[1]
    if opts.tile is not None:
        untiled = max(1, sum(1 for s in sizes if max(s) <= opts.tile))
        return Plan(sizes, steps, untiled, opts.tile, min(steps[-1], MAX_HISTORY), limit)
    untiled = 0
    while untiled < len(sizes) and untiled_peak(sizes[untiled], steps[untiled], precision) <= limit:
        untiled += 1
    if untiled == len(sizes):
        return Plan(sizes, steps, untiled, 0, 0, limit)
    # half the room left by the image-sized buffers for the tiles' activations, the rest for history
    room = limit - GATYS_MEMORY.peak(0, px) - LBFGS_BYTES * MIN_HISTORY * px
    side = int(math.sqrt(max(room, 0) / 2 / _activation_bytes(precision)))
    tile = min(side - 2 * MARGIN, math.ceil(max(final) / ALIGN) * ALIGN) // ALIGN * ALIGN
    whole_init = opts.init == "content" or opts.init in INITS  # need no untiled coarsest level
    if (untiled == 0 and not whole_init) or tile < MIN_TILE:
        need = tiled_peak(final, MIN_TILE, MIN_HISTORY, precision)
        if not whole_init:
            need = max(need, untiled_peak(sizes[0], steps[0], precision))
        raise UsageError(f"max_memory {describe(limit)} is too small for a {final[1]}x{final[0]} Gatys run "
                         f"(it needs about {describe(need)}); raise --max-memory or lower --size")
    spare = limit - tiled_peak(final, tile, 0, precision)
    history = int(min(steps[-1], MAX_HISTORY, max(MIN_HISTORY, spare // (LBFGS_BYTES * px))))
    return Plan(sizes, steps, untiled, tile, history, limit)


# --- the tiled optimization ------------------------------------------------------------------

def tiled_loss_and_grad(vgg: VGG, x: torch.Tensor, content: torch.Tensor, s_grams: dict[str, torch.Tensor],
                        opts: StyleOptions, tile: int, offset: tuple[int, int],
                        energy: dict[str, float]) -> tuple[dict[str, float], torch.Tensor]:
    """The loss of :func:`.gatys.stylize_tensor` (one region, no masks) at image ``x`` (1 x 3 x H x W)
    and its gradient (same shape), computed in tiles of a grid shifted by ``offset``.

    Two passes: the tiles' Gram parts give the global Grams ``G`` (no gradients), then each tile's
    backward pass carries ``dL/dG``, so the tiles' gradients sum to the whole image's.
    ``energy`` holds ``||F_c||^2`` per content layer (:func:`content_energy`).
    """
    device = x.device
    alpha, beta = opts.loss_weights
    layer_w = [w / sum(opts.style_layer_weights) for w in opts.style_layer_weights]
    c_layers, s_layers = list(opts.content_layers) if alpha else [], list(opts.style_layers)
    all_layers = sorted(set(c_layers) | set(s_layers))
    size = tuple(x.shape[-2:])
    grid = tiles(size, tile, offset)
    grams = tiled_grams(vgg, x, s_layers, tile, opts.precision, offset)
    s_energy = {k: float(s_grams[k].pow(2).sum().clamp_min(1e-8)) for k in s_layers}
    positions = {k: max(1, (size[0] // layer_stride(k)) * (size[1] // layer_stride(k))) for k in s_layers}
    coef = {k: (2 * beta * wl / s_energy[k] / positions[k]) * (grams[k][0] - s_grams[k][0].float())
            for k, wl in zip(s_layers, layer_w, strict=True)}
    style = sum(wl * float((grams[k] - s_grams[k]).pow(2).sum()) / s_energy[k]
                for k, wl in zip(s_layers, layer_w, strict=True))
    grad = torch.zeros_like(x)
    content_err = 0.0
    for t in grid:
        xt = _view(x, t).detach().contiguous(memory_format=torch.channels_last).requires_grad_(True)
        with torch.no_grad(), autocast(device, opts.precision):
            targets = vgg(_view(content, t).contiguous(memory_format=torch.channels_last), c_layers) if c_layers else {}
        with autocast(device, opts.precision):
            feats = vgg(xt, all_layers)
        loss = xt.new_zeros((), dtype=torch.float32)
        for k in c_layers:
            s = layer_stride(k)
            err = (t.crop(feats[k], s).float() - t.crop(targets[k], s).float()).pow(2).sum() / energy[k]
            loss = loss + alpha * err / len(c_layers)
            content_err += float(err.detach()) / len(c_layers)
        for k in s_layers:
            loss = loss + (coef[k] * _matmul_t(t.crop(feats[k], layer_stride(k)))[0]).sum()
        loss.backward()
        y0, y1, x0, x1 = t.window
        grad[..., y0:y1, x0:x1] += xt.grad
        del xt, feats, targets, loss
    losses = {"content": content_err, "style": style}
    total = alpha * content_err + beta * style
    if opts.tv_weight:
        z = x.detach().requires_grad_(True)
        lt = tv_loss(z)
        (opts.tv_weight * lt).backward()
        grad += z.grad
        losses["tv"] = float(lt)
        total += opts.tv_weight * losses["tv"]
    losses["total"] = total
    return losses, grad


def optimize_tiled(vgg: VGG, x: torch.Tensor, content: torch.Tensor, s_grams: dict[str, torch.Tensor],
                   opts: StyleOptions, tile: int, steps: int, history: int, generator: torch.Generator,
                   report: Callable[[dict[str, float], torch.Tensor], None] | None = None) -> torch.Tensor:
    """``steps`` L-BFGS evaluations (``history`` pairs kept) on image ``x`` (1 x 3 x H x W) against
    ``content`` (same size) and the global style Grams ``s_grams`` (1 x C x C per style layer);
    each evaluation draws a new grid offset. ``report(losses, image)`` follows every evaluation."""
    energy = content_energy(vgg, content, opts.content_layers, tile, opts.precision) if opts.loss_weights[0] else {}
    scale = 100.0 / x.numel()  # as in gatys.optimize: a first L-BFGS step of useful length

    def value_and_grad(y: torch.Tensor) -> tuple[float, torch.Tensor]:
        offset = tuple(int(torch.randint(0, tile // ALIGN, (1,), generator=generator)) * ALIGN for _ in range(2))
        losses, grad = tiled_loss_and_grad(vgg, y / scale, content, s_grams, opts, tile, offset, energy)
        if not all(math.isfinite(v) for v in losses.values()):
            raise AtelierError("optimization diverged (loss is not finite); try lower weights or fp32")
        if report is not None:
            report(losses, y / scale)
        return losses["total"], grad / scale

    y, _ = lbfgs(value_and_grad, x.detach() * scale, steps, history)
    return (y.detach() / scale).clamp(0, 1)


def stylize(content: torch.Tensor, styles: Sequence[torch.Tensor], opts: StyleOptions,
            regions: Sequence[Region] | None = None, progress: ProgressFn | None = None) -> torch.Tensor:
    """:func:`.gatys.stylize_tensor` within ``opts.max_memory``: the levels that fit run untiled,
    the finer ones in shifting tiles (see the module docstring). Same inputs and output."""
    opts = opts.resolved()
    p = plan(content.shape, opts)
    if not p.tiled:
        return stylize_tensor(content, styles, opts, regions=regions, progress=progress)
    if regions:
        raise UsageError(f"spatial regions cannot be tiled: this run needs more than --max-memory "
                         f"{describe(p.budget)} untiled; raise it or lower --size")
    if len(styles) == 0:
        raise UsageError("at least one style image is needed")
    device = pick_device(opts.device)
    content, styles = content.to(device), [s.to(device) for s in styles]
    original = content
    if opts.color == "luminance":
        styles, content = [color.match_luminance(s, content) for s in styles], color.gray3(content)
    elif opts.color == "match":
        styles = [color.match_color(s, content) for s in styles]
    blend = list(opts.style_blend) if opts.style_blend is not None else [1.0] * len(styles)
    if len(blend) != len(styles):
        raise UsageError(f"{len(styles)} style images but {len(blend)} blend weights")
    final = p.sizes[-1]
    unit = [(h * w) / (final[0] * final[1]) for h, w in p.sizes]
    total, total_cost = sum(p.steps), sum(s * u for s, u in zip(p.steps, unit, strict=True))
    k = p.untiled

    def coarse_progress(q: Progress) -> None:
        if progress is not None:
            progress(dataclasses.replace(q, levels=len(p.sizes), total=total, cost=q.cost * unit[k - 1],
                                         total_cost=total_cost))

    vgg = load_vgg(opts.backbone, opts.weights, opts.pooling).to(device, memory_format=torch.channels_last)
    generator = torch.Generator().manual_seed(opts.seed)
    if k:
        coarse = dataclasses.replace(opts, size=max(p.sizes[k - 1]), levels=k, iterations=p.steps[k - 1],
                                     color="none", max_memory=None, tile=None)
        x = stylize_tensor(content, styles, coarse, progress=coarse_progress)
    else:  # even the coarsest level is tiled: content or a registered init (plan() allows no other)
        x = init_image(opts, content, styles, p.sizes[0], generator)
    done, cost = sum(p.steps[:k]), sum(s * u for s, u in zip(p.steps[:k], unit[:k], strict=True))
    for level in range(k, len(p.sizes)):
        size, prev = p.sizes[level], p.sizes[max(level - 1, 0)]
        c = resize(content, size)
        if level:
            x = (resize(x, size) + opts.detail * (c - resize(resize(c, prev), size))).clamp(0, 1)
        s_grams = _style_targets(vgg, styles, blend, opts, max(size) * opts.style_scale, p.tile)
        step = 0

        def report(losses: dict[str, float], image: torch.Tensor, level: int = level) -> None:
            nonlocal done, cost, step
            done, cost, step = done + 1, cost + unit[level], step + 1
            if progress is not None:
                progress(Progress(level, len(p.sizes), step, p.steps[level], done, total, cost, total_cost,
                                  losses, image))

        x = optimize_tiled(vgg, x, c, s_grams, opts, p.tile, p.steps[level], p.history, generator, report)
        del c, s_grams
    if opts.color == "luminance":
        x = color.combine_luminance(x, resize(original, tuple(x.shape[-2:])))
    return x


def _style_targets(vgg: VGG, styles: Sequence[torch.Tensor], blend: Sequence[float], opts: StyleOptions,
                   long_side: float, tile: int) -> dict[str, torch.Tensor]:
    """Blend-weighted style Grams, each style image resized to ``long_side`` and summed over tiles."""
    total = float(sum(blend))
    out: dict[str, torch.Tensor] = {}
    for img, w in zip(styles, blend, strict=True):
        if w:
            g = tiled_grams(vgg, resize(img, fit_long_side(img.shape, long_side)), opts.style_layers, tile,
                            opts.precision)
            out = {k: out.get(k, 0) + v * (w / total) for k, v in g.items()}
    return out
