"""Stylize a video frame by frame, with optical-flow temporal consistency (docs/video.md).

Each frame is resized to the output size (long side ``size``, even sides), then:

* ``--method gatys`` (Ruder et al. 2016): frame 0 is a normal coarse-to-fine stylization; each
  later frame starts from the previous *output* warped by the backward flow and is optimized at
  the finest level only, with the short-term temporal loss
  ``temporal_weight * temporal_loss(x, warped_prev, visible)`` added (:class:`atelier.core.temporal.Anchor`).
* feed-forward methods: each frame is stylized in one pass, then blended with the warped
  previous output where it is visible: ``visible * blend * warped + (1 - visible * blend) * stylized``.

With ``temporal="off"`` every frame is stylized on its own (the baseline). Either way the
flows of the input frames are estimated and the output's flicker is measured
(:mod:`atelier.evaluation.temporal`), with the input clip's own warping error beside it
(the floor set by flow errors and resampling).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..base.errors import UsageError
from ..core import gatys
from ..core.device import pick_device
from ..core.options import StyleOptions, option_field
from ..core.temporal import Anchor, blend, warp
from ..core.tensors import fit_long_side
from ..core.vgg import load_vgg
from ..evaluation.temporal import Flicker, warping_error
from ..feedforward import registry, transfer
from ..feedforward.transfer import FeedForwardOptions
from ..io.images import ImageLike, load_image, shrink_long_side, style_side, to_pil, to_tensor
from ..io.video import Clip, Writer, even_size, read_frames
from .flow import FLOWS, Motion, motion

FrameProgress = Callable[[int, int | None], None]  # (frames done, frames planned or None)
Previous = tuple[torch.Tensor, torch.Tensor]  # the previous output warped onto this frame (1x3xHxW), visible (1x1xHxW)


@dataclass
class VideoOptions:
    """How frames are tied together in time."""

    temporal: str = option_field("on", "on: optical-flow temporal consistency | off: each frame on its own")
    blend: float = option_field(0.5, "feed-forward: weight (0..1) of the previous output warped onto the frame")
    temporal_weight: float = option_field(100.0, "gatys: weight of the short-term temporal loss")
    flow: str = option_field("dis", "optical flow (OpenCV): dis | farneback")
    fps: float = option_field(25.0, "frame rate of a folder of frames (a video keeps its own)")
    max_frames: int = option_field(0, "stylize only the first N frames (0: all)")

    def validate(self) -> VideoOptions:
        if self.temporal not in ("on", "off"):
            raise UsageError(f"temporal must be on or off, not {self.temporal!r}")
        if self.flow not in FLOWS:
            raise UsageError(f"flow must be one of {', '.join(FLOWS)}, not {self.flow!r}")
        for name, lo, hi in (("blend", 0.0, 1.0), ("temporal_weight", 0.0, 1e9), ("fps", 0.1, 1000.0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
                raise UsageError(f"{name} must be a number in [{lo:g}, {hi:g}], got {v!r}")
        if isinstance(self.max_frames, bool) or not isinstance(self.max_frames, int) or self.max_frames < 0:
            raise UsageError(f"max_frames must be an integer >= 0, got {self.max_frames!r}")
        return self


@dataclass
class VideoResult:
    """What a run did: frame count, output size (w, h), frame rate, flicker of the output and of the input."""

    frames: int
    size: tuple[int, int]
    fps: float
    flicker: float
    input_flicker: float
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def frame_size(clip: Clip, size: int) -> tuple[int, int]:
    """(h, w) of the output frames: long side ``size``, sides even."""
    w, h = clip.size
    return even_size(*fit_long_side((h, w), size))


def stylizer(styles: Sequence[ImageLike], opts: StyleOptions, method: str, ff: FeedForwardOptions | None,
              video: VideoOptions, hw: tuple[int, int]) -> Callable[[torch.Tensor, Previous | None], torch.Tensor]:
    """``stylize(content 1x3xHxW, previous or None) -> 1x3xHxW``, models and styles loaded once."""
    if method == "gatys":
        side = style_side(max(hw), opts.style_scale)
        s = [to_tensor(shrink_long_side(load_image(x), side)) for x in styles]
        first = dataclasses.replace(opts, size=max(hw))
        warm = dataclasses.replace(first, levels=1)

        def run_gatys(c: torch.Tensor, previous: Previous | None) -> torch.Tensor:
            if previous is None:
                return gatys.stylize_tensor(c, s, first)
            warped, mask = previous
            return gatys.stylize_tensor(c, s, warm, init=warped, anchor=Anchor(warped, mask, video.temporal_weight))

        return run_gatys
    ff = transfer.from_style_options(opts, method, ff)
    ff = dataclasses.replace(ff, size=max(hw))
    style_list = list(styles) if registry.spec(method).needs_style else []
    ff.validate(len(style_list))
    device = pick_device(ff.device)
    model = transfer.cached_model(ff.method, ff.model, str(device))
    vgg = load_vgg().to(device, memory_format=torch.channels_last)
    side = ff.style_size or ff.size
    s = [to_tensor(shrink_long_side(load_image(x), side)).to(device) for x in style_list]

    def run_ff(c: torch.Tensor, previous: Previous | None) -> torch.Tensor:
        out = transfer.stylize_tensor(model, vgg, c.to(device), s, ff)
        return out if previous is None else blend(out, *previous, video.blend)

    return run_ff


def frame_tensor(frame: np.ndarray) -> torch.Tensor:
    """An H x W x 3 uint8 frame as a 1 x 3 x H x W float tensor in 0..1."""
    return to_tensor(Image.fromarray(frame))


def fit_frame(frame: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """``frame`` (H x W x 3 uint8) resized to ``hw`` (Lanczos) unless it has that size already."""
    if frame.shape[:2] != hw:
        frame = np.array(Image.fromarray(frame).resize((hw[1], hw[0]), Image.LANCZOS))
    return frame


@dataclass
class Step:
    """One stylized frame of a chain: its pixels, and against the previous frame (None for the
    chain's first) the output's and the input's warping error and the input's motion."""

    pixels: np.ndarray
    error: float | None
    input_error: float | None
    motion: Motion | None


def chain(frames: Iterable[np.ndarray], stylize: Callable[[torch.Tensor, Previous | None], torch.Tensor],
          video: VideoOptions, hw: tuple[int, int]) -> Iterator[Step]:
    """Stylize ``frames`` in order, each from the previous output warped by the flow (``temporal on``)."""
    prev_in: np.ndarray | None = None
    prev_out: torch.Tensor | None = None
    for frame in frames:
        frame = fit_frame(frame, hw)
        c = frame_tensor(frame)
        m = None
        if prev_in is None:
            out = stylize(c, None)
        else:
            m = motion(prev_in, frame, video.flow)
            previous = None
            if video.temporal == "on":
                previous = warp(prev_out, m.backward.to(prev_out.device)), m.mask.to(prev_out.device)
            out = stylize(c, previous)
        pixels = np.asarray(to_pil(out))
        written = frame_tensor(pixels)
        error = input_error = None
        if m is not None:
            error = warping_error(prev_out.cpu(), written, m.backward, m.mask)
            input_error = warping_error(frame_tensor(prev_in), c, m.backward, m.mask)
        yield Step(pixels, error, input_error, m)
        prev_in, prev_out = frame, written.to(out.device)


def planned_frames(clip: Clip, video: VideoOptions) -> int | None:
    """How many frames will be stylized, when the clip says how many it has (else ``max_frames`` or None)."""
    total = clip.frames
    if video.max_frames:
        total = min(total or video.max_frames, video.max_frames)
    return total


def clip_frames(clip: Clip, video: VideoOptions) -> Iterator[np.ndarray]:
    """The clip's frames, the first ``video.max_frames`` of them when that is set."""
    for n, frame in enumerate(read_frames(clip)):
        if video.max_frames and n >= video.max_frames:
            return
        yield frame


def stylize_video(clip: Clip, styles: Sequence[ImageLike], write: Writer, opts: StyleOptions, video: VideoOptions,
                  method: str = "gatys", feedforward: FeedForwardOptions | None = None,
                  progress: FrameProgress | None = None) -> VideoResult:
    """Stylize every frame of ``clip`` (up to ``video.max_frames``) and ``write`` it; see the module docs."""
    opts, video = opts.resolved(), video.validate()
    hw = frame_size(clip, opts.size)
    stylize = stylizer(styles, opts, method, feedforward, video, hw)
    total = planned_frames(clip, video)
    flicker, input_flicker = Flicker(), Flicker()
    start, n = time.perf_counter(), 0
    for step in chain(clip_frames(clip, video), stylize, video, hw):
        write(step.pixels)
        if step.error is not None:
            flicker.errors.append(step.error)
            input_flicker.errors.append(step.input_error)
        n += 1
        if progress is not None:
            progress(n, total)
    if n == 0:
        raise UsageError(f"cannot read video {clip.path}: no frame decodes")
    return VideoResult(n, (hw[1], hw[0]), clip.fps, flicker.value, input_flicker.value, time.perf_counter() - start)
