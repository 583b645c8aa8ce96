"""The style transformer network conditioned on a style code (Dumoulin et al. 2017; Ghiasi et al. 2017).

One image-to-image network serves every style: its instance normalisations take their scale
and shift from a *style code* ``z`` (a vector) through learned linear maps,

    StyleNorm(x, z) = (x - mean(x)) / sqrt(var(x) + 1e-5) * (W_g z + b_g) + (W_b z + b_b)

(mean and variance per image and channel over space). Dumoulin's N-styles network uses
``z`` = the N style weights (one-hot for one style, a convex mix to blend; no ``b``);
Ghiasi's arbitrary network uses ``z`` = the 100-d code its style predictor makes of any
style image. Layout (both): a 9x9 conv and two stride-2 3x3 convs ("contract"), residual
blocks ``x + norm(conv(relu(norm(conv(x)))))``, two [2x upsample (nearest; or bilinear) -> 3x3 conv] and a
9x9 conv to RGB ("expand"), each conv reflection-padded and followed by StyleNorm and ReLU,
the last by StyleNorm and a sigmoid (output in 0..1). Ghiasi's contract convs have no norm
(a batch norm folded into them). Fully convolutional: any N x 3 x H x W input with H and W
multiples of 4 (the two stride-2 convs) comes back the same size.

The two stride-2 convs and nearest upsampling leave a faint pattern locked to the 4-px grid
of the strides (a periodic-artefact score of ~10 at 512 px, see :mod:`atelier.evaluation.metrics`);
:func:`shift_average` removes it by averaging the network over translations of that grid, and the
shipped ghiasi transformer (``upsample="bilinear"``) is distilled to do the same in one pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .equivariance import random_shift, shift_consistency, shifted_crop
from .model import StylizeOptions

EPS = 1e-5
STRIDE = 4  # the two stride-2 convs


@dataclass(frozen=True)
class ShiftOptions(StylizeOptions):
    """``shifts``: average the network over 1, 4 or 16 translations of its stride grid (:func:`shift_average`)."""

    shifts: int = 1


SHIFTS = {1: ((0, 0),), 4: ((0, 0), (0, 2), (2, 0), (2, 2)), 16: tuple((a, b) for a in range(4) for b in range(4))}


def shift_average(net: nn.Module, image: torch.Tensor, code: torch.Tensor, shifts: int = 1) -> torch.Tensor:
    """Mean of ``net(image shifted by (dy, dx), code)`` shifted back, over ``SHIFTS[shifts]``
    (1: one pass; 4: shifts of 0 and 2 px; 16: all 4 x 4 phases of the stride grid)."""
    if shifts not in SHIFTS:
        raise ValueError(f"shifts must be one of {sorted(SHIFTS)}, got {shifts!r}")
    h, w = image.shape[-2:]
    total = 0
    for dy, dx in SHIFTS[shifts]:
        x = F.pad(image, (dx, STRIDE - dx, dy, STRIDE - dy), mode="reflect") if dy or dx else image
        out = net(x, code)
        total = total + (out[..., dy:dy + h, dx:dx + w] if dy or dx else out).float()
    return total / len(SHIFTS[shifts])


DISTIL_SHIFTS = 16  # a distilled transformer learns its teacher averaged over every phase of the stride grid


def distillation_loss(output: torch.Tensor, teacher: nn.Module, image: torch.Tensor,
                      code: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between the student's ``output`` for ``image`` and ``code``
    (N x 3 x H x W) and the target ``shift_average(teacher, image, code, DISTIL_SHIFTS)`` (no
    gradient): one pass of the student learns what the teacher paints without the pattern locked
    to its stride grid."""
    with torch.no_grad():
        target = shift_average(teacher, image, code, DISTIL_SHIFTS)
    return F.mse_loss(output.float(), target)


def distillation_losses(student: nn.Module, teacher: nn.Module, image: torch.Tensor, code: torch.Tensor,
                        shift_weight: float = 0.0) -> dict[str, torch.Tensor]:
    """Training losses of a distilled transformer: :func:`distillation_loss`, plus ``shift_weight``
    times :func:`.equivariance.shift_consistency` of the student with itself (the image shifted by
    a fraction of the 4-px stride grid), which weighs the residual grid far above its share of the
    pixel difference."""
    output = student(image, code)
    distil = distillation_loss(output, teacher, image, code)
    losses = {"loss": distil, "distil": distil}
    if shift_weight:
        shift = random_shift(STRIDE)
        with torch.no_grad():
            shifted = student(shifted_crop(image, shift, STRIDE), code)
        losses["shift"] = shift_consistency(output, shifted, shift)
        losses["loss"] = distil + shift_weight * losses["shift"]
    return losses


