"""The starter collection: provenance and size, named styles, the prebuilt starter style library."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from atelier.base.errors import UsageError
from atelier.cli import main
from atelier.core.pipeline import as_style_list
from atelier.io import starter
from atelier.library import starter as starter_library
from atelier.library.descriptors import DescriptorConfig
from atelier.library.store import StyleLibrary, default_library_path, file_sha256

TINY = ["--size", "64", "--iterations", "2", "--levels", "1", "-q"]


@pytest.fixture
def first_use(tmp_path, monkeypatch):
    """A user with no style library and an empty cache."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ATELIER_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ATELIER_LIBRARY", raising=False)
    assert not default_library_path().exists()
    return tmp_path


def test_provenance_lists_every_shipped_painting_within_budget():
    folder = starter.directory()
    doc = starter.provenance()
    listed = {p["file"] for p in doc["paintings"]}
    shipped = {f.name for f in folder.glob("*.jpg")}
    assert listed == shipped and 24 <= len(shipped) <= 40
    assert starter.total_bytes() <= 6_000_000
    for p in doc["paintings"]:
        img = Image.open(folder / p["file"])
        assert max(img.size) <= 768 and img.size == (p["width"], p["height"])
        assert file_sha256(folder / p["file"]) == p["sha256"]
        assert p["title"] and p["artist"] and p["public_domain"].startswith("Public domain")
        assert len(p["source"]["original_sha256"]) == 64 and p["source"]["repo"]
    assert len(set(starter.slugs())) == len(starter.slugs())
    for must in ("starry-night", "great-wave", "the-scream", "the-kiss", "composition-vii", "roman-mosaic"):
        assert must in starter.slugs()


def test_named_styles_resolve_path_first_then_slug(tmp_path, monkeypatch):
    assert as_style_list("starry-night") == [str(starter.get("starry-night").path)]
    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (8, 8)).save(tmp_path / "starry-night", "PNG")  # an existing file of that name wins
    assert starter.resolve("starry-night") == "starry-night"
    assert starter.resolve("missing.jpg") == "missing.jpg"  # left for load_image's "file not found"
    with pytest.raises(UsageError, match=r"unknown style 'stary-night'; did you mean 'starry-night'\?"):
        starter.resolve("stary-night")


def test_typo_gets_one_did_you_mean_line(tmp_path, content_img):
    content_img.save(tmp_path / "photo.png")
    r = CliRunner().invoke(main, ["stylize", str(tmp_path / "photo.png"), "stary-night", "-o", str(tmp_path / "o.png")])
    assert r.exit_code == 2
    assert r.stderr.strip() == "atelier: error: unknown style 'stary-night'; did you mean 'starry-night'?"
    assert not (tmp_path / "o.png").exists()


def test_shipped_descriptors_match_what_library_build_computes(tmp_path):
    picks = [0, 5, 9, 14, 20, len(starter.paintings()) - 1]  # a spread: painting, print, woodcut, mosaic...
    vectors = starter_library.shipped_vectors(DescriptorConfig().validated())
    assert vectors is not None and vectors.shape[0] == len(starter.paintings())
    with StyleLibrary.open(tmp_path / "lib.sqlite", create=True) as lib:
        lib.update([starter.paintings()[i].path for i in picks])
        ids, got = lib.vectors()
        by_path = {e.id: e.path for e in lib.entries()}
    paths = [str(p.path.resolve()) for p in starter.paintings()]
    for row_id, vec in zip(ids, got, strict=True):
        np.testing.assert_allclose(vec, vectors[paths.index(by_path[row_id])], rtol=1e-3, atol=1e-2)


def test_starter_library_built_on_first_use(first_use):
    path, is_starter = starter_library.default_or_starter()
    assert is_starter and path.is_file() and path.parent == first_use / "cache"
    with StyleLibrary.open(path) as lib:
        entries = lib.entries()
        assert len(entries) == len(starter.paintings())
        assert all(file_sha256(starter.directory() / e.path.rsplit("/", 1)[1]) == e.sha256 for e in entries)
        hits = lib.search(lib.describe(starter.get("starry-night").path), 3)
        assert hits[0].entry.title == "The Starry Night" and hits[0].distance < 1.0  # its own stored vector
    stamp = path.stat().st_mtime_ns
    assert starter_library.default_or_starter() == (path, True) and path.stat().st_mtime_ns == stamp  # reused
    path.write_bytes(b"damaged")
    assert starter_library.ensure() == path and starter_library.usable(path)  # rebuilt


def test_augment_works_on_first_use(first_use, content_img):
    photo, out = first_use / "photo.png", first_use / "aug.png"
    content_img.save(photo)
    r = CliRunner().invoke(main, ["stylize", str(photo), "starry-night", "--augment", "2", "-o", str(out), *TINY,
                                  "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["output"] == str(out) and doc["method"] == "augmented"
    assert len(doc["augment"]["neighbours"]) == 2 and "starter library" in r.stderr
    assert all(n["artist"] for n in doc["augment"]["neighbours"])


def test_library_search_json_on_first_use(first_use):
    sheet = first_use / "nb.png"
    r = CliRunner().invoke(main, ["library", "search", "great-wave", "-k", "3", "-o", str(sheet), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["sheet"] == str(sheet) and sheet.is_file() and len(doc["hits"]) == 3
    assert all(h["title"] != "The Great Wave off Kanagawa" for h in doc["hits"])  # the query is not its own hit


def test_styles_lists_credits_and_writes_a_contact_sheet(tmp_path):
    r = CliRunner().invoke(main, ["styles"])
    assert r.exit_code == 0
    assert len(r.stdout.strip().splitlines()) == len(starter.paintings())
    assert "Vincent van Gogh, The Starry Night (1889)" in r.stdout
    sheet = tmp_path / "sheet.png"
    r = CliRunner().invoke(main, ["styles", "--sheet", str(sheet), "--cell", "48", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["sheet"] == str(sheet) and len(doc["styles"]) == len(starter.paintings())
    assert Image.open(sheet).width > 6 * 48
    r = CliRunner().invoke(main, ["styles", "the-scream"])
    assert "public domain" in r.stdout and "Munch died 1944" in r.stdout
    r = CliRunner().invoke(main, ["styles", "the-screm"])
    assert r.exit_code == 2 and "did you mean 'the-scream'?" in r.stderr
