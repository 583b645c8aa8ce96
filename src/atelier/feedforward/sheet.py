"""A contact sheet of the 26 built-in styles of :mod:`.multistyle` on one photo."""

from __future__ import annotations

import torch
from PIL import Image

from ..core.device import pick_device
from ..io.grid import make_grid
from ..io.images import ImageLike, load_image, shrink_long_side, to_pil, to_tensor
from . import registry
from .decoder import pad_to_multiple
from .multistyle import NUM_STYLES, MultiStyle


def multistyle_sheet(content: ImageLike, cell: int = 192, cols: int = 7, device: str = "auto",
                     model: str | None = None) -> Image.Image:
    """The photo and its 26 stylizations, labelled with the ``--style-index`` to use
    (one batched forward pass of N = 26 one-hot style vectors, at long side ``cell``)."""
    img = shrink_long_side(load_image(content), cell)
    dev = pick_device(device)
    net = registry.load(MultiStyle.method, model, dev).transformer
    x, (h, w) = pad_to_multiple(to_tensor(img).to(dev), 4)
    with torch.no_grad():
        out = net(x.expand(NUM_STYLES, -1, -1, -1), torch.eye(NUM_STYLES, device=dev))[..., :h, :w]
    tiles = [img] + [to_pil(o[None].clamp(0, 1)) for o in out]
    labels = ["photo"] + [f"--style-index {i}" for i in range(NUM_STYLES)]
    return make_grid(tiles, labels, cols=cols, cell=cell)
