"""Plot the k series of an `atelier evaluate` folder: style distance and crispness against K.

    python benchmarks/plot_k_series.py runs/kseries/pairs.csv docs/augment_k_series.png

Columns used: gatys (K = 0), augmented-paper-k1, -k2, augmented-paper (K = 3), -k4 (docs/evaluation.md).
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

SERIES = (("gatys", 0), ("augmented-paper-k1", 1), ("augmented-paper-k2", 2), ("augmented-paper", 3),
          ("augmented-paper-k4", 4))
PANELS = (("style_distance", "style distance to the query (lower = closer)"),
          ("gradient", "gradient magnitude (higher = crisper)"))


def main(csv_path: str, out: str) -> None:
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    with open(csv_path, newline="") as fh:
        for row in csv.DictReader(fh):
            for key, _ in PANELS:
                values[row["method"]][key].append(float(row[key]))
    series = [(m, k) for m, k in SERIES if m in values]
    fig, axes = plt.subplots(1, len(PANELS), figsize=(8, 3.2))
    for ax, (key, label) in zip(axes, PANELS, strict=True):
        ax.plot([k for _, k in series], [sum(values[m][key]) / len(values[m][key]) for m, _ in series], "o-")
        ax.set_xlabel("K (0 = plain gatys)")
        ax.set_xticks([k for _, k in series])
        ax.set_title(label, fontsize=9)
    n = len(values["gatys"]["gradient"])
    fig.suptitle(f"paper configuration, K = 0..4, means over {n} pairs", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=100)


if __name__ == "__main__":
    main(*sys.argv[1:3])
