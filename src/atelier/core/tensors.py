"""Image-tensor sizing: the one resize and the one long-side rule every method uses."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Antialiased bicubic resize of an N x C x H x W image tensor to ``size`` (h, w), clamped to 0..1."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)


def fit_long_side(shape: Sequence[int], long_side: float) -> tuple[int, int]:
    """(h, w) of an image of ``shape`` (..., H, W) scaled so its long side is ``long_side``."""
    h, w = shape[-2:]
    s = long_side / max(h, w)
    return max(1, round(h * s)), max(1, round(w * s))
