"""Bounded load test of the studio: many browser-like clients against a real ``atelier serve``.

    python benchmarks/bench_web_load.py [--clients 100] [--seconds 30] [--seed 0]

Starts ``atelier serve`` in a subprocess on a free port of 127.0.0.1 (loopback only, always) and
runs ``--clients`` clients for ``--seconds``. Each client is one browser session (its own cookie):
it loads the capabilities, uploads a small photo, then until the time is up submits tiny Gatys
jobs (64 px, 2 iterations), polls their status as the page does, reads its history, cancels
now and then, and sometimes misbehaves (an upload over the size limit, an invalid job).

Reports the requests made, the status codes, the p50/p95 latency of status polls
(``GET /api/jobs/ID``), the server's resident memory (peak, VmHWM, and at the end), the
longest waiting line seen, and the 5xx count. Exit code 1 if any answer was a 5xx or a
connection failed. Numbers depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import numpy as np
from PIL import Image

HOST = "127.0.0.1"  # never anything but loopback
POLL_S = (0.2, 0.6)  # a client waits this long (uniform) between requests, like the page's polling
JOB = {"content": "", "styles": ["sample:swirl"], "quality": "preview", "size": 64, "iterations": 2}


@dataclass
class Stats:
    """Everything the clients saw."""

    statuses: Counter = field(default_factory=Counter)   # (route, status) -> count
    status_latency: list[float] = field(default_factory=list)  # seconds per GET /api/jobs/ID
    failures: list[str] = field(default_factory=list)   # connection errors, timeouts
    max_waiting: int = 0                                 # longest waiting line a snapshot reported

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(n for (_, code), n in self.statuses.items() if code >= 500)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def photo(seed: int, side: int = 96) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def memory_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of process ``pid`` in MB."""
    with open(f"/proc/{pid}/status") as fh:
        fields = dict(line.split(":", 1) for line in fh if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def warm_up(url: str) -> None:
    """Run one job to its end, so that the network is loaded before the clients come."""
    with httpx.Client(base_url=url, timeout=120) as client:
        job = client.post("/api/jobs", json={**JOB, "content": "sample:astronaut"}).json()
        while job["state"] in ("queued", "running"):
            time.sleep(0.2)
            job = client.get(f"/api/jobs/{job['id']}").json()


class Server:
    """``atelier serve`` on a free loopback port, in a subprocess."""

    def __init__(self, *options: str):
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        self.proc = subprocess.Popen([sys.executable, "-m", "atelier", "serve", "--host", HOST,
                                      "--port", str(self.port), *options],
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.pid = self.proc.pid
        end = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{self.url}/api/capabilities", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"the server did not start: {self.proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)

    def stop(self) -> str:
        """Stop the server; its stderr (tracebacks would show here)."""
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err.decode(errors="replace")


async def _client(index: int, url: str, until: float, max_upload: int, stats: Stats) -> None:
    rng = random.Random(index)

    async def call(route: str, method: str, path: str, **kw) -> httpx.Response | None:
        start = time.perf_counter()
        try:
            r = await client.request(method, path, **kw)
        except httpx.HTTPError as exc:
            stats.failures.append(f"{route}: {type(exc).__name__}: {exc}")
            return None
        stats.statuses[(route, r.status_code)] += 1
        if route == "status":
            stats.status_latency.append(time.perf_counter() - start)
        return r

    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        await call("capabilities", "GET", "/api/capabilities")
        up = await call("upload", "POST", "/api/uploads", files={"file": (f"p{index}.png", photo(index))})
        content = f"upload:{up.json()['id']}" if up is not None and up.status_code == 200 else "sample:astronaut"
        jobs: list[str] = []
        while time.monotonic() < until:
            roll = rng.random()
            if jobs and roll < 0.7:  # the page polls its jobs
                r = await call("status", "GET", f"/api/jobs/{rng.choice(jobs)}")
                if r is not None and r.status_code == 200:
                    snap = r.json()
                    stats.max_waiting = max(stats.max_waiting, snap["waiting"])
                    if snap["state"] not in ("queued", "running"):
                        jobs.remove(snap["id"])
            elif jobs and roll < 0.75:
                await call("cancel", "POST", f"/api/jobs/{jobs.pop(0)}/cancel")
            elif roll < 0.85:
                r = await call("submit", "POST", "/api/jobs",
                               json={**JOB, "content": content, "seed": rng.randrange(100)})
                if r is not None and r.status_code == 200:
                    jobs.append(r.json()["id"])
                elif r is not None and r.status_code == 429:  # as the page does: wait as told
                    await asyncio.sleep(min(float(r.headers.get("retry-after", 1)), until - time.monotonic(), 5))
            elif roll < 0.94:
                await call("history", "GET", "/api/history")
            elif roll < 0.97:
                await call("upload too large", "POST", "/api/uploads",
                           files={"file": ("big.png", os.urandom(max_upload + 100_000))})
            else:
                await call("bad job", "POST", "/api/jobs", json={**JOB, "content": content, "size": 99_999})
            await asyncio.sleep(rng.uniform(*POLL_S))


async def _load(url: str, clients: int, seconds: float, max_upload: int) -> Stats:
    stats = Stats()
    until = time.monotonic() + seconds
    await asyncio.gather(*(_client(i, url, until, max_upload, stats) for i in range(clients)))
    return stats


def run_load(url: str, pid: int, clients: int, seconds: float, max_upload_mb: float = 20.0) -> tuple[Stats, dict]:
    """Run the clients against the server at ``url`` (process ``pid``, on this machine); returns
    the stats and the server's resident memory in MB (start, end, peak, largest sample)."""
    samples: list[float] = []
    done = False

    async def sample_memory() -> None:
        while not done:
            samples.append(memory_mb(pid)[0])
            await asyncio.sleep(0.5)

    async def main() -> Stats:
        nonlocal done
        sampler = asyncio.create_task(sample_memory())
        try:
            return await _load(url, clients, seconds, int(max_upload_mb * 1e6))
        finally:
            done = True
            await sampler

    before = memory_mb(pid)[0]
    stats = asyncio.run(main())
    now, peak = memory_mb(pid)
    return stats, {"start": before, "end": now, "peak": peak, "max_sampled": max(samples, default=now)}


def report(stats: Stats, memory: dict, clients: int, seconds: float) -> str:
    lat = np.array(stats.status_latency) * 1000 if stats.status_latency else np.array([float("nan")])
    lines = [f"{clients} clients for {seconds:g} s on {HOST}: {stats.requests} requests "
             f"({stats.requests / seconds:.0f}/s), {stats.server_errors} answered 5xx, "
             f"{len(stats.failures)} connection failures",
             f"status polls: {len(stats.status_latency)}, latency p50 {np.percentile(lat, 50):.1f} ms, "
             f"p95 {np.percentile(lat, 95):.1f} ms, max {lat.max():.1f} ms",
             f"server RSS: {memory['start']:.0f} MB at start, peak {memory['peak']:.0f} MB, "
             f"{memory['end']:.0f} MB at the end; longest waiting line {stats.max_waiting}",
             "answers: " + ", ".join(f"{route} {code}: {n}" for (route, code), n in sorted(stats.statuses.items()))]
    lines += [f"failure: {f}" for f in stats.failures[:5]]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--max-upload-mb", type=float, default=1.0, help="the server's upload limit")
    args = ap.parse_args()
    server = Server("--max-upload-mb", str(args.max_upload_mb), "--library", os.devnull + ".none")
    try:
        warm_up(server.url)
        stats, memory = run_load(server.url, server.pid, args.clients, args.seconds, args.max_upload_mb)
    finally:
        log = server.stop()
    print(report(stats, memory, args.clients, args.seconds))
    if "Traceback" in log:
        print("server log:\n" + log[-3000:])
    return 1 if stats.server_errors or stats.failures or "Traceback" in log else 0


if __name__ == "__main__":
    sys.exit(main())
