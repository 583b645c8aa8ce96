"""Augmented stylization: blend weights, Gram averaging, recolouring, neighbour selection,
the plain-style fallback, seeded variants, and the augment/variants CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import atelier
from atelier.base.errors import UsageError
from atelier.cli import main
from atelier.core.gatys import style_grams
from atelier.core.losses import gram
from atelier.core.vgg import load_vgg
from atelier.evaluation.metrics import style_distance
from atelier.io.images import to_tensor
from atelier.library import augment
from atelier.library.augment import (
    AugmentOptions,
    blend_weights,
    choose_subsets,
    find_candidates,
    recolor,
    stylize_augmented,
    stylize_variants,
)
from atelier.library.descriptors import DescriptorConfig
from atelier.library.store import StyleLibrary

from _textures import crop, texture, write_collection

TINY = dict(size=48, iterations=3, levels=1)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("art")
    write_collection(folder, per_family=3)
    path = tmp_path_factory.mktemp("db") / "lib.sqlite"
    with StyleLibrary.open(path, DescriptorConfig(size=64), create=True) as lib:
        lib.update([folder])
    return path


@pytest.fixture(scope="module")
def red_query(tmp_path_factory):
    path = tmp_path_factory.mktemp("q") / "query.png"
    crop(texture("red_stripes", 42), seed=1).save(path)
    return path


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_blend_weights():
    assert blend_weights(0, 0.5) == [1.0]
    assert blend_weights(2, 0.5) == [0.5, 0.25, 0.25]
    w = blend_weights(3, 0.4)
    assert w[0] == 0.4 and sum(w) == pytest.approx(1.0) and len(set(w[1:])) == 1


def test_averaged_grams_equal_the_weighted_mean():
    vgg = load_vgg()
    imgs = [to_tensor(texture(f, 1, size=64)) for f in ("red_stripes", "blue_checks", "green_waves")]
    layers = ("relu1_1", "relu3_1")
    weights = blend_weights(2, 0.6)
    blended = style_grams(vgg, imgs, weights, layers, 64, precision="fp32")
    for name in layers:
        with torch.no_grad():
            single = [gram(vgg(x, [name])[name]) for x in imgs]
        expected = sum(w * g for w, g in zip(weights, single, strict=True))
        torch.testing.assert_close(blended[name], expected, rtol=1e-4, atol=1e-4)


def test_paper_config_resolves_to_equal_weights_and_its_threshold():
    paper = AugmentOptions(augment_config="paper").resolved()
    assert (paper.neighbours, paper.threshold, paper.query_weight) == (3, augment.PAPER_THRESHOLD, None)
    assert augment.PAPER_THRESHOLD > 0
    assert blend_weights(3, None) == [0.25] * 4 and blend_weights(2, None) == [1 / 3] * 3
    assert blend_weights(0, None) == [1.0]
    kept = AugmentOptions(augment_config="paper", neighbours=2, threshold=7.0, recolor=False).resolved()
    assert (kept.neighbours, kept.threshold, kept.query_weight, kept.recolor) == (2, 7.0, None, False)
    assert AugmentOptions().resolved() == AugmentOptions()
    with pytest.raises(UsageError, match="augment_config must be one of atelier, paper, got 'nope'"):
        AugmentOptions(augment_config="nope").resolved()


def test_paper_config_drops_a_far_neighbour_and_weighs_the_rest_equally(db, red_query, content_img, monkeypatch):
    with StyleLibrary.open(db) as lib:
        hits = find_candidates(red_query, lib, AugmentOptions(threshold=1e9), 3).hits
    assert len(hits) == 3 and hits[1].distance < hits[2].distance
    monkeypatch.setattr(augment, "PAPER_THRESHOLD", (hits[1].distance + hits[2].distance) / 2)
    img = stylize_augmented(content_img, red_query, db, AugmentOptions(augment_config="paper"),
                            atelier.StyleOptions(**TINY))
    rec = img.info["atelier"]["augment"]
    assert rec["config"] == "paper" and rec["neighbours_asked"] == 3
    assert [n["path"] for n in rec["neighbours"]] == [h.entry.path for h in hits[:2]]  # the far one is dropped
    assert any("2 of 3 nearest artworks lie within threshold" in n for n in rec["notes"]), rec["notes"]
    assert [n["weight"] for n in rec["neighbours"]] == [1 / 3, 1 / 3] and rec["query_weight"] == 1 / 3
    assert list(img.info["atelier"]["options"]["style_blend"]) == [1 / 3] * 3


def test_recolor_moves_the_colour_histogram_toward_the_query():
    neighbour, query = texture("green_waves", 1), texture("red_stripes", 2)
    out = recolor(neighbour, query)

    def hist_distance(a: Image.Image, b: Image.Image) -> float:  # per-channel 1-D Wasserstein distance
        xa, xb = np.asarray(a, np.float64).reshape(-1, 3), np.asarray(b, np.float64).reshape(-1, 3)
        return float(np.abs(np.sort(xa, 0) - np.sort(xb, 0)).mean())

    assert hist_distance(out, query) < 0.1 * hist_distance(neighbour, query)
    g_in, g_out = np.asarray(neighbour)[..., 1].ravel(), np.asarray(out)[..., 1].ravel()
    assert np.corrcoef(g_in, g_out)[0, 1] > 0.9  # the structure stays; only the colours move


def test_choose_subsets_are_distinct_and_seeded():
    a = choose_subsets(8, 3, 4, seed=1)
    assert a == choose_subsets(8, 3, 4, seed=1) and a != choose_subsets(8, 3, 4, seed=2)
    assert len(set(a)) == 4 and all(len(s) == 3 and list(s) == sorted(s) and max(s) < 8 for s in a)
    small = choose_subsets(3, 2, 5, seed=0)  # 3 pairs, then singletons
    assert len(set(small)) == 5 and [len(s) for s in small] == [2, 2, 2, 1, 1]
    assert len(choose_subsets(2, 3, 10, seed=0)) == 3  # {0,1}, {0}, {1}: all there are


def test_augmented_result_uses_nearest_same_family_neighbours(db, red_query, content_img):
    aug = AugmentOptions(neighbours=2, threshold=1e9, query_weight=0.5)
    img = stylize_augmented(content_img, red_query, db, aug, atelier.StyleOptions(**TINY))
    meta = img.info["atelier"]
    assert meta["method"] == "augmented" and img.size == (48, 48)
    used = meta["augment"]["neighbours"]
    assert len(used) == 2 and all(n["artist"] == "Red Stripes" for n in used)
    assert [n["weight"] for n in used] == [0.25, 0.25] and meta["augment"]["query_weight"] == 0.5
    assert meta["styles"] == [str(red_query)] + [n["path"] for n in used]
    assert list(meta["options"]["style_blend"]) == [0.5, 0.25, 0.25]


def test_strength_reaches_the_augmented_set(db, red_query, content_img):
    aug = AugmentOptions(neighbours=2, threshold=1e9)
    light, strong = (stylize_augmented(content_img, red_query, db, aug,
                                       atelier.StyleOptions(size=64, iterations=12, levels=1, strength=s))
                     for s in (0.5, 2.0))
    assert strong.info["atelier"]["options"]["strength"] == 2.0
    d = [style_distance(img, red_query, size=64) for img in (light, strong)]
    assert d[1] < 0.9 * d[0], d  # the set is query + neighbours, so the query alone moves less


def test_threshold_excluding_everything_falls_back_to_the_plain_style(db, red_query, content_img):
    aug = AugmentOptions(neighbours=3, threshold=0.0)
    img = stylize_augmented(content_img, red_query, db, aug, atelier.StyleOptions(**TINY))
    meta = img.info["atelier"]
    assert meta["method"] == "gatys" and meta["augment"]["neighbours"] == []
    assert any("plain style used" in n for n in meta["augment"]["notes"])
    plain = atelier.stylize(content_img, str(red_query), **TINY)
    assert np.array_equal(np.asarray(img), np.asarray(plain))


def test_copies_of_the_query_are_never_its_neighbours(db):
    with StyleLibrary.open(db) as lib:
        entry = next(e for e in lib.entries() if e.artist == "Red Stripes")
        as_file = find_candidates(entry.path, lib, AugmentOptions(min_distance=0, threshold=1e9), 3)
        resized = Image.open(entry.path).resize((100, 100))  # the same artwork, another size, no file
        as_copy = find_candidates(resized, lib, AugmentOptions(threshold=1e9), 3)
    assert entry.path not in [h.entry.path for h in as_file.hits] and len(as_file.hits) == 3
    assert entry.path not in [h.entry.path for h in as_copy.hits] and len(as_copy.hits) == 3
    assert any("copies of the query" in n and entry.label in n for n in as_copy.notes), as_copy.notes


def test_more_neighbours_than_the_library_holds(db, red_query, content_img):
    img = stylize_augmented(content_img, red_query, db, AugmentOptions(neighbours=50, threshold=1e9),
                            atelier.StyleOptions(**TINY))
    rec = img.info["atelier"]["augment"]
    assert len(rec["neighbours"]) == 9 and any("holds only 9" in n for n in rec["notes"])


def test_variants_differ_and_are_reproducible(db, red_query, content_img):
    aug = AugmentOptions(neighbours=2, threshold=1e9, pool=4)
    opts = atelier.StyleOptions(seed=7, **TINY)
    first, cands = stylize_variants(content_img, red_query, db, aug, 2, opts)
    again, _ = stylize_variants(content_img, red_query, db, aug, 2, opts)
    subsets = [v.info["atelier"]["augment"]["variant"]["candidates"] for v in first]
    assert len(cands.hits) == 4 and subsets[0] != subsets[1]
    assert subsets == [v.info["atelier"]["augment"]["variant"]["candidates"] for v in again]
    assert not np.array_equal(np.asarray(first[0]), np.asarray(first[1]))
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(UsageError, match="variants need library neighbours"):
        stylize_variants(content_img, red_query, db, AugmentOptions(threshold=0.0), 2, opts)


def test_cli_augment_and_variants(db, red_query, tmp_path):
    content = tmp_path / "c.png"
    crop(texture("blue_checks", 5), seed=2, size=64).save(content)
    tiny = ["--size", 48, "--iterations", 2, "--levels", 1, "-q"]
    r = cli("augment", content, red_query, "--library", db, "-o", tmp_path / "out.png", "--neighbours", 2,
            "--threshold", 1e9, *tiny)
    assert r.exit_code == 0, r.output
    meta = json.loads((tmp_path / "out.png.json").read_text())
    assert len(meta["augment"]["neighbours"]) == 2 and "Red Stripes" in r.stdout
    assert Image.open(tmp_path / "out.png").size == (48, 48)

    r = cli("variants", content, red_query, "--library", db, "-n", 2, "-o", tmp_path / "v", "--pool", 3,
            "--threshold", 1e9, *tiny)
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "v").iterdir()) == \
        ["grid.png", "variant_1.png", "variant_1.png.json", "variant_2.png", "variant_2.png.json"]


def test_cli_augment_config_paper(db, red_query, tmp_path):
    content = tmp_path / "c.png"
    crop(texture("blue_checks", 5), seed=2, size=64).save(content)
    r = cli("augment", content, red_query, "--library", db, "-o", tmp_path / "out.png", "--augment-config", "paper",
            "--threshold", 1e9, "--no-recolor", "--size", 48, "--iterations", 2, "--levels", 1, "-q")
    assert r.exit_code == 0, r.output
    rec = json.loads((tmp_path / "out.png.json").read_text())["augment"]
    assert rec["config"] == "paper" and rec["recolor"] is False and len(rec["neighbours"]) == 3
    assert rec["query_weight"] == 0.25 and [n["weight"] for n in rec["neighbours"]] == [0.25] * 3


def test_cli_stylize_augment(db, red_query, tmp_path):
    content = tmp_path / "c.png"
    crop(texture("green_waves", 5), seed=2, size=64).save(content)
    common = ["-o", tmp_path / "out.png", "--library", db, "--threshold", 1e9, "--size", 48, "--iterations", 2,
              "--levels", 1, "-q"]
    r = cli("stylize", content, red_query, "--augment", 2, "--no-recolor", "--query-weight", 0.6, *common)
    assert r.exit_code == 0, r.output
    rec = json.loads((tmp_path / "out.png.json").read_text())["augment"]
    assert len(rec["neighbours"]) == 2 and rec["recolor"] is False and rec["query_weight"] == 0.6
    (tmp_path / "out.png").unlink()
    for extra, message in [(["--augment", -1], "--augment must be >= 0"),
                           ([red_query, "--augment", 2], "exactly one style image")]:
        r = cli("stylize", content, red_query, *extra, *common)
        assert r.exit_code == 2 and message in r.stderr, r.output
        assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("args, message", [
    (["--query-weight", "0"], "query_weight must be in (0, 1]"),
    (["--threshold", "nan"], "threshold must be a finite number"),
    (["--min-distance", "-1"], "min_distance must be a finite number"),
    (["--neighbours", "-1"], "neighbours must be an integer >= 0"),
    (["--augment-config", "nope"], "augment_config must be one of atelier, paper, got 'nope'"),
    (["--library", "missing.sqlite"], "no style library"),
])
def test_cli_augment_bad_input(db, red_query, tmp_path, args, message):
    args = ["--library", db] + args
    r = cli("augment", red_query, red_query, "-o", tmp_path / "out.png", "--size", 48, *args)
    assert r.exit_code == 2 and message in r.stderr and len(r.stderr.splitlines()) == 1, r.output
    assert not (tmp_path / "out.png").exists()
