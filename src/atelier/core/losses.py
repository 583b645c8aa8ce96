"""Loss terms of optimization-based style transfer, as pure tensor functions.

All losses are *relative* (normalised by the target's energy) and Gram matrices are
normalised by the number of spatial positions, so the same weights work at 256 px and at
2048 px and for every layer. These are also the distances Atelier reports everywhere
(`atelier.evaluation.metrics`), so an optimizer's loss and the evaluation speak the same language.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

EPS = 1e-8


def resize_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Area-resample a N x 1 x H x W soft mask to ``size`` (h, w)."""
    return mask if mask.shape[-2:] == size else F.interpolate(mask, size=size, mode="area")


def gram(features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Gram matrix ``G = F F^T / n`` of N x C x H x W features, computed in fp32.

    ``n`` is the number of spatial positions, or the mask's total weight when a soft mask
    (N x 1 x h x w, any size, resampled to the features) restricts the statistics to a region.
    Returns N x C x C.
    """
    f = features.float()
    n, c, h, w = f.shape
    if mask is not None:
        m = resize_mask(mask.float(), (h, w))
        f = f * m.sqrt()
        count = m.sum(dim=(1, 2, 3)).clamp_min(EPS).view(n, 1, 1)
    else:
        count = torch.full((n, 1, 1), float(h * w), device=f.device)
    f = f.reshape(n, c, h * w)
    return torch.bmm(f, f.transpose(1, 2)) / count


def gram_loss(g: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Relative squared Gram error ``||G - T||^2 / ||T||^2`` (mean over the batch)."""
    num = (g - target).pow(2).sum(dim=(-2, -1))
    den = target.pow(2).sum(dim=(-2, -1)).clamp_min(EPS)
    return (num / den).mean()


def content_loss(features: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Relative squared feature error ``||m (F - T)||^2 / ||m T||^2`` (``m`` optional soft mask)."""
    f, t = features.float(), target.float()
    if mask is not None:
        m = resize_mask(mask.float(), f.shape[-2:])
        f, t = f * m, t * m
    return (f - t).pow(2).sum() / t.pow(2).sum().clamp_min(EPS)


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels (anisotropic total variation)."""
    dx = (image[..., :, 1:] - image[..., :, :-1]).abs().mean()
    dy = (image[..., 1:, :] - image[..., :-1, :]).abs().mean()
    return dx + dy
