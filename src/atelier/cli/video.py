"""``atelier video``: stylize a video or a folder of frames with temporal consistency (docs/video.md)."""

from __future__ import annotations

import dataclasses
from typing import Any

import click
from tqdm import tqdm

from ..base.engine import make_engine
from ..base.errors import UsageError
from ..core.options import StyleOptions
from ..feedforward.transfer import SHARED_WITH_GATYS, FeedForwardOptions
from ..io import starter
from ..io.video import audio_note, check_clip_output, open_clip, write_clip
from ..library.methods import STYLIZE
from ..scale.chunks import CHUNK, OVERLAP, parts_folder, stylize_chunked
from ..scale.video import VideoOptions, frame_size, stylize_video
from .common import dataclass_from_kwargs, dataclass_options, emit_json, engine_flags, json_option


@click.command("video")
@click.argument("source", type=str)
@click.argument("styles", type=str, nargs=-1)
@click.option("-o", "--output", required=True, help="output video (.mp4, .mov, .mkv, .m4v) or a new folder of frames")
@click.option("-q", "--quiet", is_flag=True, help="no progress bar")
@click.option("--report", is_flag=True, help="print the flicker of the output and of the input at the end")
@json_option
@engine_flags
@click.option("--chunk", default=None, type=click.IntRange(1), metavar="N",
              help=f"--engine ray: frames per task [default: {CHUNK}]")
@click.option("--overlap", default=None, type=click.IntRange(1), metavar="N",
              help=f"--engine ray: frames before a chunk stylized to warm up its temporal chain, then dropped "
                   f"[default: {OVERLAP}]")
@click.option("--method", default="gatys", show_default=True, type=click.Choice(STYLIZE),
              help="gatys (optimization, slow) or a feed-forward network such as ghiasi (fast)")
@dataclass_options(VideoOptions)
@dataclass_options(StyleOptions, exclude=("save_every",))
@dataclass_options(FeedForwardOptions, exclude=SHARED_WITH_GATYS)
def video_cmd(source: str, styles: tuple[str, ...], output: str, quiet: bool, report: bool, as_json: bool,
              engine_name: str, address: str | None, retries: int, chunk: int | None, overlap: int | None,
              method: str, **kwargs: Any) -> None:
    """Repaint the video SOURCE (or a folder of frames) in the style of STYLE [STYLE...].

    Optical flow keeps the strokes on the moving scene (--temporal off: each frame on its
    own). The audio track is copied into a video output. Example:
    atelier video clip.mp4 starry-night -o out.mp4 --method ghiasi --size 384 --report

    --engine ray cuts the clip into chunks of --chunk frames, one Ray task each, every chunk
    warmed up on the --overlap frames before it (docs/video.md).
    """
    opts = dataclass_from_kwargs(StyleOptions, kwargs).resolved()
    video = dataclass_from_kwargs(VideoOptions, kwargs).validate()
    feedforward = dataclass_from_kwargs(FeedForwardOptions, kwargs)
    if method == "gatys" and not styles:
        raise UsageError("--method gatys needs at least one STYLE")
    if engine_name == "local" and (chunk is not None or overlap is not None):
        raise UsageError("--chunk and --overlap need --engine ray")
    if engine_name == "local" and address is not None:
        raise UsageError("--address needs --engine ray")
    out = check_clip_output(output)
    resolved = [starter.resolve(s) for s in styles]
    clip = open_clip(source, fps=video.fps)
    note = audio_note(clip, out)
    if note:
        click.echo(f"atelier: warning: {note}", err=True)
    h, w = frame_size(clip, opts.size)
    with tqdm(total=clip.frames, desc="video", unit="frame", disable=quiet, dynamic_ncols=True) as bar:
        def progress(done: int, total: int | None) -> None:
            bar.total = total
            bar.update(done - bar.n)

        if engine_name == "local":
            with write_clip(out, clip.fps, audio_from=clip) as write:
                result = stylize_video(clip, resolved, write, opts, video, method=method, feedforward=feedforward,
                                       progress=progress)
        else:
            with make_engine(engine_name, address, retries) as engine:
                result = stylize_chunked(clip, [str(s) for s in resolved],
                                         lambda: write_clip(out, clip.fps, audio_from=clip), parts_folder(out),
                                         engine, opts, video, method=method, feedforward=feedforward,
                                         chunk=chunk or CHUNK, overlap=overlap or OVERLAP, progress=progress)
    doc = {"output": str(out), "input": str(clip.path), "method": method, "width": w, "height": h,
           **result.to_dict(), "audio": clip.audio_codec is not None and note is None,
           "video_options": dataclasses.asdict(video)}
    if as_json:
        emit_json(doc)
        return
    if report:
        click.echo(f"flicker {result.flicker:.5f} (input clip {result.input_flicker:.5f}), "
                   f"temporal {video.temporal}, {result.frames} frames {w}x{h}, {result.seconds:.1f} s")
    if report and engine_name != "local":
        across = "one chunk" if result.boundary_flicker is None else f"{result.boundary_flicker:.5f}"
        click.echo(f"{result.chunks} chunks of {result.chunk} (overlap {result.overlap}, {result.reused_chunks} "
                   f"reused): flicker inside chunks {result.within_flicker:.5f}, across chunk boundaries {across}")
    if not quiet:
        click.echo(f"wrote {out} ({result.frames} frames, {result.seconds:.1f} s)")


COMMANDS = [video_cmd]
