"""The questions of a study: result files present under the same name in both folders.

Only files under the folders the study was given are ever used: results under ``--a`` and
``--b``, content and style images (named by the results' sidecars) under those or the
``--inputs`` folders. Paths are resolved first, so neither ``..`` nor a symlink leads out.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ...base.errors import UsageError
from ...io.images import IMAGE_SUFFIXES

SHOWN_SUFFIXES = IMAGE_SUFFIXES - {".tif", ".tiff"}  # results are sent to browsers as they are: no TIFF


@dataclass(frozen=True)
class Question:
    name: str                 # file name shared by both folders; the stable key stored with votes
    a: Path
    b: Path
    content: Path | None   # shown above the results when known
    style: Path | None


def inside(path: Path, roots: Sequence[Path]) -> Path | None:
    """``path`` resolved, if it is a file under one of ``roots`` (resolved too); else None."""
    try:
        real = Path(path).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a symlink loop
        return None
    if not real.is_file():
        return None
    return real if any(real.is_relative_to(Path(r).resolve()) for r in roots) else None


def _sidecar_inputs(result: Path, roots: Sequence[Path]) -> tuple[Path | None, Path | None]:
    """Content and style paths from an Atelier sidecar (``NAME.png.json``), if they lie under ``roots``."""
    meta_path = result.with_name(result.name + ".json")
    try:
        meta = json.loads(meta_path.read_text())
        content = str(meta.get("content") or "")
        styles = meta.get("styles") or []
        style = str(styles[0]) if isinstance(styles, list) and styles else ""
    except (OSError, ValueError, AttributeError):
        return None, None
    return (inside(Path(content), roots) if content else None), (inside(Path(style), roots) if style else None)


def _images(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise UsageError(f"not a folder: {folder}")
    found = {}
    for p in folder.iterdir():
        real = inside(p, [folder]) if p.suffix.lower() in SHOWN_SUFFIXES else None
        if real is not None:  # a symlink out of the folder is not a result of it
            found[p.name] = real
    return found


def find_questions(dir_a: Path, dir_b: Path, inputs: Sequence[Path] = ()) -> list[Question]:
    """One question per image file name present in both folders (sorted by name).

    Content and style come from the result's metadata sidecar (as written by ``atelier
    stylize`` and ``atelier evaluate``) when they lie under ``dir_a``, ``dir_b`` or one of
    ``inputs``; otherwise they are not shown.
    """
    for d in inputs:
        if not Path(d).is_dir():
            raise UsageError(f"not a folder: {d}")
    a, b = _images(Path(dir_a)), _images(Path(dir_b))
    if Path(dir_a).resolve() == Path(dir_b).resolve():
        raise UsageError("--a and --b are the same folder")
    names = sorted(set(a) & set(b))
    if not names:
        raise UsageError(f"no image file name is present in both {dir_a} and {dir_b}")
    roots = [Path(dir_a), Path(dir_b), *map(Path, inputs)]
    out = []
    for n in names:
        content, style = _sidecar_inputs(a[n], roots)
        if content is None and style is None:
            content, style = _sidecar_inputs(b[n], roots)
        out.append(Question(n, a[n], b[n], content, style))
    return out
