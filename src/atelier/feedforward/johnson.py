"""Per-style fast networks (Johnson, Alahi & Fei-Fei, ECCV 2016).

A small image transformation net is trained for ONE style: it maps any photo to its
stylization in a single forward pass. Architecture (with Ulyanov et al.'s instance norm
and reflection padding): 9x9 conv (32) -> two stride-2 3x3 convs (64, 128) -> five residual
blocks (128) -> two nearest-upsample + 3x3 convs (64, 32) -> 9x9 conv to RGB.

Training loss ("perceptual loss"), with Atelier's relative Gatys losses so that the
weights mean the same as in ``atelier stylize``: relative feature error on relu4_2 plus
``style_weight`` times the relative Gram errors on relu1_1..relu5_1 (the classic preset)
against the style image's Grams, plus optional total variation.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..core.losses import content_loss, gram, gram_loss, tv_loss
from ..core.options import PRESETS
from ..core.vgg import VGG
from .model import StylizeOptions, Training

CONTENT_LAYER = "relu4_2"
STYLE_LAYERS = PRESETS["classic"]["style_layers"]
DEFAULT_OPTIONS = StylizeOptions()  # frozen: one shared default for stylize


def conv_block(c_in: int, c_out: int, kernel: int, stride: int = 1, upsample: bool = False,
               relu: bool = True) -> nn.Sequential:
    """[2x nearest upsample] -> reflection pad -> conv -> instance norm -> [ReLU]."""
    layers: list[nn.Module] = [nn.Upsample(scale_factor=2, mode="nearest")] if upsample else []
    layers += [nn.ReflectionPad2d(kernel // 2), nn.Conv2d(c_in, c_out, kernel, stride),
               nn.InstanceNorm2d(c_out, affine=True)]
    return nn.Sequential(*layers, nn.ReLU(inplace=True)) if relu else nn.Sequential(*layers)


class Residual(nn.Module):
    """Two 3x3 conv blocks with an identity shortcut."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(conv_block(channels, channels, 3), conv_block(channels, channels, 3, relu=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class TransformerNet(nn.Module):
    """Image -> stylized image (N x 3 x H x W, H and W multiples of 4; output 0..1 after clamping)."""

    def __init__(self, width: int = 32, residuals: int = 5):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            conv_block(3, w, 9), conv_block(w, 2 * w, 3, stride=2), conv_block(2 * w, 4 * w, 3, stride=2),
            *[Residual(4 * w) for _ in range(residuals)],
            conv_block(4 * w, 2 * w, 3, upsample=True), conv_block(2 * w, w, 3, upsample=True),
            nn.ReflectionPad2d(4), nn.Conv2d(w, 3, 9),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Johnson(nn.Module):
    """A TransformerNet plus the loss that trains it for one style image."""

    method = "johnson"
    needs_style, portrait_backend, instant_preview = False, False, False  # style in weights
    pretrained_parts: tuple[str, ...] = ()
    training = Training(lr=1e-3, style_data="image")
    Options = StylizeOptions
    style_layers: tuple[str, ...] = ()

    def __init__(self, style_weight: float = 1.0, tv_weight: float = 0.0, width: int = 32, residuals: int = 5):
        super().__init__()
        self._config = {"style_weight": style_weight, "tv_weight": tv_weight, "width": width, "residuals": residuals}
        self.net = TransformerNet(width, residuals)
        self._style: tuple[torch.Tensor, dict[str, torch.Tensor]] | None = None

    def config(self) -> dict:
        return dict(self._config)

    @staticmethod
    def builtin_style(card: dict[str, Any]) -> str:
        """The trained style's name, from the style image named in the model ``card``."""
        image = (card.get("style_data") or {}).get("image", "")
        return Path(image).stem.replace("__", ": ").replace("_", " ") or "its trained style"

    def stylize(self, vgg: VGG, content: torch.Tensor, styles: Sequence[dict[str, torch.Tensor]] = (),
                weights: Sequence[float] = (), options: StylizeOptions = DEFAULT_OPTIONS) -> torch.Tensor:
        """The learned style applied to ``content``; ``alpha`` < 1 mixes the content back in
        (pixel space). ``styles`` are ignored: the style is in the weights."""
        out, alpha = self.net(content), options.alpha
        return alpha * out + (1 - alpha) * content if alpha < 1 else out

    def _style_grams(self, vgg: VGG, style: torch.Tensor) -> dict[str, torch.Tensor]:
        if self._style is None or self._style[0] is not style:  # computed once per style tensor
            with torch.no_grad():
                self._style = (style, {k: gram(v) for k, v in vgg(style, STYLE_LAYERS).items()})
        return self._style[1]

    def training_loss(self, vgg: VGG, content: torch.Tensor, style: torch.Tensor) -> dict[str, torch.Tensor]:
        """Perceptual loss of a batch of content crops against one style image (1 x 3 x H x W)."""
        targets = self._style_grams(vgg, style)
        with torch.no_grad():
            fc = vgg(content, [CONTENT_LAYER])[CONTENT_LAYER]
        out = self.net(content)
        feats = vgg(out, [CONTENT_LAYER, *STYLE_LAYERS])
        l_c = content_loss(feats[CONTENT_LAYER], fc)
        l_s = sum(gram_loss(gram(feats[k]), targets[k].expand(len(out), -1, -1))
                  for k in STYLE_LAYERS) / len(STYLE_LAYERS)
        l_tv = tv_loss(out)
        s = self._config
        total = l_c + s["style_weight"] * l_s + s["tv_weight"] * l_tv
        return {"loss": total, "content": l_c, "style": l_s, "tv": l_tv}
