"""The artist classifier, the comparison runner and its report, on a tiny synthetic data folder."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from atelier.cli import main
from atelier.evaluation import classifier, methods
from atelier.evaluation.report import markdown_paired, markdown_table, paired
from atelier.evaluation.runner import EvalOptions, Evaluation, Pair, evaluate, select_pairs
from atelier.evaluation.stats import bootstrap_ci, paired_test, wilson_ci
from atelier.io.images import resize_long_side, save_image
from atelier.io.samples import content as sample_content

from _textures import FAMILIES as TEXTURES
from _textures import texture as procedural_texture


def texture(family: str, seed: int, size: int = 64) -> Image.Image:
    """Clearly different synthetic 'artists': red stripes, blue checks, green blobs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.indices((size, size)).astype(np.float64)
    if family == "stripes":
        period = rng.uniform(5, 8)
        v = (np.sin(2 * np.pi * (yy + rng.uniform(0, 8)) / period) > 0).astype(float)
        rgb = np.stack([150 + 100 * v, 30 * v, 30 * v], -1)
    elif family == "checks":
        cell = int(rng.integers(6, 10))
        v = ((yy // cell + xx // cell) % 2).astype(float)
        rgb = np.stack([20 * v, 40 + 60 * v, 120 + 120 * v], -1)
    else:
        small = rng.random((6, 6))
        v = np.asarray(Image.fromarray((small * 255).astype(np.uint8)).resize((size, size), Image.BICUBIC)) / 255
        rgb = np.stack([40 * v, 90 + 140 * v, 40 + 30 * v], -1)
    rgb += rng.normal(0, 6, rgb.shape)
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))


