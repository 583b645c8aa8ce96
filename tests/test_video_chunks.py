"""``atelier video --engine ray``: the chunk plan, chunks stitched in order, boundaries, failures and resume.

The Ray tests reuse the local Ray instance of tests/test_distributed.py (``local_ray``); the
others run the same chunked path on the local engine, which is what the Ray workers run too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import test_distributed
from atelier.base.engine import LocalEngine
from atelier.base.errors import AtelierError
from atelier.cli import main
from atelier.core.options import StyleOptions
from atelier.io import starter
from atelier.io.video import open_clip, read_frames, write_clip
from atelier.scale.chunks import ChunkTask, parts_folder, plan, split, stylize_chunk, stylize_chunked
from atelier.scale.video import VideoOptions
from test_video import panning_frames

local_ray, workers_env = test_distributed.local_ray, test_distributed.workers_env  # the Ray fixtures, reused
FAST = ("--method", "ghiasi", "--size", 64, "-q")


@pytest.mark.parametrize(("n", "chunk", "overlap"), [(8, 3, 2), (10, 4, 4), (5, 8, 4), (7, 2, 5), (32, 32, 4),
                                                     (1, 1, 1), (9, 3, 1)])
def test_the_plan_covers_every_frame_once_each_chunk_warmed_up_on_the_frames_before_it(n, chunk, overlap):
    chunks = plan(n, chunk, overlap)
    own = [f for c in chunks for f in range(c.start, c.stop)]
    assert own == list(range(n))  # every frame exactly once, in order
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert all(0 < c.frames <= chunk for c in chunks) and len(chunks) == -(-n // chunk)
    assert [c.warm for c in chunks] == [max(0, c.start - overlap) for c in chunks]
    for c, frames in split(iter(range(n)), chunk, overlap):  # a stream of unknown length
        assert frames == list(range(c.warm, c.stop))  # the warm-up frames, then its own


@pytest.fixture
def frames_dir(tmp_path) -> Path:
    src = tmp_path / "frames"
    src.mkdir()
    for i, f in enumerate(panning_frames(8)):
        Image.fromarray(f).save(src / f"f{i + 1}.png")
    return src


def run_json(*args) -> dict:
    r = CliRunner().invoke(main, ["video", *map(str, args), "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def pixels(folder: Path) -> list[np.ndarray]:
    return [np.asarray(Image.open(p)) for p in sorted(folder.iterdir())]


def test_video_on_ray_is_a_whole_video_with_consistent_chunk_boundaries(local_ray, frames_dir, tmp_path):
    local = run_json(frames_dir, "starry-night", "-o", tmp_path / "local", *FAST)
    doc = run_json(frames_dir, "starry-night", "-o", tmp_path / "ray.mp4", *FAST, "--engine", "ray",
                   "--chunk", 3, "--overlap", 2)
    assert len(list(read_frames(open_clip(tmp_path / "ray.mp4")))) == local["frames"] == doc["frames"] == 8
    assert doc["chunks"] == 3 and doc["engine"] == "ray"
    assert doc["input_flicker"] == pytest.approx(local["input_flicker"])  # every input pair measured once
    # the pairs that straddle two chunks flicker at most 2x as much as those inside a chunk
    assert doc["boundary_flicker"] <= 2 * doc["within_flicker"], doc
    assert doc["flicker"] <= 1.5 * local["flicker"], (doc["flicker"], local["flicker"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames", "local", "ray.mp4"]  # parts folder gone


def chunked(clip_dir: Path, out: Path, task=stylize_chunk, overlap: int = 2, retries: int = 0):
    clip = open_clip(clip_dir)
    return stylize_chunked(clip, [str(starter.resolve("starry-night"))], lambda: write_clip(out, clip.fps),
                           parts_folder(out), LocalEngine(retries=retries), StyleOptions(size=64), VideoOptions(),
                           method="ghiasi", chunk=3, overlap=overlap, task=task)


def test_an_overlap_reaching_back_to_frame_0_gives_the_local_frames_exactly(frames_dir, tmp_path):
    run_json(frames_dir, "starry-night", "-o", tmp_path / "local", *FAST)
    result = chunked(frames_dir, tmp_path / "chunked", overlap=8)
    assert result.frames == 8 and result.chunks == 3
    for t, (a, b) in enumerate(zip(pixels(tmp_path / "local"), pixels(tmp_path / "chunked"), strict=True)):
        assert np.array_equal(a, b), t  # stitched in order, warm-up frames dropped


def failing_once(index: int, marker: Path) -> Callable[[ChunkTask], dict]:
    """A chunk task that raises on chunk ``index`` the first time (``marker`` records it), else stylizes."""
    def task(t: ChunkTask) -> dict:
        if t.chunk.index == index and not marker.exists():
            marker.write_text("x")
            raise RuntimeError("worker lost")
        return stylize_chunk(t)
    return task


def test_a_failed_chunk_is_reported_the_finished_ones_kept_and_a_rerun_does_only_the_rest(frames_dir, tmp_path):
    marker = tmp_path / "failed-once"
    fails_once = failing_once(1, marker)
    out = tmp_path / "styled"
    with pytest.raises(AtelierError, match=r"1 of 3 chunks failed .*chunk 1 \(frames 3-5\): RuntimeError: worker lost"):
        chunked(frames_dir, out, task=fails_once)
    assert not out.exists()  # no partial output
    parts = parts_folder(out)
    assert sorted(p.name for p in parts.glob("chunk_*.npz")) == ["chunk_000000.npz", "chunk_000002.npz"]

    calls = []

    def counted(task: ChunkTask) -> dict:
        calls.append(task.chunk.index)
        return stylize_chunk(task)

    result = chunked(frames_dir, out, task=counted)
    assert calls == [1] and result.reused_chunks == 2 and result.frames == 8
    assert len(pixels(out)) == 8 and not parts.exists()
    fresh = chunked(frames_dir, tmp_path / "fresh")
    for t, (a, b) in enumerate(zip(pixels(out), pixels(tmp_path / "fresh"), strict=True)):
        assert np.array_equal(a, b), t
    assert fresh.reused_chunks == 0


def test_a_failing_chunk_is_retried_by_the_engine(frames_dir, tmp_path):
    marker = tmp_path / "failed-once"
    fails_once = failing_once(2, marker)
    result = chunked(frames_dir, tmp_path / "styled", task=fails_once, retries=1)
    assert marker.exists() and result.frames == 8 and len(pixels(tmp_path / "styled")) == 8


def test_chunk_flags_need_the_ray_engine(frames_dir, tmp_path):
    r = CliRunner().invoke(main, ["video", str(frames_dir), "starry-night", "-o", str(tmp_path / "o"), *map(str, FAST),
                                  "--chunk", "4"])
    assert r.exit_code == 2 and "--chunk and --overlap need --engine ray" in r.output
