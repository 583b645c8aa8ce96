"""Peak memory and time vs output size, untiled and tiled; seam scores at 1024 px.

    OMP_NUM_THREADS=2 python benchmarks/bench_scale.py [--sizes 512,1024,2048,4096] [--out docs/scale]
    python benchmarks/bench_scale.py --calibrate            # fit the memory models' constants

Every run is a fresh ``atelier stylize`` subprocess; its peak RSS is ``ru_maxrss`` from
``os.wait4`` (the whole process: interpreter, torch, weights, images), its time the wall clock
of the process (``--jobs N`` runs N at once: times are then shared-CPU times). Memory and time
curves run Gatys with ``--levels 1 --iterations 1`` (one evaluation at the output size; a full
schedule takes tens of minutes at 4096 px on 2 cores, and memory beyond L-BFGS's history does
not depend on the count). Untiled runs whose estimate exceeds ``--skip-above`` are not run.
Series: ``untiled`` (``--max-memory 1T``), ``tiled`` (``--tile 1024``), and ``budget`` at the
largest size instead of ``tiled`` (``--max-memory 6G`` for Gatys, ``3G`` for feed-forward: the tile is chosen
automatically). Seam scores: :mod:`atelier.evaluation.seams` of 1024 px outputs, untiled and
with ``--tile 512`` (Gatys ``--levels 2 --iterations 2``), on the tiled run's grid (Gatys: the
worst of the grid phases its shifting tiles took).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from atelier.core import tiled as gatys_tiled
from atelier.core.budget import GiB
from atelier.core.device import pick_device, resolve_precision
from atelier.evaluation.seams import grid_phases, seam_score
from atelier.feedforward import tiled as ff_tiled

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
CONTENT = DATA / "content" / "tabby_cat_closeup.jpg"      # 3456 x 2304
STYLE = DATA / "styles" / "akseli_gallen_kallela__boy_with_a_crow.jpg"
BUDGET = {"gatys": "6G", "adain": "3G", "ghiasi": "3G"}
TILE = {"gatys": 1024, "adain": 1024, "ghiasi": 1024}  # the "tiled" curve
SEAM_TILE = 512  # 1024 px runs in 2 x 2 tiles for the seam scores


def run(method: str, size: int, extra: list[str], out: Path, gatys: list[str]) -> dict:
    cmd = [sys.executable, "-m", "atelier", "stylize", str(CONTENT), str(STYLE), "-o", str(out), "-q",
           "--size", str(size), "--method", method, *extra, *(gatys if method == "gatys" else [])]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    err = proc.stderr.read().decode().strip().splitlines()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    rc = os.waitstatus_to_exitcode(status)
    return {"method": method, "size": size, "args": extra + (gatys if method == "gatys" else []),
            "rss_gib": usage.ru_maxrss * 1024 / GiB, "seconds": seconds, "rc": rc,
            "error": err[-1] if rc and err else None}


def untiled_estimate(method: str, size: int) -> float:
    h, w = round(size * 2304 / 3456), size
    if method == "gatys":
        return gatys_tiled.untiled_peak((h, w), 1, resolve_precision(pick_device("auto"), "auto"))
    return ff_tiled.MEMORY[method].peak(h * w, h * w)


def jobs(args: argparse.Namespace) -> list[tuple[str, str, int, list[str], list[str]]]:
    """(method, series, size, size-independent options, gatys schedule) of every run."""
    out = []
    curve, seam = ["--levels", "1", "--iterations", "1"], ["--levels", "2", "--iterations", "2"]
    for method in args.methods.split(","):
        for size in args.sizes:
            if untiled_estimate(method, size) <= args.skip_above * GiB:
                out.append((method, "untiled", size, ["--max-memory", "1T"], curve))
            if TILE[method] < size < max(args.sizes):
                out.append((method, "tiled", size, ["--tile", str(TILE[method])], curve))
        out.append((method, "budget", max(args.sizes), ["--max-memory", BUDGET[method]], curve))
        out.append((method, "seam-untiled", 1024, ["--max-memory", "1T"], seam))
        out.append((method, "seam-tiled", 1024, ["--tile", str(SEAM_TILE)], seam))
    return out


def benchmark(args: argparse.Namespace) -> dict:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    rows = []

    def one(job: tuple) -> dict:
        method, series, size, extra, gatys = job
        r = {**run(method, size, extra, work / f"{method}_{series}_{size}.png", gatys), "series": series}
        print(json.dumps(r), flush=True)
        return r

    with ThreadPoolExecutor(args.jobs) as pool:  # each run is its own process: ru_maxrss stays per run
        rows = list(pool.map(one, sorted(jobs(args), key=lambda j: -j[2])))
    seams = {}
    for method in args.methods.split(","):
        a, b = work / f"{method}_seam-untiled_1024.png", work / f"{method}_seam-tiled_1024.png"
        if a.is_file() and b.is_file():
            phases = grid_phases(SEAM_TILE) if method == "gatys" else [(0, 0)]
            seams[method] = {"tile": SEAM_TILE, "untiled": seam_score(a, SEAM_TILE, phases),
                             "tiled": seam_score(b, SEAM_TILE, phases)}
            print(method, seams[method], flush=True)
    threads = os.environ.get("OMP_NUM_THREADS")
    return {"machine": f"{platform.node()}: {os.cpu_count()} cores, OMP_NUM_THREADS={threads}, "
                       f"{args.jobs} runs at once",
            "rows": rows, "seams": seams}


def plot(result: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for method in sorted({r["method"] for r in result["rows"]}):
        for series, style in (("untiled", "-o"), ("tiled", "--s"), ("budget", "*")):
            pts = sorted((r["size"], r["rss_gib"], r["seconds"]) for r in result["rows"]
                         if r["method"] == method and r["series"] == series and not r.get("skipped") and r["rc"] == 0)
            if pts:
                s, m, t = zip(*pts, strict=True)
                ax1.plot(s, m, style, label=f"{method} {series}", markersize=9 if series == "budget" else 5)
                ax2.plot(s, t, style, label=f"{method} {series}", markersize=9 if series == "budget" else 5)
    for ax, label in ((ax1, "peak RSS (GiB)"), (ax2, "wall time (s)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("output long side (px)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    ax1.axhline(6, color="gray", lw=0.8)
    ax1.axhline(3, color="gray", lw=0.8, ls=":")
    ax1.legend(fontsize=7)
    fig.suptitle(f"atelier stylize: peak memory and time vs size ({result['machine']})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def calibrate(args: argparse.Namespace) -> None:
    """Untiled peak RSS at three sizes per method; least-squares ``fixed + per_pixel * pixels``."""
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    for method in args.methods.split(","):
        px, rss = [], []
        for size in (384, 768, 1152):
            r = run(method, size, ["--max-memory", "1T"], work / f"cal_{method}_{size}.png",
                    ["--levels", "1", "--iterations", "3"])
            px.append(size * round(size * 2304 / 3456))
            rss.append(r["rss_gib"] * GiB)
        fixed, per_pixel = np.linalg.lstsq(np.vstack([np.ones(3), px]).T, np.array(rss), rcond=None)[0]
        print(f"{method}: fixed {fixed / 1e9:.2f} GB, per_pixel {per_pixel:.0f} B (points {rss})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="512,1024,2048,4096", type=lambda s: [int(x) for x in s.split(",")])
    ap.add_argument("--methods", default="gatys,adain,ghiasi")
    ap.add_argument("--jobs", type=int, default=1, help="runs at once (each its own process)")
    ap.add_argument("--skip-above", type=float, default=12.0, help="GiB: untiled runs estimated above are not run")
    ap.add_argument("--work", default="/tmp/atelier-bench-scale")
    ap.add_argument("--out", default=str(ROOT / "docs" / "scale"))
    ap.add_argument("--calibrate", action="store_true")
    args = ap.parse_args()
    if args.calibrate:
        return calibrate(args)
    result = benchmark(args)
    Path(args.out + ".json").write_text(json.dumps(result, indent=1))
    plot(result, Path(args.out + ".png"))
    print(f"wrote {args.out}.json and {args.out}.png")


if __name__ == "__main__":
    main()
