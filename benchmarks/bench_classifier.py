"""Held-out accuracy of the artist classifier on the shared artworks, against the old one.

    OMP_NUM_THREADS=1 python benchmarks/bench_classifier.py [--data ../shared/data] [--min-works 5,10]
                                                            [--folds 5] [--json out.json]

For each setting (artists with at least ``--min-works`` works): the works' crop features
(:func:`atelier.evaluation.classifier.cached_descriptors`, cached under the atelier cache, so
only the first run pays the VGG passes: about 1.5 s a work on 2 cores), then grouped
stratified k-fold predictions of every work (no crop of a test work in training), for

* ``classifier`` - the shipped model, with ``C`` chosen *inside* each training fold by its
  own grouped cross-validation (:func:`~atelier.evaluation.classifier.fit_selected`): nested,
  so the accuracy is honest;
* ``whole image`` / ``mean+std only`` - the same model on one crop (the whole map) at train
  and test time / without the covariance features (``C`` fixed at the value chosen most often
  above): what the crops and the covariances add;
* ``old (ridge)`` - the previous classifier: mean+std of the whole image, StandardScaler +
  RidgeClassifier(alpha=1000).

Top-1 accuracy with its 95 % Wilson interval; chance is 1/K (a uniform guess) and the
majority class's share. Prints a markdown table (docs/evaluation.md, "Classifier").
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from atelier.evaluation import classifier as clf_mod
from atelier.evaluation.stats import wilson_ci

MEANSTD = 2 * 1472  # the mean+std part of a crop row (the old descriptor)


def fit_old(works: list[np.ndarray], labels: list[str]) -> clf_mod.ArtistClassifier:
    """The previous classifier: StandardScaler + RidgeClassifier(alpha=1000) on one row per work."""
    from sklearn.linear_model import RidgeClassifier
    from sklearn.preprocessing import StandardScaler

    X, y, _ = clf_mod.crop_rows(works, labels)
    scaler = StandardScaler().fit(X)
    model = RidgeClassifier(alpha=1000.0).fit(scaler.transform(X), y)
    return clf_mod.ArtistClassifier(model.classes_, scaler.mean_, scaler.scale_, np.atleast_2d(model.coef_),
                                    np.atleast_1d(model.intercept_))


def evaluate_setting(all_works: list[clf_mod.Artwork], m: int, folds: int, seed: int,
                     ablations: bool = True) -> list[dict]:
    """Out-of-fold accuracy of each model on the artists with >= ``m`` works; prints table rows."""
    keep = clf_mod.eligible_artists(all_works, m)
    works = [w for w in all_works if w.artist in keep]
    t0 = time.time()
    feats = clf_mod.cached_descriptors(works)
    labels = [w.artist for w in works]
    y = np.array(labels)
    chosen: list[float] = []

    def nested(train: list[np.ndarray], lab: list[str]) -> clf_mod.ArtistClassifier:
        c = clf_mod.fit_selected(train, lab)
        chosen.append(float(c.info["C"]))
        return c

    def cv(views: list[np.ndarray], fit_fn: clf_mod.FitFn) -> np.ndarray:
        return clf_mod.cross_val_predict(views, labels, fit_fn, folds, seed)

    k = len(keep)
    majority = Counter(labels).most_common(1)[0][1] / len(labels)
    results = []

    def report(name: str, p: np.ndarray) -> None:
        hits = int((p == y).sum())
        lo, hi = wilson_ci(hits, len(y))
        results.append({"min_works": m, "artists": k, "works": len(y), "model": name, "hits": hits,
                        "accuracy": hits / len(y), "ci": [lo, hi], "chance": 1 / k, "majority": majority,
                        "C_chosen": list(chosen) if name.startswith("classifier") else None})
        print(f"| {k} (>= {m}) | {len(y)} | {name} | {hits}/{len(y)} = {hits / len(y):.1%} "
              f"| {lo:.1%} - {hi:.1%} | {1 / k:.1%} | {majority:.1%} |", flush=True)

    report("old: mean+std, ridge (alpha=1000)", cv([f[:1, :MEANSTD] for f in feats], fit_old))
    report("classifier (10 crops, C by nested grouped CV)", cv(feats, nested))
    c_mode = Counter(chosen).most_common(1)[0][0]

    def fixed(w: list[np.ndarray], a: list[str]) -> clf_mod.ArtistClassifier:
        return clf_mod.fit(w, a, c_mode)

    if ablations:
        report(f"whole image only (C={c_mode:g})", cv([f[:1] for f in feats], fixed))
        report(f"mean+std only, 10 crops (C={c_mode:g})", cv([f[:, :MEANSTD] for f in feats], fixed))
    print(f"<!-- >= {m}: {time.time() - t0:.0f} s, C chosen per outer fold: {chosen} -->", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--min-works", default="10,5")
    ap.add_argument("--no-ablations", dest="ablations", action="store_false")
    ap.add_argument("--folds", type=int, default=clf_mod.FOLDS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    all_works = clf_mod.read_manifest(args.data)
    results = []
    print("| artists (>= works) | works | model | top-1 accuracy | 95% CI | chance 1/K | majority |")
    print("|---|---:|---|---:|---|---:|---:|")
    for m in [int(v) for v in args.min_works.split(",")]:
        results += evaluate_setting(all_works, m, args.folds, args.seed, args.ablations)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
