"""Reading and atomically writing videos (PyAV, i.e. FFmpeg's libraries) and folders of frames.

A clip is a video file (``.mp4``, ``.mov``, ``.mkv``, ``.avi``, ``.webm``, ``.m4v``) or a folder of
image files taken in natural name order (``f2.png`` before ``f10.png``). Frames are H x W x 3
uint8 RGB arrays. Video is written as H.264 (yuv420p, so sides must be even); the source's
audio track is copied into the output unchanged when the container can hold its codec.
Outputs appear only when complete: a video goes to a temporary file, a folder of frames to a
temporary folder, renamed onto the target at the end.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from ..base.errors import AtelierError, UsageError
from .images import FORMATS, atomic_files, load_image, save_image

if TYPE_CHECKING:
    import av

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")
OUTPUT_FORMATS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".m4v": "mp4"}
FRAME_SUFFIXES = (*FORMATS, ".bmp")


@dataclass
class Clip:
    """A readable clip: ``frames`` is the frame count (None if the file does not say), ``size`` (w, h)."""

    path: Path
    fps: float
    frames: int | None
    size: tuple[int, int]
    audio_codec: str | None  # the audio track's codec, None without audio
    folder: bool


def _natural(p: Path) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", p.name)]


def frame_files(folder: Path) -> list[Path]:
    """The image files of a folder of frames, in natural name order."""
    return sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in FRAME_SUFFIXES), key=_natural)


def open_clip(path: str | os.PathLike, fps: float = 25.0) -> Clip:
    """Probe a video file or a folder of frames (played at ``fps``); ``UsageError`` if unreadable."""
    import av  # FFmpeg loads only when a video is read or written
    path = Path(path)
    if not path.exists():
        raise UsageError(f"cannot read video {path}: no such file or folder")
    if path.is_dir():
        files = frame_files(path)
        if not files:
            raise UsageError(f"cannot read video {path}: the folder holds no image files")
        return Clip(path, fps, len(files), load_image(files[0]).size, None, True)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise UsageError(f"cannot read video {path}: it has no video track")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or fps
            audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
            next(container.decode(stream))  # something decodes
            return Clip(path, float(rate), stream.frames or None, (stream.width, stream.height), audio, False)
    except (av.FFmpegError, StopIteration, UnicodeDecodeError) as exc:
        reason = "no frame decodes" if isinstance(exc, StopIteration) else getattr(exc, "strerror", None) or str(exc)
        raise UsageError(f"cannot read video {path}: {reason}") from None


def read_frames(clip: Clip) -> Iterator[np.ndarray]:
    """The clip's frames, one H x W x 3 uint8 RGB array at a time."""
    import av  # FFmpeg loads only when a video is read or written
    if clip.folder:
        for f in frame_files(clip.path):
            yield np.array(load_image(f))
        return
    try:
        with av.open(str(clip.path)) as container:
            for frame in container.decode(container.streams.video[0]):
                yield frame.to_ndarray(format="rgb24")
    except av.FFmpegError as exc:
        raise AtelierError(f"cannot read video {clip.path}: {exc}") from None


def check_clip_output(path: str | os.PathLike) -> Path:
    """Validate an output before any work: a video file (.mp4, .mov, .mkv, .m4v) or a new folder of frames."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"output directory does not exist: {parent}")
    if p.suffix.lower() in OUTPUT_FORMATS:
        if p.is_dir():
            raise UsageError(f"output is a directory, expected a video file name: {p}")
    elif p.suffix:
        raise UsageError(f"unsupported video format {p.suffix!r}; use {', '.join(OUTPUT_FORMATS)} or a folder name")
    elif p.exists() and (not p.is_dir() or any(p.iterdir())):
        raise UsageError(f"output folder exists and is not empty: {p}")
    try:
        tempfile.TemporaryFile(dir=parent).close()
    except OSError as exc:
        raise AtelierError(f"cannot write to {parent}: {exc.strerror or exc}") from None
    return p


def audio_note(clip: Clip, out: Path) -> str | None:
    """Why the clip's audio will not be in ``out`` (None when it is copied, or there is none)."""
    import av  # FFmpeg loads only when a video is read or written
    if clip.audio_codec is None:
        return None
    if out.suffix.lower() not in OUTPUT_FORMATS:
        return f"a folder of frames holds no sound: the audio track ({clip.audio_codec}) is dropped"
    with av.open(os.devnull, "w", format=OUTPUT_FORMATS[out.suffix.lower()]) as probe:
        if clip.audio_codec not in probe.supported_codecs:
            return f"{out.suffix} cannot hold {clip.audio_codec} audio: the audio track is dropped"
    return None


