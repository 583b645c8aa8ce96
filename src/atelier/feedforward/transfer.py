"""Apply a trained feed-forward model to images: options, tensor pipeline, PIL-level API."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from ..base.checks import check_choice, check_int, check_number, fail
from ..base.errors import UsageError
from ..core import color
from ..core.device import autocast, pick_device
from ..core.gatys import register_init
from ..core.options import check_tiling, check_weights, option_field
from ..core.record import describe_input, metadata, upscale_record
from ..core.tensors import fit_long_side, resize
from ..core.vgg import VGG, load_vgg
from ..io import starter
from ..io.images import (
    MIN_SIDE,
    ImageLike,
    check_dimensions,
    load_image,
    resize_long_side,
    shrink_long_side,
    style_side,
    to_pil,
    to_tensor,
)
from . import registry, tiled
from .conditional import SHIFTS
from .decoder import pad_to_multiple
from .model import options_for
from .multistyle import parse_style_index

MAX_SIDE = 8192  # largest output long side (as for Gatys)
STYLE_CACHE_SIZE = 4  # encoded style images kept by ``style_features``
COLORS = ("none", "luminance", "match")
# FeedForwardOptions fields that `atelier stylize --method` takes from StyleOptions instead
SHARED_WITH_GATYS = ("method", "size", "style_size", "style_blend", "color", "precision", "device",
                     "max_memory", "tile")



@dataclass
class FeedForwardOptions:
    """Settings of one feed-forward stylization (mapped 1:1 to ``atelier transfer`` options)."""

    method: str = option_field("adain", "adain | wct | sanet | johnson | ghiasi (pretrained, any style) "
                                        "| multistyle (26 built-in styles)")
    size: int = option_field(512, "long side of the output in pixels (the photo is shrunk or upscaled to it)")
    style_size: int | None = option_field(None, "long side the style images are shrunk to (default: --size)")
    alpha: float = option_field(1.0, "style strength in [0, 1] (0 gives back the content)")
    style_blend: Sequence[float] | None = option_field(None, "one weight per style image, comma-separated (normalised)")
    sanet_w1: float = option_field(1.0, "SANet: weight W1 of the relu4_1 attention branch (local patterns)")
    sanet_w2: float = option_field(1.0, "SANet: weight W2 of the relu5_1 attention branch (global layout)")
    style_index: str | None = option_field(None, "multistyle: built-in style 0-25, or a mix such as 3:0.5,12:0.5 "
                                                 "(default 0); see `atelier multistyle-sheet`")
    shifts: int = option_field(1, "ghiasi, multistyle: average over 1, 4 or 16 translations of the network's "
                                  "4-px stride grid (removes its faint periodic pattern; N x the time)")
    wct_levels: Sequence[int] = option_field((4, 3, 2, 1), "WCT: levels to transform, coarse to fine, among 5,4,3,2,1 "
                                                           "(relu5_1..relu1_1); see docs/feedforward.md "
                                                           "for why 5 is off by default")
    model: str | None = option_field(None, "weights file (.safetensors) from `atelier train` or "
                                           "`atelier import-weights` (default: the shipped model; "
                                           "ghiasi, multistyle: the pretrained one)")
    color: str = option_field("none", "colour preservation: none | luminance (keep content chroma) "
                                      "| match (recolour styles first)")
    precision: str = option_field("auto", "auto (bf16 autocast) | bf16 | fp32")
    device: str = option_field("auto", "auto | cpu | cuda")
    max_memory: str | None = option_field(None, "memory budget such as 3G or 512M (default: min(6 GiB, RAM/3)); "
                                                   "larger images run in tiles (adain, wct, ghiasi, multistyle)")
    tile: int | None = option_field(None, "force tiles of N px, a multiple of 16 (default: from --max-memory)")

    def validate(self, n_styles: int) -> None:
        """Raise ``UsageError`` for bad settings (``n_styles``: how many style images were given)."""
        needs_style = registry.spec(self.method).needs_style
        if needs_style and n_styles == 0:
            raise UsageError(f"{self.method} needs at least one style image")
        for name in ("size", "style_size"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), 32, MAX_SIDE)
        check_number("alpha", self.alpha, 0, 1)
        check_number("sanet_w1", self.sanet_w1, 0)
        check_number("sanet_w2", self.sanet_w2, 0)
        if not self.wct_levels or any(v not in (1, 2, 3, 4, 5) for v in self.wct_levels) \
                or len(set(self.wct_levels)) != len(self.wct_levels):
            raise fail("wct_levels", "distinct values among 5,4,3,2,1", self.wct_levels)
        if self.sanet_w1 + self.sanet_w2 == 0:
            raise UsageError("sanet_w1 and sanet_w2 cannot both be 0")
        if self.style_blend is not None:
            if len(self.style_blend) != max(n_styles, 1):
                raise UsageError(f"style_blend needs one weight per style image ({n_styles}), "
                                 f"got {len(self.style_blend)}")
            check_weights("style_blend", self.style_blend)
        check_choice("color", self.color, COLORS)
        if not needs_style and self.color == "match":
            raise UsageError(f"{self.method} has its style built in: "
                             "use --color luminance to keep the content's colours")
        if isinstance(self.shifts, bool):
            raise fail("shifts", f"one of {', '.join(map(str, SHIFTS))}", self.shifts)
        check_choice("shifts", self.shifts, SHIFTS)
        if self.style_index is not None:
            parse_style_index(self.style_index)
        if self.precision not in ("auto", "bf16", "fp32"):
            raise UsageError(f"precision must be auto, bf16 or fp32, got {self.precision!r}")
        check_tiling(self.max_memory, self.tile)
        if self.model is not None and not Path(self.model).is_file():
            raise UsageError(f"model file not found: {self.model}")

    def blend(self, n_styles: int) -> list[float]:
        """Normalised style blend weights."""
        w = list(self.style_blend) if self.style_blend is not None else [1.0] * n_styles
        return [x / sum(w) for x in w]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def from_style_options(opts: Any, method: str, base: FeedForwardOptions | None = None) -> FeedForwardOptions:
    """Feed-forward settings for ``atelier stylize --method``: the fields a
    :class:`~atelier.core.options.StyleOptions` shares with us (size, style scale, style blend,
    colour, precision, device) taken from ``opts``, the rest from ``base``."""
    return dataclasses.replace(base or FeedForwardOptions(), method=method, size=opts.size,
                               style_size=style_side(opts.size, opts.style_scale, minimum=32),
                               style_blend=opts.style_blend, color=opts.color, precision=opts.precision,
                               device=opts.device, max_memory=opts.max_memory, tile=opts.tile)


@functools.lru_cache(maxsize=8)
def cached_model(method: str, path: str | None, device: str) -> torch.nn.Module:
    """Load a model once per process (keyed by method, file and device), channels-last
    (oneDNN's fast layout for convolutions on CPU)."""
    return registry.load(method, path, device).to(memory_format=torch.channels_last)


_style_cache: dict[tuple, Any] = {}


def style_features(vgg: VGG, style: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """``vgg(style, layers)``, remembered for the last few style images (keyed by their pixels),
    so stylizing many contents with one style encodes the style once. Call under the
    precision context the result is meant for (it is part of the key)."""
    if not layers:
        return {}
    return _remembered(style, (tuple(layers), id(vgg)),
                       lambda s: vgg(s.contiguous(memory_format=torch.channels_last), layers))


def encoded_style(model: torch.nn.Module, vgg: VGG, style: torch.Tensor) -> Any:
    """What ``model.stylize`` takes of one style image: its ``encode_style(style)`` if it has
    one (e.g. ghiasi's style code), else its ``style_layers`` VGG features; remembered as above."""
    encode = getattr(model, "encode_style", None)
    if encode is None:
        return style_features(vgg, style, model.style_layers)
    return _remembered(style, ("encode_style", id(model)), encode)


def _remembered(style: torch.Tensor, what: tuple, compute: Any) -> Any:
    digest = hashlib.blake2b(style.detach().cpu().numpy().tobytes(), digest_size=16).hexdigest()
    key = (digest, tuple(style.shape), what, str(style.device), torch.is_autocast_enabled(style.device.type))
    if key not in _style_cache:
        while len(_style_cache) >= STYLE_CACHE_SIZE:
            _style_cache.pop(next(iter(_style_cache)))
        _style_cache[key] = compute(style)
    return _style_cache[key]


def clear_style_cache() -> None:
    """Forget the styles :func:`style_features` remembers (e.g. to time a first use)."""
    _style_cache.clear()


def stylize_tensor(model: torch.nn.Module, vgg: VGG, content: torch.Tensor, styles: Sequence[torch.Tensor],
                   opts: FeedForwardOptions) -> torch.Tensor:
    """Stylize a 1 x 3 x H x W content tensor (0..1) with ``model``; returns 1 x 3 x H x W in 0..1.

    Inputs are reflect-padded to a multiple of 16 (what the decoders invert exactly) and
    the result is cropped back. Over ``opts.max_memory`` (or with ``opts.tile``) the pass runs
    in tiles with whole-image statistics (:mod:`.tiled`). ``color="match"`` recolours each style to the content's
    colour statistics first; ``"luminance"`` keeps the content's chroma afterwards.
    """
    if min(content.shape[-2:]) < MIN_SIDE or any(min(s.shape[-2:]) < MIN_SIDE for s in styles):
        raise UsageError(f"images must be at least {MIN_SIDE} pixels on each side")
    if opts.color == "match":
        styles = [color.match_color(s, content) for s in styles]
    x, (h, w) = pad_to_multiple(content, 16)
    if getattr(model, "encoder", None) is not None:  # e.g. the authors' normalised VGG (imported weights)
        vgg = model.encoder
    tile = tiled.tile_for(opts.method, tuple(x.shape[-2:]), opts.max_memory, opts.tile)
    with torch.no_grad(), autocast(x.device, opts.precision):
        feats = [encoded_style(model, vgg, s) for s in styles]
        x = x.contiguous(memory_format=torch.channels_last)
        options = options_for(model, opts)
        out = (tiled.stylize(model, vgg, x, feats, opts.blend(len(styles)), tile, options) if tile
               else model.stylize(vgg, x, feats, opts.blend(len(styles)), options))
    out = out[..., :h, :w].float().clamp(0, 1)
    return color.combine_luminance(out, content) if opts.color == "luminance" else out


def transfer(content: ImageLike, styles: Sequence[ImageLike] = (), options: FeedForwardOptions | None = None,
             **overrides: Any) -> Image.Image:
    """Stylize ``content`` with a feed-forward model; returns a PIL image with metadata.

    The output's long side is ``size`` (a smaller photo is upscaled, as with Gatys).
    ``styles`` is a list of style images (paths, PIL images, arrays, tensors); johnson and
    multistyle ignore them (their styles are in their weights). ``options`` fields can be overridden by keyword,
    e.g. ``transfer(c, [s], method="sanet", sanet_w2=0.5)``. The result's
    ``info["atelier"]`` holds settings, model card summary and timing.
    """
    opts = dataclasses.replace(options or FeedForwardOptions(), **overrides)
    styles = [starter.resolve(s) for s in styles] if registry.spec(opts.method).needs_style else []
    opts.validate(len(styles))
    c_img, alpha = load_image(content, with_alpha=True)
    photo = c_img.size
    check_dimensions(c_img.size, opts.size, "content image")
    c_img = resize_long_side(c_img, opts.size)
    side = opts.style_size or opts.size
    s_imgs = [load_image(s) for s in styles]
    for s in s_imgs:
        check_dimensions(s.size, min(max(s.size), side), "style image")
    s_imgs = [shrink_long_side(s, side) for s in s_imgs]
    device = pick_device(opts.device)
    model = cached_model(opts.method, opts.model, str(device))
    vgg = load_vgg().to(device, memory_format=torch.channels_last)
    start = time.perf_counter()
    out = to_pil(stylize_tensor(model, vgg, to_tensor(c_img).to(device),
                                [to_tensor(s).to(device) for s in s_imgs], opts))
    seconds = time.perf_counter() - start
    if alpha is not None:
        out.putalpha(alpha.resize(out.size, Image.LANCZOS))
    card = registry.read_card(opts.model or registry.shipped_path(opts.method))
    out.info["atelier"] = metadata(opts, seconds, method=opts.method, content=describe_input(content),
                                   styles=[describe_input(s) for s in styles],
                                   model={k: card.get(k) for k in ("steps", "crop_size", "final_losses", "style_data")},
                                   **upscale_record(photo, out.size))
    return out


GHIASI_INIT_SIDE = 256
"""Long side the network paints the Gatys init at (its training scale); the optimization's
coarsest level is smaller still, so painting at the full output size only costs time and memory."""


def ghiasi_init(content: torch.Tensor, styles: Sequence[torch.Tensor], opts: Any,
                size: tuple[int, int]) -> torch.Tensor:
    """Gatys ``--init feedforward`` (the default): the luminance of the pretrained arbitrary network's result for
    ``content`` (1 x 3 x H x W) and ``styles`` under the Gatys ``opts`` (blend, colour, precision,
    device), with the photo's chroma, painted at ``GHIASI_INIT_SIDE`` (or ``size``, the coarsest
    level, if larger; never above the photo's size). The network's strokes and light give the
    optimizer a head start; its colours would not be pulled back in a few evaluations (it paints
    dark greens blue), so the style's palette comes from the optimization, as from the photo."""
    side = min(max(content.shape[-2:]), max(GHIASI_INIT_SIDE, *size))
    content = resize(content, fit_long_side(content.shape, side))
    ff = from_style_options(opts, "ghiasi")
    model = cached_model("ghiasi", None, str(content.device))
    vgg = load_vgg().to(content.device, memory_format=torch.channels_last)
    painted = stylize_tensor(model, vgg, content, styles, ff)
    return color.combine_luminance(painted, resize(content, tuple(painted.shape[-2:])))


register_init("feedforward", ghiasi_init)
