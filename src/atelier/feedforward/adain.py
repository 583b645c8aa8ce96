"""AdaIN: arbitrary style transfer in real time (Huang & Belongie, ICCV 2017).

Encode content and style to VGG19 ``relu4_1``, give the content features the style's
per-channel mean and standard deviation (adaptive instance normalisation), decode.
Training (decoder only; the encoder is frozen) minimises

    L = rel( f(g(t)), t )  +  style_weight * sum_l rel_stats( f_l(g(t)), f_l(s) )

with ``t = AdaIN(f(c), f(s))`` and ``l`` over relu1_1..relu4_1 (the paper's lambda = 10).
The paper uses squared errors on a VGG whose layers were rescaled to unit mean activation;
Atelier's VGG19 is the raw Caffe network (relu4_1 activations are ~30x relu1_1's), so the
errors are made *relative* instead (``||a - b||^2 / ||b||^2``; for the statistics
``(||mu - mu_s||^2 + ||sigma - sigma_s||^2) / (||mu_s||^2 + ||sigma_s||^2)``), which gives
every layer an equal say, as the paper's normalised VGG does.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..core.losses import content_loss
from ..core.vgg import VGG
from .decoder import Decoder, decoder_config
from .equivariance import random_shift, shift_consistency, shifted_crop
from .model import StylizeOptions, Training
from .normalised_vgg import NormalisedVGG

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
EPS = 1e-5
STRIDE = 8  # pixels per relu4_1 feature: the grid the shift-consistency term shifts against
DEFAULT_OPTIONS = StylizeOptions()  # frozen: one shared default for stylize


ENCODERS = ("caffe", "normalised")  # Atelier's raw Caffe VGG19 (given to stylize) | the model's own


def check_encoder(encoder: str) -> str:
    if encoder not in ENCODERS:
        raise ValueError(f"encoder must be one of {ENCODERS}, got {encoder!r}")
    return encoder


def encoder_config(encoder: str) -> dict:
    """The config entry for ``encoder`` (none for the default, so older model cards still match)."""
    return {} if encoder == "caffe" else {"encoder": encoder}


def mean_std(features: torch.Tensor, eps: float = EPS) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image, per-channel spatial mean and standard deviation (each N x C x 1 x 1, fp32)."""
    f = features.float().flatten(2)
    return f.mean(-1)[..., None, None], (f.var(-1, unbiased=False) + eps).sqrt()[..., None, None]


def adain(content: torch.Tensor, style: torch.Tensor,
          content_stats: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """Content features renormalised to the style features' channel mean and std (fp32).

    ``content_stats`` (mean, std; N x C x 1 x 1) replaces the content's own, e.g. the whole
    image's statistics when ``content`` is one tile of it (:mod:`.tiled`)."""
    c_mean, c_std = mean_std(content) if content_stats is None else content_stats
    s_mean, s_std = mean_std(style)
    return (content.float() - c_mean) / c_std * s_std + s_mean


def style_stats_loss(out: dict[str, torch.Tensor], ref: dict[str, torch.Tensor],
                     layers: Sequence[str] = STYLE_LAYERS) -> torch.Tensor:
    """Sum over ``layers`` of the relative error of the channel means and stds of ``out``
    against ``ref``: ``(||mu - mu_r||^2 + ||sigma - sigma_r||^2) / (||mu_r||^2 + ||sigma_r||^2)``."""
    total = torch.zeros((), device=next(iter(out.values())).device)
    for name in layers:
        (om, os_), (rm, rs) = mean_std(out[name]), mean_std(ref[name])
        err = (om - rm).pow(2).sum() + (os_ - rs).pow(2).sum()
        total = total + err / (rm.pow(2).sum() + rs.pow(2).sum()).clamp_min(EPS)
    return total


class AdaIN(nn.Module):
    """The trainable part of AdaIN: its relu4_1 decoder. With ``encoder="normalised"`` the model
    also holds the normalised VGG19 its decoder reads (the authors' released weights, imported
    by :mod:`.official`) and ``stylize`` uses it instead of the VGG it is given."""

    method = "adain"
    needs_style, portrait_backend, instant_preview = True, False, False
    pretrained_parts: tuple[str, ...] = ()
    training = Training(lr=1e-4, options=frozenset({"style_weight", "upsample", "shift_consistency"}))
    Options = StylizeOptions
    layer = "relu4_1"
    style_layers = (layer,)  # what ``stylize`` needs of each style image

    def __init__(self, style_weight: float = 10.0, encoder: str = "caffe", upsample: str = "nearest",
                 shift_consistency: float = 0.0):
        super().__init__()
        self.style_weight, self.encoder_kind = style_weight, check_encoder(encoder)
        self.shift_consistency = shift_consistency
        self.encoder = NormalisedVGG(4) if encoder == "normalised" else None
        self.decoder = Decoder(4, scaled=encoder == "caffe", full=encoder == "normalised", upsample=upsample)
        self.upsample = upsample

    def config(self) -> dict:
        return {"style_weight": self.style_weight, **encoder_config(self.encoder_kind),
                **decoder_config(self.upsample, self.shift_consistency)}

    def stylize(self, vgg: VGG, content: torch.Tensor, styles: Sequence[dict[str, torch.Tensor]],
                weights: Sequence[float], options: StylizeOptions = DEFAULT_OPTIONS) -> torch.Tensor:
        """Stylize a 1 x 3 x H x W content image (H, W multiples of 8) with blended styles,
        given as their ``style_layers`` features: the decoder inverts the relu4_1 target
        ``alpha * sum_k w_k AdaIN(f(c), f(s_k)) + (1 - alpha) f(c)``."""
        return self.decoder(self.target(vgg(content, [self.layer])[self.layer], styles, weights, options.alpha))

    def target(self, fc: torch.Tensor, styles: Sequence[dict[str, torch.Tensor]], weights: Sequence[float],
               alpha: float = 1.0, content_stats: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """The relu4_1 features the decoder inverts, from the content's features ``fc`` (N x 512 x h x w)."""
        fc = fc.float()
        mixed = sum(w * adain(fc, s[self.layer], content_stats) for s, w in zip(styles, weights, strict=True))
        return alpha * mixed + (1 - alpha) * fc

    def training_loss(self, vgg: VGG, content: torch.Tensor, style: torch.Tensor) -> dict[str, torch.Tensor]:
        """Losses for one batch of content crops paired with style crops (both N x 3 x S x S)."""
        with torch.no_grad():
            fs = vgg(style, STYLE_LAYERS)
            t = adain(vgg(content, [self.layer])[self.layer], fs[self.layer])
        image = self.decoder(t)
        out = vgg(image, STYLE_LAYERS)
        content_term = content_loss(out[self.layer], t)
        style_term = style_stats_loss(out, fs)
        losses = {"loss": content_term + self.style_weight * style_term, "content": content_term, "style": style_term}
        if self.shift_consistency:
            shift = random_shift(STRIDE)
            with torch.no_grad():
                fc = vgg(shifted_crop(content, shift, STRIDE), [self.layer])[self.layer]
                target = self.decoder(adain(fc, fs[self.layer]))
            losses["shift"] = shift_consistency(image, target, shift)
            losses["loss"] = losses["loss"] + self.shift_consistency * losses["shift"]
        return losses
