"""Benchmark the feed-forward methods: seconds per image, and quality next to Gatys.

    python benchmarks/bench_feedforward.py [--size 512] [--repeats 3] [--models DIR]
                                           [--pairs 3 --quality-size 384 --gatys] [--data ../shared/data]
                                           [--grid docs/feedforward_grid.png]

Timing: each method stylizes one content image at ``--size`` long side (style image at the
same size), after one warm-up run, in fp32 and under bf16 autocast; the median of
``--repeats`` runs is printed, once for a *new* style (the style is encoded too) and once for
the *same* style again (its features come from ``transfer.style_features``' cache, the case of
a batch, a video or the web page's preview). Weights come from ``--models DIR`` (``METHOD.safetensors``) or
the models shipped in the package; a method with neither is timed with untrained weights
(speed does not depend on training) and marked so.

Quality (``--pairs N`` > 0): N seeded content/style pairs from ``--data``; every method (and
Gatys with ``--gatys``) is scored with ``atelier.metrics``: style distance = mean relative
Gram error over relu1_1..relu5_1 to the style image, content distance = relative relu4_2
error to the content image. ``--grid`` writes a labelled image grid (rows: pairs).
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import time
from pathlib import Path

import torch

from atelier import api, metrics, samples
from atelier.feedforward import registry
from atelier.feedforward.transfer import FeedForwardOptions, clear_style_cache, stylize_tensor, transfer
from atelier.grid import make_grid
from atelier.images import load_image, resize_long_side, save_image, to_tensor
from atelier.vgg import load_vgg

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def model_for(method: str, models: Path | None) -> tuple[torch.nn.Module, str, str | None]:
    """(model, label, path) from DIR, the package, or untrained weights."""
    for path in ([models / f"{method}.safetensors"] if models else []) + [registry.shipped_path(method)]:
        if path.is_file():
            card = registry.read_card(path)
            return registry.load(method, path), f"trained {card.get('steps', '?')} steps", str(path)
    return registry.build(method).eval().requires_grad_(False), "untrained (timing only)", None


def time_method(model, content, style, precision: str, repeats: int, same_style: bool) -> float:
    vgg = load_vgg().to(memory_format=torch.channels_last)
    model = model.to(memory_format=torch.channels_last)
    opts = FeedForwardOptions(precision=precision)
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
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--models", type=Path, default=None)
    ap.add_argument("--methods", default=",".join(registry.METHODS))
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
    print(f"{'method':8} {'weights':26} {'fp32 new style':>15} {'bf16 new style':>15} {'bf16 same style':>16}  (s/img)")
    paths = {}
    for m in methods:
        model, label, paths[m] = model_for(m, args.models)
        fp32 = time_method(model, content, style, "fp32", args.repeats, same_style=False)
        bf16 = time_method(model, content, style, "bf16", args.repeats, same_style=False)
        again = time_method(model, content, style, "bf16", args.repeats, same_style=True)
        print(f"{m:8} {label:26} {fp32:15.3f} {bf16:15.3f} {again:16.3f}")

    if args.pairs <= 0:
        return
    rnd = random.Random(args.seed)
    contents = sorted((args.data / "content").iterdir())
    styles = sorted((args.data / "styles").iterdir())
    pairs = [(rnd.choice(contents), rnd.choice(styles)) for _ in range(args.pairs)]
    names = methods + (["gatys"] if args.gatys else [])
    scores: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    cells, labels = [], []
    for c_path, s_path in pairs:
        c_img = resize_long_side(load_image(c_path), args.quality_size)
        s_img = load_image(s_path)
        cells += [c_img, s_img]
        labels += [c_path.stem, s_path.stem]
        for n in names:
            if n == "gatys":
                out = api.stylize(c_img, s_img, size=args.quality_size)
            else:
                out = transfer(c_img, [] if n == "johnson" else [s_img], method=n, model=paths[n],
                               size=args.quality_size)
            scores[n].append((metrics.style_distance(out, s_img, size=args.quality_size),
                              metrics.content_distance(out, c_img, size=args.quality_size)))
            cells.append(out.convert("RGB"))
            labels.append(n)
    print(f"\n# quality on {args.pairs} pairs at {args.quality_size} px (lower is closer; johnson's style is fixed)")
    print(f"{'method':8} {'style dist':>11} {'content dist':>13}")
    for n in names:
        s = statistics.mean(v[0] for v in scores[n])
        c = statistics.mean(v[1] for v in scores[n])
        print(f"{n:8} {s:11.3f} {c:13.3f}")
    if args.grid:
        save_image(make_grid(cells, labels, cols=2 + len(names), cell=200), args.grid)
        print(f"wrote {args.grid}")


if __name__ == "__main__":
    main()
