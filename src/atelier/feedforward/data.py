"""Training images: every picture under some folders, held in memory, sampled as random crops."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image

from ..base.errors import UsageError
from ..io.images import IMAGE_SUFFIXES, load_image, to_tensor


def image_files(folders: Sequence[str | Path]) -> list[Path]:
    """Image files (by extension) under ``folders``, recursively, sorted; ``UsageError`` if none."""
    files: list[Path] = []
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise UsageError(f"not a directory: {folder}")
        files += sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise UsageError(f"no images found under {', '.join(map(str, folders))}")
    return files


def fit_short_side(img: Image.Image, short: int) -> Image.Image:
    """Resize so the shorter side is ``short`` pixels (aspect kept)."""
    w, h = img.size
    s = short / min(w, h)
    return img.resize((max(short, round(w * s)), max(short, round(h * s))), Image.BICUBIC)


def _open_reduced(path: Path, short: int) -> Image.Image | Path:
    """Open ``path`` letting the JPEG decoder downscale (fast) while both sides stay >= ``short``;
    files PIL cannot open are returned as paths so :func:`load_image` reports them."""
    try:
        img = Image.open(path)
        img.draft("RGB", (short, short))
        img.load()
        return img
    except Exception:  # any decoder failure: let load_image produce the one-line reason
        return path


class RandomCrops:
    """Images resized once (short side ``scale * size``) and kept as uint8; ``sample`` draws
    ``n`` random ``size`` x ``size`` crops, each flipped left-right with probability 1/2."""

    def __init__(self, folders: Sequence[str | Path], size: int, scale: float = 2.0):
        self.size = size
        self.files, self.images = [], []
        short = round(size * scale)
        for path in image_files(folders):
            try:
                img = load_image(_open_reduced(path, short))
            except UsageError as exc:
                print(f"skipping unreadable training image: {exc}", file=sys.stderr)
                continue
            self.files.append(path)
            self.images.append((to_tensor(fit_short_side(img, short))[0] * 255).to(torch.uint8))
        if not self.images:
            raise UsageError(f"no readable images under {', '.join(map(str, folders))}")

    def __len__(self) -> int:
        return len(self.images)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` crops as an n x 3 x size x size float tensor in 0..1."""
        out = []
        for i in torch.randint(len(self.images), (n,), generator=generator).tolist():
            img = self.images[i]
            h, w = img.shape[-2:]
            y = int(torch.randint(h - self.size + 1, (1,), generator=generator))
            x = int(torch.randint(w - self.size + 1, (1,), generator=generator))
            crop = img[:, y:y + self.size, x:x + self.size]
            if bool(torch.rand((), generator=generator) < 0.5):
                crop = crop.flip(-1)
            out.append(crop)
        return torch.stack(out).float() / 255.0
