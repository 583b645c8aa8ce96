"""``atelier evaluate``: compare methods on seeded content/style pairs and write a report."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from ..base.errors import UsageError
from ..evaluation.runner import EvalOptions, evaluate
from ..evaluation.report import markdown_table, write_report
from .common import dataclass_from_kwargs, dataclass_options


@click.command("evaluate")
@click.option("--data", default="../shared/data", show_default=True, help="data folder with MANIFEST.csv")
@click.option("--out", "out", required=True, help="evaluation folder (created; re-running resumes it)")
@click.option("-q", "--quiet", is_flag=True, help="no progress bar")
@dataclass_options(EvalOptions)
def evaluate_cmd(data: str, out: str, quiet: bool, **kwargs: Any) -> None:
    """Run every method on seeded content/style pairs; write report.md, pairs.csv, plots, index.html.

    Outputs and metrics are cached in OUT, so an interrupted run resumes and methods added
    later are evaluated by running the same command again. Methods that are not available
    are listed as such in the report.
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

        ev = evaluate(data_dir, Path(out), opts, progress=step, log=lambda s: tqdm.write(s))
    write_report(ev, Path(out))
    click.echo(markdown_table(ev))
    for name, why in ev.unavailable.items():
        click.echo(f"unavailable: {name}: {why}")
    click.echo(f"wrote {Path(out) / 'report.md'}, pairs.csv, metrics.png, quality_vs_time.png, index.html")


COMMANDS = [evaluate_cmd]
