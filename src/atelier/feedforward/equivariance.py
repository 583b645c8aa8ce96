"""Shift consistency: a training term that makes a decoder's output move with its photo.

A decoder that inverts VGG features at stride ``s`` (8 at relu4_1) has to invent the detail
finer than ``s`` pixels. Trained only on feature losses, it learns to print the same small
texture in every ``s`` x ``s`` cell: a pattern locked to the feature grid, not to the picture
(the faint grid of docs/feedforward.md, present with nearest and bilinear upsampling alike).
Such a pattern does not move when the photo moves by a fraction of the stride, so comparing
the output for a photo with the output for the same photo shifted by ``(dy, dx)`` (and shifted
back) measures it, and penalising the difference trains it away:

    L_shift = mean over the overlap (minus a border margin) of (out(x)[dy:, dx:] - out(x[dy:, dx:]))^2

``render`` maps an N x 3 x H x W batch to N x 3 x H x W images; the shifted render is the
target (no gradient), so the term costs one more forward pass, not a backward one.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def random_shift(stride: int) -> tuple[int, int]:
    """A shift (dy, dx) in 0..stride-1, not (0, 0): a fraction of the feature grid."""
    k = int(torch.randint(1, stride * stride, ()))
    return divmod(k, stride)


def shift_consistency(render: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor,
                      output: torch.Tensor, shift: tuple[int, int], stride: int, margin: int = 16) -> torch.Tensor:
    """Mean squared difference between ``output`` (= ``render(images)``, N x 3 x H x W, with
    gradient) and ``render`` of ``images`` shifted by ``shift``, over their overlap less ``margin``.
    H and W must be multiples of ``stride``; the shifted crop is ``stride`` px smaller."""
    dy, dx = shift
    h, w = images.shape[-2] - stride, images.shape[-1] - stride
    with torch.no_grad():
        target = render(images[..., dy:dy + h, dx:dx + w]).float()
    mine = output[..., dy + margin:dy + h - margin, dx + margin:dx + w - margin].float()
    return F.mse_loss(mine, target[..., margin:h - margin, margin:w - margin])
