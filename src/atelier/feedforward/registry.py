"""One way to build each feed-forward model and to save/load its weights (timm-like).

Weights live in ``.safetensors`` files stored in fp16, with the method name, format version
and constructor config in the header, and a JSON *model card* beside them
(``NAME.safetensors`` -> ``NAME.json``). Models shipped with Atelier sit in
``atelier/models/``; ``load(method)`` finds them there, ``load(method, path)`` takes any file.
Every model class implements :class:`.model.FeedForwardModel` and declares its facts;
``spec(method)`` is that class, so callers ask it (``spec(m).needs_style``, ``spec(m).training``)
instead of comparing names. A class may name ``pretrained_parts`` (ghiasi: its Magenta style
predictor): submodules whose weights always come from another installed package, so model files
never store them and ``load`` fills them in.
"""

from __future__ import annotations

import importlib
import importlib.resources
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from ..base.errors import UsageError
from ..base.files import atomic_write
from ..io.images import write_json
from .model import FeedForwardModel

FORMAT = "1"
MODELS = {  # method -> "module:Class" (imported on first use)
    "adain": "atelier.feedforward.adain:AdaIN",
    "wct": "atelier.feedforward.wct:WCT",
    "sanet": "atelier.feedforward.sanet:SANetModel",
    "johnson": "atelier.feedforward.johnson:Johnson",
    "ghiasi": "atelier.feedforward.ghiasi:Ghiasi",
    "multistyle": "atelier.feedforward.multistyle:MultiStyle",
}
NAMES = tuple(MODELS)  # every feed-forward method


def spec(method: str) -> type[FeedForwardModel]:
    """The model class implementing ``method`` (its declarations: :class:`.model.FeedForwardModel`);
    ``UsageError`` for unknown names."""
    if method not in MODELS:
        raise UsageError(f"unknown feed-forward method {method!r}; choose from {', '.join(NAMES)}")
    module, name = MODELS[method].split(":")
    return getattr(importlib.import_module(module), name)


def names(**declared: Any) -> tuple[str, ...]:
    """The methods whose classes declare these values, e.g. ``names(needs_style=True)``."""
    return tuple(m for m in NAMES if all(getattr(spec(m), k) == v for k, v in declared.items()))


def trainable() -> tuple[str, ...]:
    """The methods ``atelier train`` trains (those declaring a ``training`` recipe)."""
    return tuple(m for m in NAMES if spec(m).training is not None)


def has_weights(method: str) -> bool:
    """Whether ``load(method)`` finds default weights in this installation."""
    cls = spec(method)
    if cls.pretrained_parts:
        try:
            cls.pretrained_files()
        except UsageError:
            return False
    return shipped_path(method).is_file()


def build(method: str, **config: Any) -> nn.Module:
    """A freshly initialised model for ``method`` with constructor ``config``."""
    return spec(method)(**config)


def card_path(path: Path) -> Path:
    """The model card written beside a weights file."""
    return path.with_suffix(".json")


def shipped_path(method: str) -> Path:
    """Where the model shipped with Atelier for ``method`` lives (it may be missing)."""
    return Path(str(importlib.resources.files("atelier").joinpath("models", f"{method}.safetensors")))


def _in_parts(name: str, parts: tuple[str, ...]) -> bool:
    return name.split(".", 1)[0] in parts


def save(model: nn.Module, path: str | os.PathLike, card: dict[str, Any] | None = None) -> Path:
    """Write ``model``'s weights (but not its ``pretrained_parts``) as fp16 safetensors
    (atomically) plus its model card."""
    path = Path(path)
    tensors = {k: v.detach().to(torch.float16).contiguous().cpu() for k, v in model.state_dict().items()
               if not _in_parts(k, model.pretrained_parts)}
    meta = {"atelier_method": model.method, "atelier_format": FORMAT, "config": json.dumps(model.config())}
    with atomic_write(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    write_json(card_path(path), {"method": model.method, "config": model.config(), **(card or {})})
    return path


def _how_to_train(method: str) -> str:
    training = spec(method).training
    if training is None:
        return f"{method} uses pretrained weights (see docs/feedforward.md)"
    style = {"image": " --style STYLE_IMAGE", "folders": " --style DIR", None: ""}[training.style_data]
    return f"train one with `atelier train {method} --content DIR{style}` and pass --model PATH"


def load(method: str, path: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> nn.Module:
    """Build ``method``'s model and load its weights from ``path`` (default: the shipped file).

    Raises ``UsageError`` with a one-line explanation when the file is missing, unreadable,
    made for another method or format, or does not fit the architecture.
    """
    cls = spec(method)
    p = Path(path) if path is not None else shipped_path(method)
    if not p.is_file():
        where = (f"no trained {method} model at {p}" if path is not None
                 else f"no {method} model ships with this install")
        raise UsageError(f"{where}; {_how_to_train(method)}")
    try:
        with safe_open(str(p), "pt") as fh:
            meta = fh.metadata() or {}
        state = load_file(str(p))
    except (SafetensorError, OSError, ValueError) as exc:
        raise UsageError(f"cannot read model file {p}: {str(exc).splitlines()[0]}") from None
    found = meta.get("atelier_method")
    if found != method:
        raise UsageError(f"{p} holds {'a ' + repr(found) if found else 'no Atelier'} model, not {method}; "
                         f"{_how_to_train(method)}")
    if meta.get("atelier_format") != FORMAT:
        raise UsageError(f"{p} has model format {meta.get('atelier_format')!r}; this Atelier reads format {FORMAT}")
    model = cls(**json.loads(meta.get("config", "{}")))
    if cls.pretrained_parts:  # e.g. ghiasi's predictor: from its package, never from the file
        model.load_pretrained_parts()
        state = {**{k: v for k, v in model.state_dict().items() if _in_parts(k, cls.pretrained_parts)}, **state}
    try:
        model.load_state_dict({k: v.float() for k, v in state.items()})
    except RuntimeError as exc:  # torch lists the mismatches, one per line after a heading
        lines = str(exc).splitlines()
        detail = (lines[1] if len(lines) > 1 else lines[0]).strip()
        raise UsageError(f"{p} does not fit the {method} architecture ({detail})") from None
    return model.to(device).eval().requires_grad_(False)


def read_card(path: str | os.PathLike) -> dict[str, Any]:
    """The model card beside ``path`` ({} if there is none)."""
    card = card_path(Path(path))
    return json.loads(card.read_text()) if card.is_file() else {}
