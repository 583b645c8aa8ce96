"""The "normalised" VGG19 encoder that the authors' AdaIN, SANet and WCT decoders were trained against.

Gatys et al. rescaled VGG19's filters so every layer's mean activation is 1 on ImageNet; the
Torch7 file ``vgg_normalised.t7`` (and its PyTorch ports ``vgg_normalised.pth``,
``vgg_normalised_convN_1.pth``) holds it with one extra first layer, a 1x1 conv 3 -> 3 that
turns RGB in 0..1 into VGG's input (BGR, x255, minus the Caffe mean). Every 3x3 conv is
reflection-padded; pools are 2x2 max pools (``ceil_mode``, as in the ports). Atelier's own
:mod:`atelier.core.vgg` is the raw Caffe VGG19 (zero padding, unnormalised), which these
decoders cannot read.

Same call as :class:`atelier.core.vgg.VGG`: ``encoder(x, layers)`` with RGB in 0..1 returns
``{layer: features}``; it runs up to ``relu{depth}_1``.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from ..base.errors import UsageError
from ..core.vgg import BLOCKS, WIDTHS, layer_names


def convs_up_to(depth: int) -> int:
    """Number of VGG19 3x3 convs up to ``conv{depth}_1`` (1, 3, 5, 9, 13)."""
    return sum(BLOCKS["vgg19"][: depth - 1]) + 1


class NormalisedVGG(nn.Module):
    """1x1 input conv, then VGG19's 3x3 convs up to ``conv{depth}_1``."""

    def __init__(self, depth: int = 4):
        super().__init__()
        if depth not in (1, 2, 3, 4, 5):
            raise ValueError(f"depth must be 1..5, got {depth}")
        self.depth = depth
        self.names = [n for n in layer_names("vgg19")][: layer_names("vgg19").index(f"relu{depth}_1") + 1]
        self.input = nn.Conv2d(3, 3, 1)
        shapes, c_in = [], 3
        for block, n in enumerate(BLOCKS["vgg19"], start=1):
            shapes += [(c_in if i == 0 else WIDTHS[block - 1], WIDTHS[block - 1]) for i in range(n)]
            c_in = WIDTHS[block - 1]
        self.convs = nn.ModuleList([nn.Conv2d(a, b, 3) for a, b in shapes[: convs_up_to(depth)]])
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        wanted = set(layers)
        unknown = wanted - set(self.names)
        if unknown:
            raise UsageError(f"this normalised VGG stops at relu{self.depth}_1; no {', '.join(sorted(unknown))}")
        deepest = max(self.names.index(n) for n in wanted)
        out: dict[str, torch.Tensor] = {}
        h = self.input(x)
        convs = iter(self.convs)
        for name in self.names[: deepest + 1]:
            if name.startswith("conv"):
                h = next(convs)(F.pad(h, (1, 1, 1, 1), mode="reflect"))
            elif name.startswith("relu"):
                h = F.relu(h)
            else:
                h = F.max_pool2d(h, 2, 2, ceil_mode=True)
            if name in wanted:
                out[name] = h
        return out
