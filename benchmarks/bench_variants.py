"""How different are augmented variants from each other, against seed-only variation of Gatys?

    OMP_NUM_THREADS=1 python benchmarks/bench_variants.py [--data ../shared/data] [--library PATH] [--pairs 4]
                                                          [--size 256] [-n 3] [--grid docs/variants_grid.jpg]

For ``--pairs`` seeded (content, style) pairs from DATA/content and DATA/styles whose style has
at least ``n`` library neighbours within the paper threshold:

* ``variants``: :func:`atelier.library.augment.stylize_variants` with ``--augment-config paper``
  (K = 3, equal Gram weights, each variant another seeded subset of the ``--pool`` nearest
  candidates), the default StyleOptions at ``--size`` (``--iterations`` and ``--coarse-factor``
  lower the cost on a loaded machine);
* ``gatys seeds``: plain Gatys of the same pair and options, seeds 0 .. ``--seeds``-1 (its
  default ``init=content``; ``--init noise`` starts from seeded noise instead, which needs far
  more iterations than a variant to converge: at 4 iterations it stays noise, style distance ~6).

The spread of each set is the mean pairwise VGG feature distance
``||F_a - F_b|| / ((||F_a|| + ||F_b||) / 2)`` of relu3_1 and relu4_1 (bundled VGG19, outputs at
their own size), averaged over the two layers and all pairs of the set; beside it the mean style
distance of the set's images to the query style (:func:`atelier.evaluation.metrics.style_distance`
at ``--size``), and the mean distance of the variants to the plain result (seed 0), for scale.
``--grid`` writes the first pair's grid (content, style, variants, seeds) as JPEG.
The library is the one of ``bench_neighbours.py`` (built if missing). Images go to ``--out``
(default: the atelier cache), never the project.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import atelier
from atelier.base.cache import cache_dir
from atelier.core.options import StyleOptions
from atelier.evaluation.metrics import style_distance, vgg_features
from atelier.io.grid import make_grid
from atelier.io.images import load_image, save_image, to_tensor
from atelier.library.augment import AugmentOptions, find_candidates, stylize_variants
from atelier.library.store import StyleLibrary, scan, sync_folder

LAYERS = ("relu3_1", "relu4_1")


def feature_distance(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """Mean over ``LAYERS`` of ``||F_a - F_b|| / ((||F_a|| + ||F_b||) / 2)`` (same-size maps)."""
    return float(np.mean([float((a[n] - b[n]).norm() / ((a[n].norm() + b[n].norm()) / 2)) for n in LAYERS]))


def spread(images: list[Image.Image]) -> float:
    """Mean pairwise :func:`feature_distance` of ``images`` (all the same size)."""
    feats = [vgg_features(to_tensor(im.convert("RGB")), LAYERS) for im in images]
    return float(np.mean([feature_distance(a, b) for a, b in itertools.combinations(feats, 2)]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--library", type=Path, default=None)
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("-n", type=int, default=3, help="variants per pair")
    ap.add_argument("--seeds", type=int, default=2, help="plain Gatys seeds per pair")
    ap.add_argument("--init", default="content", help="init of the plain Gatys runs: content | noise")
    ap.add_argument("--pool", type=int, default=6)
    ap.add_argument("--iterations", type=int, default=StyleOptions().iterations)
    ap.add_argument("--coarse-factor", type=float, default=StyleOptions().coarse_factor)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--grid", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    library = args.library or cache_dir() / "bench" / "styles.sqlite"
    if not library.is_file():
        sync_folder(library, args.data / "styles", args.data / "MANIFEST.csv")
    out = args.out or cache_dir() / "bench" / "variants"
    out.mkdir(parents=True, exist_ok=True)
    aug = AugmentOptions(augment_config="paper", pool=args.pool, library=str(library))
    opts = StyleOptions(size=args.size, seed=args.seed, iterations=args.iterations, coarse_factor=args.coarse_factor)
    rng = random.Random(args.seed)
    contents, styles = scan([args.data / "content"]), scan([args.data / "styles"])
    rng.shuffle(styles)
    rows, grid_cells, grid_labels = [], [], []
    with StyleLibrary.open(library) as lib:
        paper = aug.resolved()
        eligible = (s for s in styles if len(find_candidates(s, lib, paper, args.pool).hits) >= args.n)
        pairs = [(rng.choice(contents), s) for s in itertools.islice(eligible, args.pairs)]
        print("| pair | variants: spread | gatys seeds: spread | variants to plain | variants: style dist. "
              "| gatys: style dist. |")
        print("|---|---:|---:|---:|---:|---:|")
        for i, (content, style) in enumerate(pairs):
            t0 = time.time()
            variants, cands = stylize_variants(content, style, lib, aug, args.n, opts)
            seeds = [atelier.stylize(content, str(style), opts, init=args.init, seed=s) for s in range(args.seeds)]
            for j, im in enumerate(variants + seeds):
                name = f"variant{j}" if j < args.n else f"seed{j - args.n}"
                save_image(im, out / f"pair{i}_{name}.png")
            row = {"content": content.name, "style": style.name,
                   "neighbours": [[h.entry.label for h in (cands.hits[k] for k in [c - 1 for c in
                                  im.info["atelier"]["augment"]["variant"]["candidates"]])] for im in variants],
                   "variants_spread": spread(variants), "seeds_spread": spread(seeds),
                   "variants_style": float(np.mean([style_distance(im, style, size=args.size) for im in variants])),
                   "seeds_style": float(np.mean([style_distance(im, style, size=args.size) for im in seeds])),
                   "variants_to_plain": float(np.mean([spread([v, seeds[0]]) for v in variants])),
                   "seconds": time.time() - t0}
            rows.append(row)
            print(f"| {content.stem} x {style.stem} | {row['variants_spread']:.3f} | {row['seeds_spread']:.3f} "
                  f"| {row['variants_to_plain']:.3f} "
                  f"| {row['variants_style']:.3f} | {row['seeds_style']:.3f} |", flush=True)
            if i == 0:
                grid_cells = [load_image(content), load_image(style)] + variants + seeds
                grid_labels = ["content", "style"] + [
                    "v{}: {}".format(j + 1, " + ".join(lab.split(" - ")[0] for lab in row["neighbours"][j]))
                    for j in range(args.n)] + [f"gatys seed {s}" for s in range(args.seeds)]
    v, s = np.mean([r["variants_spread"] for r in rows]), np.mean([r["seeds_spread"] for r in rows])
    print(f"| **mean** | **{v:.3f}** | **{s:.3f}** | {np.mean([r['variants_to_plain'] for r in rows]):.3f} "
          f"| {np.mean([r['variants_style'] for r in rows]):.3f} "
          f"| {np.mean([r['seeds_style'] for r in rows]):.3f} |")
    if args.grid and grid_cells:
        blank = Image.new("RGB", (8, 8), "white")
        cells = grid_cells[:2 + args.n] + [blank, blank] + grid_cells[2 + args.n:]
        labels = grid_labels[:2 + args.n] + ["", ""] + grid_labels[2 + args.n:]
        grid = make_grid(cells, labels, cols=2 + args.n, cell=150)
        tmp = args.grid.with_name(args.grid.name + ".part")
        grid.save(tmp, "JPEG", quality=85)
        tmp.replace(args.grid)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
