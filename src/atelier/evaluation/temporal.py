"""Flicker of a stylized video: the warping error between consecutive output frames.

Definition (Lai et al. 2018's E_warp, on Ruder et al.'s occlusion masks): for each pair of
consecutive frames, the previous *output* frame is warped onto the current one by the
backward flow estimated on the *input* frames, and the squared difference (RGB in 0..1,
averaged over channels) is averaged over the pixels visible in both input frames
(:func:`atelier.core.temporal.occlusion_mask`). Flicker is the mean over frame pairs. A video
that follows its input's motion exactly scores 0; per-frame stylization scores high because
its strokes re-arrange from frame to frame. Same units as MSE on 0..1 images.
"""

from __future__ import annotations

import torch

from ..core.temporal import temporal_loss, warp


def warping_error(prev: torch.Tensor, cur: torch.Tensor, backward: torch.Tensor, mask: torch.Tensor) -> float:
    """Warping error of output frame ``cur`` against ``prev`` (1 x 3 x H x W) under the input's
    ``backward`` flow (1 x 2 x H x W) on visible pixels ``mask`` (1 x 1 x H x W)."""
    return float(temporal_loss(cur, warp(prev, backward), mask))


class Flicker:
    """Running mean of :func:`warping_error` over the frame pairs of a video, fed one pair at a time."""

    def __init__(self) -> None:
        self.errors: list[float] = []

    def add(self, prev: torch.Tensor, cur: torch.Tensor, backward: torch.Tensor, mask: torch.Tensor) -> float:
        self.errors.append(warping_error(prev, cur, backward, mask))
        return self.errors[-1]

    @property
    def value(self) -> float:
        """The flicker (0.0 for a clip of one frame)."""
        return sum(self.errors) / len(self.errors) if self.errors else 0.0
