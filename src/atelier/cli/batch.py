"""``atelier batch``: stylize every image of a folder, resumably, on this machine or a Ray cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from ..base.engine import make_engine
from ..base.errors import AtelierError, UsageError
from ..core.options import StyleOptions
from ..feedforward import registry
from ..feedforward.transfer import from_style_options
from ..io import starter
from ..io.images import load_image
from ..scale.batch import MANIFEST, Recipe, pending, plan, run_batch
from .common import dataclass_from_kwargs, emit_json, engine_flags, json_option
from .stylize import feedforward_from_flags, method_flags, style_flags


@click.command("batch")
@click.argument("input_dir", type=str)
@click.argument("styles", type=str, nargs=-1, required=True)
@click.option("-o", "--output-dir", required=True, help="folder for the results (input folders are mirrored in it)")
@click.option("--format", "fmt", default="png", show_default=True, type=click.Choice(("png", "jpg", "webp", "tif")),
              help="format of the outputs")
@click.option("-q", "--quiet", is_flag=True, help="no progress bar")
@json_option
@engine_flags
@style_flags
@method_flags
def batch_cmd(input_dir: str, styles: tuple[str, ...], output_dir: str, fmt: str, quiet: bool, as_json: bool,
              engine_name: str, address: str | None, retries: int, method: str, **kwargs: Any) -> None:
    """Stylize every image under INPUT_DIR (recursively) with STYLE [STYLE...] into OUTPUT_DIR.

    INPUT_DIR/a/b.jpg becomes OUTPUT_DIR/a/b.png; OUTPUT_DIR/manifest.jsonl gets one line per
    image (input, output, settings, seconds, status, error). Run it again to finish an
    interrupted batch: images done with the same settings are skipped, failures retried. Takes
    the options of `atelier stylize` (not --augment, --portrait, --save-every). Exit code 1 when
    some images failed (their errors are in the manifest).
    """
    opts = dataclass_from_kwargs(StyleOptions, kwargs).resolved()
    if opts.save_every:
        raise UsageError("--save-every is for `atelier stylize`; a batch writes final images only")
    feedforward = feedforward_from_flags(method, kwargs)
    paths = tuple(str(starter.resolve(s)) for s in styles)
    if method != "gatys" and not registry.spec(method).needs_style:
        paths = ()
    for p in paths:  # a missing or unreadable style fails now, not once per image
        load_image(p)
    if feedforward is not None:  # bad settings fail now, not once per image
        from_style_options(opts, method, feedforward).validate(len(paths))
    recipe = Recipe(paths, method, opts, feedforward)
    items = plan(input_dir, output_dir, recipe, suffix=f".{fmt}")
    if not items:
        raise UsageError(f"no images under {input_dir}")
    todo, done = pending(items, output_dir)
    failed = 0
    with make_engine(engine_name, address, retries) as engine, \
            tqdm(total=len(items), initial=len(done), desc="batch", unit="img", disable=quiet or as_json,
                 dynamic_ncols=True) as bar:
        def tick(rec: dict[str, Any]) -> None:
            nonlocal failed
            failed += rec["status"] != "done"
            bar.update(1)
            bar.set_postfix({"failed": failed, "last": Path(rec["output"]).name}, refresh=True)

        records = run_batch(todo, engine, output_dir, on_record=tick)
    manifest = Path(output_dir) / MANIFEST
    if as_json:
        emit_json({"output_dir": output_dir, "manifest": str(manifest), "images": len(items), "skipped": len(done),
                   "done": len(records) - failed, "failed": failed, "engine": engine_name})
    elif not quiet:
        click.echo(f"{len(records) - failed} stylized, {len(done)} already done, {failed} failed; see {manifest}")
    if failed:
        raise AtelierError(f"{failed} of {len(items)} images failed (errors in {manifest}); run again to retry them")


COMMANDS = [batch_cmd]
