"""``atelier evaluate``: compare methods on seeded content/style pairs and write a report."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from ..base.engine import make_engine
from ..base.errors import UsageError
from ..evaluation.report import markdown_table, write_report
from ..evaluation.runner import EvalOptions, evaluate
from .common import dataclass_from_kwargs, dataclass_options, engine_flags


@click.command("evaluate")
@click.option("--data", default="../shared/data", show_default=True, help="data folder with MANIFEST.csv")
@click.option("--out", "out", required=True, help="evaluation folder (created; re-running resumes it)")
@click.option("-q", "--quiet", is_flag=True, help="no progress bar")
@engine_flags
@dataclass_options(EvalOptions)
def evaluate_cmd(data: str, out: str, quiet: bool, engine_name: str, address: str | None, retries: int,
                 **kwargs: Any) -> None:
    """Run every method on seeded content/style pairs; write report.md, pairs.csv, plots, index.html.

    Outputs and metrics are cached in OUT, so an interrupted run resumes and methods added
    later are evaluated by running the same command again. Methods that are not available
    are listed as such in the report. With --engine ray the (method, pair) runs are Ray tasks
    (docs/batch.md); OUT and --data must then be on a file system every node sees.
    """
    opts = dataclass_from_kwargs(EvalOptions, kwargs)
    data_dir = Path(data)
    if not data_dir.is_dir():
        raise UsageError(f"data folder not found: {data_dir}")
    os.environ.setdefault("ATELIER_DATA", str(data_dir.resolve()))  # methods that need artworks look here
    with tqdm(desc="evaluate", disable=quiet, unit="step") as bar:
        def step(label: str) -> None:
            bar.set_postfix_str(label)
            bar.update(1)

        ev = evaluate(data_dir, Path(out), opts, progress=step, log=lambda s: tqdm.write(s),
                      engine=make_engine(engine_name, address, retries))
    write_report(ev, Path(out))
    click.echo(markdown_table(ev))
    for name, why in ev.unavailable.items():
        click.echo(f"unavailable: {name}: {why}")
    click.echo(f"wrote {Path(out) / 'report.md'}, pairs.csv, metrics.png, quality_vs_time.png, index.html")


COMMANDS = [evaluate_cmd]
