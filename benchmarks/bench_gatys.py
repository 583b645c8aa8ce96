"""Benchmark: Atelier's Gatys default vs the installed `pastiche` CLI, same inputs, same run.

    python benchmarks/bench_gatys.py --panel [--pairs 16] [--size 512] [--baseline] [--out bench-out]
    python benchmarks/bench_gatys.py --content PATH --style PATH        # one pair

Every program runs as a subprocess; wall time and peak RSS come from ``os.wait4``.

* **Atelier**: ``atelier stylize CONTENT STYLE --size 512`` with the default settings, per pair.
  ``--baseline`` also runs the previous default (style weight 1, full detail re-injection,
  20/40/80 evaluations on 3 levels) so "before" and "after" come from the same run.
  ``--variant NAME=FLAGS`` (repeatable) also runs the default with extra flags.
  ``--before-src DIR`` also runs the package from ``DIR`` with its own defaults (run
  "previous": e.g. a ``git archive`` of an earlier commit, its code and settings, in the same
  run). Runs are interleaved per pair, and CPU seconds (user + system) are reported beside
  wall time: on a shared machine CPU time is the steadier measure of the work done.
* **pastiche speed**: per-step time from two runs (5 and ``--pastiche-steps`` steps) on the
  first ``--pastiche-pairs`` pairs, turned into seconds per step per megapixel; each pair's
  1000-step (pastiche's default) time is extrapolated from its pixel count. The speed ratio is
  that time over Atelier's wall time for the pair.
* **pastiche quality**: its real 1000-step result on ``--pastiche-full`` pairs at 256 px (about
  12 min each on 2 cores), kept in ``OUT/pastiche-1000`` and reused by later runs.

Scores use one shared definition (``atelier.evaluation.metrics``) at 384 px long side: style distance =
mean relative Gram error over relu1_1..relu5_1, content distance = relative relu4_2 error. The
labelled grid of all pairs goes to ``--grid`` (default docs/gatys_panel.jpg).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from panel import DATA, pairs  # noqa: E402

BASELINE = ["--style-weight", "1", "--detail", "1", "--iterations", "20", "--levels", "3",
            "--coarse-factor", "2"]
METRIC_SIZE = 384


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, float, float]:
    """Run ``cmd``; return (wall seconds, peak RSS in MiB, CPU seconds user + system). Raises on failure."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=None if env is None else {**os.environ, **env})
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def atelier_cmd(content: Path, style: Path, out: Path, size: int, extra: list[str]) -> list[str]:
    return [shutil.which("atelier") or "atelier", "stylize", str(content), str(style), "-o", str(out),
            "--size", str(size), "-q", *extra]


def pastiche_cmd(content: Path, style: Path, out: Path, size: int, steps: int) -> list[str]:
    return [shutil.which("pastiche") or "pastiche", "--content", str(content), "--styles", str(style),
            "--output", str(out), "--size", str(size), "--num-steps", str(steps), "--no-verbose", "--seed", "0"]


def megapixels(path: Path, size: int) -> float:
    w, h = Image.open(path).size
    s = size / max(w, h)
    return round(w * s) * round(h * s) / 1e6


def score(image: Path, content: Path, style: Path) -> dict[str, float]:
    from atelier.evaluation.metrics import content_distance, style_distance
    return {"style_distance": style_distance(image, style, size=METRIC_SIZE),
            "content_distance": content_distance(image, content, size=METRIC_SIZE)}


def pastiche_per_step(panel: list, n: int, steps: int, size: int, out: Path) -> tuple[float, float]:
    """(seconds per step per megapixel, fixed seconds per run) from 5- and ``steps``-step runs
    on the first ``n`` pairs; a pair's 1000-step time is ``fixed + rate * MP * 1000``."""
    rates, fixed = [], []
    for content, style, _ in panel[:n]:
        t5, _, _ = timed(pastiche_cmd(content, style, out / "pastiche_5.png", size, 5))
        tn, _, _ = timed(pastiche_cmd(content, style, out / f"pastiche_{steps}.png", size, steps))
        per_step = (tn - t5) / (steps - 5)
        rates.append(per_step / megapixels(content, size))
        fixed.append(t5 - 5 * per_step)
        print(f"pastiche {content.stem}: {per_step:.2f} s/step, {fixed[-1]:.1f} s fixed", flush=True)
    return sum(rates) / len(rates), sum(fixed) / len(fixed)


