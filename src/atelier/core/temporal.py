"""Temporal consistency for video, as pure tensor functions (Ruder, Dosovitskiy & Brox 2016).

Flows are ``1 x 2 x H x W`` tensors of pixel displacements ``(dx, dy)``. The *backward* flow
of frame t points from each pixel of frame t to where it was in frame t-1, so
``warp(prev, backward)`` lays frame t-1 over frame t. Estimating flows is not done here
(it needs OpenCV: :mod:`atelier.scale.flow`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class Anchor:
    """A pull towards a target image: ``weight * temporal_loss(x, target, mask)`` joins the loss.

    ``target`` is 1 x 3 x H x W (e.g. the previous stylized frame warped onto this one),
    ``mask`` 1 x 1 x H x W in 0..1 (0 where the target is not to be trusted: occlusions).
    Both may be at any resolution; they are resized to the image being optimized.
    """

    target: torch.Tensor
    mask: torch.Tensor
    weight: float


def _grid(flow: torch.Tensor) -> torch.Tensor:
    """Sampling positions ``pixel + flow`` (1 x 2 x H x W), in grid_sample's -1..1 coordinates (1 x H x W x 2)."""
    _, _, h, w = flow.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=flow.dtype, device=flow.device),
                            torch.arange(w, dtype=flow.dtype, device=flow.device), indexing="ij")
    x = (xs + flow[:, 0]) * (2 / max(w - 1, 1)) - 1
    y = (ys + flow[:, 1]) * (2 / max(h - 1, 1)) - 1
    return torch.stack((x, y), dim=-1)


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``image`` (N x C x H x W) at ``pixel + flow`` (1 x 2 x H x W), bilinear, borders clamped."""
    grid = _grid(flow.to(image.dtype)).expand(image.shape[0], -1, -1, -1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


def inside(flow: torch.Tensor) -> torch.Tensor:
    """1 x 1 x H x W: 1 where ``pixel + flow`` lands inside the frame (else the content came from outside)."""
    return (_grid(flow).abs() <= 1).all(dim=-1).unsqueeze(1).to(flow.dtype)


def occlusion_mask(backward: torch.Tensor, forward: torch.Tensor, motion_boundaries: bool = True) -> torch.Tensor:
    """1 x 1 x H x W: 1 where frame t's pixel is visible in frame t-1, 0 where it is occluded.

    ``backward`` is the flow t -> t-1, ``forward`` the flow t-1 -> t (both 1 x 2 x H x W).
    Ruder et al.'s forward-backward check: with ``w`` the backward flow and ``w^`` the forward
    flow sampled where ``w`` points, a pixel is disoccluded if
    ``|w + w^|^2 > 0.01 (|w|^2 + |w^|^2) + 0.5``; with ``motion_boundaries`` also where
    ``|grad w^|^2 > 0.01 |w^|^2 + 0.002``; and always where ``w`` leaves the frame.
    """
    w = backward
    w_hat = warp(forward, w)
    ok = ((w + w_hat).pow(2).sum(1, keepdim=True)
          <= 0.01 * (w.pow(2).sum(1, keepdim=True) + w_hat.pow(2).sum(1, keepdim=True)) + 0.5)
    if motion_boundaries:
        gx = F.pad(w_hat[..., :, 1:] - w_hat[..., :, :-1], (0, 1, 0, 0))
        gy = F.pad(w_hat[..., 1:, :] - w_hat[..., :-1, :], (0, 0, 0, 1))
        grad = (gx.pow(2) + gy.pow(2)).sum(1, keepdim=True)
        ok = ok & (grad <= 0.01 * w_hat.pow(2).sum(1, keepdim=True) + 0.002)
    return ok.to(w.dtype) * inside(w)


def temporal_loss(x: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the pixels where ``mask`` (1 x 1 x H x W) is set of ``(x - target)^2`` (1 x 3 x H x W),
    averaged over channels, each pixel weighted by its mask value; 0 when the mask is empty."""
    diff = (x - target).pow(2).mean(1, keepdim=True)
    return (diff * mask).sum() / mask.sum().clamp_min(1e-8)


def blend(stylized: torch.Tensor, warped_prev: torch.Tensor, mask: torch.Tensor, weight: float) -> torch.Tensor:
    """Flow-guided blending: ``mask * weight * warped_prev + (1 - mask * weight) * stylized`` (1 x 3 x H x W)."""
    m = mask * weight
    return m * warped_prev + (1 - m) * stylized
