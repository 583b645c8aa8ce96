"""The record written beside every output (JSON sidecar and PNG text chunk): versions, timing, settings."""

from __future__ import annotations

import platform
from typing import Any

import torch

from ..base.version import __version__
from .options import StyleOptions


def describe_input(src: Any) -> str:
    """A path as given, or the type name of an in-memory image (PIL, array, tensor)."""
    return str(src) if isinstance(src, (str, bytes)) or hasattr(src, "__fspath__") else type(src).__name__


def metadata(opts: StyleOptions, seconds: float, **extra: Any) -> dict[str, Any]:
    """The record of one stylization: versions, machine, seconds, every option, plus ``extra``."""
    return {
        "atelier": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "seconds": round(seconds, 3),
        "options": opts.to_dict(),
        **extra,
    }


def upscale_record(photo: tuple[int, int], output: tuple[int, int]) -> dict[str, Any]:
    """``{"upscaled": {"from": [w, h], "to": [W, H]}}`` when the output's long side exceeds the photo's, else ``{}``."""
    return {"upscaled": {"from": list(photo), "to": list(output)}} if max(output) > max(photo) else {}


def upscale_note(meta: dict[str, Any]) -> str | None:
    """The line telling the user the output is larger than the photo (from :func:`upscale_record`), or None."""
    up = meta.get("upscaled")
    if not up:
        return None
    (w, h), (ow, oh) = up["from"], up["to"]
    return f"the output ({ow}x{oh}) is larger than the photo ({w}x{h}): upscaled to the long side asked for"
