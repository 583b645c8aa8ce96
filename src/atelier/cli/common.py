"""Shared CLI plumbing: dataclass -> click options, progress bars, pipes, writing outputs, JSON."""

from __future__ import annotations

import dataclasses
import json
import tempfile
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from PIL import Image
from tqdm import tqdm

from ..base.engine import ENGINES
from ..base.errors import AtelierError, UsageError
from ..core.gatys import Progress
from ..core.record import upscale_note
from ..io.images import FORMATS, ImageLike, decode_bytes, encode_png, save_image, sidecar_path

STDIO = "-"  # CONTENT read from stdin, -o written to stdout
json_option = click.option("--json", "as_json", is_flag=True,
                           help="print one JSON document on stdout and nothing else (errors stay on stderr)")


def _field_type(hint: Any) -> tuple[str, Any]:
    """Map a dataclass type hint to (kind, base) with kind in scalar|list|bool."""
    origin = typing.get_origin(hint)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _field_type(args[0])
    if origin in (list, tuple, typing.Sequence) or str(origin) == "<class 'collections.abc.Sequence'>":
        return "list", args[0] if args else str
    if hint is bool:
        return "bool", bool
    return "scalar", hint


def dataclass_options(cls: type, exclude: tuple[str, ...] = ()) -> Callable:
    """Decorator adding one ``--field-name`` option per field of dataclass ``cls``.

    Help text comes from each field's ``metadata["help"]``; fields with
    ``metadata["cli"] is False`` or listed in ``exclude`` are skipped. Sequences are
    given comma-separated. Options default to None (meaning: the dataclass default).
    """
    hints = typing.get_type_hints(cls)

    def deco(f: Callable) -> Callable:
        for fld in reversed(dataclasses.fields(cls)):
            if fld.metadata.get("cli") is False or fld.name in exclude:
                continue
            kind, base = _field_type(hints[fld.name])
            flag = "--" + fld.name.replace("_", "-")
            default = fld.default if fld.default is not dataclasses.MISSING else None
            help_text = f"{fld.metadata.get('help', '')} [default: {default}]"
            if kind == "bool":
                f = click.option(f"{flag}/--no-{flag[2:]}", fld.name, default=None, help=help_text)(f)
            else:
                typ = base if kind == "scalar" and base in (int, float) else str
                f = click.option(flag, fld.name, type=typ, default=None, help=help_text)(f)
        return f

    return deco


def dataclass_from_kwargs(cls: type, kwargs: dict[str, Any], base: Any = None) -> Any:
    """Build ``cls`` from CLI kwargs (None = keep default), parsing comma-separated lists."""
    hints = typing.get_type_hints(cls)
    values = {}
    for fld in dataclasses.fields(cls):
        v = kwargs.get(fld.name)
        if v is None:
            continue
        kind, item = _field_type(hints[fld.name])
        if kind == "list":
            parts = [p.strip() for p in str(v).split(",") if p.strip()]
            try:
                v = tuple(item(p) for p in parts)
            except ValueError:
                raise UsageError(f"--{fld.name.replace('_', '-')}: expected comma-separated {item.__name__}s, "
                                 f"got {kwargs[fld.name]!r}") from None
        values[fld.name] = v
    return dataclasses.replace(base, **values) if base is not None else cls(**values)


def engine_flags(f: Any) -> Any:
    """``--engine``, ``--address`` and ``--retries`` (shared by the commands that can run on Ray)."""
    f = click.option("--retries", default=2, show_default=True, type=click.IntRange(0, 100),
                     help="extra attempts for a task whose worker died or that failed unexpectedly")(f)
    f = click.option("--address", default=None, metavar="ADDR",
                     help="Ray cluster to join: auto (the one `ray start` made here) or HOST:PORT "
                          "(default with --engine ray: a local Ray instance)")(f)
    return click.option("--engine", "engine_name", default="local", show_default=True, type=click.Choice(ENGINES),
                        help="local: in this process; ray: Ray tasks, one CPU each (docs/batch.md)")(f)


