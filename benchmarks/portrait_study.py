"""Does portrait mode keep faces recognisable? Plain vs portrait (regions) vs two-pass stylization.

For each portrait (scikit-image's astronaut plus photos from ``DATA/portraits``) and style:

* landmark error: mediapipe face-mesh landmarks of the content and of the output (same size),
  faces matched by box overlap; mean point distance / the content face's inter-ocular
  distance (outer eye corners), averaged over faces. ``lost`` counts faces the mesh no
  longer finds in the output (they are left out of the mean, so also read that column).
* content distance inside / outside the person mask (:func:`atelier.evaluation.metrics.content_distance`).
* background style distance: Gram distance of the output to the style inside ``1 - mask``
  (:func:`atelier.evaluation.metrics.style_distance`), i.e. how much style the background took;
  ``bg_core_style`` the same on the background at least 4% of the long side away from the
  person, where the feathered transition (and in two-pass mode the person pass) cannot leak in.

The person mask is the one portrait mode uses, computed once on the content. Results are
cached in ``--out`` (rerunning skips finished images); a grid per portrait is written there.
``seconds`` is wall time of the stylization (0 when cached), on whatever else the machine runs.

    python benchmarks/portrait_study.py --data ../shared/data --size 256 --images 3 --iterations 10 --levels 2
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from statistics import mean

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

from atelier import stylize
from atelier.core.options import StyleOptions
from atelier.evaluation import metrics
from atelier.io import samples
from atelier.io.grid import make_grid
from atelier.io.images import load_image, resize_long_side
from atelier.portrait import segment
from atelier.portrait.mode import PortraitOptions, portrait_masks, stylize_portrait

PORTRAITS = ("woman_smiling.png", "man_smiling_closeup.png", "barack_obama_official_portrait.jpg",
             "woman_in_sunlight.png", "joe_biden_official_portrait.jpg", "apollo11_crew.png")
STYLES = ("vincent_van_gogh__the_starry_night.jpg", "edvard_munch__the_scream.jpg")


def landmark_error(content: Image.Image, output: Image.Image) -> tuple[float, int, int]:
    """(mean normalised landmark error over matched faces, faces in content, faces lost)."""
    ref = [f for f in segment.detect_faces(content) if f.landmarks is not None]
    got = [f for f in segment.detect_faces(output.resize(content.size, Image.LANCZOS)) if f.landmarks is not None]
    errors = []
    for f in ref:
        match = max(got, key=lambda g: segment.box_overlap(f.box, g.box), default=None)
        if match is None or segment.box_overlap(f.box, match.box) < 0.3:
            continue
        errors.append(float(np.linalg.norm(match.landmarks - f.landmarks, axis=1).mean()) / f.interocular)
    return (mean(errors) if errors else float("nan")), len(ref), len(ref) - len(errors)


def background_core(person: np.ndarray, margin: float = 0.04) -> np.ndarray:
    """The background at least ``margin`` x long side away from any trace of the person (binary)."""
    outside = person < 0.02
    return ndimage.binary_erosion(outside, iterations=max(1, round(margin * max(person.shape)))).astype(np.float32)


def evaluate(content: Image.Image, style: Image.Image, output: Image.Image, person: np.ndarray, size: int) -> dict:
    err, faces, lost = landmark_error(content, output)
    core = background_core(person)
    return {"landmark": err, "faces": faces, "lost": lost,
            "content_in": metrics.content_distance(output, content, size=size, mask=person),
            "content_out": metrics.content_distance(output, content, size=size, mask=1.0 - person),
            "bg_style": metrics.style_distance(output, style, size=size, mask=1.0 - person),
            "bg_core_style": (metrics.style_distance(output, style, size=size, mask=core) if core.any()
                              else float("nan"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data", help="shared data folder (portraits/, styles/)")
    ap.add_argument("--size", type=int, default=256, help="output long side")
    ap.add_argument("--images", type=int, default=3, help="astronaut + this many - 1 portraits")
    ap.add_argument("--styles", default=",".join(STYLES[:1]), help="style file names in DATA/styles, comma-separated")
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--levels", type=int, default=3)
    ap.add_argument("--style-weight", type=float, default=1.0)
    ap.add_argument("--methods", default="plain,regions,twopass")
    ap.add_argument("--background-style", type=float, default=PortraitOptions.background_style)
    ap.add_argument("--person-style", type=float, default=PortraitOptions.person_style)
    ap.add_argument("--person-content", type=float, default=PortraitOptions.person_content)
    ap.add_argument("--face-content", type=float, default=PortraitOptions.face_content)
    ap.add_argument("--out", default="portrait-study", help="folder for outputs, grids and the cache")
    args = ap.parse_args()
    torch.set_num_threads(2)
    data, out = Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    contents = [("astronaut", samples.content("astronaut"))]
    contents += [(Path(n).stem, load_image(data / "portraits" / n)) for n in PORTRAITS[: args.images - 1]]
    opts = StyleOptions(size=args.size, iterations=args.iterations, levels=args.levels, style_weight=args.style_weight)
    popts = PortraitOptions(background_style=args.background_style, person_style=args.person_style,
                            person_content=args.person_content, face_content=args.face_content)
    methods = args.methods.split(",")
    rows = []
    for style_name in args.styles.split(","):
        style = load_image(data / "styles" / style_name)
        for name, content in contents:
            content = resize_long_side(content, args.size)
            masks = portrait_masks(content, args.size, popts)
            images, labels = [content, style], ["content", "style"]
            for method in methods:
                tag = method if method == "plain" else (f"{method}-b{popts.background_style:g}-p{popts.person_style:g}"
                                                        f"-c{popts.person_content:g}-f{popts.face_content:g}")
                weight = "" if args.style_weight == 1 else f"-w{args.style_weight:g}"
                path = out / (f"{name}__{Path(style_name).stem}__s{args.size}-i{args.iterations}-l{args.levels}"
                              f"{weight}__{tag}.png")
                start = time.perf_counter()
                if path.exists():
                    result = Image.open(path).convert("RGB")
                elif method == "plain":
                    result = stylize(content, style, opts)
                else:
                    mode_opts = dataclasses.replace(popts, portrait_mode=method)
                    result = stylize_portrait(content, style, mode_opts, opts, masks=masks)
                seconds = time.perf_counter() - start
                result.save(path)
                row = {"image": name, "style": Path(style_name).stem[:20], "method": tag, "seconds": seconds,
                       **evaluate(content, style, result, masks.person, args.size)}
                rows.append(row)
                print("  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
                      flush=True)
                images.append(result)
                labels.append(tag)
            make_grid(images, labels, cell=args.size).save(out / f"{name}__{Path(style_name).stem}__grid.png")
    print_table(rows)


def print_table(rows: list[dict]) -> None:
    keys = ("landmark", "lost", "content_in", "content_out", "bg_style", "bg_core_style", "seconds")
    print("\n| method | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for method in dict.fromkeys(r["method"] for r in rows):
        sel = [r for r in rows if r["method"] == method]
        cells = []
        for k in keys:
            vals = [r[k] for r in sel if not (isinstance(r[k], float) and np.isnan(r[k]))]
            cells.append(f"{sum(vals)}" if k == "lost" else (f"{mean(vals):.3f}" if vals else "n/a"))
        print(f"| {method} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
