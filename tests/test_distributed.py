"""The Ray engine: same pixels as the local engine, a killed worker retried, a two-node cluster used.

Ray is a dev dependency: these tests fail (never skip) when it is missing. Each test leaves no
Ray process behind (``ray.shutdown`` / ``Cluster.shutdown``, which stop only what they started).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import ray
import torch
from PIL import Image
from ray.cluster_utils import Cluster

from atelier.base.engine import LocalEngine, RayEngine
from atelier.scale.batch import MANIFEST, Item, Recipe, plan, run_batch, stylize_item

SRC = Path(__file__).resolve().parents[1] / "src"
DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
STORE = 200 * 1024**2  # object store per node: modest, the machine is shared
RECIPE_ARGS = ["--method", "ghiasi", "--size", "64"]


@pytest.fixture
def workers_env(monkeypatch):
    """Ray's worker processes import atelier from this checkout and use one thread each."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


@pytest.fixture
def local_ray(workers_env):
    ray.init(num_cpus=2, object_store_memory=STORE, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture
def folder(tmp_path) -> Path:
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    files = sorted((DATA / "photos").iterdir())[:4]
    assert len(files) == 4
    for i, f in enumerate(files):
        img = Image.open(f).convert("RGB")
        img.thumbnail((64, 64))
        img.save(src / ("sub" if i % 2 else ".") / f"p{i}.png")
    return src


def recipe() -> Recipe:
    from atelier.core.options import StyleOptions
    return Recipe((str(SRC / "atelier" / "assets" / "styles" / "starry-night.jpg"),), "ghiasi",
                  StyleOptions(size=64).resolved())


def pixels(out: Path) -> dict[str, np.ndarray]:
    return {p.relative_to(out).as_posix(): np.asarray(Image.open(p)) for p in sorted(out.rglob("*.png"))}


def test_ray_gives_the_same_pixels_as_the_local_engine(local_ray, folder, tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the workers (OMP_NUM_THREADS=1): fp32 sums split over threads round differently
    try:
        local = run_batch(plan(folder, tmp_path / "local", recipe()), LocalEngine(), tmp_path / "local")
    finally:
        torch.set_num_threads(threads)
    with RayEngine() as engine:  # joins the running instance, leaves it running
        remote = run_batch(plan(folder, tmp_path / "ray", recipe()), engine, tmp_path / "ray")
    assert ray.is_initialized()
    assert [r["status"] for r in local + remote] == ["done"] * 8, local + remote
    a, b = pixels(tmp_path / "local"), pixels(tmp_path / "ray")
    assert sorted(a) == sorted(b) == ["p0.png", "p2.png", "sub/p1.png", "sub/p3.png"]
    for name in a:
        assert np.array_equal(a[name], b[name]), name
    node = ray.get_runtime_context().get_node_id()
    assert {r["worker"].split(":")[0] for r in remote} == {node}
    assert all(int(r["worker"].split(":")[1]) != os.getpid() for r in remote), "ran in Ray's worker processes"


def test_a_worker_killed_mid_batch_is_retried_and_finished_outputs_are_kept(local_ray, folder, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()

    def dies_once(item: Item) -> dict:
        """Kills its own worker process on the first attempt of the third image (a crash, not an exception)."""
        marker = markers / "killed"
        if item.name == "sub/p1.png" and not marker.exists():
            marker.write_text(str(os.getpid()))
            os._exit(1)
        return stylize_item(item)

    items = plan(folder, tmp_path / "out", recipe())
    with RayEngine(retries=2) as engine:
        recs = run_batch(items, engine, tmp_path / "out", task=dies_once)
    assert sorted((r["output"], r["status"]) for r in recs) == [(i.name, "done") for i in items]
    killed = int((markers / "killed").read_text())
    retried = next(r for r in recs if r["output"] == "sub/p1.png")
    assert int(retried["worker"].split(":")[1]) != killed, "the retry ran in a new worker process"
    assert len(pixels(tmp_path / "out")) == 4

    (markers / "killed").unlink()  # no retries: the crash is reported, the other images are kept
    with RayEngine(retries=0) as engine:
        recs = run_batch(plan(folder, tmp_path / "again", recipe()), engine, tmp_path / "again", task=dies_once)
    status = {r["output"]: (r["status"], r["error"]) for r in recs}
    assert status["sub/p1.png"][0] == "failed" and status["sub/p1.png"][1], status
    assert [s for n, (s, _) in status.items() if n != "sub/p1.png"] == ["done"] * 3
    assert sorted(pixels(tmp_path / "again")) == ["p0.png", "p2.png", "sub/p3.png"]


def test_two_node_cluster_runs_tasks_on_both_nodes(workers_env, folder, tmp_path):
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "resources": {"head": 1}, "object_store_memory": STORE, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1, resources={"worker2": 1}, object_store_memory=STORE)
        cluster.wait_for_nodes()
        out = tmp_path / "out"
        cmd = [sys.executable, "-m", "atelier", "batch", str(folder), "starry-night", "-o", str(out),
               *RECIPE_ARGS, "-q", "--engine", "ray", "--address", cluster.address]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        recs = [json.loads(line) for line in (out / MANIFEST).read_text().splitlines()]
        assert [x["status"] for x in recs] == ["done"] * 4
        nodes = {n.node_id for n in cluster.list_all_nodes()}
        used = {x["worker"].split(":")[0] for x in recs}
        assert used == nodes and len(nodes) == 2, (used, nodes)
    finally:
        cluster.shutdown()


def test_evaluate_on_ray_gives_the_local_engine_rows(local_ray, tmp_path):
    from atelier.evaluation.runner import EvalOptions, evaluate
    opts = EvalOptions(methods=("gatys",), pairs=2, size=48, deception=False, resamples=100)
    local = evaluate(DATA, tmp_path / "local", opts)
    remote = evaluate(DATA, tmp_path / "ray", opts, engine=RayEngine())
    assert [(r["method"], r["pair"]) for r in remote.rows] == [(r["method"], r["pair"]) for r in local.rows]
    assert len(remote.rows) == 4 and not remote.failures and ray.is_initialized()
    # the photo's rows, then gatys's, measured on the workers
    for a, b in zip(local.rows[2:], remote.rows[2:], strict=True):
        assert b["style_distance"] == pytest.approx(a["style_distance"], rel=1e-2), (a, b)
    assert sorted(p.name for p in (tmp_path / "ray" / "results" / "gatys").glob("*.png")) == ["p000.png", "p001.png"]
