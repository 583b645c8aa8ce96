"""Generated texture families for the style-library tests (no external files).

Each family has its own palette and spatial frequency; ``texture(family, seed)`` draws a
new instance (random phase, orientation and noise), and ``crop`` cuts a re-crop from it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

FAMILIES = {
    # name: (frequency in cycles per 100 px, dark colour, light colour)
    "red_stripes": (3.0, (120, 20, 10), (250, 170, 60)),
    "blue_checks": (14.0, (10, 20, 90), (200, 220, 255)),
    "green_waves": (7.0, (20, 70, 20), (210, 230, 90)),
}


def texture(family: str, seed: int, size: int = 160) -> Image.Image:
    freq, dark, light = FAMILIES[family]
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    theta = rng.uniform(0, np.pi)
    u = xx * np.cos(theta) + yy * np.sin(theta)
    v = -xx * np.sin(theta) + yy * np.cos(theta)
    w = 2 * np.pi * freq / 100
    phase = rng.uniform(0, 2 * np.pi, 2)
    if family == "blue_checks":
        t = (np.sign(np.sin(w * u + phase[0]) * np.sin(w * v + phase[1])) + 1) / 2
    elif family == "green_waves":
        t = (np.sin(w * u + 2.0 * np.sin(w * v / 3 + phase[1]) + phase[0]) + 1) / 2
    else:
        t = (np.sin(w * u + phase[0]) + 1) / 2
    t = np.clip(t + rng.normal(0, 0.08, t.shape), 0, 1)[..., None]
    rgb = np.array(dark) * (1 - t) + np.array(light) * t
    return Image.fromarray(rgb.astype(np.uint8), "RGB")


def crop(img: Image.Image, seed: int, size: int = 112) -> Image.Image:
    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, img.width - size + 1), rng.integers(0, img.height - size + 1)
    return img.crop((int(x), int(y), int(x) + size, int(y) + size))


def write_collection(folder: Path, per_family: int = 2) -> dict[str, list[Path]]:
    """Write ``per_family`` re-crops of one instance per family as ``family__crop_N.png``."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, list[Path]] = {}
    for i, fam in enumerate(FAMILIES):
        src = texture(fam, seed=10 + i)
        out[fam] = []
        for j in range(per_family):
            p = folder / f"{fam}__crop_{j}.png"
            crop(src, seed=100 * i + j).save(p)
            out[fam].append(p)
    return out
