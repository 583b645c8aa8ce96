"""Optical flow between video frames with OpenCV (DIS or Farneback), as tensors for :mod:`atelier.core.temporal`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..base.errors import UsageError
from ..core.temporal import occlusion_mask

FLOWS = ("dis", "farneback")


def estimate(a: np.ndarray, b: np.ndarray, method: str = "dis") -> torch.Tensor:
    """Flow from frame ``a`` to frame ``b`` (H x W x 3 uint8 RGB): 1 x 2 x H x W, ``b[p + flow(p)] ~ a[p]``."""
    import cv2  # OpenCV loads only when a video is stylized (not at every `atelier` start)

    ga, gb = (cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in (a, b))
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        flow = dis.calc(ga, gb, None)
    elif method == "farneback":
        flow = cv2.calcOpticalFlowFarneback(ga, gb, None, 0.5, 4, 15, 3, 5, 1.2, 0)
    else:
        raise UsageError(f"flow must be one of {', '.join(FLOWS)}, not {method!r}")
    return torch.from_numpy(np.ascontiguousarray(flow, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0)


@dataclass
class Motion:
    """How frame t relates to frame t-1: ``backward`` flow t -> t-1 (1 x 2 x H x W) and the
    ``mask`` (1 x 1 x H x W) of frame t's pixels visible in frame t-1 (Ruder et al.'s check)."""

    backward: torch.Tensor
    mask: torch.Tensor


def motion(prev: np.ndarray, cur: np.ndarray, method: str = "dis") -> Motion:
    """Backward flow and visibility mask of frame ``cur`` against ``prev`` (H x W x 3 uint8 RGB)."""
    backward = estimate(cur, prev, method)
    return Motion(backward, occlusion_mask(backward, estimate(prev, cur, method)))
