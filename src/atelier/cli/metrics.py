"""``atelier metrics``: the evaluation metrics of one image."""

from __future__ import annotations

import json
import time

import click

from ..evaluation import metrics
from ..io import starter


@click.command("metrics")
@click.argument("image", type=str)
@click.option("--content", type=str, help="content photo: adds content distance and SSIM")
@click.option("--style", type=str, help="style image: adds style distance")
@click.option("--mask", type=str, help="grayscale mask image (white = region) restricting the distances")
@click.option("--size", default=512, show_default=True, type=int, help="long side at which distances are measured")
@click.option("--json", "as_json", is_flag=True,
              help="print one JSON object (the metrics, the paths and settings, the time taken) instead of a table")
def metrics_cmd(image: str, content: str | None, style: str | None, mask: str | None, size: int,
                as_json: bool) -> None:
    """Print IMAGE's gradient magnitude, FFT 0.9-quantile and periodic-artefact score, and its distances
    to CONTENT/STYLE.

    Definitions: docs/evaluation.md
    (or `python -c "import atelier.evaluation.metrics; help(atelier.evaluation.metrics)"`).
    """
    from ..io.images import load_image

    start = time.perf_counter()
    style = starter.resolve(style) if style else None
    img = load_image(image)
    m = load_image(mask).convert("L") if mask else None
    if m is not None:
        m = metrics.load_mask(m)
    values = {"gradient_magnitude": metrics.gradient_magnitude(img), "fft_q90": metrics.fft_quantile(img),
              "periodic_artefact": metrics.periodic_artefact(img)}
    if style:
        values["style_distance"] = metrics.style_distance(img, style, size=size, mask=m)
    if content:
        values["content_distance"] = metrics.content_distance(img, content, size=size, mask=m)
        values["ssim"] = metrics.ssim_to_content(img, content)
    if as_json:
        click.echo(json.dumps({**{k: round(v, 6) for k, v in values.items()}, "image": image, "content": content,
                               "style": style, "mask": mask, "size": size,
                               "seconds": round(time.perf_counter() - start, 3)}))
    else:
        for k, v in values.items():
            click.echo(f"{k:18s} {v:.6g}")


COMMANDS = [metrics_cmd]
