"""Which optional Atelier features this installation has, detected once when the server starts.

The page shows a control only when the feature behind it works here, so features that
other parts of Atelier add later appear without changes to the page, and nothing missing
is ever offered:

* feed-forward methods (:mod:`atelier.feedforward`): each method whose weights are in this
  installation (shipped, or pretrained from an installed package), the instant-preview
  method (the one whose model declares ``instant_preview``: any style image, pretrained) first;
* the style library (:mod:`atelier.library.store`, :mod:`atelier.library.augment`): when a library file
  (``--library``, else the default one, else the starter library of the shipped paintings)
  opens and holds artworks;
* portrait mode (:mod:`atelier.portrait.mode`): when the module imports (mediapipe present).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any


def import_error(module: str) -> str | None:
    """None if ``module`` imports, else a one-line reason."""
    try:
        importlib.import_module(module)
    except Exception as exc:  # missing, or present but broken: either way not offered
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


def feedforward_methods() -> list[str]:
    """Feed-forward methods whose weights are in this installation, the instant preview first."""
    if import_error("atelier.feedforward.transfer"):
        return []
    from ..feedforward import registry
    from ..library.methods import FEEDFORWARD, INSTANT

    return sorted((m for m in FEEDFORWARD if registry.has_weights(m)), key=lambda m: m != INSTANT)


def instant_method(methods: list[str]) -> str | None:
    """The instant-preview method, if it is among the available feed-forward ``methods``."""
    if not methods:
        return None
    from ..library.methods import INSTANT

    return INSTANT if INSTANT in methods else None


def trained_styles(methods: list[str]) -> dict[str, str]:
    """For methods whose style is built into their weights (johnson, multistyle): the style's name."""
    if not methods:
        return {}
    from ..feedforward import registry
    from ..feedforward.model import builtin_style

    return {m: builtin_style(registry.spec(m), registry.read_card(registry.shipped_path(m)))
            for m in methods if not registry.spec(m).needs_style}


def library_status(path: str | None) -> dict[str, Any]:
    """``{"available": bool, "reason" | "path", "size", defaults...}`` for the style library."""
    reason = import_error("atelier.library.augment")
    if reason:
        return {"available": False, "reason": f"style library code not installed ({reason})"}
    from ..base.errors import AtelierError
    from ..library.augment import AugmentOptions
    from ..library.starter import default_or_starter
    from ..library.store import StyleLibrary

    try:
        where, starter = (Path(path).expanduser(), False) if path else default_or_starter()
    except AtelierError as exc:
        return {"available": False, "reason": str(exc)}
    if not where.is_file():
        return {"available": False, "reason": f"no style library at {where} (build one with `atelier library build`)"}
    try:
        with StyleLibrary.open(where) as lib:
            size = len(lib)
    except AtelierError as exc:
        return {"available": False, "reason": str(exc)}
    if size == 0:
        return {"available": False, "reason": f"the style library {where} is empty"}
    d = AugmentOptions()
    return {"available": True, "path": str(where), "size": size, "starter": starter, "threshold": d.threshold,
            "min_distance": d.min_distance, "neighbours": d.neighbours, "query_weight": d.query_weight,
            "recolor": d.recolor}


def portrait_status() -> dict[str, Any]:
    reason = import_error("atelier.portrait.mode")
    return {"available": True} if reason is None else {"available": False, "reason": reason}


def detect(library: str | None = None) -> dict[str, Any]:
    """``{"methods", "feedforward", "instant", "trained_styles",
    "features": {"library": {...}, "portrait": {...}}}``."""
    ff = feedforward_methods()
    return {"methods": ["gatys", *ff], "feedforward": ff, "instant": instant_method(ff),
            "trained_styles": trained_styles(ff),
            "features": {"library": library_status(library), "portrait": portrait_status()}}
