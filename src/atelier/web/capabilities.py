"""Which optional Atelier features are installed, detected once when the server starts.

The page shows a control only when the module behind it imports, so features that other
parts of Atelier add later appear without changes to the page's code, and nothing missing
is ever offered.
"""

from __future__ import annotations

import importlib
from typing import Any


def importable(module: str) -> bool:
    """True if ``module`` imports without error."""
    try:
        importlib.import_module(module)
    except Exception:  # missing, or present but broken: either way not offered
        return False
    return True


def detect() -> dict[str, Any]:
    """``{"methods": [...], "features": {name: bool}}`` for the features present now."""
    methods = ["gatys"]
    return {"methods": methods, "features": {}}
