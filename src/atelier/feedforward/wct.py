"""WCT: universal style transfer via feature transforms (Li et al., NeurIPS 2017).

At each of relu5_1, relu4_1, ..., relu1_1 (coarse to fine) the current image is encoded,
its features are *whitened* (decorrelated to identity covariance) and *coloured* with the
style features' covariance and mean, then decoded back to an image by that level's own
decoder. The decoders are trained only to invert the encoder (reconstruction), so any
style works without retraining.

Numerics: covariances and eigendecompositions are done in float64, and eigenvalues are
floored at ``max(EIG_FLOOR, EIG_REL_FLOOR * largest)`` so rank-deficient covariances (few
feature positions, e.g. relu5_1 of a small image; flat regions) never blow up 1/sqrt(eig).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..base.errors import UsageError
from ..core.losses import content_loss
from ..core.vgg import VGG
from .adain import check_encoder, encoder_config
from .decoder import LEVELS, Decoder, decoder_config, relu_layer
from .equivariance import random_shift, shift_consistency, shifted_crop
from .model import StylizeOptions, Training
from .normalised_vgg import NormalisedVGG

STRIDE = 16  # pixels per relu5_1 feature: the shift-consistency term's shifts stay within it
EIG_FLOOR = 1e-5
EIG_REL_FLOOR = 1e-8


@dataclass(frozen=True)
class WCTOptions(StylizeOptions):
    """``wct_levels``: the levels to transform, among 5..1 (None: all the model's), always coarse to fine."""

    wct_levels: Sequence[int] | None = None


def mean_cov(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Channel mean (C x 1) and covariance (C x C, unbiased) of C x N features, in float64."""
    f = f.double()
    mean = f.mean(dim=1, keepdim=True)
    centred = f - mean
    return mean, centred @ centred.T / max(f.shape[1] - 1, 1)


def _eig(cov: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (floored) and eigenvectors of a covariance."""
    evals, evecs = torch.linalg.eigh(cov)
    floor = max(EIG_FLOOR, EIG_REL_FLOOR * float(evals.max()))
    return evals.clamp_min(floor), evecs


def whiten_colour(content: torch.Tensor, style: torch.Tensor,
                  content_stats: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """WCT of one image's features (1 x C x H x W) to the style's (1 x C x H' x W').

    Returns features with the content's spatial layout and the style's channel mean and
    covariance (exactly, when the content covariance has full rank), in fp32.
    ``content_stats`` (mean C x 1, covariance C x C, float64) replaces the content's own, e.g.
    the whole image's when ``content`` is one tile of it (:mod:`.tiled`).
    """
    if content.shape[0] != 1 or style.shape[0] != 1:
        raise ValueError("whiten_colour takes one content and one style image")
    c, h, w = content.shape[1:]
    fc = content[0].reshape(c, -1).double()
    mc, cov_c = mean_cov(fc) if content_stats is None else content_stats
    ec, vc = _eig(cov_c)
    white = vc @ torch.diag(ec.rsqrt()) @ vc.T @ (fc - mc)
    ms, cov_s = mean_cov(style[0].reshape(c, -1))
    es, vs = _eig(cov_s)
    coloured = vs @ torch.diag(es.sqrt()) @ vs.T @ white + ms
    return coloured.reshape(1, c, h, w).float()


class WCT(nn.Module):
    """Five decoders, one per level relu1_1..relu5_1, applied coarse to fine (with
    ``encoder="normalised"``, plus the normalised VGG they read, as in :class:`.adain.AdaIN`)."""

    method = "wct"
    needs_style, portrait_backend, instant_preview = True, False, False
    pretrained_parts: tuple[str, ...] = ()
    # reconstruction only
    training = Training(lr=1e-4, style_data=None, options=frozenset({"levels", "upsample", "shift_consistency"}))
    Options = WCTOptions

    def __init__(self, levels: Sequence[int] = LEVELS, encoder: str = "caffe", upsample: str = "nearest",
                 shift_consistency: float = 0.0):
        super().__init__()
        self.levels = tuple(sorted(levels, reverse=True))
        self.encoder_kind = check_encoder(encoder)
        self.encoder = NormalisedVGG(max(self.levels)) if encoder == "normalised" else None
        self.decoders = nn.ModuleDict({relu_layer(level): Decoder(level, scaled=encoder == "caffe",
                                                                  full=encoder == "normalised", upsample=upsample)
                                       for level in self.levels})
        self.upsample, self.shift_consistency = upsample, shift_consistency
        self.style_layers = tuple(self.decoders)  # what ``stylize`` needs of each style image

    def config(self) -> dict:
        return {"levels": list(self.levels), **encoder_config(self.encoder_kind),
                **decoder_config(self.upsample, self.shift_consistency)}

    def stylize(self, vgg: VGG, content: torch.Tensor, styles: Sequence[dict[str, torch.Tensor]],
                weights: Sequence[float], options: WCTOptions = WCTOptions()) -> torch.Tensor:
        """Stylize one content image (H, W multiples of 16) with blended styles, given as
        their ``style_layers`` features, transforming at ``options.wct_levels`` (default: all the
        model's), always coarse to fine."""
        alpha, levels = options.alpha, options.wct_levels
        x = content
        for layer in map(relu_layer, self.chosen_levels(levels)):
            decoder = self.decoders[layer]
            fc = vgg(x, [layer])[layer].float()
            mixed = sum(w * whiten_colour(fc, f[layer]) for f, w in zip(styles, weights, strict=True))
            x = decoder(alpha * mixed + (1 - alpha) * fc)
        return x

    def chosen_levels(self, levels: Sequence[int] | None = None) -> tuple[int, ...]:
        """``levels`` (default: all the model's) coarse to fine; ``UsageError`` for one without a decoder."""
        chosen = self.levels if levels is None else tuple(sorted(levels, reverse=True))
        missing = [level for level in chosen if level not in self.levels]
        if missing:
            raise UsageError(f"this WCT model has no decoder for level(s) {missing}; it has {list(self.levels)}")
        return chosen

    def training_loss(self, vgg: VGG, content: torch.Tensor, style: None = None) -> dict[str, torch.Tensor]:
        """Reconstruction: per level, relative pixel error plus relative feature error."""
        with torch.no_grad():
            feats = vgg(content, list(self.decoders))
        losses: dict[str, torch.Tensor] = {}
        if self.shift_consistency:  # the shifted crop, encoded once for every level
            shift = random_shift(STRIDE)
            with torch.no_grad():
                shifted = vgg(shifted_crop(content, shift, STRIDE), list(self.decoders))
        for layer, decoder in self.decoders.items():
            recon = decoder(feats[layer])
            again = vgg(recon, [layer])[layer]
            losses[layer] = content_loss(recon, content) + content_loss(again, feats[layer])
            if self.shift_consistency:
                with torch.no_grad():
                    target = decoder(shifted[layer])
                losses[f"shift_{layer}"] = shift_consistency(recon, target, shift)
        total = sum(v if k.startswith("relu") else self.shift_consistency * v for k, v in losses.items())
        return {"loss": total, **losses}
