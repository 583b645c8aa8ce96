"""Feed-forward stylization of large images in tiles, with the image-global statistics kept global.

An image whose untiled pass would not fit the memory budget is cut into ``tile`` x ``tile``
tiles (:func:`atelier.core.tiled.tiles`); the network sees each tile with a margin of context,
and the tiles' outputs are blended with weights that ramp from 0 at a window's edge to 1 at
its tile (feathering), so neighbours cross-fade over the overlap. What each method needs of
the whole image is computed on the whole image, by accumulating over the tiles first:

* ``adain``: the channel mean and std of the content's relu4_1 features;
* ``wct``: per level, the channel mean and covariance of the current image's features
  (each level's output image is assembled before the next level encodes it);
* ``ghiasi``, ``multistyle``: the instance-norm mean and variance of every conditional norm
  layer, layer by layer (layer j's statistics are gathered with layers < j already using the
  whole image's), so the tiled network computes what the untiled one does, up to the margin.

``sanet`` (attention normalised over the whole content) and ``johnson`` are not tiled: over
budget they stop with one error line.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..base.errors import UsageError
from ..core.budget import MemoryModel, budget, describe
from ..core.tiled import ALIGN, MIN_TILE, Tile, margin_for, tiles
from ..core.vgg import VGG
from .adain import EPS as ADAIN_EPS
from .conditional import StyleNorm
from .decoder import relu_layer
from .wct import whiten_colour

# peak RSS of an untiled pass, calibrated on 2 cores (benchmarks/bench_scale.py --calibrate, docs/scale.md);
# image_bytes: the image-sized buffers of a tiled run (input, output, blending canvas, PIL copies)
MEMORY = {
    "adain": MemoryModel(fixed=0.8e9, per_pixel=780.0, image_bytes=100.0),
    "wct": MemoryModel(fixed=0.85e9, per_pixel=2300.0, image_bytes=120.0),
    "ghiasi": MemoryModel(fixed=0.78e9, per_pixel=220.0, image_bytes=100.0),
    "multistyle": MemoryModel(fixed=0.78e9, per_pixel=500.0, image_bytes=100.0),
    "sanet": MemoryModel(fixed=0.8e9, per_pixel=1200.0, image_bytes=0.0),
    "johnson": MemoryModel(fixed=0.6e9, per_pixel=1300.0, image_bytes=0.0),
}
TILEABLE = ("adain", "wct", "ghiasi", "multistyle")
_NORM_LOCK = threading.Lock()  # StyleNorm.stats is set on the shared (cached) model while a tiled pass runs


def tile_for(method: str, size: tuple[int, int], max_memory: str | None, tile: int | None) -> int:
    """Tile side for a ``method`` pass over a (padded) image of ``size`` (h, w); 0: untiled.

    ``tile`` forces one; otherwise the largest that fits ``max_memory`` (default budget) when the
    untiled estimate does not. ``UsageError`` when the method cannot be tiled or nothing fits."""
    model = MEMORY.get(method, MEMORY["sanet"])
    limit = budget(max_memory)
    px = size[0] * size[1]
    if tile is None and model.peak(px, px) <= limit:
        return 0
    if method not in TILEABLE:
        raise UsageError(f"{method} cannot be tiled and a {size[1]}x{size[0]} image needs about "
                         f"{describe(model.peak(px, px))} (--max-memory {describe(limit)}); "
                         f"use {', '.join(TILEABLE)}, a smaller --size or more memory")
    if tile is not None:
        return tile
    side = int(max(model.largest_pass(limit, px), 0) ** 0.5)
    found = (side - 2 * margin_for(side)) // ALIGN * ALIGN
    if found < MIN_TILE:
        need = model.peak((MIN_TILE + 2 * margin_for(MIN_TILE)) ** 2, px)
        raise UsageError(f"max_memory {describe(limit)} is too small for a {size[1]}x{size[0]} {method} run "
                         f"(it needs about {describe(need)}); raise --max-memory or lower --size")
    return found


def feather(t: Tile, size: tuple[int, int], margin: int) -> torch.Tensor:
    """Blending weights (1 x 1 x h x w) of a tile's window: 1 on the tile, ramping to ~0 at window
    edges that face another tile (image borders keep weight 1)."""
    wy0, wy1, wx0, wx1 = t.window
    y0, y1, x0, x1 = t.inner

    def ramp(lo: int, hi: int, a: int, b: int, n: int) -> torch.Tensor:
        pos = torch.arange(lo, hi, dtype=torch.float32) + 0.5
        w = torch.ones(hi - lo)
        if a > 0:
            w = torch.minimum(w, ((pos - lo) / max(a - lo, 1)).clamp(0, 1))
        if b < n:
            w = torch.minimum(w, ((hi - pos) / max(hi - b, 1)).clamp(0, 1))
        return w.clamp_min(1e-3)

    return (ramp(wy0, wy1, y0, y1, size[0])[:, None] * ramp(wx0, wx1, x0, x1, size[1])[None, :])[None, None]


class Canvas:
    """Accumulates feathered window outputs into one 1 x C x H x W image."""

    def __init__(self, size: tuple[int, int], channels: int = 3, device: torch.device | str = "cpu"):
        self.size = size
        self.sum = torch.zeros(1, channels, *size, device=device)
        self.weight = torch.zeros(1, 1, *size, device=device)

    def add(self, t: Tile, out: torch.Tensor, margin: int) -> None:
        w = feather(t, self.size, margin).to(out.device)
        y0, y1, x0, x1 = t.window
        self.sum[..., y0:y1, x0:x1] += out.float()[..., : y1 - y0, : x1 - x0] * w
        self.weight[..., y0:y1, x0:x1] += w

    def result(self) -> torch.Tensor:
        return self.sum / self.weight.clamp_min(1e-8)


class Moments:
    """Channel sums of features (1 x C x h x w), their squares or outer products, and the count (float64)."""

    def __init__(self, outer: bool = False):
        self.outer, self.n = outer, 0
        self.s: Any = 0
        self.ss: Any = 0

    def add(self, f: torch.Tensor) -> None:
        flat = f[0].flatten(1).double()
        self.n += flat.shape[1]
        self.s = self.s + flat.sum(1)
        self.ss = self.ss + (flat @ flat.T if self.outer else flat.pow(2).sum(1))

    def mean_var(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and population variance, each 1 x C x 1 x 1 (float32)."""
        mean = self.s / self.n
        var = (self.ss / self.n - mean.pow(2)).clamp_min(0)
        return mean.float()[None, :, None, None], var.float()[None, :, None, None]

    def mean_cov(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean (C x 1) and unbiased covariance (C x C), float64, as :func:`.wct.mean_cov`."""
        mean = (self.s / self.n)[:, None]
        return mean, (self.ss - self.n * mean @ mean.T) / max(self.n - 1, 1)


def _window(x: torch.Tensor, t: Tile) -> torch.Tensor:
    y0, y1, x0, x1 = t.window
    return x[..., y0:y1, x0:x1].contiguous(memory_format=torch.channels_last)


def _adain(model: nn.Module, vgg: VGG, x: torch.Tensor, styles: Sequence[Any], weights: Sequence[float],
           tile: int, options: Any) -> torch.Tensor:
    alpha = options.alpha
    grid, margin, layer = tiles(tuple(x.shape[-2:]), tile), margin_for(tile), model.layer
    acc = Moments()
    for t in grid:
        acc.add(t.crop(vgg(_window(x, t), [layer])[layer], 8))
    mean, var = acc.mean_var()
    stats = (mean, (var + ADAIN_EPS).sqrt())
    canvas = Canvas(tuple(x.shape[-2:]), device=x.device)
    for t in grid:
        fc = vgg(_window(x, t), [layer])[layer]
        canvas.add(t, model.decoder(model.target(fc, styles, weights, alpha, stats)), margin)
    return canvas.result()


def _wct(model: nn.Module, vgg: VGG, x: torch.Tensor, styles: Sequence[Any], weights: Sequence[float],
         tile: int, options: Any) -> torch.Tensor:
    alpha, levels = options.alpha, options.wct_levels
    grid, margin = tiles(tuple(x.shape[-2:]), tile), margin_for(tile)
    for level in model.chosen_levels(levels):
        layer = relu_layer(level)
        acc = Moments(outer=True)
        for t in grid:
            acc.add(t.crop(vgg(_window(x, t), [layer])[layer], 2 ** (level - 1)))
        stats = acc.mean_cov()
        canvas = Canvas(tuple(x.shape[-2:]), device=x.device)
        for t in grid:
            fc = vgg(_window(x, t), [layer])[layer].float()
            mixed = sum(w * whiten_colour(fc, f[layer], stats) for f, w in zip(styles, weights, strict=True))
            canvas.add(t, model.decoders[layer](alpha * mixed + (1 - alpha) * fc), margin)
        x = canvas.result().to(x.dtype)
    return x


class _Stop(Exception):
    pass


class TiledTransformer(nn.Module):
    """A conditional style transformer (:mod:`.conditional`) run in tiles with whole-image norm statistics."""

    def __init__(self, transformer: nn.Module, tile: int):
        super().__init__()
        self.transformer, self.tile = transformer, tile

    def forward(self, image: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        size = tuple(image.shape[-2:])
        grid, margin = tiles(size, self.tile), margin_for(self.tile)
        norms = [m for m in self.transformer.modules() if isinstance(m, StyleNorm)]
        with _NORM_LOCK:
            try:
                for norm in norms:  # forward order: layer j's statistics need those before it
                    acc = Moments()
                    for t in grid:
                        window = _window(image, t)

                        def gather(_m: nn.Module, args: tuple, t: Tile = t, h: int = window.shape[-2],
                                   acc: Moments = acc) -> None:
                            acc.add(t.crop(args[0].float(), h // args[0].shape[-2]))
                            raise _Stop

                        hook = norm.register_forward_pre_hook(gather)
                        try:
                            self.transformer(window, code)
                        except _Stop:
                            pass
                        finally:
                            hook.remove()
                    norm.stats = acc.mean_var()
                canvas = Canvas(size, device=image.device)
                for t in grid:
                    canvas.add(t, self.transformer(_window(image, t), code), margin)
            finally:
                for norm in norms:
                    norm.stats = None
        return canvas.result()


def stylize(model: nn.Module, vgg: VGG, x: torch.Tensor, styles: Sequence[Any], weights: Sequence[float],
            tile: int, options: Any) -> torch.Tensor:
    """``model.stylize(vgg, x, styles, weights, options)`` computed in ``tile`` px tiles
    (x: 1 x 3 x H x W, H and W multiples of 16); returns 1 x 3 x H x W."""
    if model.method == "adain":
        return _adain(model, vgg, x, styles, weights, tile, options)
    if model.method == "wct":
        return _wct(model, vgg, x, styles, weights, tile, options)
    if model.method in ("ghiasi", "multistyle"):
        tiled = copy.copy(model)  # the same modules, with the transformer run in tiles
        tiled._modules = {**model._modules, "transformer": TiledTransformer(model.transformer, tile)}
        return tiled.stylize(vgg, x, styles, weights, options)
    raise UsageError(f"{model.method} cannot be tiled; use one of {', '.join(TILEABLE)}")