def mix_codes(code: torch.Tensor, other: torch.Tensor, share: float) -> torch.Tensor:
    """``code`` (N x D) with a random ``share`` of its rows moved a uniform random part of the way
    toward the same rows of ``other`` (training codes for blends and ``--alpha``)."""
    n, dev = len(code), code.device
    weight = (torch.rand(n, 1, device=dev) < share) * torch.rand(n, 1, device=dev)
    return code + weight * (other - code)


def frozen_teacher(model: nn.Module, build: Callable[[], nn.Module], device: torch.device) -> nn.Module:
    """``build()`` once per ``model``, frozen and kept out of its module tree (never trained,
    saved or moved with it), on ``device``."""
    teacher = model.__dict__.get("_teacher")
    if teacher is None:
        teacher = model.__dict__["_teacher"] = build().requires_grad_(False)
    return teacher.to(device)


class StyleNorm(nn.Module):
    """Instance norm whose per-channel scale and shift are linear in a style code (N x code_dim)."""

    def __init__(self, channels: int, code_dim: int, bias: bool = True):
        super().__init__()
        self.gamma = nn.Linear(code_dim, channels, bias=bias)
        self.beta = nn.Linear(code_dim, channels, bias=bias)
        # (mean, var), each N x C x 1 x 1, used instead of x's own: the whole image's when x is a tile
        self.stats: tuple[torch.Tensor, torch.Tensor] | None = None

    def forward(self, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        xf = x.float()  # statistics in fp32 (bf16 variances are too coarse)
        if self.stats is not None:
            mean, var = self.stats
        else:
            mean = xf.mean((2, 3), keepdim=True)
            var = (xf - mean).pow(2).mean((2, 3), keepdim=True)
        code = code.float()
        scale = self.gamma(code)[..., None, None] * (var + EPS).rsqrt()
        return (xf * scale + (self.beta(code)[..., None, None] - mean * scale)).to(x.dtype)


class ConvLayer(nn.Module):
    """[2x upsample, ``"nearest"`` or ``"bilinear"``] -> reflection pad -> conv -> [StyleNorm] -> activation."""

    def __init__(self, c_in: int, c_out: int, kernel: int, code_dim: int, stride: int = 1,
                 upsample: str | None = None, norm: bool = True, norm_bias: bool = True, act: str | None = "relu"):
        super().__init__()
        self.upsample, self.pad, self.act = upsample, kernel // 2, act
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride)
        self.norm = StyleNorm(c_out, code_dim, norm_bias) if norm else None

    def forward(self, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        if self.upsample == "nearest":
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        elif self.upsample == "bilinear":
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = self.conv(F.pad(x, [self.pad] * 4, mode="reflect"))
        if self.norm is not None:
            x = self.norm(x, code)
        if self.act == "relu":
            return torch.relu(x)
        return torch.sigmoid(x.float()) if self.act == "sigmoid" else x


class Residual(nn.Module):
    def __init__(self, channels: int, code_dim: int, norm_bias: bool):
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3, code_dim, norm_bias=norm_bias)
        self.conv2 = ConvLayer(channels, channels, 3, code_dim, norm_bias=norm_bias, act=None)

    def forward(self, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.conv1(x, code), code)


class StyleTransformer(nn.Module):
    """Image (N x 3 x H x W, 0..1) and style code (N x code_dim) -> stylized image (0..1)."""

    def __init__(self, code_dim: int, contract: Sequence[int] = (32, 32, 32), expand: Sequence[int] = (8, 4),
                 residuals: int = 6, contract_norm: bool = True, norm_bias: bool = False, upsample: str = "nearest"):
        super().__init__()
        c1, c2, c3 = contract
        e1, e2 = expand
        cond = dict(code_dim=code_dim, norm_bias=norm_bias)
        self.contract = nn.ModuleList([
            ConvLayer(3, c1, 9, norm=contract_norm, **cond),
            ConvLayer(c1, c2, 3, stride=2, norm=contract_norm, **cond),
            ConvLayer(c2, c3, 3, stride=2, norm=contract_norm, **cond)])
        self.residual = nn.ModuleList([Residual(c3, **cond) for _ in range(residuals)])
        self.expand = nn.ModuleList([
            ConvLayer(c3, e1, 3, upsample=upsample, **cond),
            ConvLayer(e1, e2, 3, upsample=upsample, **cond),
            ConvLayer(e2, 3, 9, act="sigmoid", **cond)])

    def layers(self) -> list[ConvLayer]:
        """Every conv layer in forward order."""
        inner = [layer for block in self.residual for layer in (block.conv1, block.conv2)]
        return [*self.contract, *inner, *self.expand]

    def forward(self, image: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        x = image
        for layer in self.contract:
            x = layer(x, code)
        for block in self.residual:
            x = block(x, code)
        for layer in self.expand:
            x = layer(x, code)
        return x
