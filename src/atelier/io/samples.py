"""Built-in sample images that need no download.

Content photos come from scikit-image's bundled data (``astronaut``, ``coffee``, ``chelsea``,
``rocket``, ...). The styles here are generated procedurally (nothing is fetched); real
paintings ship as the starter collection (:mod:`atelier.io.starter`):

``swirl``
    Line-integral convolution of coloured noise along a set of vortices, in a warm/cool
    palette: long curved brush strokes in the manner of post-impressionist skies.
``mosaic``
    A Voronoi tiling with dark grout lines, in saturated colours.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..base.errors import UsageError

CONTENTS = ("astronaut", "coffee", "chelsea", "rocket", "cat", "immunohistochemistry")
STYLES = ("swirl", "mosaic")


def content(name: str = "astronaut") -> Image.Image:
    """A sample photo from scikit-image's bundled data, as RGB."""
    import skimage.data

    if name not in CONTENTS:
        raise UsageError(f"unknown sample content {name!r}; choose from {', '.join(CONTENTS)}")
    return Image.fromarray(getattr(skimage.data, name)()).convert("RGB")


def style(name: str = "swirl", size: int = 384, seed: int = 0) -> Image.Image:
    """A procedurally generated style image (``size`` x ``size``)."""
    if name == "swirl":
        return _swirl(size, seed)
    if name == "mosaic":
        return _mosaic(size, seed)
    raise UsageError(f"unknown sample style {name!r}; choose from {', '.join(STYLES)}")


def _swirl(size: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) / size
    vx, vy = np.zeros_like(xx), np.zeros_like(yy)
    for cx, cy, s in rng.uniform([0, 0, -1], [1, 1, 1], size=(7, 3)):
        dx, dy = xx - cx, yy - cy
        r2 = dx * dx + dy * dy + 0.01
        vx += -dy * s / r2 * np.exp(-r2 * 6)
        vy += dx * s / r2 * np.exp(-r2 * 6)
    vx += 0.3
    norm = np.sqrt(vx * vx + vy * vy) + 1e-9
    vx, vy = vx / norm, vy / norm
    noise = rng.random((size, size))
    hue_field = rng.random((size // 16 + 2, size // 16 + 2))
    hue = np.asarray(Image.fromarray((hue_field * 255).astype(np.uint8)).resize((size, size), Image.BICUBIC)) / 255.0
    acc = np.zeros_like(noise)
    px, py = xx * size, yy * size
    steps = max(8, size // 16)
    for sign in (1.0, -1.0):
        x, y = px.copy(), py.copy()
        for _ in range(steps):
            ix = np.clip(x.astype(int), 0, size - 1)
            iy = np.clip(y.astype(int), 0, size - 1)
            acc += noise[iy, ix]
            x += sign * vx[iy, ix]
            y += sign * vy[iy, ix]
    streak = acc / (2 * steps)
    streak = (streak - streak.min()) / (np.ptp(streak) + 1e-9)
    palette = np.array([[20, 40, 110], [40, 90, 170], [230, 200, 60], [250, 240, 170], [30, 30, 60]], np.float64)
    t = np.clip(hue * 0.7 + streak * 0.6 - 0.15, 0, 0.999) * (len(palette) - 1)
    i = t.astype(int)
    f = (t - i)[..., None]
    rgb = palette[i] * (1 - f) + palette[i + 1] * f
    rgb *= (0.6 + 0.6 * streak)[..., None]
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")


def _mosaic(size: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    n = max(16, size // 8)
    pts = rng.uniform(0, size, size=(n, 2))
    colors = rng.choice(np.array([[200, 40, 40], [240, 190, 40], [40, 90, 180], [30, 140, 80],
                                  [240, 240, 220], [120, 60, 140]], np.float64), size=n)
    yy, xx = np.mgrid[0:size, 0:size]
    d = (xx[..., None] - pts[:, 0]) ** 2 + (yy[..., None] - pts[:, 1]) ** 2
    order = np.argsort(d, axis=-1)
    d_sorted = np.take_along_axis(d, order[..., :2], axis=-1)
    edge = (np.sqrt(d_sorted[..., 1]) - np.sqrt(d_sorted[..., 0])) < 2.5
    rgb = colors[order[..., 0]] * rng.uniform(0.85, 1.15, size=(size, size, 1))
    rgb[edge] = 25
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
