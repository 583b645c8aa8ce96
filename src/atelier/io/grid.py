"""Labelled image grids (contact sheets) for comparisons."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont


def make_grid(images: Sequence[Image.Image], labels: Sequence[str] | None = None, cols: int | None = None,
              cell: int = 256, pad: int = 6, label_height: int = 18) -> Image.Image:
    """Arrange ``images`` in rows of ``cols``, each fitted into a ``cell`` x ``cell`` box,
    with an optional text label under each. Returns an RGB image on a white background."""
    n = len(images)
    if n == 0:
        raise ValueError("no images to arrange")
    cols = cols or n
    rows = (n + cols - 1) // cols
    lh = label_height if labels else 0
    grid = Image.new("RGB", (cols * (cell + pad) + pad, rows * (cell + pad + lh) + pad), "white")
    draw = ImageDraw.Draw(grid)
    font = ImageFont.load_default()
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        thumb = img.convert("RGB").copy()
        thumb.thumbnail((cell, cell), Image.LANCZOS)
        x0 = pad + c * (cell + pad)
        y0 = pad + r * (cell + pad + lh)
        grid.paste(thumb, (x0 + (cell - thumb.width) // 2, y0 + (cell - thumb.height) // 2))
        if labels:
            text = str(labels[i])
            while draw.textlength(text, font=font) > cell and len(text) > 4:
                text = text[:-4] + "..."
            draw.text((x0 + 2, y0 + cell + 3), text, fill="black", font=font)
    return grid
