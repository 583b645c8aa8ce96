"""Oversmoothing study: plain vs augmented stylization on ../shared/data pairs.

    python benchmarks/augment_study.py [--data ../shared/data] [--pairs 4] [--size 256] [--out DIR]

Picks a seeded set of (content photo, artwork) pairs, the artworks among those with at least
``--neighbours`` library neighbours within the default threshold (otherwise augmentation
changes nothing), and stylizes every pair with each configuration below (default
StyleOptions at ``--size``). For each result it measures, with :mod:`atelier.evaluation.metrics`:

* style distance to the *query* style (relative Gram error, relu1_1..relu5_1): does
  augmentation pull the result away from what the user asked for?
* gradient magnitude (mean Sobel): does averaging Grams oversmooth?
* content distance (relu4_2) to the photo.

The library is ``--library``, by default ``~/.cache/atelier/shared-styles.sqlite``, built
(incrementally) from DATA/styles with DATA/MANIFEST.csv. Results are cached in ``--out``
(PNG per pair and configuration), so an interrupted run resumes. Prints a table of means and
of the ratio augmented / plain per configuration.
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch
from PIL import Image

import atelier
from atelier.evaluation.metrics import content_distance, gradient_magnitude, style_distance
from atelier.io.images import save_image
from atelier.library.augment import AugmentOptions, stylize_augmented
from atelier.library.store import StyleLibrary, file_sha256, scan, sync_folder

BASE = AugmentOptions()
CONFIGS = {  # name -> AugmentOptions (None: plain stylization)
    "plain": None,
    "naive k3 equal": replace(BASE, neighbours=3, query_weight=0.25, recolor=False),
    "k3 equal recolor": replace(BASE, neighbours=3, query_weight=0.25, recolor=True),
    "k3 q0.5 no-recolor": replace(BASE, neighbours=3, query_weight=0.5, recolor=False),
    "k3 q0.5 recolor": replace(BASE, neighbours=3, query_weight=0.5, recolor=True),
    "k3 q0.6 recolor": replace(BASE, neighbours=3, query_weight=0.6, recolor=True),
    "k3 q0.7 recolor": replace(BASE, neighbours=3, query_weight=0.7, recolor=True),
    "k3 q0.85 recolor": replace(BASE, neighbours=3, query_weight=0.85, recolor=True),
    "k1 q0.7 recolor": replace(BASE, neighbours=1, query_weight=0.7, recolor=True),
}


def shared_library(data: Path, path: Path) -> Path:
    """Build or refresh the library of DATA/styles at ``path`` (only new files are embedded)."""
    r = sync_folder(path, data / "styles", data / "MANIFEST.csv")
    if r.embedded:
        print(f"library: embedded {len(r.embedded)} artworks into {path}")
    return path


def pick_pairs(data: Path, lib_path: Path, n: int, k: int, seed: int) -> list[tuple[Path, Path, int]]:
    """``n`` seeded (content, style, neighbours within threshold) pairs with >= k neighbours."""
    rng = random.Random(seed)
    contents = scan([data / "content"])
    styles = scan([data / "styles"])
    rng.shuffle(styles)
    chosen = []
    with StyleLibrary.open(lib_path) as lib:
        for style in styles:
            hits = lib.search(lib.describe(style), k + 4, threshold=BASE.threshold,
                              exclude_sha256=file_sha256(style))
            hits = [h for h in hits if h.distance >= BASE.min_distance]
            if len(hits) >= k:
                chosen.append((rng.choice(contents), style, len(hits)))
            if len(chosen) == n:
                break
    return chosen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data", type=Path)
    ap.add_argument("--library", default=Path.home() / ".cache" / "atelier" / "shared-styles.sqlite", type=Path)
    ap.add_argument("--pairs", default=4, type=int)
    ap.add_argument("--size", default=256, type=int)
    ap.add_argument("--seed", default=0, type=int)
    ap.add_argument("--threads", default=1, type=int)
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated subset of: " + ", ".join(CONFIGS))
    ap.add_argument("--out", default=Path("/tmp/atelier-augment-study"), type=Path)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    lib = shared_library(args.data.resolve(), args.library)
    pairs = pick_pairs(args.data.resolve(), lib, args.pairs, 3, args.seed)
    opts = atelier.StyleOptions(size=args.size, seed=args.seed)
    names = [c.strip() for c in args.configs.split(",")]
    rows = []
    for p, (content, style, n_within) in enumerate(pairs):
        for name in names:
            aug = CONFIGS[name]
            out = args.out / f"pair{p}_{name.replace(' ', '_')}.png"
            seconds = 0.0
            if out.is_file():
                img = Image.open(out).convert("RGB")
            else:
                start = time.perf_counter()
                if aug is None:
                    img = atelier.stylize(content, str(style), opts)
                else:
                    img = stylize_augmented(content, str(style), lib, aug, opts)
                seconds = time.perf_counter() - start
                save_image(img, out)
            row = {"pair": p, "content": content.name, "style": style.name, "within": n_within, "config": name,
                   "style_dist": style_distance(img, style, size=args.size),
                   "gradient": gradient_magnitude(img),
                   "content_dist": content_distance(img, content, size=args.size), "seconds": seconds}
            rows.append(row)
            print(f"pair {p} {name:<20} style {row['style_dist']:.4f} grad {row['gradient']:6.2f} "
                  f"content {row['content_dist']:.3f} ({seconds:.0f} s)  {content.name} x {style.name}", flush=True)
    with open(args.out / "results.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    plain = {r["pair"]: r for r in rows if r["config"] == "plain"}
    print(f"\n{len(pairs)} pairs at {args.size} px; ratios are augmented / plain per pair, then averaged")
    print(f"{'config':<20} {'style dist':>10} {'ratio':>6} {'gradient':>9} {'ratio':>6} {'content':>8} {'ratio':>6}")
    for name in names:
        rs = [r for r in rows if r["config"] == name]
        line = f"{name:<20}"
        for key in ("style_dist", "gradient", "content_dist"):
            mean = statistics.mean(r[key] for r in rs)
            ratio = statistics.mean(r[key] / plain[r["pair"]][key] for r in rs) if plain else float("nan")
            line += f" {mean:>{10 if key == 'style_dist' else 9 if key == 'gradient' else 8}.4f} {ratio:>6.2f}"
        print(line)


if __name__ == "__main__":
    main()
