"""SANet: arbitrary style transfer with style-attentional networks (Park & Lee, CVPR 2019).

A style-attentional (SA) module lets every content position attend to all style
positions: with mean-variance normalised features ``c~`` and ``s~`` and 1x1 convs
``f, g, h, out``::

    A   = softmax_j( f(c~)_i . g(s~)_j )          (rows sum to 1)
    SA  = c + out( sum_j A_ij h(s)_j )

SA modules run at relu4_1 and relu5_1; the relu5_1 branch is upsampled to relu4_1's size
and the two are merged ``merge(W1 * SA4 + W2 * SA5)`` (a 3x3 conv) before the relu4_1
decoder. ``W1 = W2 = 1`` is the trained setting; raising W1 favours local style patterns,
W2 global ones (the user-facing ``--sanet-w1/--sanet-w2``).

Training loss (the paper's weights): ``content_weight * L_c + style_weight * L_s
+ identity1 * L_id1 + identity2 * L_id2`` where ``L_c`` is the squared error of the
mean-variance normalised relu4_1 and relu5_1 features of output and content, ``L_s``
matches channel mean/std on relu1_1..relu5_1, and the identity losses ask that stylizing
an image with *itself* returns it (pixels, squared error: ``L_id1``, lambda 50; features on
all five layers: ``L_id2``, lambda 1). As for AdaIN (see :mod:`.adain`), the feature terms
``L_s`` and ``L_id2`` are relative errors, standing in for the paper's normalised VGG.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..core.losses import content_loss
from ..core.vgg import VGG
from .adain import check_encoder, encoder_config, mean_std, style_stats_loss
from .decoder import Decoder, decoder_config
from .equivariance import random_shift, shift_consistency, shifted_crop
from .model import StylizeOptions, Training
from .normalised_vgg import NormalisedVGG

LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
STRIDE = 16  # pixels per relu5_1 feature: shifts for the shift-consistency term stay within it


@dataclass(frozen=True)
class SANetOptions(StylizeOptions):
    """``sanet_w1``, ``sanet_w2``: weights W1, W2 of the relu4_1 and relu5_1 attention branches."""

    sanet_w1: float = 1.0
    sanet_w2: float = 1.0


def normalise(features: torch.Tensor) -> torch.Tensor:
    """Per-channel mean-variance normalisation of N x C x H x W features (fp32)."""
    mean, std = mean_std(features)
    return (features.float() - mean) / std


class StyleAttention(nn.Module):
    """One SA module: content positions attend over style positions."""

    def __init__(self, channels: int = 512):
        super().__init__()
        self.f = nn.Conv2d(channels, channels, 1)
        self.g = nn.Conv2d(channels, channels, 1)
        self.h = nn.Conv2d(channels, channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)

    def attention(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """N x (Hc*Wc) x (Hs*Ws) attention weights; each row is a softmax (sums to 1)."""
        q = self.f(normalise(content)).flatten(2).transpose(1, 2)
        k = self.g(normalise(style)).flatten(2)
        return torch.softmax(torch.bmm(q, k).float(), dim=-1)

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        a = self.attention(content, style)
        v = self.h(style).flatten(2)
        o = torch.bmm(v, a.transpose(1, 2).to(v.dtype)).view_as(content)
        return content + self.out(o)


class SANetModel(nn.Module):
    """SA modules at relu4_1 and relu5_1, the merge conv, and the relu4_1 decoder."""

    method = "sanet"
    needs_style, portrait_backend, instant_preview = True, True, False
    pretrained_parts: tuple[str, ...] = ()
    training = Training(lr=1e-4, options=frozenset({"style_weight", "upsample", "shift_consistency"}))
    Options = SANetOptions
    style_layers = ("relu4_1", "relu5_1")  # what ``stylize`` needs of each style image

    def __init__(self, content_weight: float = 1.0, style_weight: float = 3.0,
                 identity1: float = 50.0, identity2: float = 1.0, encoder: str = "caffe", upsample: str = "nearest",
                 shift_consistency: float = 0.0):
        super().__init__()
        self.encoder_kind = check_encoder(encoder)
        self.encoder = NormalisedVGG(5) if encoder == "normalised" else None  # as in AdaIN
        self._config = {"content_weight": content_weight, "style_weight": style_weight,
                        "identity1": identity1, "identity2": identity2,
                        **decoder_config(upsample, shift_consistency)}
        self.sa4 = StyleAttention(512)
        self.sa5 = StyleAttention(512)
        self.merge = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(512, 512, 3))
        self.decoder = Decoder(4, scaled=encoder == "caffe", full=encoder == "normalised", upsample=upsample)

    def config(self) -> dict:
        return {**self._config, **encoder_config(self.encoder_kind)}

    def transform(self, content: dict[str, torch.Tensor], style: dict[str, torch.Tensor],
                  w1: float = 1.0, w2: float = 1.0) -> torch.Tensor:
        """Merged relu4_1-sized features from relu4_1/relu5_1 feature dicts."""
        o4 = self.sa4(content["relu4_1"], style["relu4_1"])
        o5 = F.interpolate(self.sa5(content["relu5_1"], style["relu5_1"]), size=o4.shape[-2:], mode="nearest")
        return self.merge(w1 * o4 + w2 * o5)

    def stylize(self, vgg: VGG, content: torch.Tensor, styles: Sequence[dict[str, torch.Tensor]],
                weights: Sequence[float], options: SANetOptions = SANetOptions()) -> torch.Tensor:
        """Stylize one content image (H, W multiples of 16) with styles given as their
        ``style_layers`` features, blended in feature space; ``alpha`` blends toward the
        content's own (identity) transform."""
        alpha, w1, w2 = options.alpha, options.sanet_w1, options.sanet_w2
        fc = vgg(content, self.style_layers)
        t = sum(w * self.transform(fc, s, w1, w2) for s, w in zip(styles, weights, strict=True))
        if alpha < 1:
            t = alpha * t + (1 - alpha) * self.transform(fc, fc, w1, w2)
        return self.decoder(t)

    def training_loss(self, vgg: VGG, content: torch.Tensor, style: torch.Tensor) -> dict[str, torch.Tensor]:
        """The paper's four terms for a batch of content crops paired with style crops."""
        with torch.no_grad():
            fc, fs = vgg(content, LAYERS), vgg(style, LAYERS)
        image = self.decoder(self.transform(fc, fs))
        out = vgg(image, LAYERS)
        l_c = sum(F.mse_loss(normalise(out[k]), normalise(fc[k])) for k in ("relu4_1", "relu5_1"))
        l_s = style_stats_loss(out, fs, LAYERS)
        icc, iss = self.decoder(self.transform(fc, fc)), self.decoder(self.transform(fs, fs))
        l_id1 = F.mse_loss(icc.float(), content) + F.mse_loss(iss.float(), style)
        fcc, fss = vgg(icc, LAYERS), vgg(iss, LAYERS)
        l_id2 = sum(content_loss(fcc[k], fc[k]) + content_loss(fss[k], fs[k]) for k in LAYERS)
        w = self._config
        total = (w["content_weight"] * l_c + w["style_weight"] * l_s
                 + w["identity1"] * l_id1 + w["identity2"] * l_id2)
        losses = {"loss": total, "content": l_c, "style": l_s, "identity1": l_id1, "identity2": l_id2}
        if w.get("shift_consistency"):
            shift = random_shift(STRIDE)
            with torch.no_grad():
                target = self.decoder(self.transform(vgg(shifted_crop(content, shift, STRIDE), self.style_layers), fs))
            losses["shift"] = shift_consistency(image, target, shift)
            losses["loss"] = total + w["shift_consistency"] * losses["shift"]
        return losses