def even_size(h: int, w: int) -> tuple[int, int]:
    """The largest (h, w) not above the given one with even sides (what yuv420p H.264 needs)."""
    return max(2, h - h % 2), max(2, w - w % 2)


Writer = Callable[[np.ndarray], None]


@contextlib.contextmanager
def write_clip(out: Path, fps: float, audio_from: Clip | None = None, crf: int = 18) -> Iterator[Writer]:
    """Yield ``write(frame)`` for H x W x 3 uint8 RGB frames; the output appears when the block succeeds.

    A video file gets H.264 at quality ``crf`` and, from ``audio_from`` (if :func:`audio_note`
    has no objection), its audio track for the duration of the frames written. A folder name
    gets ``frame_000001.png``, ... .
    """
    import av  # FFmpeg loads only when a video is read or written
    if out.suffix.lower() not in OUTPUT_FORMATS:
        with _frame_folder(out) as write:
            yield write
        return
    with atomic_files(out) as (tmp,), contextlib.ExitStack() as stack:
        try:
            container = stack.enter_context(av.open(str(tmp), "w", format=OUTPUT_FORMATS[out.suffix.lower()]))
            stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001),
                                          options={"crf": str(crf), "preset": "medium"})
            stream.pix_fmt = "yuv420p"
            audio = None  # (source container, its audio track, our copy), added before anything is muxed
            if audio_from is not None and audio_from.audio_codec and audio_note(audio_from, out) is None:
                source = stack.enter_context(av.open(str(audio_from.path)))
                audio = source, source.streams.audio[0], container.add_stream_from_template(source.streams.audio[0])
            count = 0

            def write(frame: np.ndarray) -> None:
                nonlocal count
                if count == 0:
                    stream.height, stream.width = frame.shape[:2]
                for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), "rgb24")):
                    container.mux(packet)
                count += 1

            yield write
            for packet in stream.encode(None):
                container.mux(packet)
            if audio is not None:
                _copy_audio(*audio, container, count / fps)
        except av.FFmpegError as exc:
            raise AtelierError(f"cannot write video {out}: {exc}") from None


def _copy_audio(source: av.container.InputContainer, a_in: av.audio.AudioStream, a_out: av.audio.AudioStream,
                container: av.container.OutputContainer, seconds: float) -> None:
    """Remux ``a_in``'s packets into ``a_out`` up to ``seconds`` (no re-encoding)."""
    for packet in source.demux(a_in):
        if packet.dts is None:
            continue
        if packet.pts is not None and float(packet.pts * a_in.time_base) >= seconds:
            break
        packet.stream = a_out
        container.mux(packet)


@contextlib.contextmanager
def _frame_folder(out: Path) -> Iterator[Writer]:
    parent = out.parent if str(out.parent) else Path(".")
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".part", dir=parent))
    count = 0

    def write(frame: np.ndarray) -> None:
        nonlocal count
        count += 1
        save_image(Image.fromarray(frame, "RGB"), tmp / f"frame_{count:06d}.png")

    try:
        yield write
        os.chmod(tmp, 0o755)
        os.replace(tmp, out)  # onto a missing or empty folder
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

