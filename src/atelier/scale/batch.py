"""Stylize a folder of images: outputs mirrored under an output folder, a JSON Lines manifest, resumable.

:func:`plan` maps every image under INPUT_DIR (recursively) to ``OUT_DIR/<same relative path>.png``,
:func:`pending` drops what the manifest already records as done with the same settings, and
:func:`run_batch` stylizes the rest on an engine (:mod:`atelier.base.engine`), appending one
manifest line per finished item as results arrive. Each task writes its own output atomically,
so an interrupted batch keeps every finished image and a re-run picks up the rest (failures
included). Manifest lines: ``input``, ``output`` (relative to OUT_DIR), ``settings``,
``seconds``, ``status`` (``done`` | ``failed``), ``error``, ``worker`` (``NODE:PID``).
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from ..api import stylize
from ..base.engine import Engine, Outcome
from ..base.errors import UsageError
from ..core.options import StyleOptions
from ..feedforward.transfer import FeedForwardOptions, from_style_options
from ..io.images import FORMATS, IMAGE_SUFFIXES, load_image, save_image

MANIFEST = "manifest.jsonl"


@dataclass(frozen=True)
class Recipe:
    """What every image of a batch gets: style files, method and settings (picklable, sent to workers)."""

    styles: tuple[str, ...]
    method: str = "gatys"
    options: StyleOptions = field(default_factory=StyleOptions)
    feedforward: FeedForwardOptions | None = None  # method's own settings (alpha, model, ...); None: defaults

    def settings(self) -> dict[str, Any]:
        """The settings recorded in the manifest (JSON types): a changed setting means a redo."""
        doc: dict[str, Any] = {"method": self.method, "styles": list(self.styles), "options": self.options.to_dict()}
        if self.method != "gatys":
            doc["feedforward"] = from_style_options(self.options, self.method, self.feedforward).to_dict()
        return json.loads(json.dumps(doc, default=str))


@dataclass(frozen=True)
class Item:
    """One image of a batch: where it is read, where its result goes (``name``: relative to OUT_DIR)."""

    input: str
    output: str
    name: str
    recipe: Recipe


def folder_images(root: Path, exclude: Path | None = None) -> list[Path]:
    """The images under ``root`` (by extension, recursively, sorted, hidden files and folders and ``exclude``
    left out)."""
    skip = exclude.resolve() if exclude is not None else None
    found = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if skip is not None and path.resolve().is_relative_to(skip):
            continue
        if path.is_file():
            found.append(path)
    return found


def plan(input_dir: str | os.PathLike, out_dir: str | os.PathLike, recipe: Recipe,
         suffix: str = ".png") -> list[Item]:
    """One :class:`Item` per image under ``input_dir``: ``a/b.jpg`` -> ``OUT_DIR/a/b.png``
    (``a/b.jpg.png`` when ``a/b.png`` is an input too, so no two inputs share an output)."""
    root, out = Path(input_dir), Path(out_dir)
    if not root.is_dir():
        raise UsageError(f"input folder not found: {root}")
    if suffix.lower() not in FORMATS:
        raise UsageError(f"unsupported output format {suffix!r}; use one of {', '.join(FORMATS)}")
    inputs = folder_images(root, exclude=out)
    names: list[str] = [p.relative_to(root).with_suffix(suffix).as_posix() for p in inputs]
    taken = Counter(names)
    names = [p.relative_to(root).as_posix() + suffix if taken[n] > 1 else n for p, n in zip(inputs, names, strict=True)]
    return [Item(str(p), str(out / n), n, recipe) for p, n in zip(inputs, names, strict=True)]


def read_manifest(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """The last record of every output name in the manifest (a torn last line is ignored)."""
    last: dict[str, dict[str, Any]] = {}
    p = Path(path)
    if not p.is_file():
        return last
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and "output" in rec:
            last[rec["output"]] = rec
    return last


def pending(items: Sequence[Item], out_dir: str | os.PathLike) -> tuple[list[Item], list[Item]]:
    """``(todo, done)``: an item is done when the manifest records it done with the same settings
    and its output exists; everything else (new, failed, changed settings, deleted output) is to do."""
    records = read_manifest(Path(out_dir) / MANIFEST)
    todo, done = [], []
    for item in items:
        rec = records.get(item.name)
        finished = (rec is not None and rec.get("status") == "done" and Path(item.output).is_file()
                    and rec.get("settings") == item.recipe.settings())
        (done if finished else todo).append(item)
    return todo, done


@functools.lru_cache(maxsize=4)
def _style_images(paths: tuple[str, ...]) -> tuple[Image.Image, ...]:
    """The style images, decoded once per worker process."""
    return tuple(load_image(p) for p in paths)


def stylize_item(item: Item) -> dict[str, Any]:
    """Stylize one item and write its output atomically (runs on a worker). Returns its size and
    seconds; an unreadable input raises ``UsageError`` (recorded as a failure, never retried)."""
    start = time.perf_counter()
    r = item.recipe
    img = stylize(item.input, list(_style_images(r.styles)), r.options, method=r.method, feedforward=r.feedforward)
    meta = {**img.info["atelier"], "content": item.input, "styles": list(r.styles)}
    out = Path(item.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_image(img, out, meta)
    return {"width": img.width, "height": img.height, "seconds": round(time.perf_counter() - start, 3)}


def record(outcome: Outcome) -> dict[str, Any]:
    """The manifest line of a finished item."""
    item: Item = outcome.item
    value = outcome.value or {}
    return {"input": item.input, "output": item.name, "settings": item.recipe.settings(),
            "seconds": value.get("seconds"), "status": "done" if outcome.ok else "failed", "error": outcome.error,
            "worker": outcome.worker, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def run_batch(items: Iterable[Item], engine: Engine, out_dir: str | os.PathLike,
              task: Callable[[Item], dict[str, Any]] = stylize_item,
              on_record: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Run ``task`` over ``items`` on ``engine``, appending each record to OUT_DIR/manifest.jsonl
    (flushed to disk) as it arrives; returns the records in the order they finished."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records = []
    with open(out / MANIFEST, "a", encoding="utf-8") as fh:
        for outcome in engine.map(task, list(items)):
            rec = record(outcome)
            fh.write(json.dumps(rec, default=str) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
            records.append(rec)
            if on_record is not None:
                on_record(rec)
    return records

