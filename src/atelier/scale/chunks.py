"""A video in chunks of frames, one engine task each (``atelier video --engine ray``, docs/video.md).

The frames are cut into chunks of ``chunk`` frames. Every chunk after the first also gets the
``overlap`` frames before it: the task stylizes them first, as the start of its temporal chain
(the first from scratch, the next ones each from the previous output warped by the flow), then
drops them and keeps its own frames. So the frame a chunk starts with is stylized from a warm
temporal state, as in one long chain, instead of from nothing (which would flicker).

The driver decodes the clip and sends each task its frames (resized to the output size), so the
clip need not be on a shared file system; the style files must be readable on every node. Each
finished chunk is saved to a parts folder beside the output (``.OUT.chunks/chunk_000003.npz``,
written atomically) as it arrives; when every chunk is there the frames are written out in order
through the same atomic writer as the local path (audio copied), and the parts folder removed.
A chunk that fails after the engine's retries is reported; the finished ones stay in the parts
folder, and running the same command again stylizes only the missing chunks.

Flicker is measured as in :mod:`atelier.scale.video`: the tasks measure the frame pairs inside
their chunk, the driver the pairs that straddle two chunks (the last output frame of one against
the first of the next, under the input flow the task computed); ``boundary_flicker`` is the mean
over those pairs alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..base.checks import check_int
from ..base.engine import Engine
from ..base.errors import AtelierError, UsageError
from ..base.files import atomic_write
from ..core.options import StyleOptions
from ..evaluation.temporal import warping_error
from ..feedforward.transfer import FeedForwardOptions
from ..io.video import Clip, Writer
from .video import (
    FrameProgress,
    VideoOptions,
    VideoResult,
    chain,
    clip_frames,
    fit_frame,
    frame_size,
    frame_tensor,
    planned_frames,
    stylizer,
)

CHUNK, OVERLAP = 32, 4  # defaults: 4 warm-up frames cost 1/8 more work; see docs/video.md for the boundary flicker
PLAN = "plan.json"


@dataclass(frozen=True)
class Chunk:
    """Frames ``start .. stop-1`` of the clip, stylized after warming up on ``warm .. start-1``."""

    index: int
    start: int
    stop: int
    warm: int

    @property
    def frames(self) -> int:
        return self.stop - self.start


def split(frames: Iterable[Any], chunk: int = CHUNK, overlap: int = OVERLAP) -> Iterator[tuple[Chunk, list[Any]]]:
    """Cut a stream of frames into chunks: ``(Chunk, its warm-up frames + its own frames)``, lazily
    (at most ``chunk + overlap`` frames held), so a clip of unknown length works too."""
    check_int("chunk", chunk, 1)
    check_int("overlap", overlap, 0)
    tail: list[Any] = []  # the last `overlap` frames before the chunk being filled
    own: list[Any] = []
    index = start = 0
    for frame in frames:
        own.append(frame)
        if len(own) == chunk:
            yield Chunk(index, start, start + chunk, start - len(tail)), tail + own
            tail = (tail + own)[-overlap:] if overlap else []
            index, start, own = index + 1, start + chunk, []
    if own:
        yield Chunk(index, start, start + len(own), start - len(tail)), tail + own


def plan(frames: int, chunk: int = CHUNK, overlap: int = OVERLAP) -> list[Chunk]:
    """The chunks of a clip of ``frames`` frames."""
    return [c for c, _ in split(range(frames), chunk, overlap)]


@dataclass(frozen=True)
class ChunkTask:
    """One engine task: a chunk's frames ((warm + own) x H x W x 3 uint8, at the output size) and
    everything needed to stylize them (picklable, sent to a worker)."""

    chunk: Chunk
    frames: np.ndarray
    styles: tuple[str, ...]
    options: StyleOptions
    video: VideoOptions
    method: str
    feedforward: FeedForwardOptions | None


def stylize_chunk(task: ChunkTask) -> dict[str, np.ndarray]:
    """Run one chunk's temporal chain (on a worker) and keep its own frames: ``frames``
    (n x H x W x 3 uint8), ``errors`` and ``input_errors`` (warping errors of the pairs inside the
    chunk; the input's also of the pair entering it) and ``backward``/``mask`` (the input motion
    into the chunk's first frame, 1x2xHxW / 1x1xHxW; empty for the first chunk)."""
    c, hw = task.chunk, tuple(task.frames.shape[1:3])
    stylize = stylizer(task.styles, task.options, task.method, task.feedforward, task.video, hw)
    steps = list(chain(task.frames, stylize, task.video, hw))[c.start - c.warm:]
    entry = steps[0].motion
    return {"frames": np.stack([s.pixels for s in steps]),
            "errors": np.array([s.error for s in steps[1:]], dtype=np.float64),
            "input_errors": np.array([s.input_error for s in steps if s.input_error is not None], dtype=np.float64),
            "backward": entry.backward.numpy() if entry is not None else np.zeros((0,), np.float32),
            "mask": entry.mask.numpy() if entry is not None else np.zeros((0,), np.float32)}


@dataclass
class ChunkedResult(VideoResult):
    """:class:`VideoResult` plus how the clip was cut and the flicker on and off the chunk boundaries."""

    chunks: int = 0
    chunk: int = CHUNK
    overlap: int = OVERLAP
    within_flicker: float = 0.0            # mean warping error of the frame pairs inside a chunk
    boundary_flicker: float | None = None  # ... of the pairs across two chunks (None: one chunk)
    reused_chunks: int = 0                 # chunks found in the parts folder from an earlier run
    engine: str = ""


def parts_folder(out: Path) -> Path:
    """Where the finished chunks of ``out`` wait: ``.NAME.chunks`` beside it."""
    return (out.parent if str(out.parent) else Path(".")) / f".{out.name}.chunks"


def _key(clip: Clip, styles: Sequence[str], opts: StyleOptions, video: VideoOptions, method: str,
         feedforward: FeedForwardOptions | None, hw: tuple[int, int], chunk: int, overlap: int) -> str:
    """A fingerprint of what the chunks depend on: a finished chunk is reused only under the same one."""
    def stamp(p: str | os.PathLike) -> list:
        st = Path(p).stat()
        return [str(Path(p).resolve()), st.st_size, st.st_mtime_ns]

    doc = {"clip": stamp(clip.path), "styles": [stamp(s) for s in styles], "options": opts.to_dict(),
           "video": dataclasses.asdict(video), "method": method, "hw": list(hw), "chunk": chunk, "overlap": overlap,
           "feedforward": dataclasses.asdict(feedforward) if feedforward is not None else None}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _open_parts(parts: Path, key: str) -> set[int]:
    """Make ``parts`` hold the chunks of ``key`` only; the indices of those already finished."""
    record = parts / PLAN
    with contextlib.suppress(OSError, ValueError):
        if json.loads(record.read_text())["key"] == key:
            return {int(p.stem.split("_")[1]) for p in parts.glob("chunk_*.npz")}
    if parts.exists():
        shutil.rmtree(parts)
    parts.mkdir()
    with atomic_write(record) as tmp:
        tmp.write_text(json.dumps({"key": key}))
    return set()


def _chunk_file(parts: Path, index: int) -> Path:
    return parts / f"chunk_{index:06d}.npz"


def _save(path: Path, value: dict[str, np.ndarray]) -> None:
    with atomic_write(path) as tmp:
        np.savez(tmp, **value)


OpenWriter = Callable[[], contextlib.AbstractContextManager[Writer]]  # e.g. lambda: write_clip(out, fps)


def stylize_chunked(clip: Clip, styles: Sequence[str], open_writer: OpenWriter,
                    parts: Path, engine: Engine, opts: StyleOptions, video: VideoOptions, method: str = "gatys",
                    feedforward: FeedForwardOptions | None = None, chunk: int = CHUNK, overlap: int = OVERLAP,
                    progress: FrameProgress | None = None,
                    task: Callable[[ChunkTask], dict[str, np.ndarray]] = stylize_chunk) -> ChunkedResult:
    """Stylize ``clip`` in chunks on ``engine`` (see the module docs; ``task`` runs one chunk), then write
    every frame in order into ``open_writer()``. Raises ``AtelierError`` naming the chunks that failed
    (the others kept in ``parts``)."""
    opts, video = opts.resolved(), video.validate()
    check_int("chunk", chunk, 1)
    check_int("overlap", overlap, 1)  # 0 would start every chunk from nothing: the temporal chain broken
    hw = frame_size(clip, opts.size)
    total = planned_frames(clip, video)
    done = _open_parts(parts, _key(clip, styles, opts, video, method, feedforward, hw, chunk, overlap))
    start = time.perf_counter()
    chunks: list[Chunk] = []
    finished = 0

    def tasks() -> Iterator[ChunkTask]:
        nonlocal finished
        for c, frames in split((fit_frame(f, hw) for f in clip_frames(clip, video)), chunk, overlap):
            chunks.append(c)
            if c.index in done:
                finished += c.frames
                if progress is not None:
                    progress(finished, total)
                continue
            yield ChunkTask(c, np.stack(frames), tuple(map(str, styles)), opts, video, method, feedforward)

    failed: list[tuple[Chunk, str]] = []
    for outcome in engine.map(task, tasks()):
        c = outcome.item.chunk
        if not outcome.ok:
            failed.append((c, outcome.error))
            continue
        _save(_chunk_file(parts, c.index), outcome.value)
        finished += c.frames
        if progress is not None:
            progress(finished, total)
    if not chunks:
        raise UsageError(f"cannot read video {clip.path}: no frame decodes")
    if failed:
        failed.sort(key=lambda f: f[0].index)
        detail = "; ".join(f"chunk {c.index} (frames {c.start}-{c.stop - 1}): {why}" for c, why in failed)
        raise AtelierError(f"{len(failed)} of {len(chunks)} chunks failed after {getattr(engine, 'retries', 0)} "
                           f"retries: {detail}; the {len(chunks) - len(failed)} finished chunks are kept in {parts}: "
                           "run the same command again to stylize only the missing ones")
    within, boundary, inputs = _write(parts, chunks, open_writer)
    shutil.rmtree(parts, ignore_errors=True)
    pairs = within + boundary
    return ChunkedResult(chunks[-1].stop, (hw[1], hw[0]), clip.fps, _mean(pairs), _mean(inputs),
                         time.perf_counter() - start, len(chunks), chunk, overlap, _mean(within),
                         _mean(boundary) if boundary else None, len(done), getattr(engine, "name", ""))


def _mean(xs: Sequence[float]) -> float:
    return float(sum(xs) / len(xs)) if xs else 0.0


def _write(parts: Path, chunks: Sequence[Chunk], open_writer: OpenWriter) -> tuple[list, list, list]:
    """Write the chunks' frames in order; the warping errors inside chunks, across them, and of the input."""
    within: list[float] = []
    boundary: list[float] = []
    inputs: list[float] = []
    last = None
    with open_writer() as write:
        for c in chunks:
            with np.load(_chunk_file(parts, c.index)) as z:
                frames, errors, input_errors = z["frames"], z["errors"], z["input_errors"]
                backward, mask = z["backward"], z["mask"]
            if len(frames) != c.frames:
                raise AtelierError(f"chunk {c.index} in {parts} holds {len(frames)} frames, not {c.frames}: "
                                   "delete the folder and run again")
            if last is not None and backward.size:
                boundary.append(warping_error(frame_tensor(last), frame_tensor(frames[0]), torch.from_numpy(backward),
                                              torch.from_numpy(mask)))
            within += errors.tolist()
            inputs += input_errors.tolist()
            for f in frames:
                write(f)
            last = frames[-1]
    return within, boundary, inputs