class ProgressBar:
    """A tqdm bar fed by :class:`atelier.core.gatys.Progress` events (ETA from pyramid cost)."""

    def __init__(self, quiet: bool = False, desc: str = "stylize",
                 snapshot: Callable[[Progress], None] | None = None):
        self.quiet, self.desc, self.snapshot = quiet, desc, snapshot
        self.bar: tqdm | None = None

    def __call__(self, p: Progress) -> None:
        if self.bar is None:
            self.bar = tqdm(total=round(p.total_cost, 2), desc=self.desc, unit="eval", disable=self.quiet,
                            dynamic_ncols=True,
                            bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} [{elapsed}<{remaining}{postfix}]")
        self.bar.n = min(round(p.cost, 2), self.bar.total)  # L-BFGS line searches may overshoot the plan
        post = {"level": f"{p.level + 1}/{p.levels}", "it": f"{p.step}/{p.steps}"}
        post.update({k: f"{v:.3g}" for k, v in p.losses.items()})
        self.bar.set_postfix(post, refresh=True)
        if self.snapshot is not None:
            self.snapshot(p)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def read_content(ref: str) -> ImageLike:
    """A CONTENT argument: ``-`` reads the image file from stdin, anything else is a path."""
    if ref != STDIO:
        return ref
    return decode_bytes(click.get_binary_stream("stdin").read(), "stdin")


def is_stdout(path: Path | str) -> bool:
    return str(path) == STDIO


def check_output(path: str, as_json: bool = False) -> Path:
    """Validate an output path before any work starts (directory exists, format known).
    ``-`` means PNG bytes on stdout (not together with ``--json``, which needs stdout)."""
    if path == STDIO:
        if as_json:
            raise UsageError("--json and -o - both need stdout: give -o a file name")
        return Path(STDIO)
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"output is a directory, expected a file name: {p}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"output directory does not exist: {parent}")
    if p.suffix.lower() not in FORMATS:
        raise UsageError(f"unsupported output format {p.suffix or '(none)'!r}; use one of {', '.join(FORMATS)}")
    if sidecar_path(p).is_dir():
        raise UsageError(f"the metadata file of the output is a directory: {sidecar_path(p)}")
    try:  # fail before minutes of work, not after
        tempfile.TemporaryFile(dir=parent).close()
    except OSError as exc:
        raise AtelierError(f"cannot write to {parent}: {exc.strerror or exc}") from None
    return p


def sidecar(path: Path) -> Path | None:
    """The metadata file written beside an output (none for stdout)."""
    return None if is_stdout(path) else sidecar_path(path)


def write_result(img: Image.Image, path: Path, extra: dict[str, Any] | None = None,
                 quiet: bool = False) -> dict[str, Any]:
    """Save ``img`` with its metadata in a PNG text chunk and in ``PATH.json``, both in one
    atomic step (both files appear, or neither);
    ``-`` writes the PNG (metadata in its text chunk) to stdout instead, in one piece.
    Notes (the output is larger than the photo) go to stderr unless ``quiet``."""
    meta = dict(img.info.get("atelier", {}))
    meta.update(extra or {})
    if is_stdout(path):
        data = encode_png(img, meta)
        out = click.get_binary_stream("stdout")
        out.write(data)
        out.flush()
    else:
        save_image(img, path, meta, sidecar=True)
    img.info["atelier"] = meta
    note = upscale_note(meta)
    if note and not quiet:
        click.echo(f"atelier: note: {note}", err=True)
    return meta


def emit_json(doc: Any) -> None:
    """Print ``doc`` as the one JSON document on stdout."""
    click.echo(json.dumps(doc, default=str))


def result_document(img: Image.Image, path: Path) -> dict[str, Any]:
    """What ``--json`` prints for a written result: paths, pixel size, then its metadata record
    (settings, versions, timing, notes)."""
    side = sidecar(path)
    return {"output": str(path), "sidecar": str(side) if side else None, "width": img.width, "height": img.height,
            **img.info.get("atelier", {})}


def announce(img: Image.Image, path: Path, text: str, quiet: bool = False, as_json: bool = False) -> None:
    """Report a written result: the JSON document with ``as_json``, else ``text`` (unless
    ``quiet``), on stderr when stdout holds the image."""
    if as_json:
        emit_json(result_document(img, path))
    elif not quiet:
        click.echo(text, err=is_stdout(path))
