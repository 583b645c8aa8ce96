"""Calibrate the paper configuration's distance threshold and say what the neighbours are.

    python benchmarks/bench_neighbours.py [--data ../shared/data] [--library PATH] [--coverage 0.9] [-k 3]
                                          [--json out.json]

1. Builds (or brings up to date) a style library over DATA/styles with DATA/MANIFEST.csv as
   metadata, at ``--library`` (default: ``<atelier cache>/bench/styles.sqlite``, never in the
   project; incremental, so a re-run only reads the vectors).
2. For every artwork, the Euclidean descriptor distance to its nearest other artwork (the
   stored descriptors are exactly what a query of that file computes; copies of the work,
   closer than ``AugmentOptions().min_distance`` or with the same sha256, are skipped as
   :func:`atelier.library.augment.find_candidates` does): the distribution, and the smallest
   threshold (rounded up to 2 significant digits) within which ``--coverage`` of the works find
   a neighbour.
3. With that threshold and ``k`` neighbours each: how many works find 0..k neighbours, and the
   share of neighbours by the same artist and in the same movement (MANIFEST columns), beside
   chance (the share of all other works, for the same queries).

Prints markdown tables (docs/library.md, "The paper configuration").
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from atelier.base.cache import cache_dir
from atelier.library.augment import PAPER_THRESHOLD, AugmentOptions
from atelier.library.store import StyleLibrary, sync_folder

QUANTILES = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)


def round_up(x: float, digits: int = 2) -> float:
    """``x`` rounded up to ``digits`` significant digits (3412 -> 3500)."""
    step = 10 ** (math.floor(math.log10(x)) - digits + 1)
    return math.ceil(x / step) * step


def distances(vecs: np.ndarray, sha: list[str], min_distance: float) -> np.ndarray:
    """n x n Euclidean distances, inf on the diagonal and between copies of one work."""
    x = vecs.astype(np.float64)
    sq = (x * x).sum(1)
    d = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0.0))
    same = np.array(sha)[:, None] == np.array(sha)[None, :]
    d[same | (d < min_distance)] = np.inf
    return d


def agreement(d: np.ndarray, labels: list[str], threshold: float, k: int) -> dict:
    """Share of the (<= k, within threshold) neighbours with the query's label, and chance:
    the share among all other (non-copy) works, averaged over the same neighbour slots.
    Works with an empty label are left out as queries and as neighbours."""
    lab = np.array(labels)
    known = lab != ""
    same, chance, slots = 0, 0.0, 0
    for i in np.flatnonzero(known):
        others = np.isfinite(d[i]) & known
        order = np.argsort(d[i])
        hits = [j for j in order[:k] if np.isfinite(d[i, j]) and d[i, j] <= threshold and known[j]]
        same += sum(lab[j] == lab[i] for j in hits)
        chance += len(hits) * float((lab[others] == lab[i]).mean()) if others.any() else 0.0
        slots += len(hits)
    return {"neighbours": slots, "same": same / slots if slots else math.nan,
            "chance": chance / slots if slots else math.nan}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--library", type=Path, default=None)
    ap.add_argument("--coverage", type=float, default=0.9)
    ap.add_argument("-k", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    library = args.library or cache_dir() / "bench" / "styles.sqlite"
    report = sync_folder(library, args.data / "styles", args.data / "MANIFEST.csv")
    print(f"library {library}: {len(report.embedded)} embedded, {report.unchanged} unchanged, "
          f"{len(report.skipped)} skipped", file=sys.stderr)
    with StyleLibrary.open(library) as lib:
        by_id = {e.id: e for e in lib.entries()}
        ids, vecs = lib.vectors()
    entries = [by_id[int(i)] for i in ids]
    d = distances(vecs, [e.sha256 for e in entries], AugmentOptions().min_distance)
    nearest = d.min(1)
    nearest = nearest[np.isfinite(nearest)]
    chosen = round_up(float(np.quantile(nearest, args.coverage)))
    quantiles = np.quantile(nearest, QUANTILES).tolist()
    out = {"n": len(entries), "nearest_quantiles": dict(zip(map(str, QUANTILES), quantiles, strict=True)),
           "nearest_min": float(nearest.min()), "nearest_max": float(nearest.max()), "threshold": chosen,
           "paper_threshold": PAPER_THRESHOLD, "thresholds": {}}
    print(f"\n{len(entries)} artworks; nearest-neighbour distance (copies skipped):\n")
    print("| min | " + " | ".join(f"q{q:g}" for q in QUANTILES) + " | max |")
    print("|---:|" + "---:|" * (len(QUANTILES) + 1))
    print(f"| {nearest.min():.0f} | " + " | ".join(f"{v:.0f}" for v in np.quantile(nearest, QUANTILES))
          + f" | {nearest.max():.0f} |")
    print(f"\nsmallest threshold (2 significant digits) covering {args.coverage:.0%}: {chosen:g}\n")
    print(f"| threshold | works with >= 1 neighbour | 0 / 1 / 2 / {args.k} neighbours | same artist (chance) "
          "| same movement (chance) |")
    print("|---:|---:|---|---:|---:|")
    for name, t in [("atelier default", AugmentOptions().threshold), ("calibrated", chosen),
                    ("paper config", PAPER_THRESHOLD), ("none", math.inf)]:
        counts = np.minimum((np.isfinite(d) & (d <= t)).sum(1), args.k)
        dist = [int((counts == c).sum()) for c in range(args.k + 1)]
        artist = agreement(d, [e.artist for e in entries], t, args.k)
        movement = agreement(d, [e.movement for e in entries], t, args.k)
        out["thresholds"][name] = {"threshold": t, "covered": float((counts > 0).mean()), "counts": dist,
                                   "artist": artist, "movement": movement}
        print(f"| {t:g} ({name}) | {(counts > 0).mean():.1%} | {' / '.join(map(str, dist))} "
              f"| {artist['same']:.1%} ({artist['chance']:.1%}) | {movement['same']:.1%} ({movement['chance']:.1%}) |")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
