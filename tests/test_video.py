"""``atelier video``: real clips written with OpenCV, real stylization, flicker measured on the outputs."""

from __future__ import annotations

import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from skimage import data

from atelier.cli import main
from atelier.core.temporal import blend, occlusion_mask, temporal_loss, warp
from atelier.evaluation.temporal import warping_error
from atelier.io.video import open_clip, read_frames
from atelier.scale.flow import motion

FRAMES, SIDE, STEP = 8, 64, 4  # 8 frames of 64 x 64, the view panning 4 px a frame
FAST = ("--method", "ghiasi", "--size", SIDE, "-q")


def panning_frames(n: int = FRAMES, side: int = SIDE, step: int = STEP) -> list[np.ndarray]:
    """A crop of the astronaut photo sliding right by ``step`` pixels a frame (H x W x 3 uint8 RGB)."""
    photo = np.asarray(Image.fromarray(data.astronaut()).resize((256, 256), Image.LANCZOS))
    return [np.ascontiguousarray(photo[60:60 + side, 40 + step * i:40 + step * i + side]) for i in range(n)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "pan.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (SIDE, SIDE))
    for f in panning_frames():
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def run(*args):
    return CliRunner().invoke(main, ["video", *map(str, args)])


def run_json(*args) -> dict:
    r = run(*args, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_video_file_in_video_file_out(clip, tmp_path):
    out = tmp_path / "out.mp4"
    doc = run_json(clip, "starry-night", "-o", out, *FAST)
    frames = list(read_frames(open_clip(out)))
    assert len(frames) == FRAMES and doc["frames"] == FRAMES
    assert frames[0].shape == (SIDE, SIDE, 3)
    assert open_clip(out).fps == pytest.approx(10)
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]  # no temporary file left behind


def test_folder_of_frames_in_and_out(tmp_path):
    src = tmp_path / "frames"
    src.mkdir()
    for i, f in enumerate(panning_frames(4)):
        Image.fromarray(f).save(src / f"f{i + 1}.png")  # natural order: f1 .. f4
    out = tmp_path / "styled"
    doc = run_json(src, "starry-night", "-o", out, *FAST, "--fps", 12)
    files = sorted(out.iterdir())
    assert [p.name for p in files] == [f"frame_{i:06d}.png" for i in range(1, 5)]
    assert Image.open(files[0]).size == (SIDE, SIDE) and doc["fps"] == 12


def test_temporal_consistency_lowers_flicker_of_feedforward(clip, tmp_path):
    on = run_json(clip, "starry-night", "-o", tmp_path / "on.mp4", *FAST)
    off = run_json(clip, "starry-night", "-o", tmp_path / "off.mp4", *FAST, "--temporal", "off")
    assert on["flicker"] < off["flicker"], (on["flicker"], off["flicker"])
    # the measure itself, recomputed from the files written (flow on the input frames)
    frames_in = list(read_frames(open_clip(clip)))
    for doc, name in ((on, "on.mp4"), (off, "off.mp4")):
        frames_out = [torch.from_numpy(f).permute(2, 0, 1)[None].float() / 255
                      for f in read_frames(open_clip(tmp_path / name))]
        errors = []
        for t in range(1, FRAMES):
            m = motion(frames_in[t - 1], frames_in[t])
            errors.append(warping_error(frames_out[t - 1], frames_out[t], m.backward, m.mask))
        assert np.mean(errors) == pytest.approx(doc["flicker"], rel=0.5, abs=2e-4)  # H.264 re-encoding differs


def test_gatys_video_with_warped_init_and_temporal_loss(clip, tmp_path):
    args = ("--size", 32, "--levels", 1, "--iterations", 6, "--max-frames", 3, "-q")
    on = run_json(clip, "starry-night", "-o", tmp_path / "on.mp4", *args)
    off = run_json(clip, "starry-night", "-o", tmp_path / "off.mp4", *args, "--temporal", "off")
    assert on["frames"] == off["frames"] == 3
    assert on["flicker"] < off["flicker"], (on["flicker"], off["flicker"])


def clip_with_sound(path: Path, frames: int) -> Path:
    """An H.264 + AAC clip: the panning frames at 10 fps and a 440 Hz tone as long as they last."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=10)
        video.width = video.height = SIDE
        video.pix_fmt = "yuv420p"
        audio = out.add_stream("aac", rate=16000)
        for f in panning_frames(frames):
            for packet in video.encode(av.VideoFrame.from_ndarray(f, "rgb24")):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(1600 * frames) / 16000)).astype(np.float32)[None]
        for i in range(0, tone.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, i:i + 1024]), format="fltp", layout="mono")
            frame.sample_rate = 16000
            for packet in audio.encode(frame):
                out.mux(packet)
        for packet in audio.encode(None):
            out.mux(packet)
    return path


def test_audio_track_is_kept(tmp_path):
    src = clip_with_sound(tmp_path / "sound.mp4", 4)
    dst = tmp_path / "styled.mp4"
    doc = run_json(src, "starry-night", "-o", dst, *FAST)
    assert doc["audio"] is True
    with av.open(str(dst)) as result:
        assert len(result.streams.audio) == 1 and result.streams.audio[0].codec_context.name == "aac"
        assert sum(1 for p in result.demux(result.streams.audio[0]) if p.size) > 0


@pytest.mark.parametrize("make", ["missing", "garbage", "empty_folder"])
def test_bad_input_is_one_error_line_and_no_output(tmp_path, make):
    src = tmp_path / "in.mp4"
    if make == "garbage":
        src.write_bytes(b"not a video at all" * 10)
    elif make == "empty_folder":
        src = tmp_path / "frames"
        src.mkdir()
    out = tmp_path / "out.mp4"
    r = run(src, "starry-night", "-o", out, *FAST)
    lines = r.stderr.strip().splitlines()
    assert r.exit_code != 0 and len(lines) == 1, r.stderr
    assert lines[0].startswith(f"atelier: error: cannot read video {src}"), lines[0]
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_temporal_loss_is_zero_for_identical_frames():
    x = torch.rand(1, 3, 24, 24)
    mask = torch.ones(1, 1, 24, 24)
    assert temporal_loss(x, x.clone(), mask).item() == 0.0
    assert temporal_loss(x, 1 - x, mask).item() > 0
    zero_flow = torch.zeros(1, 2, 24, 24)
    assert torch.allclose(warp(x, zero_flow), x, atol=1e-6)
    assert torch.equal(blend(x, 1 - x, torch.zeros(1, 1, 24, 24), 0.7), x)


def test_temporal_loss_ignores_occluded_pixels():
    x, target = torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8)
    target[..., :, :4] = 1.0  # differs on the left half only
    mask = torch.ones(1, 1, 8, 8)
    mask[..., :, :4] = 0
    assert temporal_loss(x, target, mask).item() == 0.0
    assert temporal_loss(x, target, torch.ones(1, 1, 8, 8)).item() == pytest.approx(0.5)


def test_occlusion_mask_flags_a_region_that_appears():
    """A square moves right by 6 px over a still background: the background it uncovers on its
    left has no counterpart in the previous frame, and the mask says so; elsewhere it is visible."""
    h = w = 48
    backward = torch.zeros(1, 2, h, w)  # frame t -> t-1
    forward = torch.zeros(1, 2, h, w)   # frame t-1 -> t
    backward[:, 0, 16:32, 22:38] = -6   # the square now at x 22..37 was at 16..31
    forward[:, 0, 16:32, 16:32] = 6
    mask = occlusion_mask(backward, forward)
    assert mask[0, 0, 20:28, 16:20].max() == 0        # uncovered background: occluded
    assert mask[0, 0, 20:28, 26:34].min() == 1        # the square's inside: visible
    assert mask[0, 0, 2:10, 2:10].min() == 1          # far background: visible
    shift = torch.zeros(1, 2, h, w)
    shift[:, 0] = 5  # the whole view moved 5 px left: frame t's left 5 columns were outside frame t-1
    mask_inside = occlusion_mask(-shift, shift)
    assert mask_inside[0, 0, :, :5].max() == 0 and mask_inside[0, 0, :, 6:].min() == 1  # came from outside


def test_occlusion_mask_of_real_flow_on_a_pan():
    frames = panning_frames(2, step=6)
    m = motion(frames[0], frames[1])
    assert m.backward[0, 0, 10:-10, 10:-10].mean().item() == pytest.approx(6, abs=1.0)
    # the right edge entered the view: the last 6 columns come from outside the previous frame
    assert m.mask[0, 0, :, -4:].mean() < 0.2 and m.mask[0, 0, :, :-12].mean() > 0.8


def test_a_failure_mid_clip_leaves_no_output(tmp_path):
    """Frames 1-3 are stylized and encoded, frame 4 is not an image: the half-made video never appears."""
    src = tmp_path / "frames"
    src.mkdir()
    for i, f in enumerate(panning_frames(3)):
        Image.fromarray(f).save(src / f"{i + 1}.png")
    (src / "4.png").write_bytes(b"broken")
    out = tmp_path / "out.mp4"
    r = run(src, "starry-night", "-o", out, *FAST)
    lines = r.stderr.strip().splitlines()
    assert r.exit_code != 0 and len(lines) == 1 and lines[0].startswith("atelier: error:"), r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]


def test_folder_output_warns_that_audio_is_dropped(tmp_path):
    src = clip_with_sound(tmp_path / "sound.mp4", 2)
    r = run(src, "starry-night", "-o", tmp_path / "frames_out", *FAST)
    assert r.exit_code == 0, r.output
    assert "atelier: warning: a folder of frames holds no sound" in r.stderr
    assert len(list((tmp_path / "frames_out").iterdir())) == 2
