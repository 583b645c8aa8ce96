"""Import the authors' released PyTorch checkpoints of AdaIN, SANet and WCT as Atelier models.

The files are plain state dicts of ``nn.Sequential`` networks (keys ``"<index>.weight"``) plus,
for SANet, its transformer module. They are recognised by their contents, not their names:

* **normalised VGG** (``vgg_normalised.pth``, ``vgg_normalised_convN_1.pth``): first conv
  3 -> 3, 1x1; then VGG19's 3x3 convs (all 16, or up to ``convN_1``);
* **decoder** (``decoder.pth``, ``decoder_iter_*.pth``, ``feature_invertor_convN_1.pth``):
  3x3 convs ending in one with 3 outputs; its level comes from its first conv's inputs
  (64, 128, 256, 512 channels: relu1_1 .. relu4_1; 512 with 16 convs: relu5_1);
* **SANet transformer** (``transformer_iter_*.pth``): keys ``sanet4_1.{f,g,h,out_conv}``,
  ``sanet5_1.*`` and ``merge_conv``.

Convs are matched to Atelier's modules in order (the ``Sequential`` index order), each shape
checked, so any port with the same layer order loads. The result holds its encoder
(``encoder="normalised"``) and runs with ``--model`` like any Atelier model.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from ..base.errors import UsageError
from . import registry
from .decoder import Decoder, relu_layer
from .normalised_vgg import NormalisedVGG, convs_up_to

IMPORTABLE = ("adain", "sanet", "wct")  # methods whose authors released checkpoints
DECODER_LEVEL = {64: 1, 128: 2, 256: 3}  # first conv's input channels -> level (512: 4 or 5)
SANET_PARTS = {"f": "f", "g": "g", "h": "h", "out_conv": "out"}  # official name -> ours


def read_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A state dict of tensors from a ``.pth`` file (weights only; nothing is executed)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UsageError(f"file not found: {path}") from None
    except Exception as exc:  # torch raises many types for bad files
        raise UsageError(f"cannot read {path} as a PyTorch state dict: {str(exc).splitlines()[0]}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UsageError(f"{path} is not a state dict of tensors")
    return {k.removeprefix("module."): v.float() for k, v in state.items()}


def sequential_convs(state: dict[str, torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(weight, bias) of every conv of an ``nn.Sequential`` state dict, in index order."""
    idx = sorted(int(k.split(".")[0]) for k in state if k.endswith(".weight") and k.split(".")[0].isdigit())
    return [(state[f"{i}.weight"], state[f"{i}.bias"]) for i in idx if state[f"{i}.weight"].ndim == 4]


def kind_of(state: dict[str, torch.Tensor]) -> str:
    """"encoder", "decoder" or "sanet" (see module doc); ``UsageError`` otherwise."""
    if "sanet4_1.f.weight" in state:
        return "sanet"
    convs = sequential_convs(state)
    if convs and tuple(convs[0][0].shape) == (3, 3, 1, 1):
        return "encoder"
    if convs and convs[-1][0].shape[0] == 3:
        return "decoder"
    raise UsageError("not a normalised VGG, decoder or SANet transformer state dict")


