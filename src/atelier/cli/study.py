"""``atelier study serve`` and ``atelier study report``: the blind A/B preference study."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click

from ..base.checks import check_range
from ..base.errors import UsageError

DEFAULT_DB = "study.sqlite"


@click.group("study")
def study_group() -> None:
    """Blind A/B preference study between two folders of results."""


@study_group.command("serve")
@click.option("--a", "dir_a", required=True, help="folder of results of method A")
@click.option("--b", "dir_b", required=True, help="folder of results of method B (same file names)")
@click.option("--inputs", multiple=True, metavar="DIR",
              help="folder of the content and style images the results' sidecars name (repeatable); "
                   "images elsewhere are not shown")
@click.option("--label-a", default=None, help="name of A in the report [default: folder name]")
@click.option("--label-b", default=None, help="name of B in the report [default: folder name]")
@click.option("--db", default=DEFAULT_DB, show_default=True, help="SQLite file for the votes")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to bind (localhost only by default)")
@click.option("--port", default=8765, show_default=True, type=int)
def serve_cmd(dir_a: str, dir_b: str, inputs: tuple[str, ...], label_a: str | None, label_b: str | None,
              db: str, host: str, port: int) -> None:
    """Serve the study page: content, style and the two results in random order; votes go to --db."""
    from ..evaluation.study.questions import find_questions
    from ..evaluation.study.store import VoteStore
    from ..web.config import is_loopback
    from ..web.server import serve
    from ..web.study import create_app

    check_range("--port", port, 1, 65535)
    questions = find_questions(Path(dir_a), Path(dir_b), [Path(d) for d in inputs])
    store = VoteStore(Path(db))
    store.bind({"a": str(Path(dir_a).resolve()), "b": str(Path(dir_b).resolve()),
                "label_a": label_a or Path(dir_a).resolve().name, "label_b": label_b or Path(dir_b).resolve().name,
                "questions": str(len(questions))})
    click.echo(f"study of {len(questions)} questions at http://{host}:{port}/ (votes in {db}); Ctrl-C to stop")
    if not is_loopback(host):
        click.echo(f"atelier: warning: listening on {host}: other machines can reach this server", err=True)
    serve(create_app(questions, store, local=is_loopback(host)), host, port)


@study_group.command("report")
@click.option("--db", default=DEFAULT_DB, show_default=True, help="SQLite file of the study")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of text")
def report_cmd(db: str, as_json: bool) -> None:
    """Print questions, respondents, answers and % preferring each side with a 95% interval."""
    from ..evaluation.study.report import format_summary, summarize
    from ..evaluation.study.store import VoteStore

    if not Path(db).is_file():
        raise UsageError(f"study database not found: {db}")
    s = summarize(VoteStore(Path(db)))
    if as_json:
        shares = {side: {k: (None if math.isnan(v) else round(v, 6))
                         for k, v in zip(("share", "low", "high"), s.share(side), strict=True)}
                  for side in ("a", "b")}
        click.echo(json.dumps({**s.__dict__, "shares": shares}, indent=2))
    else:
        click.echo(format_summary(s))


COMMANDS = [study_group]
