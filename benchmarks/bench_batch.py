"""Batch throughput: the local engine vs Ray on local workers, and Ray's per-image overhead.

    python benchmarks/bench_batch.py [--images 16] [--size 256] [--method ghiasi] [--workers 2] [--repeats 2]

Writes ``--images`` photos from ../shared/data/photos (shrunk to ``--size``) into a temporary
folder and stylizes them with ``run_batch`` (what ``atelier batch`` runs), each engine in its own
process with the threads it should have: local with ``--workers`` torch threads in one process,
Ray with ``--workers`` worker processes of one thread each (``ray.init(num_cpus=workers)``).
Reported per engine: start-up (Ray: ``ray.init``), the first batch (models loaded on every
worker) and the best of ``--repeats`` warm batches (every output rewritten), as images/s.
Ray's per-image overhead is measured separately: a no-op task over the same items. A third row,
local on one thread, is a control: on a loaded machine torch's thread team can lose more to
waiting for descheduled threads than it gains.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"


def make_folder(n: int, size: int, where: Path) -> Path:
    from PIL import Image
    files = sorted((DATA / "photos").iterdir())[:n]
    src = where / "in"
    src.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(files):
        img = Image.open(f).convert("RGB")
        img.thumbnail((size, size))
        img.save(src / f"{i:03d}.png")
    return src


def noop(item: object) -> None:
    return None


def measure(engine_name: str, args: argparse.Namespace) -> dict:
    """Runs in a child process whose OMP_NUM_THREADS fits ``engine_name``."""
    import torch

    from atelier.base.engine import make_engine
    from atelier.core.options import StyleOptions
    from atelier.scale.batch import Recipe, plan, run_batch

    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    src = make_folder(args.images, args.size, tmp)
    style = str(ROOT / "src" / "atelier" / "assets" / "styles" / "starry-night.jpg")
    opts = StyleOptions(size=args.size, iterations=args.iterations, levels=1).resolved()
    items = plan(src, tmp / "out", Recipe((style,), args.method, opts))
    init = {"num_cpus": args.workers, "object_store_memory": 200 * 1024**2} if engine_name == "ray" else {}
    t = time.perf_counter()
    with make_engine(engine_name, **init) as engine:
        startup = time.perf_counter() - t
        runs = []
        for _ in range(1 + args.repeats):
            t = time.perf_counter()
            recs = run_batch(items, engine, tmp / "out")
            runs.append(time.perf_counter() - t)
            assert all(r["status"] == "done" for r in recs), recs
        t = time.perf_counter()
        list(engine.map(noop, items * 4))
        overhead = (time.perf_counter() - t) / (4 * len(items))
        task_seconds = sorted(r["seconds"] for r in recs)[len(recs) // 2]
    return {"engine": engine_name, "threads": args.threads, "startup_s": round(startup, 2),
            "first_batch_s": round(runs[0], 2),
            "warm_batch_s": round(min(runs[1:]), 2), "warm_images_per_s": round(len(items) / min(runs[1:]), 3),
            "median_task_s": task_seconds, "noop_task_overhead_ms": round(overhead * 1000, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=16)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--method", default="ghiasi")
    ap.add_argument("--iterations", type=int, default=4, help="gatys only (one pyramid level)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--child", choices=("local", "ray"), help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args)))
        return
    rows = []
    # local with as many threads as Ray has workers, local on one thread (a control), Ray workers x 1 thread
    for name, threads in (("local", args.workers), ("local", 1), ("ray", 1)):
        env = {**os.environ, "OMP_NUM_THREADS": str(threads),
               "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
        cmd = [sys.executable, __file__, "--child", name, "--threads", str(threads), *sys.argv[1:]]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{args.images} images, {args.method}, {args.size} px, {args.workers} workers; "
          f"{platform.machine()}, {os.cpu_count()} cores (shared machine)")
    keys = list(rows[0])
    print(" | ".join(keys))
    for r in rows:
        print(" | ".join(str(r[k]) for k in keys))
    for r in rows[:2]:
        print(f"ray / local ({r['threads']} threads) warm throughput: "
              f"{rows[2]['warm_images_per_s'] / r['warm_images_per_s']:.2f}x")


if __name__ == "__main__":
    main()
