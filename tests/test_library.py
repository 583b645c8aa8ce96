"""Style library: descriptors, retrieval on generated texture families, incremental and
interrupt-safe updates, metadata, and every bad input of the library CLI."""

from __future__ import annotations

import shutil
import sqlite3

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from atelier.base.errors import UsageError
from atelier.cli import main
from atelier.library import store as library_mod
from atelier.library.descriptors import DescriptorConfig, channel_means, describe
from atelier.library.store import StyleLibrary, build_index, distance_stats, metadata_from_name, read_metadata_csv

from _textures import FAMILIES, crop, texture, write_collection

CFG = DescriptorConfig(size=64)  # small and fast; the same 1472-d layout as the default


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    folder = tmp_path_factory.mktemp("art")
    return folder, write_collection(folder)


@pytest.fixture(scope="module")
def lib(collection, tmp_path_factory):
    path = tmp_path_factory.mktemp("db") / "lib.sqlite"
    with StyleLibrary.open(path, CFG, create=True) as lib:
        lib.update([collection[0]])
    lib = StyleLibrary.open(path)
    yield lib
    lib.close()


def cli(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def counting_describe(monkeypatch, fail_at: int | None = None) -> list[str]:
    """Count calls of the library's descriptor function (optionally Ctrl-C on call ``fail_at``)."""
    calls: list[str] = []

    def wrapped(img, cfg):
        calls.append(cfg.size)
        if fail_at is not None and len(calls) == fail_at:
            raise KeyboardInterrupt
        return describe(img, cfg)

    monkeypatch.setattr(library_mod, "describe", wrapped)
    return calls


# --- descriptors -------------------------------------------------------------------------

def test_descriptor_is_concatenated_channel_means():
    img = texture("red_stripes", 1)
    v = describe(img, CFG)
    assert v.shape == (CFG.dim,) == (64 + 128 + 256 + 512 + 512,) and v.dtype == np.float32
    assert np.array_equal(v, describe(img, CFG))  # deterministic
    feats = {"a": torch.full((1, 2, 3, 3), 2.0), "b": torch.arange(4.0).view(1, 1, 2, 2)}
    assert channel_means(feats, ["b", "a"]).tolist() == [[1.5, 2.0, 2.0]]
    with pytest.raises(UsageError, match="unknown vgg19 layer"):
        DescriptorConfig(layers=("relu9_1",)).validated()


# --- retrieval ---------------------------------------------------------------------------

@pytest.mark.parametrize("family", list(FAMILIES))
def test_nearest_neighbour_of_a_recrop_is_its_family(lib, family):
    i = list(FAMILIES).index(family)
    for query in (crop(texture(family, 10 + i), seed=999), crop(texture(family, 77), seed=5)):
        hits = lib.search(lib.describe(query), k=len(lib))
        assert [h.distance for h in hits] == sorted(h.distance for h in hits)
        assert {h.entry.title.lower() for h in hits[:2]} <= {"crop 0", "crop 1"}
        assert all(h.entry.artist.lower().replace(" ", "_") == family for h in hits[:2]), hits[:2]


def test_threshold_filters_and_query_itself_is_excluded(lib, collection):
    path = collection[1]["blue_checks"][0]
    q = lib.describe(path)
    hits = lib.search(q, k=6)
    assert hits[0].distance == pytest.approx(0, abs=1e-2)  # the file itself
    cut = (hits[1].distance + hits[2].distance) / 2
    within = lib.search(q, k=6, threshold=cut)
    assert [h.entry.path for h in within] == [h.entry.path for h in hits[:2]]
    assert all(h.distance <= cut for h in within)
    assert lib.search(q, k=6, threshold=cut, exclude_sha256=library_mod.file_sha256(path))[0].entry.path \
        == str(collection[1]["blue_checks"][1])
    assert lib.search(q * 0 + 1e6, k=3, threshold=hits[-1].distance) == []


def test_flat_and_ivf_index_agree_on_clustered_vectors(monkeypatch):
    rng = np.random.default_rng(0)
    centers = rng.random((20, 16), dtype=np.float32) * 10
    x = (centers[rng.integers(0, 20, 2000)] + rng.standard_normal((2000, 16), dtype=np.float32) * 0.3)
    flat = build_index(x)
    monkeypatch.setattr(library_mod, "IVF_MIN", 1000)
    ivf = build_index(x)
    assert type(flat).__name__ == "IndexFlatL2" and type(ivf).__name__ == "IndexIVFFlat"
    _, a = flat.search(x[:50], 3)
    _, b = ivf.search(x[:50], 3)
    assert (a[:, 0] == b[:, 0]).mean() == 1.0


def test_distance_stats():
    x = np.array([[0, 0], [3, 4], [6, 8]], np.float32)
    s = distance_stats(x, threshold=5, quantiles=(0.0, 1.0))
    assert s["nearest"] == [5.0, 5.0] and s["pairwise"] == [5.0, 10.0] and s["within"] == 1.0


# --- metadata ----------------------------------------------------------------------------

def test_metadata_from_file_names_and_csv(tmp_path, collection):
    assert metadata_from_name("/x/claude_monet__water_lilies.jpg") == \
        {"artist": "Claude Monet", "title": "Water lilies", "movement": ""}
    assert metadata_from_name("sunset.png")["artist"] == ""
    folder, files = collection
    csv_path = tmp_path / "meta.csv"
    rel = files["red_stripes"][0].relative_to(folder)
    csv_path.write_text(f"file,artist,title,movement,extra\n{rel},Jane Doe,Red Study,Op art,x\n")
    shutil.copy(files["red_stripes"][0], tmp_path / rel.name)
    meta = read_metadata_csv(csv_path)
    assert meta[str((tmp_path / rel).resolve())] == {"artist": "Jane Doe", "title": "Red Study", "movement": "Op art"}
    with StyleLibrary.open(tmp_path / "m.sqlite", CFG, create=True) as lib:
        lib.update([tmp_path / rel.name], meta)
        (e,) = lib.entries()
        assert (e.artist, e.title, e.movement, e.width, e.height) == ("Jane Doe", "Red Study", "Op art", 112, 112)
    (tmp_path / "bad.csv").write_text("name,artist\nx,y\n")
    with pytest.raises(UsageError, match="'file' column"):
        read_metadata_csv(tmp_path / "bad.csv")


# --- updates -----------------------------------------------------------------------------

def test_incremental_update_embeds_only_new_or_changed_files(tmp_path, monkeypatch):
    files = write_collection(tmp_path / "art")
    calls = counting_describe(monkeypatch)
    with StyleLibrary.open(tmp_path / "l.sqlite", CFG, create=True) as lib:
        first = lib.update([tmp_path / "art"], prune=True)
        assert len(first.embedded) == 6 and len(calls) == 6
        again = lib.update([tmp_path / "art"], prune=True)
        assert again.unchanged == 6 and not again.embedded and len(calls) == 6

        changed, gone = files["red_stripes"][0], files["green_waves"][1]
        crop(texture("blue_checks", 3), 1).save(changed)          # new content at an old path
        gone.unlink()                                              # deleted
        shutil.copy(files["blue_checks"][0], tmp_path / "art" / "copy.png")  # known content, new path
        crop(texture("green_waves", 4), 2).save(tmp_path / "art" / "new.png")  # new file
        r = lib.update([tmp_path / "art"], prune=True)
        assert sorted(r.embedded) == sorted([str(changed.resolve()), str((tmp_path / "art" / "new.png").resolve())])
        assert r.reused == [str((tmp_path / "art" / "copy.png").resolve())]
        assert r.removed == [str(gone.resolve())] and r.unchanged == 4 and len(calls) == 8
        assert len(lib) == 7
        hit = lib.search(lib.describe(changed), k=1)[0]
        assert hit.entry.path == str(changed.resolve()) and hit.distance < 1e-2  # the stored vector was replaced


def test_interrupted_build_keeps_what_was_embedded(tmp_path, monkeypatch):
    write_collection(tmp_path / "art")
    calls = counting_describe(monkeypatch, fail_at=3)
    with StyleLibrary.open(tmp_path / "l.sqlite", CFG, create=True) as lib, pytest.raises(KeyboardInterrupt):
        lib.update([tmp_path / "art"])
    calls = counting_describe(monkeypatch)
    with StyleLibrary.open(tmp_path / "l.sqlite") as lib:
        assert len(lib) == 2
        r = lib.update([tmp_path / "art"])
        assert len(r.embedded) == 4 and r.unchanged == 2 and len(calls) == 4 and len(lib) == 6


def test_corrupt_images_are_skipped_and_reported(tmp_path):
    write_collection(tmp_path / "art")
    (tmp_path / "art" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    good = (tmp_path / "art" / "red_stripes__crop_0.png").read_bytes()
    (tmp_path / "art" / "sub").mkdir()
    (tmp_path / "art" / "sub" / "truncated.png").write_bytes(good[: len(good) // 2])
    (tmp_path / "art" / "notes.txt").write_text("not an image, not scanned")
    r = cli("library", "build", tmp_path / "art", "--library", tmp_path / "l.sqlite", "--size", 64, "-q")
    assert r.exit_code == 0, r.output
    assert "broken.png" in r.stderr and "truncated.png" in r.stderr
    assert "6 artworks" in r.stdout and "2 skipped" in r.stdout
    assert len(cli("library", "list", "--library", tmp_path / "l.sqlite").stdout.splitlines()) == 6


def test_any_bad_file_is_skipped_with_its_reason_never_aborting(tmp_path):
    art = tmp_path / "art"
    write_collection(art)
    (art / "self.png").symlink_to("self.png")  # a symlink loop
    (art / "gone.png").symlink_to("missing.png")  # a broken link
    (art / "loop").symlink_to(art)  # a folder linking to itself is not followed
    Image.new("RGB", (5, 5000), "red").save(art / "strip.png")  # VGG cannot pool it
    Image.new("RGB", (1, 1)).save(art / "dot.png")
    r = cli("library", "build", art, "--library", tmp_path / "l.sqlite", "--size", 64, "-q")
    assert r.exit_code == 0, r.output
    reasons = dict(line.removeprefix("skipped ").split(": ", 1) for line in r.stderr.splitlines())
    assert reasons == {str(art / "self.png"): "symlink loop", str(art / "gone.png"): "No such file or directory",
                       str(art / "strip.png"): "image is 5x5000 pixels: each side must be at least 16",
                       str(art / "dot.png"): "image is 1x1 pixels: each side must be at least 16"}
    assert "6 artworks (6 embedded" in r.stdout and "4 skipped" in r.stdout
    Image.new("RGB", (40, 4000), "red").save(art / "strip.png")  # usable as is, too thin at 64 px
    r = cli("library", "build", art, "--library", tmp_path / "l.sqlite", "--size", 64, "-q")
    assert r.exit_code == 0 and "short side would be 1 px" in r.stderr, r.output


def corrupt_artworks_table(db) -> None:
    """Overwrite the artworks table's root page (the header and schema stay valid)."""
    with sqlite3.connect(db) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'artworks'").fetchone()[0]
    conn.close()
    with open(db, "r+b") as fh:
        fh.seek((root - 1) * page_size)
        fh.write(b"\xff" * page_size)


def test_a_damaged_library_gives_one_line_from_every_command(tmp_path, collection):
    db = tmp_path / "l.sqlite"
    assert cli("library", "build", collection[0], "--library", db, "--size", 64, "-q").exit_code == 0
    corrupt_artworks_table(db)
    query = collection[1]["red_stripes"][0]
    for args in (["list"], ["info"], ["search", query, "-o", tmp_path / "s.png"], ["remove", query],
                 ["add", query, "-q"], ["build", collection[0], "-q"]):
        r = cli("library", *args, "--library", db)
        assert r.exit_code == 2, (args, r.output)
        assert r.stderr.startswith("atelier: error: ") and len(r.stderr.splitlines()) == 1, (args, r.stderr)
        assert "damaged or unreadable" in r.stderr or "not a readable Atelier style library" in r.stderr
    assert not (tmp_path / "s.png").exists()


# --- CLI ---------------------------------------------------------------------------------

def test_cli_build_list_info_search_remove(tmp_path, collection):
    db = tmp_path / "l.sqlite"
    r = cli("library", "build", collection[0], "--library", db, "--size", 64, "-q")
    assert r.exit_code == 0 and "6 artworks (6 embedded" in r.stdout, r.output
    rows = cli("library", "list", "--library", db).stdout.splitlines()
    assert len(rows) == 6 and rows[0].split("\t")[1] == "Blue Checks"
    assert len(cli("library", "list", "--library", db, "--artist", "green").stdout.splitlines()) == 2
    info = cli("library", "info", "--library", db)
    assert info.exit_code == 0 and "1472 channel means" in info.stdout and "nearest" in info.stdout
    query = tmp_path / "q.png"
    crop(texture("green_waves", 12), seed=3).save(query)
    r = cli("library", "search", query, "--library", db, "-k", 2, "-o", tmp_path / "sheet.png")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert [ln.split("\t")[2] for ln in lines[:2]] == ["Green Waves"] * 2 and (tmp_path / "sheet.png").is_file()
    r = cli("library", "search", query, "--library", db, "-k", 50, "-o", tmp_path / "sheet.png")
    assert r.exit_code == 0 and "only 6" in r.stderr and len(r.stdout.splitlines()) == 7
    r = cli("library", "remove", collection[1]["green_waves"][0], "--library", db)
    assert r.exit_code == 0 and "5 left" in r.stdout
    r = cli("library", "remove", tmp_path / "nothing.png", "--library", db)
    assert r.exit_code == 2 and "not in the library" in r.stderr


def test_library_commands_take_library_like_stylize_and_db_still_works(tmp_path, collection):
    db = tmp_path / "l.sqlite"
    r = cli("library", "build", collection[0], "--db", db, "--size", 64, "-q")
    assert r.exit_code == 0 and "6 artworks" in r.stdout and "--db is deprecated, use --library" in r.stderr
    assert len(cli("library", "list", "--db", db).stdout.splitlines()) == 6
    for command in ("build", "add", "remove", "list", "info", "search"):
        shown = cli("library", command, "--help").stdout
        assert "--library PATH" in shown and "--db" not in shown, command
    assert "atelier library build DIR --library" in cli("library", "info", "--library", tmp_path / "no.sqlite").stderr


def test_bad_libraries_are_refused_with_one_line(tmp_path, collection):
    query = collection[1]["red_stripes"][0]
    missing = cli("library", "search", query, "--library", tmp_path / "none.sqlite")
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database" * 100)
    unreadable = cli("library", "info", "--library", garbage)
    folder = cli("library", "list", "--library", tmp_path)
    (tmp_path / "empty").mkdir()
    assert cli("library", "build", tmp_path / "empty", "--library", tmp_path / "e.sqlite", "--size", 64).exit_code == 0
    empty = cli("library", "search", query, "--library", tmp_path / "e.sqlite", "-o", tmp_path / "s.png")
    for r, text in [(missing, "no style library"), (unreadable, "not a readable Atelier style library"),
                    (folder, "must be a file"), (empty, "is empty")]:
        assert r.exit_code == 2, r.output
        assert r.stderr.startswith("atelier: error:") and text in r.stderr and len(r.stderr.splitlines()) == 1
        assert "Traceback" not in r.output
    assert not (tmp_path / "s.png").exists() and not (tmp_path / "none.sqlite").exists()


def test_library_from_another_descriptor_or_backbone_is_refused(tmp_path, collection):
    db = tmp_path / "l.sqlite"
    assert cli("library", "build", collection[0], "--library", db, "--size", 64, "-q").exit_code == 0
    r = cli("library", "add", collection[1]["red_stripes"][0], "--library", db, "--size", 128)
    assert r.exit_code == 2 and "was built with descriptor" in r.stderr and "64 px" in r.stderr
    r = cli("library", "add", collection[1]["red_stripes"][0], "--library", db, "--layers", "relu1_1")
    assert r.exit_code == 2 and "was built with descriptor" in r.stderr
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value = 'vgg16:sha256:0123456789abcdef' WHERE key = 'backbone'")
    r = cli("library", "search", collection[1]["red_stripes"][0], "--library", db, "-o", tmp_path / "s.png")
    assert r.exit_code == 2 and "backbone vgg16:sha256:0123456789abcdef" in r.stderr
    assert not (tmp_path / "s.png").exists()
