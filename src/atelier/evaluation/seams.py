"""Seam score: is there an edge where the tiles met?

Definition: the image in grayscale (ITU-R 601 luma, 0..255); ``d`` the squared differences
between vertically and horizontally neighbouring pixels. The *border* pixel pairs are those
that straddle a tile border: rows ``phase_y + k * period`` (and their upper neighbour) and
columns ``phase_x + k * period``; every other pair is *interior*. The score is
``mean(d on border pairs) / mean(d on interior pairs)``: about 1 for an image without
seams on that grid, above 1 when the grid shows. A tiled result is compared with an
untiled one of the same image on the same lines (:func:`seam_score` takes the worst of
several grid phases, for runs whose grid moved).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..io.images import ImageLike
from .metrics import gray_array


def seam_score_array(gray: np.ndarray, period: int, phase: tuple[int, int] = (0, 0)) -> float:
    """Seam score of an H x W grayscale array on the grid of ``period`` px shifted by ``phase`` (y, x)."""
    g = gray.astype(np.float64)
    dy = (g[1:, :] - g[:-1, :]) ** 2   # pair (i, i + 1) at index i
    dx = (g[:, 1:] - g[:, :-1]) ** 2
    rows = np.zeros(dy.shape[0], dtype=bool)
    cols = np.zeros(dx.shape[1], dtype=bool)
    rows[[b - 1 for b in range(phase[0] % period or period, g.shape[0], period) if b >= 1]] = True
    cols[[b - 1 for b in range(phase[1] % period or period, g.shape[1], period) if b >= 1]] = True
    border = np.concatenate([dy[rows].ravel(), dx[:, cols].ravel()])
    interior = np.concatenate([dy[~rows].ravel(), dx[:, ~cols].ravel()])
    if border.size == 0 or interior.size == 0:
        raise ValueError(f"a {g.shape[1]}x{g.shape[0]} image has no tile borders every {period} px")
    return float(border.mean() / max(interior.mean(), 1e-12))


def seam_score(image: ImageLike, period: int, phases: Iterable[tuple[int, int]] = ((0, 0),)) -> float:
    """The largest :func:`seam_score_array` of ``image`` over grid ``phases`` (y, x) of ``period`` px."""
    gray = gray_array(image)
    return max(seam_score_array(gray, period, p) for p in phases)


def grid_phases(period: int, step: int = 16) -> list[tuple[int, int]]:
    """Every diagonal phase (p, p) of a grid moved in ``step`` px (the tiled Gatys grid offsets)."""
    return [(p, p) for p in range(0, period, step)]
