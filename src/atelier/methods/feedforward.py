"""The feed-forward methods (AdaIN, WCT, SANet, Johnson) as evaluation methods.

Each uses the model shipped in ``atelier/models/``; when that file is missing the method
raises :class:`MethodUnavailable` (reported, never faked). Johnson ignores ``style``: its
one style is in its weights (see its model card).
"""

from __future__ import annotations

from PIL import Image

from ..feedforward import registry
from ..feedforward.transfer import transfer
from . import MethodUnavailable


def _adapter(method: str):
    def run(content: Image.Image, style: Image.Image, size: int, seed: int) -> Image.Image:
        if not registry.shipped_path(method).is_file():
            raise MethodUnavailable(f"no trained {method} model ships with this install (see docs/feedforward.md)")
        return transfer(content, [] if method == "johnson" else [style], method=method, size=size).convert("RGB")

    run.__doc__ = f"{method} feed-forward network (shipped weights), one forward pass"
    return run


METHODS = {m: _adapter(m) for m in registry.METHODS}
