"""Flicker and style distance of `atelier video`: per-frame stylization vs temporal consistency.

    OMP_NUM_THREADS=1 python benchmarks/bench_video.py [--frames 24] [--size 256] [--gatys-frames 12]
        [--gatys-size 128] [--style starry-night] [--out DIR]

The clip is a panning crop of a still (skimage's astronaut, 512 px): the window slides 4 px
right and 1 px down per frame (output pixels), written as lossless PNG frames so codec noise
does not enter the measure. For each method (ghiasi at ``--size``; gatys at ``--gatys-size``
with ``--levels 2 --iterations 20``, fewer frames: it is ~1000x slower) it runs
:func:`atelier.scale.video.stylize_video` with ``temporal off`` and ``on`` (ghiasi: several
blend weights) and reports:

* flicker: :mod:`atelier.evaluation.temporal` (warping error of consecutive outputs on the
  input's visible pixels; the input clip's own value is the floor),
* style distance: :func:`atelier.evaluation.metrics.style_distance` to the style image,
  mean over 4 frames spread over the clip (at the frame size),
* seconds per frame.

/work/shared/data holds no video (MANIFEST.csv lists images only), so there is no real clip.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage import data

from atelier.core.options import StyleOptions
from atelier.evaluation.metrics import style_distance
from atelier.io import starter
from atelier.io.video import open_clip
from atelier.scale.video import VideoOptions, stylize_video


def panning_clip(folder: Path, frames: int, side: int) -> Path:
    """``frames`` PNGs of ``side`` px cut from the astronaut at 2 x ``side``, the window moving (4, 1) px a frame."""
    photo = np.asarray(Image.fromarray(data.astronaut()).resize((2 * side, 2 * side), Image.LANCZOS))
    x0, y0 = side // 4, side // 4
    folder.mkdir(parents=True, exist_ok=True)
    for t in range(frames):
        x, y = x0 + 4 * t * side // 256, y0 + t * side // 256
        Image.fromarray(photo[y:y + side, x:x + side]).save(folder / f"{t:04d}.png")
    return folder


def measure(clip_dir: Path, style: Path, opts: StyleOptions, video: VideoOptions, method: str) -> dict:
    frames: list[np.ndarray] = []
    start = time.perf_counter()
    result = stylize_video(open_clip(clip_dir), [style], frames.append, opts, video, method=method)
    seconds = time.perf_counter() - start
    picks = sorted({round(i * (len(frames) - 1) / 3) for i in range(4)})
    sd = float(np.mean([style_distance(Image.fromarray(frames[i]), style, size=max(frames[i].shape))
                        for i in picks]))
    return {"method": method, "temporal": video.temporal,
            "weight": video.blend if method != "gatys" else video.temporal_weight,
            "flicker": result.flicker, "input_flicker": result.input_flicker, "style_distance": sd,
            "s_per_frame": seconds / result.frames, "frames": result.frames, "size": opts.size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--gatys-frames", type=int, default=12)
    ap.add_argument("--gatys-size", type=int, default=128)
    ap.add_argument("--style", default="starry-night")
    ap.add_argument("--blends", default="0.3,0.5,0.7,0.85")
    ap.add_argument("--temporal-weights", default="100,500")
    ap.add_argument("--out", type=Path, default=None, help="also write the rows as JSON here")
    args = ap.parse_args()
    torch.manual_seed(0)
    style = Path(starter.resolve(args.style))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clip = panning_clip(Path(tmp) / "ff", args.frames, args.size)
        ff = StyleOptions(size=args.size)
        rows.append(measure(clip, style, ff, VideoOptions(temporal="off"), "ghiasi"))
        for b in (float(x) for x in args.blends.split(",")):
            rows.append(measure(clip, style, ff, VideoOptions(blend=b), "ghiasi"))
        if args.gatys_frames:
            clip = panning_clip(Path(tmp) / "gatys", args.gatys_frames, args.gatys_size)
            g = StyleOptions(size=args.gatys_size, levels=2, iterations=20)
            rows.append(measure(clip, style, g, VideoOptions(temporal="off"), "gatys"))
            for w in (float(x) for x in args.temporal_weights.split(",")):
                rows.append(measure(clip, style, g, VideoOptions(temporal_weight=w), "gatys"))
    print(f"{'method':8} {'temporal':8} {'weight':>7} {'flicker':>9} {'input':>9} {'x lower':>7} "
          f"{'style d':>8} {'s/frame':>7}")
    base = {}
    for r in rows:
        if r["temporal"] == "off":
            base[r["method"]] = r["flicker"]
        ratio = base[r["method"]] / r["flicker"] if r["flicker"] else float("inf")
        print(f"{r['method']:8} {r['temporal']:8} {r['weight']:7g} {r['flicker']:9.5f} {r['input_flicker']:9.5f} "
              f"{ratio:7.1f} {r['style_distance']:8.4f} {r['s_per_frame']:7.2f}")
    if args.out:
        args.out.write_text(json.dumps([dataclasses.asdict(VideoOptions())] + rows, indent=2))


if __name__ == "__main__":
    main()