FAMILIES = {"stripes": "Ann Stripe", "checks": "Bob Check", "blobs": "Cy Blob"}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A data folder shaped like ../shared/data: 2 photos, 3 artists x 4 works, MANIFEST.csv."""
    root = tmp_path_factory.mktemp("data")
    (root / "content").mkdir()
    (root / "styles").mkdir()
    rows = []
    for name in ("astronaut", "coffee"):
        path = root / "content" / f"{name}.png"
        save_image(resize_long_side(sample_content(name), 64), path)
        rows.append({"file": f"content/{name}.png", "artist": "", "kind": "content"})
    for family, artist in FAMILIES.items():
        for i in range(4):
            path = root / "styles" / f"{family}_{i}.png"
            save_image(texture(family, i), path)
            rows.append({"file": f"styles/{family}_{i}.png", "artist": artist, "kind": "style"})
    with open(root / "MANIFEST.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["file", "sha256", "artist", "kind"])
        w.writeheader()
        for r in rows:
            w.writerow({**r, "sha256": hashlib.sha256((root / r["file"]).read_bytes()).hexdigest()})
    return root


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    """A private cache folder, and descriptors at 64 px (the textures are 64 px) to keep tests fast."""
    monkeypatch.setenv("ATELIER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(classifier, "DESCRIPTOR_SIZE", 64)
    return tmp_path / "cache"


def test_classifier_separates_synthetic_styles():
    train = [(texture(f, s), a) for f, a in FAMILIES.items() for s in range(3)]
    test = [(texture(f, 100 + s), a) for f, a in FAMILIES.items() for s in range(2)]
    works = [classifier.descriptor(img) for img, _ in train]
    assert works[0].shape == (classifier.CROPS, 2 * 1472 + 4 * classifier.RANK * (classifier.RANK + 1) // 2)
    clf = classifier.fit(works, [a for _, a in train])
    assert classifier.predict_artist(clf, [img for img, _ in test]) == [a for _, a in test]


def test_classifier_two_classes_and_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    works = [rng.normal(m, 1, (3, 5)) for m in [0] * 6 + [3] * 6]  # 12 works of 3 crops
    y = ["a"] * 6 + ["b"] * 6
    clf = classifier.fit(works, y, c=1.0)
    assert clf.predict(works).tolist() == y
    p = clf.probabilities(works)
    assert p.shape == (12, 2) and np.allclose(p.sum(1), 1) and (p[:6, 0] > 0.5).all()
    clf.info = {"n_train": 12}
    clf.save(tmp_path / "clf.npz")
    back = classifier.ArtistClassifier.load(tmp_path / "clf.npz")
    assert back.predict(works).tolist() == y and back.info == {"n_train": "12"}
    with pytest.raises(classifier.UsageError, match="at least 2 artists"):
        classifier.fit(works, ["a"] * 12)


@pytest.fixture(scope="module")
def texture_works() -> tuple[list[np.ndarray], list[str]]:
    """Crop features of 3 procedural texture families ('artists') x 5 works at 64 px."""
    works, labels = [], []
    for i, family in enumerate(TEXTURES):
        for j in range(5):
            works.append(classifier.descriptor(procedural_texture(family, 1000 * i + j, size=96), 64))
            labels.append(family)
    return works, labels


def test_grouped_folds_never_split_a_work(texture_works):
    works, labels = texture_works
    _, y, groups = classifier.crop_rows(works, labels)
    assert len(y) == classifier.CROPS * len(works)
    folds = classifier.grouped_folds(y, groups, folds=5, seed=0)
    assert len(folds) == 5
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == list(range(len(y)))  # every crop is tested exactly once
    for train, test in folds:
        assert set(groups[train]).isdisjoint(groups[test])
        assert sorted(set(y[test].tolist())) == sorted(TEXTURES)  # stratified: every artist in every fold


def test_classifier_beats_chance_on_procedural_textures(texture_works):
    works, labels = texture_works
    chance = 1 / len(TEXTURES)
    acc = classifier.cross_val_accuracy(works, labels, c=0.01, folds=5)
    assert acc >= 0.8 > chance, acc
    c, accs = classifier.select_c(works, labels, grid=(0.001, 0.1), folds=3)
    assert set(accs) == {0.001, 0.1} and accs[c] == max(accs.values())


def test_train_from_manifest_holds_out_and_caches(data, cache):
    held = [data / "styles" / "stripes_0.png", data / "styles" / "checks_0.png"]
    clf = classifier.train_from_manifest(data, held_out=held)
    assert int(clf.info["n_train"]) == 10 and int(clf.info["n_artists"]) == 3
    assert classifier.predict_artist(clf, held) == ["Ann Stripe", "Bob Check"]
    assert len(list((cache / "classifier").glob("*.npz"))) == 1
    assert len(list((cache / "descriptors").rglob("*.npy"))) == 10
    again = classifier.train_from_manifest(data, held_out=held)  # from the cache
    np.testing.assert_array_equal(again.coef, clf.coef)


def test_pairs_are_seeded_and_hold_out_enough(data):
    works = classifier.read_manifest(data)
    contents = sorted((data / "content").iterdir())
    p1 = select_pairs(contents, works, 3, seed=1, min_works=4)
    assert p1 == select_pairs(contents, works, 3, seed=1, min_works=4)
    assert len({p.artist for p in p1}) == 3 and len({p.style for p in p1}) == 3
    assert select_pairs(contents, works, 3, seed=2, min_works=4) != p1
    with pytest.raises(classifier.UsageError, match="at most 3 pairs"):
        select_pairs(contents, works, 4, seed=1, min_works=4)


def test_bootstrap_and_wilson():
    m, lo, hi = bootstrap_ci([1.0, 2.0, 3.0, 4.0], seed=0)
    assert m == 2.5 and 1.0 <= lo < 2.5 < hi <= 4.0
    assert bootstrap_ci([5.0]) == (5.0, 5.0, 5.0)
    assert np.isnan(bootstrap_ci([])[0])
    lo, hi = wilson_ci(0, 10)
    assert lo == pytest.approx(0.0, abs=1e-12) and hi == pytest.approx(1.96 ** 2 / (10 + 1.96 ** 2), abs=1e-3)
    assert wilson_ci(5, 10)[0] == pytest.approx(1 - wilson_ci(5, 10)[1])


def test_paired_test_detects_a_shift_and_not_noise():
    rng = np.random.default_rng(0)
    b = rng.normal(100, 20, 60)                        # large spread between pairs ...
    a = b + 3 + rng.normal(0, 1, 60)                   # ... a small but consistent per-pair gain
    t = paired_test(a, b)
    assert t["test"] == "Wilcoxon signed-rank" and t["n"] == 60
    assert t["low"] < 3 < t["high"] and t["low"] > 0 and t["p"] < 1e-6
    assert paired_test(b + rng.normal(0, 1, 60), b)["p"] > 0.01  # noise alone is not significant
    assert paired_test(b, b)["p"] == 1.0 and paired_test(b, b)["diff"] == 0
    assert paired_test([1, np.nan, 5], [0, 0, 0])["n"] == 2  # a NaN drops its pair
    # 0/1 outcomes: exact McNemar on the 9 discordant pairs (8 wins, 1 loss) = binomial(8 of 9)
    t = paired_test([1] * 8 + [0] + [1] * 5 + [0] * 6, [0] * 8 + [1] + [1] * 5 + [0] * 6, binary=True)
    assert t["test"] == "exact McNemar" and t["p"] == pytest.approx(20 / 512)
    with pytest.raises(ValueError, match="differ in length"):
        paired_test([1, 2], [1])


def test_report_pairs_augmented_columns_with_gatys():
    pairs = [Pair(f"p{i}", "c.jpg", "s.jpg", "A") for i in range(12)]
    rows = []
    for i, p in enumerate(pairs):
        rows.append({"method": "gatys", "pair": p.id, "gradient": 50.0 + i, "deceived": 0.0})
        rows.append({"method": "augmented-x", "pair": p.id, "gradient": 52.0 + i, "deceived": float(i < 6)})
        rows.append({"method": "adain", "pair": p.id, "gradient": 10.0, "deceived": 1.0})
    ev = Evaluation(pairs, rows, ["photo", "gatys", "augmented-x", "adain"], {}, {}, {"n_artists": 1}, None)
    res = paired(ev)
    assert list(res) == ["augmented-x"]                   # only augmented configurations, against gatys
    assert res["augmented-x"]["gradient"]["diff"] == pytest.approx(2.0)
    assert res["augmented-x"]["deceived"]["p"] == pytest.approx(2 / 64)   # 6 wins, 0 losses
    text = markdown_paired(ev)
    assert "augmented-x − gatys" in text and "+2 [+2, +2]" in text and "n=12" in text
    assert markdown_paired(Evaluation(pairs, rows, ["photo", "adain"], {}, {}, {}, None)) == ""


def _blend(calls: list):
    def blend(content: Image.Image, style: Image.Image, size: int, seed: int) -> Image.Image:
        """Half content, half style: a fast stand-in method for tests."""
        calls.append(seed)
        return Image.blend(resize_long_side(content, size), style.resize(resize_long_side(content, size).size), 0.5)
    return blend


def _gone(content, style, size, seed):
    raise methods.MethodUnavailable("its weights are not installed")


def test_evaluate_end_to_end_and_resume(data, tmp_path):
    calls: list = []
    methods.register("blend", _blend(calls))
    methods.register("gone", _gone)
    out = tmp_path / "eval"
    args = ["evaluate", "--data", str(data), "--out", str(out), "--pairs", "2", "--size", "64",
            "--methods", "gatys,blend,gone,nosuch", "--resamples", "200", "-q"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert len(calls) == 2
    report = (out / "report.md").read_text()
    assert "| Metric | photo (reference) | gatys | blend |" in report
    assert "Deception rate" in report and "held-out accuracy" in report
    assert "- `gone`: its weights are not installed" in report
    assert "- `nosuch`: not available in this installation" in report
    with open(out / "pairs.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted((r["method"], r["pair"]) for r in rows) == sorted(
        (m, p) for m in ("photo", "gatys", "blend") for p in ("p000", "p001"))
    gatys = [r for r in rows if r["method"] == "gatys"]
    photo = [r for r in rows if r["method"] == "photo"]
    for g, p in zip(sorted(gatys, key=lambda r: r["pair"]), sorted(photo, key=lambda r: r["pair"]), strict=True):
        assert float(g["style_distance"]) < float(p["style_distance"])  # gatys moved toward the style
        assert float(g["seconds"]) > 0 and g["predicted"] in FAMILIES.values()
    for name in ("metrics.png", "quality_vs_time.png"):
        assert Image.open(out / name).size[0] > 100
    html = (out / "index.html").read_text()
    for rel in ("results/gatys/p000.png", "results/blend/p001.png", "inputs/p000_content.jpg", "inputs/p001_style.jpg"):
        assert rel in html and (out / rel).is_file()
    meta = json.loads((out / "results" / "gatys" / "p000.png.json").read_text())
    assert Path(meta["content"]).is_file() and Path(meta["styles"][0]).is_file()

    mtime = (out / "results" / "gatys" / "p000.png").stat().st_mtime_ns
    res = CliRunner().invoke(main, args)  # resume: nothing recomputed
    assert res.exit_code == 0, res.output
    assert len(calls) == 2 and (out / "results" / "gatys" / "p000.png").stat().st_mtime_ns == mtime

    res = CliRunner().invoke(main, [*args[:-3], "--size", "96"])
    assert res.exit_code == 2 and "other settings" in res.output


def test_evaluate_without_classifier_omits_deception(data, tmp_path):
    methods.register("blend", _blend([]))
    ev = evaluate(data, tmp_path / "e", EvalOptions(methods=("blend",), pairs=1, size=48, deception=False))
    assert ev.columns == ["photo", "blend"] and not ev.classifier_info
    table = markdown_table(ev)
    assert "Deception" not in table and "Style distance" in table


@pytest.mark.parametrize("extra, message", [
    (["--data", "MISSING"], "data folder not found"),
    (["--data", "EMPTY"], "no MANIFEST.csv"),
    (["--pairs", "0"], "pairs must be"),
    (["--pairs", "9"], "at most 3 pairs"),
    (["--size", "-5"], "size must be"),
    (["--methods", "bad name!"], "invalid method name"),
    (["--out", "NO/SUCH/eval"], "does not exist"),
    (["--out", "FILE"], "not a folder"),
])
def test_evaluate_bad_input(data, tmp_path, extra, message):
    (tmp_path / "EMPTY").mkdir()
    (tmp_path / "FILE").write_text("x")
    args = {"--data": str(data), "--out": str(tmp_path / "eval"), "--methods": "blend", "--pairs": "1"}
    for k, v in zip(extra[::2], extra[1::2], strict=True):
        args[k] = v if not v.isupper() and "/" not in v else str(tmp_path / v)
    res = CliRunner().invoke(main, ["evaluate", *[x for kv in args.items() for x in kv], "-q"])
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output
    assert not (tmp_path / "eval" / "report.md").exists()