def pastiche_full(panel: list, n: int, out: Path) -> list[dict]:
    """pastiche's real 1000-step result at 256 px on the first ``n`` pairs (cached in ``out``)."""
    rows = []
    (out / "pastiche-1000").mkdir(parents=True, exist_ok=True)
    for content, style, _ in panel[:n]:
        img = out / "pastiche-1000" / f"{content.stem}__{style.stem}__256.png"
        seconds = None
        if not img.exists():
            tmp = img.with_suffix(".tmp.png")
            seconds, _, _ = timed(pastiche_cmd(content, style, tmp, 256, 1000))
            tmp.replace(img)
        ours = out / "pastiche-1000" / f"{content.stem}__atelier__256.png"
        t_ours, _, _ = timed(atelier_cmd(content, style, ours, 256, []))
        rows.append({"pair": f"{content.stem} x {style.stem}", "pastiche_seconds": seconds,
                     "atelier_seconds": t_ours, "pastiche": score(img, content, style),
                     "atelier": score(ours, content, style)})
    return rows


def run_atelier(panel: list, size: int, out: Path,
                variants: dict[str, tuple[list[str], dict | None]]) -> dict[str, list[dict]]:
    """Run every variant (name: (extra CLI flags, extra environment)) on every pair, interleaved
    per pair so a shared machine's load hits the variants alike."""
    runs: dict[str, list[dict]] = {name: [] for name in variants}
    for content, style, kind in panel:
        for name, (extra, env) in variants.items():
            img = out / name / f"{content.stem}.png"
            img.parent.mkdir(parents=True, exist_ok=True)
            wall, rss, cpu = timed(atelier_cmd(content, style, img, size, extra), env)
            row = {"content": content, "style": style, "kind": kind, "image": img, "seconds": wall,
                   "cpu_seconds": cpu, "peak_rss_mib": rss, **score(img, content, style)}
            print(f"{name:8s} {content.stem[:24]:24s} {style.stem.split('__')[-1][:30]:30s} {wall:6.1f} s "
                  f"{cpu:6.1f} cpu-s {rss:6.0f} MiB  style {row['style_distance']:.3f}  "
                  f"content {row['content_distance']:.3f}", flush=True)
            runs[name].append(row)
    return runs


