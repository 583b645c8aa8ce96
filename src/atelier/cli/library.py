"""``atelier library build|add|remove|list|info|search``: manage and query the style library."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from ..base.checks import check_range
from ..base.engine import make_engine
from ..base.errors import UsageError
from ..io import starter
from ..io.grid import make_grid
from ..io.images import load_image, save_image
from ..library import starter as starter_library
from ..library.descriptors import DescriptorConfig
from ..library.store import PER_TASK, StyleLibrary, UpdateReport, default_library_path, file_sha256, read_metadata_csv
from .common import check_output, dataclass_from_kwargs, dataclass_options, emit_json, engine_flags, json_option


def library_option(f: Callable) -> Callable:
    """``--library PATH``, as on `atelier stylize`/`augment`/`portrait`; ``--db``, its old name, is a
    hidden alias that still works (with a note on stderr)."""
    @functools.wraps(f)
    def command(*args: Any, library: str | None, db: str | None, **kwargs: Any) -> Any:
        if db is not None:
            click.echo("atelier: note: --db is deprecated, use --library", err=True)
            if library is None:
                library = db
        return f(*args, library=library, **kwargs)

    command = click.option("--db", default=None, metavar="PATH", hidden=True)(command)
    return click.option("--library", default=None, metavar="PATH",
                        help="library file [default: $ATELIER_LIBRARY or ~/.cache/atelier/library.sqlite]")(command)


def library_path(library: str | None) -> Path:
    """The ``--library`` value, or the default library path."""
    return Path(library).expanduser() if library else default_library_path()


def open_library(library: str | None) -> StyleLibrary:
    """Open an existing library for reading: ``--library``, else the default one, else (with a
    note on stderr) the starter library of the paintings shipped with Atelier."""
    if library:
        return StyleLibrary.open(library_path(library))
    path, is_starter = starter_library.default_or_starter()
    if is_starter:
        click.echo(f"atelier: note: {starter_library.note()}", err=True)
    return StyleLibrary.open(path)


def _descriptor_config(kwargs: dict[str, Any]) -> DescriptorConfig | None:
    """The descriptor settings given on the command line, or None if none was given."""
    given = {k: v for k, v in kwargs.items() if v is not None}
    return dataclass_from_kwargs(DescriptorConfig, given) if given else None


def engine_options(f: Callable) -> Callable:
    """``--engine``, ``--address``, ``--retries`` and ``--per-task`` of `library build` and `add`."""
    f = click.option("--per-task", default=PER_TASK, show_default=True, type=click.IntRange(1), metavar="N",
                     help="--engine ray: images per task (the backbone loads once per worker)")(f)
    return engine_flags(f)


def _update(library: str | None, paths: tuple[str, ...], metadata: str | None, prune: bool, quiet: bool,
            kwargs: dict[str, Any]) -> None:
    engine_name, address = kwargs.pop("engine_name"), kwargs.pop("address")
    retries, per_task = kwargs.pop("retries"), kwargs.pop("per_task")
    if engine_name == "local" and address is not None:
        raise UsageError("--address needs --engine ray")
    path = library_path(library)
    if library is None:
        path.parent.mkdir(parents=True, exist_ok=True)
    meta = read_metadata_csv(metadata) if metadata else None
    with StyleLibrary.open(path, _descriptor_config(kwargs), create=True) as lib:
        bar = tqdm(desc="embed", unit="img", disable=quiet, dynamic_ncols=True)

        def progress(done: int, total: int, current: str) -> None:
            bar.total = total
            bar.n = done
            bar.set_postfix_str(Path(current).name, refresh=True)

        try:
            if engine_name == "local":
                report = lib.update(paths, meta, prune=prune, progress=progress)
            else:
                with make_engine(engine_name, address, retries) as engine:
                    report = lib.update(paths, meta, prune=prune, progress=progress, engine=engine,
                                        per_task=per_task)
        finally:
            bar.close()
        _print_report(report, len(lib), path)


def _print_report(r: UpdateReport, total: int, path: Path) -> None:
    for p, why in r.skipped:
        click.echo(f"skipped {p}: {why}", err=True)
    click.echo(f"{path}: {total} artworks ({len(r.embedded)} embedded, {len(r.reused)} reused by content hash, "
               f"{r.unchanged} unchanged, {len(r.removed)} removed, {len(r.skipped)} skipped)")


@click.group("library")
def library_group() -> None:
    """The style library: artworks and style descriptors used to augment a style."""


@library_group.command("build")
@click.argument("directory", type=str)
@library_option
@click.option("--metadata", default=None, metavar="CSV", help="CSV with file,artist,title,movement columns "
              "(file relative to the CSV); default: artist__title from file names")
@click.option("-q", "--quiet", is_flag=True, help="no progress bar")
@engine_options
@dataclass_options(DescriptorConfig)
def build_cmd(directory: str, library: str | None, metadata: str | None, quiet: bool, **kwargs: Any) -> None:
    """Index every image under DIRECTORY (recursively): embed new or changed files only, drop
    entries whose files are gone. Safe to interrupt and re-run. --engine ray computes the
    descriptors as Ray tasks of --per-task images (docs/library.md)."""
    if not Path(directory).is_dir():
        raise UsageError(f"not a directory: {directory}")
    _update(library, (directory,), metadata, True, quiet, kwargs)


@library_group.command("add")
@click.argument("paths", nargs=-1, required=True)
@library_option
@click.option("--metadata", default=None, metavar="CSV", help="CSV with file,artist,title,movement columns")
@click.option("-q", "--quiet", is_flag=True, help="no progress bar")
@engine_options
@dataclass_options(DescriptorConfig)
def add_cmd(paths: tuple[str, ...], library: str | None, metadata: str | None, quiet: bool,
            **kwargs: Any) -> None:
    """Add image files or folders (recursively) to the library."""
    _update(library, paths, metadata, False, quiet, kwargs)


@library_group.command("remove")
@click.argument("paths", nargs=-1, required=True)
@library_option
def remove_cmd(paths: tuple[str, ...], library: str | None) -> None:
    """Drop the entries at PATHS (a folder drops everything under it)."""
    with StyleLibrary.open(library_path(library)) as lib:  # never the starter library
        dropped = lib.remove(paths)
        click.echo(f"removed {len(dropped)} entries; {len(lib)} left")


@library_group.command("list")
@library_option
@click.option("--artist", default=None, help="only entries whose artist contains this text")
def list_cmd(library: str | None, artist: str | None) -> None:
    """Print one line per artwork: id, artist, title, movement, size, path (tab-separated)."""
    with open_library(library) as lib:
        for e in lib.entries():
            if artist is None or artist.lower() in e.artist.lower():
                click.echo("\t".join([str(e.id), e.artist, e.title, e.movement, f"{e.width}x{e.height}", e.path]))


@library_group.command("info")
@library_option
def info_cmd(library: str | None) -> None:
    """Descriptor settings, size, and the distribution of descriptor distances."""
    from ..library.augment import AugmentOptions

    with open_library(library) as lib:
        cfg = lib.config
        click.echo(f"library     {lib.path} ({lib.path.stat().st_size / 1e6:.1f} MB)")
        click.echo(f"artworks    {len(lib)}; artists {len({e.artist for e in lib.entries() if e.artist})}")
        click.echo(f"descriptor  {cfg.dim} channel means of {','.join(cfg.layers)} at {cfg.size} px")
        click.echo(f"backbone    {lib.backbone}")
        if len(lib) < 2:
            return
        threshold = AugmentOptions().threshold
        s = lib.distance_stats(threshold)
        click.echo(f"distances   Euclidean, over {s['sampled']} artworks; quantiles")
        click.echo("            " + "".join(f"{f'q{round(q * 100):02d}':>8}" for q in s["quantiles"]))
        for name in ("nearest", "pairwise"):
            click.echo(f"  {name:<10}" + "".join(f"{v:>8.1f}" for v in s[name]))
        click.echo(f"default --threshold {threshold:g}: {s['within']:.0%} of artworks have a neighbour within it")


@library_group.command("search")
@click.argument("style", type=str)
@library_option
@click.option("-k", default=5, show_default=True, type=int, help="number of neighbours")
@click.option("--threshold", default=None, type=float, help="largest distance shown [default: none]")
@click.option("-o", "--sheet", default="neighbours.png", show_default=True, help="contact sheet to write")
@click.option("--cell", default=192, show_default=True, type=int, help="contact sheet cell size (px)")
@json_option
def search_cmd(style: str, library: str | None, k: int, threshold: float | None, sheet: str, cell: int,
               as_json: bool) -> None:
    """Print the artworks nearest in style to STYLE (an image file or a name from `atelier styles`)
    and write a contact sheet."""
    out = check_output(sheet)
    style = starter.resolve(style)
    with open_library(library) as lib:
        check_range("-k", k, 1)
        query = load_image(style)
        sha = file_sha256(Path(style))
        hits = lib.search(lib.describe(query), k, threshold, exclude_sha256=sha)
        if k > len(lib):
            click.echo(f"note: the library holds only {len(lib)} artworks", err=True)
        if not hits:
            click.echo(f"no artwork within distance {threshold:g}", err=True)
        images = [query] + [load_image(h.entry.path) for h in hits]
        labels = ["query"] + [f"{i}. {h.distance:.0f} {h.entry.label}" for i, h in enumerate(hits, 1)]
        save_image(make_grid(images, labels, cols=min(len(images), 6), cell=cell), out)
        if as_json:
            return emit_json({"query": style, "library": str(lib.path), "k": k, "threshold": threshold,
                              "sheet": str(out), "hits": [
                                  {"rank": i, "distance": round(h.distance, 3), "id": h.entry.id,
                                   "artist": h.entry.artist, "title": h.entry.title, "path": h.entry.path}
                                  for i, h in enumerate(hits, 1)]})
        for rank, h in enumerate(hits, 1):
            click.echo(f"{rank}\t{h.distance:.1f}\t{h.entry.artist}\t{h.entry.title}\t{h.entry.path}")
        click.echo(f"wrote {out}")


COMMANDS = [library_group]
