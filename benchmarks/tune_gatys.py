"""Compare Gatys settings on the calibration panel (in one process, same run, same machine).

    python benchmarks/tune_gatys.py --size 512 --pairs 16 --out tune-out \
        --config base= --config sw10=style_weight=10 --config "sw10d0=style_weight=10,detail=0"

Each ``--config NAME=FIELD=VALUE,...`` overrides ``StyleOptions`` fields. Configs run interleaved
(for each pair, every config in turn) so a shared machine's load hits them alike; ``--only 0,3,12``
picks panel pairs by index. Prints per config the mean wall time, its ratio to the first config's
time on the same pairs, the evaluations actually run, style and content distance (the yardstick:
384 px long side, atelier.evaluation.metrics), and writes one labelled grid per config plus ``results.json``
to ``--out``.
"""

from __future__ import annotations

import argparse
import ast
import json
import time
from pathlib import Path

import torch

from panel import pairs


def parse_config(text: str) -> tuple[str, dict]:
    name, _, rest = text.partition("=")
    cfg = {}
    for item in filter(None, rest.split(",")):
        k, _, v = item.partition("=")
        try:
            cfg[k] = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            cfg[k] = v
    return name, cfg


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--pairs", type=int, default=16)
    ap.add_argument("--skip", type=int, default=0)
    ap.add_argument("--only", default="", help="comma-separated panel indices (overrides --pairs/--skip)")
    ap.add_argument("--config", action="append", required=True)
    ap.add_argument("--out", type=Path, default=Path("tune-out"))
    ap.add_argument("--metric-size", type=int, default=384)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    import atelier
    from atelier.evaluation.metrics import content_distance, style_distance
    from atelier.io.grid import make_grid

    panel = pairs(args.pairs)[args.skip:]
    if args.only:
        panel = [pairs()[int(i)] for i in args.only.split(",")]
    configs = [parse_config(text) for text in args.config]
    rows: dict[str, list] = {name: [] for name, _ in configs}
    tiles: dict[str, list] = {name: [] for name, _ in configs}
    results = {}
    for content, style, kind in panel:
        for name, cfg in configs:
            evals = [0]

            def count(p, evals=evals):
                evals[0] = p.done
            t = time.perf_counter()
            img = atelier.stylize(content, style, size=args.size, progress=count, **cfg)
            sec = time.perf_counter() - t
            img.save(args.out / f"{name}__{content.stem}.png")
            sd = style_distance(img, style, size=args.metric_size)
            cd = content_distance(img, content, size=args.metric_size)
            rows[name].append({"content": content.name, "style": style.name, "kind": kind, "seconds": sec,
                               "evals": evals[0], "style_distance": sd, "content_distance": cd})
            tiles[name].append((img, f"{content.stem[:14]} | {style.stem.split('__')[-1][:16]} s{sd:.3f} c{cd:.2f}"))
            print(f"  {name:10s} {content.stem[:22]:22s} {style.stem[:34]:34s} {sec:6.1f}s {evals[0]:4d} evals  "
                  f"style {sd:.4f}  content {cd:.3f}", flush=True)
    base = configs[0][0]
    for name, cfg in configs:
        r = rows[name]
        n = len(r)
        mean = {k: sum(x[k] for x in r) / n for k in ("seconds", "evals", "style_distance", "content_distance")}
        mean["time_ratio"] = sum(x["seconds"] for x in r) / sum(x["seconds"] for x in rows[base])
        results[name] = {"config": cfg, "rows": r, "mean": mean}
        print(f"{name}: mean {mean['seconds']:.1f}s ({mean['time_ratio']:.2f} x {base}) {mean['evals']:.0f} evals "
              f"style {mean['style_distance']:.4f} content {mean['content_distance']:.3f}  ({cfg})", flush=True)
        make_grid([t[0] for t in tiles[name]], [t[1] for t in tiles[name]], cols=4).save(args.out / f"grid_{name}.png")
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    print(f"threads {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
