"""A short, small run of the studio load benchmark (benchmarks/bench_web_load.py): the studio
served by uvicorn with Atelier's settings on 127.0.0.1 (in this process, so that the test starts
fast) and 20 browser-like clients for 3 s. No timing is asserted."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from atelier.web.app import create_app
from atelier.web.config import ServeOptions

from _live import Served

BENCH = Path(__file__).parent.parent / "benchmarks" / "bench_web_load.py"


def load_benchmark():
    spec = importlib.util.spec_from_file_location("bench_web_load", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (its dataclasses look their module up)
    spec.loader.exec_module(module)
    return module


def test_twenty_clients_get_no_server_errors_and_the_queue_stays_bounded(capfd):
    bench = load_benchmark()
    opts = ServeOptions(max_upload_mb=0.5, library=str(BENCH.parent / "no-library.sqlite"))
    served = Served(create_app(opts))
    try:
        stats, memory = bench.run_load(served.url, os.getpid(), clients=20, seconds=3, max_upload_mb=0.5)
    finally:
        served.stop()
    summary = bench.report(stats, memory, 20, 3)
    print(summary)
    assert stats.failures == [] and stats.server_errors == 0, summary
    assert {code for _, code in stats.statuses} <= {200, 400, 413, 429}, summary
    assert stats.statuses[("upload", 200)] == 20 and stats.statuses[("capabilities", 200)] == 20, summary
    assert stats.max_waiting <= opts.max_waiting, summary  # (how many polls fit in 3 s depends on the machine)
    assert "Traceback" not in capfd.readouterr().err  # nothing went wrong inside the server either
