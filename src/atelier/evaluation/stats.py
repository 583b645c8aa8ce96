"""Small statistics used by evaluation reports: bootstrap intervals, binomial intervals, paired tests."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def bootstrap_ci(values: Sequence[float], level: float = 0.95, resamples: int = 2000,
                 seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``values`` and its percentile bootstrap interval: ``(mean, low, high)``.

    NaNs are ignored; with no values all three are NaN, with one value the interval is
    that value. Seeded, so a report is reproducible.
    """
    x = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=np.float64)
    if x.size == 0:
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return float(x.mean()), float(lo), float(hi)


def wilson_ci(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (well behaved at 0, 1 and small n)."""
    if n == 0:
        return math.nan, math.nan
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def paired_test(a: Sequence[float], b: Sequence[float], binary: bool = False, level: float = 0.95,
                resamples: int = 2000, seed: int = 0) -> dict[str, float | int | str]:
    """Compare two methods measured on the same pairs: ``a[i]`` and ``b[i]`` belong to pair ``i``.

    Returns the mean difference ``a - b`` with its percentile-bootstrap interval over pairs
    (``diff``, ``low``, ``high``), the number of pairs ``n`` (pairs with a NaN on either side are
    dropped) and a two-sided ``p`` value: for 0/1 outcomes (``binary``, e.g. deceived or not) the
    exact McNemar test (a binomial test on the discordant pairs), otherwise the Wilcoxon
    signed-rank test (zero differences dropped). ``test`` names the test used.
    """
    from scipy import stats as st

    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} and {len(b)}")
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    keep = ~(np.isnan(x) | np.isnan(y))
    d = x[keep] - y[keep]
    diff, low, high = bootstrap_ci(d.tolist(), level=level, resamples=resamples, seed=seed)
    if binary:
        wins, losses = int(np.sum(d > 0)), int(np.sum(d < 0))
        p = 1.0 if wins + losses == 0 else float(st.binomtest(wins, wins + losses, 0.5).pvalue)
        test = "exact McNemar"
    else:
        nonzero = d[d != 0]
        p = 1.0 if nonzero.size == 0 else float(st.wilcoxon(nonzero).pvalue)
        test = "Wilcoxon signed-rank"
    return {"diff": diff, "low": low, "high": high, "p": p, "n": int(d.size), "test": test}
