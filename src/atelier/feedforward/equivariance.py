"""Shift consistency: a training term that makes a decoder's output move with its photo.

A decoder that inverts VGG features at stride ``s`` (8 at relu4_1) has to invent the detail
finer than ``s`` pixels. Trained only on feature losses, it learns to print the same small
texture in every ``s`` x ``s`` cell: a pattern locked to the feature grid, not to the picture
(the faint grid of docs/feedforward.md, present with nearest and bilinear upsampling alike).
Such a pattern does not move when the photo moves by a fraction of the stride, so comparing
the output for a photo with the output for the same photo shifted by ``(dy, dx)`` (and shifted
back) measures it, and penalising the difference trains it away:

    L_shift = mean over the overlap (minus a border margin) of (out(x)[dy:, dx:] - out(x[dy:, dx:]))^2

Callers make the shifted output from :func:`shifted_crop` under ``torch.no_grad()`` (it is the
target), so the term costs one more forward pass, not a backward one; WCT encodes the shifted
crop once for all its levels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_shift(stride: int) -> tuple[int, int]:
    """A shift (dy, dx) in 0..stride-1, not (0, 0): a fraction of the feature grid."""
    k = int(torch.randint(1, stride * stride, ()))
    return divmod(k, stride)


def shifted_crop(images: torch.Tensor, shift: tuple[int, int], stride: int) -> torch.Tensor:
    """``images`` (N x C x H x W, H and W multiples of ``stride``) cropped at offset ``shift``
    to (H - stride) x (W - stride), still a multiple of ``stride``."""
    dy, dx = shift
    return images[..., dy:dy + images.shape[-2] - stride, dx:dx + images.shape[-1] - stride]


def shift_consistency(output: torch.Tensor, shifted_output: torch.Tensor, shift: tuple[int, int],
                      margin: int = 16) -> torch.Tensor:
    """Mean squared difference between ``output`` (N x 3 x H x W, with gradient) and
    ``shifted_output`` (the render of :func:`shifted_crop` of the same input, a target without
    gradient) over their overlap, less ``margin`` px on every side."""
    dy, dx = shift
    h, w = shifted_output.shape[-2:]
    mine = output[..., dy + margin:dy + h - margin, dx + margin:dx + w - margin].float()
    return F.mse_loss(mine, shifted_output[..., margin:h - margin, margin:w - margin].detach().float())
