"""The decoder shared by AdaIN, WCT and SANet: a mirror image of VGG19 up to ``relu{L}_1``.

``Decoder(level)`` maps ``relu{level}_1`` features (``1/2**(level-1)`` of the image size)
back to an RGB image in 0..1. It inverts the encoder block by block: one 3x3 conv for
``conv{L}_1`` then nearest-neighbour 2x upsampling, then for each shallower block the
same number of convs VGG19 has there (block 4 of the relu5_1 decoder is thinned to one
conv to keep the shipped weights small). Every conv uses reflection padding (no border
artefacts) and is followed by ReLU, except the last. With ``level=4`` this is exactly the
decoder of Huang & Belongie (AdaIN) and Park & Lee (SANet).

Input features are first divided by a fixed per-level scale (``FEATURE_SCALE``, the typical
RMS activation of the raw Caffe VGG19 at that layer, ~50 at relu1_1 and ~1000 at relu4_1,
measured on scikit-image's sample photos). The papers use a VGG normalised to unit mean
activation per layer; without this, a freshly initialised decoder outputs values in the
hundreds and wastes most of its training learning to scale them down.

``upsample`` is how each 2x upsampling is done: ``"nearest"`` (the papers' decoders, and every
Atelier model trained before 2026-12-03) or ``"bilinear"``. With nearest upsampling every conv
after it sees each input pixel twice in a row, and the trained decoders print a faint pattern
locked to the 8-px grid of relu4_1; bilinear interpolation suppresses those spectral images far
better (its kernel has a triple zero at Nyquist, nearest a single one): the same trained weights
score 13.2 -> 3.6 on the periodic-artefact score. Training learns the pattern back through bilinear
upsampling too; the shift-consistency term (:mod:`.equivariance`) is what keeps it away
(docs/feedforward.md).

``Decoder(level, scaled=False, full=True)`` is the authors' decoder for the normalised VGG
(:mod:`.normalised_vgg`, no input scaling) with VGG's four convs in block 4: the layout of
their released AdaIN/SANet decoders (level 4) and WCT feature invertors (levels 1-5).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LEVELS = (1, 2, 3, 4, 5)
WIDTHS = {0: 3, 1: 64, 2: 128, 3: 256, 4: 512, 5: 512}  # channels of relu{b}_1 (block 0 is RGB)
UPSAMPLE = ("nearest", "bilinear")
CONVS_PER_BLOCK = {1: 2, 2: 2, 3: 4, 4: 1}  # convs the decoder spends inside blocks below the top one
FEATURE_SCALE = {1: 50.0, 2: 200.0, 3: 300.0, 4: 1000.0, 5: 150.0}  # typical RMS of relu{L}_1


def relu_layer(level: int) -> str:
    """VGG layer name at ``level``: 1 -> relu1_1 ... 5 -> relu5_1."""
    return f"relu{level}_1"


class Decoder(nn.Module):
    """Invert ``relu{level}_1`` features to an RGB image (N x 3 x H x W, 0..1 after clamping)."""

    def __init__(self, level: int = 4, scaled: bool = True, full: bool = False, upsample: str = "nearest"):
        super().__init__()
        if level not in LEVELS:
            raise ValueError(f"decoder level must be one of {LEVELS}, got {level}")
        upsample = check_upsample(upsample)
        self.level, self.scale = level, FEATURE_SCALE[level] if scaled else 1.0
        layers: list[nn.Module] = [*self._conv(WIDTHS[level], WIDTHS[level - 1], last=level == 1)]
        for block in range(level - 1, 0, -1):
            layers.append(nn.Upsample(scale_factor=2, mode=upsample))
            n = 4 if full and block == 4 else CONVS_PER_BLOCK[block]
            for i in range(n):
                narrow = i == n - 1
                layers += self._conv(WIDTHS[block], WIDTHS[block - 1] if narrow else WIDTHS[block],
                                     last=block == 1 and narrow)
        self.net = nn.Sequential(*layers)

    @staticmethod
    def _conv(c_in: int, c_out: int, last: bool) -> list[nn.Module]:
        conv = [nn.ReflectionPad2d(1), nn.Conv2d(c_in, c_out, 3)]
        return conv if last else conv + [nn.ReLU(inplace=True)]

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features / self.scale if self.scale != 1 else features)


def check_upsample(upsample: str) -> str:
    if upsample not in UPSAMPLE:
        raise ValueError(f"decoder upsampling must be one of {UPSAMPLE}, got {upsample!r}")
    return upsample


def decoder_config(upsample: str, shift_consistency: float) -> dict:
    """Config entries of a decoder-based model for its upsampling and shift-consistency weight, only
    where not the defaults (nearest, 0), so model files written before these options load as they were."""
    return ({} if upsample == "nearest" else {"upsample": upsample}) | (
        {"shift_consistency": shift_consistency} if shift_consistency else {})


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad H and W of ``x`` up to a multiple of ``multiple``; return (padded, (h, w))."""
    h, w = x.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="reflect" if min(h, w) > max(ph, pw) else "replicate")
    return x, (h, w)
