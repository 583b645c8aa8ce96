"""``atelier train METHOD``: train a feed-forward model (see docs/feedforward.md)."""

from __future__ import annotations

from typing import Any

import click

from ..feedforward import registry
from ..feedforward.train import TrainOptions, train
from .common import dataclass_from_kwargs, dataclass_options


@click.command("train")
@click.argument("method", type=click.Choice(registry.trainable()))
@click.option("-q", "--quiet", is_flag=True, help="no per-step log lines")
@dataclass_options(TrainOptions)
def train_cmd(method: str, quiet: bool, **kwargs: Any) -> None:
    """Train METHOD on image folders (ghiasi: distil Magenta's transformer); resumable, logs losses.

    Examples: `atelier train adain --content photos/ --style paintings/ --steps 20000`;
    `atelier train johnson --content photos/ --style starry_night.jpg`;
    `atelier train ghiasi --content photos/ --style paintings/ --size 256`.
    """
    opts = dataclass_from_kwargs(TrainOptions, kwargs)
    path = train(method, opts, log=(lambda s: None) if quiet else click.echo)
    click.echo(f"wrote {path} (model card {path.with_suffix('.json')}, losses in {path.parent / 'loss.csv'})")


COMMANDS = [train_cmd]