def write_grid(panel: list, runs: dict[str, list[dict]], path: Path) -> None:
    from atelier.io.grid import make_grid
    images, labels = [], []
    for i, (content, style, _kind) in enumerate(panel):
        images += [Image.open(content), Image.open(style)]
        labels += [content.stem[:28], f"{style.stem.split('__')[0][:12]}: {style.stem.split('__')[-1][:14]}"]
        for name, rows in runs.items():
            r = rows[i]
            images.append(Image.open(r["image"]))
            labels.append(f"{name} s{r['style_distance']:.3f} c{r['content_distance']:.2f}")
    make_grid(images, labels, cols=2 + len(runs), cell=200).save(path, quality=85)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--panel", action="store_true", help="run the calibration panel (benchmarks/panel.py)")
    ap.add_argument("--pairs", type=int, default=16)
    ap.add_argument("--content", type=Path, default=DATA / "content" / "golden_gate_bridge_fog.jpg")
    ap.add_argument("--style", type=Path, default=DATA / "styles" / "vincent_van_gogh__the_starry_night.jpg")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--baseline", action="store_true", help="also run the previous default")
    ap.add_argument("--before-src", type=Path, help="also run the atelier package from this src folder "
                    "with its own defaults (e.g. a `git archive` of an earlier commit): run 'previous'")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=FLAGS",
                    help='also run the default with extra CLI flags, e.g. "fast=--levels 2 --iterations 6"')
    ap.add_argument("--pastiche-steps", type=int, default=30)
    ap.add_argument("--pastiche-pairs", type=int, default=2, help="pairs to time pastiche on")
    ap.add_argument("--pastiche-full", type=int, default=2, help="pairs to run pastiche's 1000 steps on (256 px)")
    ap.add_argument("--out", type=Path, default=Path("bench-out"))
    ap.add_argument("--grid", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "gatys_panel.jpg")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    panel = pairs(args.pairs) if args.panel else [(args.content, args.style, "pair")]

    rate, fixed = pastiche_per_step(panel, args.pastiche_pairs, args.pastiche_steps, args.size, args.out)
    variants: dict[str, tuple[list[str], dict | None]] = {"default": ([], None)}
    if args.before_src:
        variants["previous"] = ([], {"PYTHONPATH": str(args.before_src.resolve())})
    if args.baseline:
        variants["before"] = (BASELINE, None)
    for text in args.variant:
        name, _, flags = text.partition("=")
        variants[name] = (flags.split(), None)
    runs = run_atelier(panel, args.size, args.out, variants)

    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} CPUs; {len(panel)} pairs at {args.size} px; "
          f"pastiche {rate:.2f} s/step/MP + {fixed:.1f} s per run ({args.pastiche_steps}-step runs on "
          f"{args.pastiche_pairs} pairs)")
    print("| pair | kind | run | wall s | CPU s | peak RSS MiB | style dist | content dist "
          "| x faster than pastiche 1000 |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    summary = {}
    for name, rows in runs.items():
        for r in rows:
            est = fixed + rate * 1000 * megapixels(r["content"], args.size)
            r["speedup"] = est / r["seconds"]
            print(f"| {r['content'].stem} x {r['style'].stem.split('__')[-1]} | {r['kind']} | {name} | "
                  f"{r['seconds']:.1f} | {r['cpu_seconds']:.1f} | {r['peak_rss_mib']:.0f} | "
                  f"{r['style_distance']:.3f} | {r['content_distance']:.3f} | {r['speedup']:.0f} |")
        mean = {k: sum(r[k] for r in rows) / len(rows)
                for k in ("seconds", "cpu_seconds", "peak_rss_mib", "style_distance", "content_distance",
                          "speedup")}
        mean["max_peak_rss_mib"] = max(r["peak_rss_mib"] for r in rows)
        summary[name] = mean
    print("\n| run | mean wall s | mean CPU s | mean / max peak RSS MiB | mean style dist | mean content dist "
          "| mean x faster |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, m in summary.items():
        print(f"| {name} | {m['seconds']:.1f} | {m['cpu_seconds']:.1f} | "
              f"{m['peak_rss_mib']:.0f} / {m['max_peak_rss_mib']:.0f} | "
              f"{m['style_distance']:.3f} | {m['content_distance']:.3f} | {m['speedup']:.0f} |")
    if args.panel:
        write_grid(panel, runs, args.grid)
        print(f"grid: {args.grid}", flush=True)
    full = pastiche_full(panel, args.pastiche_full, args.out) if args.pastiche_full else []
    if full:
        print("\n| pair (256 px) | pastiche 1000 steps: style / content | atelier default: style / content |")
        print("|---|---|---|")
        for f in full:
            print(f"| {f['pair']} | {f['pastiche']['style_distance']:.3f} / {f['pastiche']['content_distance']:.3f} | "
                  f"{f['atelier']['style_distance']:.3f} / {f['atelier']['content_distance']:.3f} |")
    (args.out / "bench.json").write_text(json.dumps(
        {"machine": platform.machine(), "cpus": os.cpu_count(), "size": args.size,
         "pastiche_s_per_step_per_mp": rate, "pastiche_fixed_s": fixed, "summary": summary, "pastiche_1000": full,
         "runs": {n: [{k: str(v) if isinstance(v, Path) else v for k, v in r.items()} for r in rows]
                  for n, rows in runs.items()}}, indent=2))


if __name__ == "__main__":
    main()
