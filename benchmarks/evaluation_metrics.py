"""Benchmark (run by hand): the artist classifier's accuracy and the metrics' cost.

    python benchmarks/evaluation_metrics.py [--data ../shared/data] [--folds 4]

Prints the k-fold accuracy of the artist classifier on the artists of DATA with >= 4 works
(descriptors cached under ~/.cache/atelier, so a second run is fast), the time to compute
one descriptor, and the time of each metric on one 512 px image.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from atelier.evaluation import classifier, metrics
from atelier.io import samples
from atelier.io.images import resize_long_side


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--min-works", type=int, default=4)
    args = ap.parse_args()

    works = classifier.read_manifest(Path(args.data))
    artists = classifier.eligible_artists(works, args.min_works)
    train = [w for w in works if w.artist in artists]
    t = time.perf_counter()
    X = classifier.cached_descriptors(train)
    desc_s = time.perf_counter() - t
    y = np.array([w.artist for w in train])
    t = time.perf_counter()
    acc = classifier.cross_val_accuracy(X, y, folds=args.folds)
    cv_s = time.perf_counter() - t
    print(f"| artists | works | {args.folds}-fold accuracy | chance | descriptors (s, cached or not) | CV fits (s) |")
    print("|---|---|---|---|---|---|")
    print(f"| {len(artists)} | {len(train)} | {acc:.1%} | {1 / len(artists):.1%} | {desc_s:.1f} | {cv_s:.1f} |")

    img = resize_long_side(samples.content("astronaut"), 512)
    style = samples.style("swirl", 512)
    rows = [("descriptor (256 px)", lambda: classifier.descriptor(img)),
            ("style_distance (512 px)", lambda: metrics.style_distance(img, style)),
            ("content_distance (512 px)", lambda: metrics.content_distance(style, img)),
            ("ssim_to_content", lambda: metrics.ssim_to_content(style, img)),
            ("gradient_magnitude", lambda: metrics.gradient_magnitude(img)),
            ("fft_quantile", lambda: metrics.fft_quantile(img))]
    rows[1][1]()  # load the VGG once
    print("\n| metric | seconds (best of 3) |\n|---|---|")
    for name, fn in rows:
        best = min(_timed(fn) for _ in range(3))
        print(f"| {name} | {best:.3f} |")


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