def decoder_level(convs: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> int:
    c_in = convs[0][0].shape[1]
    if c_in == 512:
        return 5 if len(convs) > 9 else 4
    if c_in not in DECODER_LEVEL:
        raise UsageError(f"a decoder whose first conv takes {c_in} channels fits no VGG level")
    return DECODER_LEVEL[c_in]


def _fill(convs: Sequence[nn.Conv2d], weights: Sequence[tuple[torch.Tensor, torch.Tensor]], what: str) -> None:
    if len(weights) < len(convs):
        raise UsageError(f"{what}: {len(weights)} convs, need {len(convs)}")
    # strict=False: ``weights`` may hold more convs than ``convs`` (checked above); the extra ones are unused
    for i, (conv, (w, b)) in enumerate(zip(convs, weights, strict=False)):
        if w.shape != conv.weight.shape:
            raise UsageError(f"{what}: conv {i} has shape {tuple(w.shape)}, expected {tuple(conv.weight.shape)}")
        conv.weight.data.copy_(w)
        conv.bias.data.copy_(b)


def fill_encoder(encoder: NormalisedVGG, convs: Sequence[tuple[torch.Tensor, torch.Tensor]], what: str) -> None:
    _fill([encoder.input, *encoder.convs], convs[: 1 + convs_up_to(encoder.depth)], what)


def fill_decoder(decoder: Decoder, convs: Sequence[tuple[torch.Tensor, torch.Tensor]], what: str) -> None:
    ours = [m for m in decoder.net if isinstance(m, nn.Conv2d)]
    if len(convs) != len(ours):
        raise UsageError(f"{what}: {len(convs)} convs, the relu{decoder.level}_1 decoder has {len(ours)}")
    _fill(ours, convs, what)


def convert(method: str, files: Sequence[str | os.PathLike]) -> nn.Module:
    """An Atelier ``method`` model (``encoder="normalised"``) from the authors' checkpoint ``files``."""
    if method not in IMPORTABLE:
        raise UsageError(f"import-weights converts {', '.join(IMPORTABLE)}, not {method!r}")
    parts: dict[str, list[tuple[Path, dict[str, torch.Tensor]]]] = {"encoder": [], "decoder": [], "sanet": []}
    for f in files:
        state = read_state(f)
        try:
            parts[kind_of(state)].append((Path(f), state))
        except UsageError as exc:
            raise UsageError(f"{f}: {exc}") from None
    if not parts["encoder"]:
        raise UsageError(f"{method} needs the normalised VGG (vgg_normalised*.pth) among the files")
    if not parts["decoder"]:
        raise UsageError(f"{method} needs its decoder among the files")
    decoders = {}
    for path, state in parts["decoder"]:
        convs = sequential_convs(state)
        decoders.setdefault(decoder_level(convs), (path, convs))
    encoders = sorted(((len(sequential_convs(s)) - 1, p, sequential_convs(s)) for p, s in parts["encoder"]),
                      key=lambda e: e[0])
    n_convs, enc_path, enc_convs = encoders[-1]  # the deepest; the level files share their prefix
    if method == "wct":
        model = registry.build("wct", levels=sorted(decoders), encoder="normalised")
        for level, (path, convs) in decoders.items():
            fill_decoder(model.decoders[relu_layer(level)], convs, str(path))
    else:
        if set(decoders) != {4}:
            raise UsageError(f"{method} needs a relu4_1 decoder (decoder.pth), got level(s) {sorted(decoders)}")
        model = registry.build(method, encoder="normalised")
        fill_decoder(model.decoder, decoders[4][1], str(decoders[4][0]))
        if method == "sanet":
            if not parts["sanet"]:
                raise UsageError("sanet needs its transformer_iter_*.pth among the files")
            fill_sanet(model, *parts["sanet"][0])
    if n_convs < convs_up_to(model.encoder.depth):
        raise UsageError(f"{enc_path} stops before relu{model.encoder.depth}_1, which {method} needs")
    fill_encoder(model.encoder, enc_convs, str(enc_path))
    return model.eval().requires_grad_(False)


def fill_sanet(model: nn.Module, path: Path, state: dict[str, torch.Tensor]) -> None:
    """SANet's two attention modules and merge conv from its transformer state dict."""
    for level, module in (("4_1", model.sa4), ("5_1", model.sa5)):
        for theirs, ours in SANET_PARTS.items():
            key = f"sanet{level}.{theirs}"
            if f"{key}.weight" not in state:
                raise UsageError(f"{path}: no {key}.weight")
            _fill([getattr(module, ours)], [(state[f"{key}.weight"], state[f"{key}.bias"])], f"{path} ({key})")
    if "merge_conv.weight" not in state:
        raise UsageError(f"{path}: no merge_conv.weight")
    _fill([model.merge[1]], [(state["merge_conv.weight"], state["merge_conv.bias"])], f"{path} (merge_conv)")
