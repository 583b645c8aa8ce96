"""The questions of a study: result files present under the same name in both folders."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import UsageError

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".webp"}


@dataclass(frozen=True)
class Question:
    name: str                 # file name shared by both folders; the stable key stored with votes
    a: Path
    b: Path
    content: Optional[Path]   # shown above the results when known
    style: Optional[Path]


def _sidecar_inputs(result: Path) -> tuple[Optional[Path], Optional[Path]]:
    """Content and style paths from an Atelier sidecar (``NAME.png.json``), if they exist."""
    meta_path = result.with_name(result.name + ".json")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return None, None
    content = Path(str(meta.get("content", "")))
    styles = meta.get("styles") or []
    style = Path(str(styles[0])) if styles else Path("")
    return (content if content.is_file() else None), (style if style.is_file() else None)


def _images(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise UsageError(f"not a folder: {folder}")
    return {p.name: p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS}


def find_questions(dir_a: Path, dir_b: Path) -> list[Question]:
    """One question per image file name present in both folders (sorted by name).

    Content and style come from the result's metadata sidecar (as written by
    ``atelier stylize`` and ``atelier evaluate``); without one they are not shown.
    """
    a, b = _images(Path(dir_a)), _images(Path(dir_b))
    if Path(dir_a).resolve() == Path(dir_b).resolve():
        raise UsageError("--a and --b are the same folder")
    names = sorted(set(a) & set(b))
    if not names:
        raise UsageError(f"no image file name is present in both {dir_a} and {dir_b}")
    out = []
    for n in names:
        content, style = _sidecar_inputs(a[n])
        if content is None and style is None:
            content, style = _sidecar_inputs(b[n])
        out.append(Question(n, a[n], b[n], content, style))
    return out
