"""``atelier library build --engine ray``: descriptors computed as engine tasks, the same library as locally.

The Ray test reuses the local Ray instance of tests/test_distributed.py (``local_ray``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import test_distributed
from atelier.base.engine import LocalEngine
from atelier.cli import main
from atelier.library.descriptors import DescriptorConfig
from atelier.library.store import StyleLibrary

local_ray, workers_env = test_distributed.local_ray, test_distributed.workers_env  # the Ray fixtures, reused
DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
CFG = DescriptorConfig(size=64)


@pytest.fixture
def artworks(tmp_path) -> Path:
    """4 paintings from ../shared/data/styles (64 px), a duplicate of one and a corrupt file."""
    folder = tmp_path / "art"
    (folder / "sub").mkdir(parents=True)
    files = sorted(p for p in (DATA / "styles").iterdir() if p.suffix.lower() in (".jpg", ".png"))[:4]
    assert len(files) == 4
    for i, f in enumerate(files):
        img = Image.open(f).convert("RGB")
        img.thumbnail((96, 96))
        img.save(folder / ("sub" if i % 2 else ".") / f"artist{i}__{f.stem}.png")
    shutil.copy(folder / f"artist0__{files[0].stem}.png", folder / "sub" / "copy.png")
    (folder / "broken.jpg").write_bytes(b"not an image")
    return folder


def rows(path: Path) -> tuple[list, np.ndarray]:
    with StyleLibrary.open(path) as lib:
        entries = sorted((e.path, e.sha256, e.bytes, e.width, e.height, e.artist, e.title) for e in lib.entries())
        ids, vecs = lib.vectors()
        by_path = {e.id: e.path for e in lib.entries()}
        order = np.argsort([by_path[int(i)] for i in ids])
        return entries, vecs[order]


def build(art: Path, library: Path, *engine: str):
    r = CliRunner().invoke(main, ["library", "build", str(art), "--library", str(library), "-q", "--size", "64",
                                  *engine])
    assert r.exit_code == 0, r.output
    return r.output


def test_library_build_on_ray_equals_the_local_build(local_ray, artworks, tmp_path):
    local = build(artworks, tmp_path / "local.sqlite")
    remote = build(artworks, tmp_path / "ray.sqlite", "--engine", "ray", "--per-task", "2")
    assert "5 artworks (4 embedded, 1 reused by content hash, 0 unchanged, 0 removed, 1 skipped)" in local
    assert remote.replace("ray.sqlite", "local.sqlite") == local  # the same report, the same skipped file
    (a, va), (b, vb) = rows(tmp_path / "local.sqlite"), rows(tmp_path / "ray.sqlite")
    assert a == b and len(a) == 5
    np.testing.assert_allclose(vb, va, rtol=1e-5, atol=1e-4)


def test_engine_update_is_incremental_like_the_local_one(artworks, tmp_path):
    path = tmp_path / "lib.sqlite"
    with StyleLibrary.open(path, CFG, create=True) as lib:
        first = lib.update([artworks], prune=True, engine=LocalEngine(), per_task=3)
    assert (len(first.embedded), len(first.reused), len(first.skipped)) == (4, 1, 1)
    assert Path(first.skipped[0][0]).name == "broken.jpg"
    Image.new("RGB", (80, 60), (200, 30, 30)).save(artworks / "new.png")
    (artworks / "sub" / "copy.png").unlink()
    seen = []
    with StyleLibrary.open(path) as lib:
        again = lib.update([artworks], prune=True, engine=LocalEngine(), per_task=3,
                           progress=lambda done, total, current: seen.append((done, total)))
        assert len(lib) == 5
    assert [Path(p).name for p in again.embedded] == ["new.png"] and again.unchanged == 4 and not again.reused
    assert [Path(p).name for p in again.removed] == ["copy.png"]
    assert seen[-1] == (6, 6)
    with StyleLibrary.open(tmp_path / "plain.sqlite", CFG, create=True) as lib:
        lib.update([artworks], prune=True)
    (a, va), (b, vb) = rows(path), rows(tmp_path / "plain.sqlite")
    assert a == b
    np.testing.assert_allclose(va, vb, rtol=1e-6, atol=1e-5)
