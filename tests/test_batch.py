"""``atelier batch`` and the local engine: a real folder (subfolder, corrupt file), manifest, resume."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from atelier.base.engine import LocalEngine, make_engine
from atelier.base.errors import UsageError
from atelier.cli import main
from atelier.core.options import StyleOptions
from atelier.scale.batch import MANIFEST, Recipe, pending, plan, read_manifest, run_batch

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
FAST = ["--method", "ghiasi", "--size", "64", "-q"]  # one pass of a pretrained network: the fastest honest method


def photos(n: int) -> list[Image.Image]:
    files = sorted((DATA / "photos").iterdir())[:n]
    assert len(files) == n, f"need {n} photos in {DATA / 'photos'}"
    out = []
    for f in files:
        img = Image.open(f).convert("RGB")
        img.thumbnail((64, 64))
        out.append(img)
    return out


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """in/a.jpg, in/b.png, in/sub/c.jpg, in/sub/broken.png (not an image), in/notes.txt (ignored)."""
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    a, b, c = photos(3)
    a.save(src / "a.jpg")
    b.save(src / "b.png")
    c.save(src / "sub" / "c.jpg")
    (src / "sub" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    (src / "notes.txt").write_text("not an image, not an input")
    return src


def run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


def lines(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / MANIFEST).read_text().splitlines()]


def test_batch_mirrors_folders_records_the_corrupt_file_and_fails_the_exit_code(folder, tmp_path):
    out = tmp_path / "out"
    r = run("batch", folder, "starry-night", "-o", out, *FAST)
    assert r.exit_code == 1, r.output
    assert "atelier: error: 1 of 4 images failed" in r.output
    recs = {rec["output"]: rec for rec in lines(out)}
    assert set(recs) == {"a.png", "b.png", "sub/c.png", "sub/broken.png"}
    assert recs["sub/broken.png"]["status"] == "failed"
    assert "not an image file" in recs["sub/broken.png"]["error"]
    for name in ("a.png", "b.png", "sub/c.png"):
        rec = recs[name]
        assert rec["status"] == "done" and rec["error"] is None and rec["seconds"] > 0
        assert rec["settings"]["method"] == "ghiasi" and rec["settings"]["options"]["size"] == 64
        img = Image.open(out / name)
        assert max(img.size) == 64
        assert json.loads(img.text["atelier"])["content"] == rec["input"]
    assert not (out / "sub" / "broken.png").exists()
    assert not list(out.rglob("*.part")), "no half-written files"


def test_resume_skips_done_items_and_retries_failures(folder, tmp_path):
    out = tmp_path / "out"
    assert run("batch", folder, "starry-night", "-o", out, *FAST).exit_code == 1
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    r = run("batch", folder, "starry-night", "-o", out, *FAST)
    assert r.exit_code == 1
    assert [rec["output"] for rec in lines(out)[4:]] == ["sub/broken.png"], "only the failure is retried"
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.png")} == stamps, "done outputs are not rewritten"

    photos(4)[3].save(folder / "sub" / "broken.png")  # the user fixes the file
    r = run("batch", folder, "starry-night", "-o", out, *FAST, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert (doc["images"], doc["skipped"], doc["done"], doc["failed"]) == (4, 3, 1, 0)
    assert read_manifest(out / MANIFEST)["sub/broken.png"]["status"] == "done"


def test_changed_settings_or_a_deleted_output_are_redone(folder, tmp_path):
    (folder / "sub" / "broken.png").unlink()
    out = tmp_path / "out"
    assert run("batch", folder, "starry-night", "-o", out, *FAST).exit_code == 0
    (out / "a.png").unlink()
    assert run("batch", folder, "starry-night", "-o", out, *FAST).exit_code == 0
    assert [rec["output"] for rec in lines(out)[3:]] == ["a.png"]
    before = np.asarray(Image.open(out / "b.png"))
    assert run("batch", folder, "starry-night", "-o", out, *FAST, "--alpha", "0.3").exit_code == 0
    assert len(lines(out)) == 4 + 3
    assert not np.array_equal(np.asarray(Image.open(out / "b.png")), before), "alpha 0.3 gives another image"


def test_gatys_batch_through_the_library_function(tmp_path, content_img, style_img):
    src = tmp_path / "in"
    src.mkdir()
    content_img.save(src / "photo.png")
    style_img.save(tmp_path / "style.png")
    recipe = Recipe((str(tmp_path / "style.png"),), "gatys", StyleOptions(size=64, iterations=2, levels=1).resolved())
    items = plan(src, tmp_path / "out", recipe, suffix=".jpg")
    assert [i.name for i in items] == ["photo.jpg"]
    recs = run_batch(items, LocalEngine(), tmp_path / "out")
    assert [r["status"] for r in recs] == ["done"], recs
    out = np.asarray(Image.open(tmp_path / "out" / "photo.jpg"), dtype=float)
    assert max(out.shape[:2]) == 64
    assert np.abs(out - np.asarray(content_img.resize(out.shape[1::-1]), dtype=float)).mean() > 1, "it changed"
    assert pending(items, tmp_path / "out") == ([], items)


def test_plan_skips_the_output_folder_inside_the_input_and_keeps_names_apart(tmp_path):
    src = tmp_path / "in"
    (src / "results").mkdir(parents=True)
    for name in ("x.jpg", "x.png", "results/old.png", ".hidden.png"):
        photos(1)[0].save(src / name)
    items = plan(src, src / "results", Recipe(("s.png",)))
    assert sorted(i.name for i in items) == ["x.jpg.png", "x.png.png"]
    with pytest.raises(UsageError, match="input folder not found"):
        plan(tmp_path / "missing", tmp_path / "o", Recipe(("s.png",)))


def test_bad_requests_fail_before_any_work(folder, tmp_path):
    out = tmp_path / "out"
    r = run("batch", folder, "no-such-style", "-o", out, *FAST)
    assert r.exit_code == 2 and "atelier: error: unknown style" in r.output
    r = run("batch", folder, "starry-night", "-o", out, *FAST, "--alpha", "3")
    assert r.exit_code == 2 and "alpha must be" in r.output
    r = run("batch", tmp_path / "empty", "starry-night", "-o", out, *FAST)
    assert r.exit_code == 2 and "input folder not found" in r.output
    r = run("batch", folder, "starry-night", "-o", out, *FAST, "--address", "auto")
    assert r.exit_code == 2 and "--address needs --engine ray" in r.output
    assert not out.exists()


def flaky(item: tuple[Path, int]) -> int:
    """Fails with an unexpected error on its first call for each item (a marker file remembers it)."""
    marker, value = item
    if not marker.exists():
        marker.touch()
        raise RuntimeError("transient")
    return value * 2


def bad_input(value: int) -> int:
    if value == 1:
        raise UsageError("bad input 1")
    return value


def test_local_engine_retries_unexpected_errors_not_usage_errors(tmp_path):
    with make_engine("local", retries=1) as engine:
        got = list(engine.map(flaky, [(tmp_path / f"m{i}", i) for i in range(3)]))
        assert [(o.index, o.value, o.error) for o in got] == [(0, 0, None), (1, 2, None), (2, 4, None)]
        got = list(engine.map(bad_input, [0, 1, 2]))
        assert [o.error for o in got] == [None, "bad input 1", None]
    got = list(LocalEngine(retries=0).map(flaky, [(tmp_path / "n", 1)]))
    assert got[0].error == "RuntimeError: transient" and not got[0].ok


def test_engine_ray_without_ray_is_one_clear_line_and_local_never_imports_ray(folder, tmp_path):
    block = "import sys; sys.modules['ray'] = None; from atelier.cli import main; main()"  # as if not installed
    args = ["batch", str(folder), "starry-night", "-o", str(tmp_path / "o"), *FAST]
    r = subprocess.run([sys.executable, "-c", block, *args, "--engine", "ray"], capture_output=True, text=True)
    assert r.returncode == 2
    last = r.stderr.strip().splitlines()[-1]
    assert last == 'atelier: error: --engine ray needs Ray: pip install -e ".[distributed]"'
    check = ("import sys; from atelier.cli import main\n"
             "try: main()\nexcept SystemExit: pass\nprint('ray' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", check, *args], capture_output=True, text=True)
    assert r.stdout.strip().splitlines()[-1] == "False", r.stderr
    assert (tmp_path / "o" / "a.png").is_file()
