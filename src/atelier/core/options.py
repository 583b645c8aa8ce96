"""Settings of a stylization, as one typed dataclass the CLI maps 1:1, and the layer presets.

Presets (``--preset``):

``classic``
    Gatys et al. 2016: content on relu4_2; style on relu1_1, relu2_1, relu3_1, relu4_1,
    relu5_1 with equal weights. Best for painterly, abstract styles (brush strokes and
    textures are rearranged freely).
``realistic``
    For realistic, non-abstract styles (photos, academic painting, portraits): style on the
    shallow layers relu1_1, relu2_1, relu3_1 only (weights 0.5, 0.3, 0.2), content on relu4_2
    and relu3_2. Deep style layers (relu4_1, relu5_1) describe object-level patterns and
    re-arrange scene structure; dropping them and anchoring the mid-level content keeps the
    geometry photographic while colour, tone and fine texture transfer.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..base.checks import check_choice, check_int, check_number, fail
from ..base.errors import UsageError
from .budget import parse_memory

PRESETS: dict[str, dict[str, Any]] = {
    "classic": {
        "content_layers": ("relu4_2",),
        "style_layers": ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
        "style_layer_weights": (1.0, 1.0, 1.0, 1.0, 1.0),
    },
    "realistic": {
        "content_layers": ("relu3_2", "relu4_2"),
        "style_layers": ("relu1_1", "relu2_1", "relu3_1"),
        "style_layer_weights": (0.5, 0.3, 0.2),
    },
}

COLOR_MODES = ("none", "luminance", "match")
MAX_SEED = 2**32 - 1  # what every random generator Atelier uses (torch, numpy, random) accepts


def option_field(default: Any, help: str) -> Any:
    """A dataclass field carrying its CLI/web help text (read by ``cli.common.dataclass_options``)."""
    return field(default=default, metadata={"help": help})

STRENGTH_EXPONENT = 2.0


def strength_factor(strength: float) -> float:
    """The style-weight multiplier of ``--strength``: ``strength ** STRENGTH_EXPONENT``.

    The exponent makes the scale perceptually even (0.5 visibly lighter, 2 visibly stronger);
    see docs/gatys.md for the calibration.
    """
    return float(strength) ** STRENGTH_EXPONENT


def check_seed(value: Any, name: str = "seed") -> None:
    """Raise ``UsageError`` unless ``value`` is an integer in ``0..MAX_SEED``."""
    check_int(name, value, 0, MAX_SEED)


def check_weights(name: str, weights: Sequence[float]) -> None:
    """Raise ``UsageError`` unless ``weights`` (blend or layer weights) are finite, >= 0 and not all 0."""
    if any(not isinstance(w, (int, float)) or isinstance(w, bool) or not math.isfinite(w) or w < 0 for w in weights) \
            or sum(weights) <= 0:
        raise fail(name, "finite numbers >= 0, not all 0", tuple(weights))


def check_tiling(max_memory: Any, tile: Any) -> None:
    """Raise ``UsageError`` unless ``max_memory`` parses (None: the default budget) and ``tile`` is
    None or a multiple of 16 of at least 32."""
    if max_memory is not None:
        parse_memory(max_memory)
    if tile is not None and (isinstance(tile, bool) or not isinstance(tile, int) or tile < 32 or tile % 16):
        raise UsageError(f"tile must be a multiple of 16 of at least 32 px, got {tile!r}")


OPTIMIZERS = ("lbfgs", "adam")
POOLINGS = ("max", "avg")
PRECISIONS = ("auto", "bf16", "fp32")
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class StyleOptions:
    """Everything that controls one Gatys-style optimization.

    Weights: the loss is ``content_weight * L_content + style_weight * L_style + tv_weight * L_tv``
    with relative (size-independent) losses. Alternatively set ``style_ratio`` (the convex
    lambda): ``(1 - lambda) * L_content + lambda * L_style``, which overrides both weights.
    """

    size: int = option_field(512, "long side of the output in pixels")
    preset: str = option_field("classic", "layer preset: classic | realistic (see `atelier layers`)")
    content_layers: Sequence[str] | None = option_field(None, "content layers, comma-separated (default: the preset's)")
    style_layers: Sequence[str] | None = option_field(None, "style layers, comma-separated (default: the preset's)")
    style_layer_weights: Sequence[float] | None = option_field(None, "one weight per style layer, comma-separated")
    content_weight: float = option_field(1.0, "alpha: weight of the content loss")
    style_weight: float = option_field(4.5, "beta: weight of the style loss, calibrated on the panel "
                                            "(experts; use --strength)")
    strength: float = option_field(1.0, "style strength: 1 is the calibrated default, 0.5 visibly lighter, "
                                        "2 visibly stronger")
    style_ratio: float | None = option_field(None, "lambda in [0,1]: loss = (1-lambda) content + lambda style; "
                                                   "overrides alpha/beta")
    tv_weight: float = option_field(0.0, "total-variation weight (smoothness)")
    style_blend: Sequence[float] | None = option_field(None, "one blend weight per style image, comma-separated")
    style_scale: float = option_field(1.0, "style image size relative to the output size")
    init: str = option_field("feedforward", "initial image: feedforward (the shipped arbitrary network's "
                                            "picture with the photo's colours) | content | noise | style | PATH")
    optimizer: str = option_field("lbfgs", "lbfgs | adam")
    lr: float = option_field(0.02, "Adam learning rate (images are 0..1)")
    detail: float = option_field(0.5, "fraction of the photo's fine detail added back at each upsampling (0..1)")
    iterations: int = option_field(8, "optimizer evaluations at the finest pyramid level")
    levels: int = option_field(3, "coarse-to-fine pyramid levels (each half the size of the next)")
    coarse_factor: float = option_field(1.75, "each coarser level gets this many times more iterations")
    pooling: str = option_field("max", "max | avg pooling in VGG")
    color: str = option_field("none", "colour preservation: none | luminance | match")
    seed: int = option_field(0, "random seed (noise init, variants)")
    precision: str = option_field("auto", "auto (bf16 autocast) | bf16 | fp32")
    device: str = option_field("auto", "auto | cpu | cuda")
    backbone: str = option_field("vgg19", "vgg19 | vgg16 (vgg16 needs --weights)")
    weights: str | None = option_field(None, "torchvision-format VGG weights file, "
                                             "or 'hub' for the local torch hub cache")
    save_every: int = option_field(0, "save an intermediate image every N evaluations (0: never)")
    max_memory: str | None = option_field(None, "memory budget such as 6G or 512M (default: min(6 GiB, RAM/3)); "
                                                   "runs that would not fit are tiled (docs/scale.md)")
    tile: int | None = option_field(None, "force tiling with tiles of N px, a multiple of 16 "
                                             "(default: from --max-memory)")
    extras: dict[str, Any] = field(default_factory=dict, metadata={"cli": False})  # notes for metadata

    # --- resolved views -------------------------------------------------------------
    def resolved(self) -> StyleOptions:
        """A validated copy with preset layers filled in; raises ``UsageError``."""
        o = dataclasses.replace(self)
        check_choice("preset", o.preset, PRESETS)
        p = PRESETS[o.preset]
        if o.content_layers is None:
            o.content_layers = p["content_layers"]
        if o.style_layers is None:
            o.style_layers = p["style_layers"]
            if o.style_layer_weights is None:
                o.style_layer_weights = p["style_layer_weights"]
        if o.style_layer_weights is None:
            o.style_layer_weights = (1.0,) * len(o.style_layers)
        o.content_layers, o.style_layers = tuple(o.content_layers), tuple(o.style_layers)
        o.style_layer_weights = tuple(float(w) for w in o.style_layer_weights)
        o.validate()
        return o

    def validate(self) -> None:
        """Raise ``UsageError`` for any out-of-range setting (``resolved`` calls it)."""
        for name, lo, hi in (("size", 16, 8192), ("iterations", 1, 100_000), ("levels", 1, 8), ("save_every", 0, None)):
            check_int(name, getattr(self, name), lo, hi)
        for name in ("content_weight", "style_weight", "tv_weight"):
            check_number(name, getattr(self, name), 0)
        check_number("strength", self.strength, 0, 16)
        check_number("detail", self.detail, 0, 1)
        check_number("style_scale", self.style_scale, 0, 8, lo_open=True)
        check_number("lr", self.lr, 0, 10, lo_open=True)
        check_number("coarse_factor", self.coarse_factor, 0.1, 16)
        if self.style_ratio is not None:
            check_number("style_ratio", self.style_ratio, 0, 1)
        elif self.content_weight == 0 and self.style_weight == 0:
            raise UsageError("content_weight and style_weight cannot both be 0")
        check_seed(self.seed)
        check_tiling(self.max_memory, self.tile)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("pooling", self.pooling, POOLINGS)
        check_choice("color", self.color, COLOR_MODES)
        check_choice("precision", self.precision, PRECISIONS)
        check_choice("device", self.device, DEVICES)
        if not self.content_layers or not self.style_layers:
            raise UsageError("at least one content layer and one style layer are needed")
        if self.style_layer_weights is not None:
            if len(self.style_layer_weights) != len(self.style_layers):
                raise fail("style_layer_weights", f"one weight per style layer ({len(self.style_layers)})",
                           tuple(self.style_layer_weights))
            check_weights("style_layer_weights", self.style_layer_weights)
        if self.style_blend is not None:
            check_weights("style_blend", self.style_blend)

    @property
    def loss_weights(self) -> tuple[float, float]:
        """(alpha, beta) after applying ``style_ratio`` if set; beta is scaled by ``strength_factor``."""
        if self.style_ratio is not None:
            return 1.0 - self.style_ratio, self.style_ratio * strength_factor(self.strength)
        return self.content_weight, self.style_weight * strength_factor(self.strength)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
