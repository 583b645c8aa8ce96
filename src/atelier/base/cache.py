"""Atelier's cache folder (computed descriptors, classifiers, the starter style library)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(create: bool = True) -> Path:
    """``$ATELIER_CACHE`` or ``~/.cache/atelier`` (created on demand unless ``create`` is False)."""
    path = Path(os.environ.get("ATELIER_CACHE", Path.home() / ".cache" / "atelier"))
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path
