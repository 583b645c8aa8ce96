"""Comparison runs: every method on a seeded set of content/style pairs, cached and resumable.

Layout of an evaluation folder ``OUT``::

    OUT/config.json                  seed, number of pairs, size, data folder (fixed per folder)
    OUT/pairs.json                   the chosen pairs: id, content, style, artist
    OUT/inputs/<pair>_{content,style}.jpg   small thumbnails for the HTML page
    OUT/results/<method>/<pair>.png  each output, written atomically, + .png.json (timing)
    OUT/results/<method>/<pair>.metrics.json   its metrics
    OUT/report.md, pairs.csv, metrics.png, quality_vs_time.png, index.html

Outputs and metrics already present are reused, so an interrupted run continues where it
stopped and a method that lands later is added by running the same command again. A
folder made with other settings (seed, pairs, size, data) is refused.

Pairs: ``pairs`` content photos (``kind == content`` in MANIFEST.csv) drawn without
replacement with ``seed``; each is paired with a work of a different artist among those
with at least ``min_works`` works (so the artist classifier knows the artist; the work
itself is held out of its training).
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..base.checks import check_int
from ..base.engine import Engine, LocalEngine
from ..base.errors import UsageError
from ..core.options import check_seed, option_field
from ..io.images import load_image, resize_long_side, save_image, write_json
from . import classifier, methods, metrics

REFERENCE = "photo"  # the un-stylized content photo, a reference column in the report
METRICS_VERSION = 1



@dataclass
class EvalOptions:
    """Settings of one comparison run (mapped 1:1 to ``atelier evaluate`` options)."""

    methods: Sequence[str] = option_field(methods.KNOWN, "methods to compare, comma-separated")
    pairs: int = option_field(8, "number of content/style pairs")
    size: int = option_field(512, "long side of every output (and of the metrics) in pixels")
    seed: int = option_field(0, "seed for choosing the pairs and for the methods")
    min_works: int = option_field(4, "artists need this many works to be a class of the artist classifier")
    deception: bool = option_field(True, "train/load the artist classifier and report deception rates")
    resamples: int = option_field(2000, "bootstrap resamples for the 95% intervals")

    def validate(self) -> None:
        """Raise ``UsageError`` for out-of-range settings."""
        for name, lo, hi in (("pairs", 1, 10_000), ("size", 32, 4096), ("min_works", 2, 1000),
                             ("resamples", 100, 1_000_000)):
            check_int(name, getattr(self, name), lo, hi)
        check_seed(self.seed)
        if not self.methods:
            raise UsageError("give at least one method")
        bad = [m for m in self.methods if not m or not m.replace("_", "").replace("-", "").isalnum()]
        if bad:
            raise UsageError(f"invalid method name(s): {', '.join(map(repr, bad))}")


@dataclass(frozen=True)
class Pair:
    id: str
    content: str
    style: str
    artist: str


def content_photos(data: Path) -> list[Path]:
    """Content photos (``kind == content``) listed in ``DATA/MANIFEST.csv``."""
    with open(Path(data) / "MANIFEST.csv", newline="", encoding="utf-8") as fh:
        return [Path(data) / r["file"] for r in csv.DictReader(fh) if r["kind"] == "content"]


def select_pairs(contents: Sequence[Path], works: Sequence[classifier.Artwork], n: int, seed: int,
                 min_works: int) -> list[Pair]:
    """``n`` seeded content/style pairs, styles from distinct eligible artists while they last."""
    artists = sorted(classifier.eligible_artists(works, min_works))
    if not contents or not artists:
        raise UsageError(f"need content photos and artists with >= {min_works} works in the data folder")
    rng = np.random.default_rng(seed)
    c_order = [contents[i] for i in rng.permutation(len(contents))]
    a_order = [artists[i] for i in rng.permutation(len(artists))]
    by_artist = {a: sorted((w for w in works if w.artist == a), key=lambda w: str(w.path)) for a in artists}
    # each artist keeps at least min_works - 1 works for training the classifier
    spare = {a: len(by_artist[a]) - (min_works - 1) for a in artists}
    if sum(spare.values()) < n:
        raise UsageError(f"the data folder has artworks for at most {sum(spare.values())} pairs; use fewer --pairs")
    queue = [a for _ in range(max(spare.values())) for a in a_order]
    pairs = []
    for i in range(n):
        artist = next(a for a in queue if spare[a] > 0)
        queue.remove(artist)
        spare[artist] -= 1
        free = [w for w in by_artist[artist] if w.path not in {Path(p.style) for p in pairs}]
        work = free[int(rng.integers(len(free)))]
        pairs.append(Pair(f"p{i:03d}", str(c_order[i % len(c_order)]), str(work.path), artist))
    return pairs


# --- the folder -----------------------------------------------------------------------

class EvalDir:
    """Paths and cached records of one evaluation folder."""

    def __init__(self, out: Path):
        self.root = Path(out)

    def result(self, method: str, pair: Pair) -> Path:
        return self.root / "results" / method / f"{pair.id}.png"

    def metrics_file(self, method: str, pair: Pair) -> Path:
        return self.root / "results" / method / f"{pair.id}.metrics.json"

    def thumb(self, pair: Pair, role: str) -> Path:
        return self.root / "inputs" / f"{pair.id}_{role}.jpg"

    def prepare(self, data: Path, opts: EvalOptions) -> list[Pair]:
        """Create or re-open the folder; return its pairs (refuses other settings)."""
        data = Path(data).resolve()  # absolute paths in pairs.json and sidecars, usable from anywhere
        if self.root.exists() and not self.root.is_dir():
            raise UsageError(f"--out exists and is not a folder: {self.root}")
        if not self.root.parent.is_dir():
            raise UsageError(f"the parent folder of --out does not exist: {self.root.parent}")
        config = {"seed": opts.seed, "pairs": opts.pairs, "size": opts.size, "min_works": opts.min_works,
                  "data": str(data)}
        cfg_path = self.root / "config.json"
        if cfg_path.is_file():
            old = json.loads(cfg_path.read_text())
            diff = [k for k in config if old.get(k) != config[k]]
            if diff:
                raise UsageError(f"{self.root} holds an evaluation with other settings ({', '.join(diff)} differ); "
                                 "use another --out")
            return [Pair(**p) for p in json.loads((self.root / "pairs.json").read_text())["pairs"]]
        works = classifier.read_manifest(data)
        pairs = select_pairs(content_photos(data), works, opts.pairs, opts.seed, opts.min_works)
        (self.root / "inputs").mkdir(parents=True, exist_ok=True)
        write_json(self.root / "pairs.json", {"pairs": [asdict(p) for p in pairs]})
        write_json(cfg_path, config)  # last: its presence means the folder is complete
        return pairs


def _input(path: str, size: int) -> Image.Image:
    """An input image as every method receives it: resized to long side ``size``."""
    return resize_long_side(load_image(path), size)


def run_method(folder: EvalDir, method: methods.Method, pair: Pair, opts: EvalOptions) -> dict:
    """Run ``method`` on ``pair`` unless its output exists; return its timing record."""
    out = folder.result(method.name, pair)
    sidecar = out.with_suffix(".png.json")
    if out.is_file() and sidecar.is_file():
        return json.loads(sidecar.read_text())
    content, style = _input(pair.content, opts.size), _input(pair.style, opts.size)
    start = time.perf_counter()
    img = method(content, style, opts.size, opts.seed)
    seconds = time.perf_counter() - start
    record = {"method": method.name, "pair": pair.id, "content": pair.content, "styles": [pair.style],
              "seconds": round(seconds, 3), "size": opts.size, "seed": opts.seed}
    out.parent.mkdir(parents=True, exist_ok=True)
    save_image(img.convert("RGB"), out, record)
    write_json(sidecar, record)
    return record


def measure(image: Image.Image, pair: Pair, size: int) -> dict[str, float]:
    """Every image metric of ``image`` for ``pair`` (at long side ``size``)."""
    return {
        "style_distance": metrics.style_distance(image, pair.style, size=size),
        "content_distance": metrics.content_distance(image, pair.content, size=size),
        "ssim": metrics.ssim_to_content(image, pair.content),
        "gradient": metrics.gradient_magnitude(image),
        "fft_q90": metrics.fft_quantile(image),
    }


def cached_measure(folder: EvalDir, name: str, pair: Pair, image: Callable[[], Image.Image], size: int) -> dict:
    path = folder.metrics_file(name, pair)
    if path.is_file():
        rec = json.loads(path.read_text())
        if rec.get("version") == METRICS_VERSION:
            return rec["metrics"]
    values = measure(image(), pair, size)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, {"version": METRICS_VERSION, "metrics": values})
    return values


def run_and_measure(task: tuple[Path, str, Pair, EvalOptions]) -> dict:
    """One engine task: run method ``name`` on ``pair`` in evaluation folder ``out`` (unless done) and
    measure it. Returns its row, or ``{"unavailable": reason}`` when the method cannot run here."""
    out, name, pair, opts = task
    folder = EvalDir(out)
    try:
        rec = run_method(folder, methods.get(name), pair, opts)
    except methods.MethodUnavailable as exc:
        return {"unavailable": str(exc)}
    out_path = folder.result(name, pair)
    values = cached_measure(folder, name, pair, lambda: load_image(out_path), opts.size)
    return {"method": name, "pair": pair.id, "seconds": rec["seconds"], **values}


@dataclass
class Evaluation:
    """Everything a report needs."""

    pairs: list[Pair]
    rows: list[dict]                       # one per (column, pair): metrics, seconds, prediction
    columns: list[str]                     # available methods (+ the reference)
    unavailable: dict[str, str]            # method -> reason
    failures: dict[str, int]               # method -> pairs that failed
    classifier_info: dict = field(default_factory=dict)
    options: EvalOptions | None = None


def evaluate(data: Path, out: Path, opts: EvalOptions, progress: Callable[[str], None] | None = None,
             log: Callable[[str], None] = lambda s: None, engine: Engine | None = None) -> Evaluation:
    """Run (or resume) a comparison and return its records; see the module doc for the layout.

    ``engine`` runs the (method, pair) tasks (default: one after another in this process; a
    :class:`atelier.base.engine.RayEngine` spreads them, and is closed at the end)."""
    opts.validate()
    folder = EvalDir(out)
    pairs = folder.prepare(data, opts)
    step = progress or (lambda s: None)
    for pair in pairs:
        for role, src in (("content", pair.content), ("style", pair.style)):
            if not folder.thumb(pair, role).is_file():
                img = load_image(src)
                img.thumbnail((256, 256), Image.LANCZOS)
                save_image(img, folder.thumb(pair, role))

    unavailable: dict[str, str] = {}
    runnable: list[methods.Method] = []
    for name in dict.fromkeys(opts.methods):
        reason = methods.unavailable(name)
        if reason is None:
            runnable.append(methods.get(name))
        else:
            unavailable[name] = reason

    rows: list[dict] = []
    failures: dict[str, int] = {}
    for pair in pairs:
        ref = cached_measure(folder, REFERENCE, pair, lambda pair=pair: _input(pair.content, opts.size), opts.size)
        rows.append({"method": REFERENCE, "pair": pair.id, "seconds": math.nan, **ref})
    tasks = [(out, method.name, pair, opts) for method in runnable for pair in pairs]
    found: dict[int, dict] = {}
    with engine or LocalEngine(retries=0) as runner:
        for done in runner.map(run_and_measure, tasks):  # one failing pair must not end a long comparison
            _, name, pair, _ = done.item
            step(f"{name} {pair.id}")
            if not done.ok:
                failures[name] = failures.get(name, 0) + 1
                log(f"{name} failed on {pair.id}: {done.error}")
            elif "unavailable" in done.value:
                unavailable[name] = done.value["unavailable"]
            else:
                found[done.index] = done.value
    rows += [found[i] for i in sorted(found)]  # in task order, however the engine finished them
    columns = [REFERENCE] + [m.name for m in runnable if m.name not in unavailable]
    rows = [r for r in rows if r["method"] in columns]

    info: dict = {}
    if opts.deception:
        info = add_deception(folder, data, pairs, rows, opts, step)
    return Evaluation(pairs, rows, columns, unavailable, failures, info, opts)


def add_deception(folder: EvalDir, data: Path, pairs: Sequence[Pair], rows: list[dict], opts: EvalOptions,
                  step: Callable[[str], None]) -> dict:
    """Predict the artist of every row's image; set ``predicted`` and ``deceived``; return classifier info."""
    step("artist classifier")
    clf = classifier.train_from_manifest(data, held_out=[p.style for p in pairs], min_works=opts.min_works)
    by_id = {p.id: p for p in pairs}
    originals = classifier.predict_artist(clf, [p.style for p in pairs])
    held_acc = float(np.mean([pred == p.artist for pred, p in zip(originals, pairs, strict=True)]))
    for row in rows:
        pair = by_id[row["pair"]]
        image = _input(pair.content, opts.size) if row["method"] == REFERENCE else folder.result(row["method"], pair)
        row["predicted"] = classifier.predict_artist(clf, [image])[0]
        row["deceived"] = float(row["predicted"] == pair.artist)
    return {**clf.info, "held_out_accuracy": held_acc, "held_out_n": len(pairs)}
