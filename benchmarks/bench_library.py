"""Style library performance: build throughput, search latency, memory per 100k entries.

    python benchmarks/bench_library.py [--data ../shared/data] [--images 40] [--sizes 1000,100000]

1. Build: embeds the first ``--images`` artworks of DATA/styles into a fresh library
   (hash + decode + VGG19 descriptor at 256 px + commit per image) and reports images/s.
2. Search: fills a library with synthetic descriptors (a Gaussian mixture on the scale of
   real ones), then times ``StyleLibrary.search`` (FAISS + SQLite metadata, k=5) per query,
   (wall-clock median and p95, and median CPU time of all threads, which depends less on
   other load), the first-search index build, recall@5 against exact search, and the resident memory
   and file size the entries cost.

Prints a table. Numbers depend on the machine (and on other processes sharing it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np
import torch

from atelier.library.descriptors import DescriptorConfig
from atelier.library.store import IVF_MIN, StyleLibrary, scan


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def bench_build(data: Path, n: int, workdir: Path) -> dict:
    files = scan([data / "styles"])[:n]
    folder = workdir / "styles"
    folder.mkdir()
    for f in files:
        (folder / f.name).symlink_to(f)
    with StyleLibrary.open(workdir / "build.sqlite", create=True) as lib:
        lib.describe(files[0])  # load the network outside the timing
        start = time.perf_counter()
        report = lib.update([folder])
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        again = lib.update([folder])
        rescan = time.perf_counter() - start
    return {"images": len(report.embedded), "seconds": seconds, "per_s": len(report.embedded) / seconds,
            "rescan_s": rescan, "unchanged": again.unchanged}


def synthetic(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """Clustered vectors with per-dimension scales like real channel means (0..~1000)."""
    rng = np.random.default_rng(seed)
    scale = rng.gamma(1.0, 100.0, dim).astype(np.float32)
    centers = rng.random((max(10, n // 200), dim), dtype=np.float32) * scale
    noise = rng.standard_normal((n, dim), dtype=np.float32) * scale * 0.1
    return centers[rng.integers(0, len(centers), n)] + noise


def bench_search(n: int, workdir: Path, queries: int = 50) -> dict:
    cfg = DescriptorConfig()
    vecs = synthetic(n, cfg.dim)
    meta = {"artist": "synthetic", "title": "", "movement": ""}
    path = workdir / f"synthetic-{n}.sqlite"
    with StyleLibrary.open(path, create=True) as lib, lib.conn:
        for i, v in enumerate(vecs):
            lib.put(f"/synthetic/{i}.png", f"{i:064x}", 0, (256, 256), meta, v)
    rng = np.random.default_rng(1)
    q = vecs[rng.integers(0, n, queries)] + synthetic(queries, cfg.dim, seed=2) * 0.05
    before = rss_mb()
    with StyleLibrary.open(path) as lib:
        start = time.perf_counter()
        lib.search(q[0], 5)  # loads the vectors and builds the index
        first = time.perf_counter() - start
        mem = rss_mb() - before
        times, cpu, found = [], [], []
        for v in q:
            start, start_cpu = time.perf_counter(), time.process_time()
            found.append([h.entry.id for h in lib.search(v, 5)])
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        ids, stored = lib.vectors()
    exact = faiss.IndexFlatL2(cfg.dim)
    exact.add(stored)
    _, truth = exact.search(q, 5)
    recall = np.mean([len(set(f) & set(ids[t])) / 5 for f, t in zip(found, truth, strict=True)])
    return {"n": n, "index": "IVF-flat" if n >= IVF_MIN else "flat (exact)", "first_s": first,
            "median_ms": statistics.median(times) * 1e3, "cpu_ms": statistics.median(cpu) * 1e3,
            "p95_ms": float(np.quantile(times, 0.95)) * 1e3,
            "recall": recall, "rss_mb": mem, "file_mb": path.stat().st_size / 1e6}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data", type=Path)
    ap.add_argument("--images", default=40, type=int, help="artworks embedded in the build benchmark")
    ap.add_argument("--sizes", default="1000,100000", help="synthetic library sizes for the search benchmark")
    ap.add_argument("--threads", default=2, type=int)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    faiss.omp_set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if (args.data / "styles").is_dir():
            b = bench_build(args.data, args.images, tmp)
            print(f"build: {b['images']} artworks in {b['seconds']:.1f} s = {b['per_s']:.2f} images/s "
                  f"(descriptor {DescriptorConfig().dim}-d at {DescriptorConfig().size} px, {args.threads} threads); "
                  f"re-scan of unchanged files {b['rescan_s']:.2f} s")
        else:
            print(f"build: skipped, no {args.data / 'styles'}", file=sys.stderr)
        print(f"\n{'entries':>8} {'index':>13} {'1st query s':>12} {'median ms':>10} {'p95 ms':>8} "
              f"{'cpu ms':>7} {'recall@5':>9} {'RSS MB':>8} {'file MB':>8}")
        for n in (int(s) for s in args.sizes.split(",")):
            r = bench_search(n, tmp)
            print(f"{r['n']:>8} {r['index']:>13} {r['first_s']:>12.2f} {r['median_ms']:>10.2f} {r['p95_ms']:>8.2f} "
                  f"{r['cpu_ms']:>7.2f} {r['recall']:>9.3f} {r['rss_mb']:>8.0f} {r['file_mb']:>8.0f}")


if __name__ == "__main__":
    main()
