"""L-BFGS on one tensor (Nocedal & Wright 2006, Algorithms 7.4 and 7.5), with an Armijo backtrack.

The optimizer of every Gatys run (whole image and tiled). It is written here rather than taken
from ``torch.optim.LBFGS`` for one measured reason: the first ``torch.optim`` optimizer a process
builds imports ``torch._dynamo`` (0.8 s and ~150 MiB of peak RSS on the 2-core benchmark machine,
about 8 % of a default 512 px run's wall time). The iteration is the textbook one that
``torch.optim.LBFGS`` also runs: the two-loop recursion over the last ``history`` (s, y) pairs
with ``H0 = s.y / y.y``, a first step of L1 length 1 (``min(1, 1 / |g|_1)``), then unit steps.
Where torch's strong-Wolfe search tries the unit step first and (with the pixel rescaling of
:func:`.gatys.optimize`) accepts it, this halves the step until the Armijo condition holds, so a
step that raises the loss (or makes it non-finite) is never taken.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

ValueAndGrad = Callable[[torch.Tensor], tuple[float, torch.Tensor]]
"""x (any shape) -> (loss, dloss/dx of the same shape)."""

ARMIJO = 1e-4  # sufficient-decrease constant c1


def _dot(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.dot(a.flatten(), b.flatten()))


def lbfgs(fn: ValueAndGrad, x: torch.Tensor, max_evals: int, history: int = 50) -> tuple[torch.Tensor, float]:
    """Minimise ``fn`` from ``x`` with at most ``max_evals`` calls of ``fn``; return (best x, its loss).

    Stops early when the search direction no longer descends (a converged or degenerate problem).
    ``x`` is not modified; every point ``fn`` sees is a new tensor.
    """
    x = x.detach()  # never changed in place: every step makes a new tensor
    loss, g = fn(x)
    evals = 1
    pairs: list[tuple[torch.Tensor, torch.Tensor, float]] = []  # (s, y, 1 / y.s), oldest first
    d, t = -g, min(1.0, 1.0 / max(float(g.abs().sum()), 1e-30))
    while evals < max_evals:
        slope = _dot(g, d)
        if not slope < 0:
            break
        while True:  # backtrack until the loss decreases enough (or the evaluations run out)
            x_new = x + t * d
            loss_new, g_new = fn(x_new)
            evals += 1
            if loss_new <= loss + ARMIJO * t * slope or evals >= max_evals:
                break
            t *= 0.5
        if not loss_new <= loss:  # the last trial still failed: keep the best point
            break
        s, y = x_new - x, g_new - g
        ys = _dot(y, s)
        if ys > 1e-10:  # curvature condition; otherwise skip the update (as torch does)
            pairs.append((s, y, 1.0 / ys))
            if len(pairs) > history:
                pairs.pop(0)
        x, g, loss = x_new, g_new, loss_new
        d = _direction(g, pairs)
        t = 1.0
    return x, loss


def _direction(g: torch.Tensor, pairs: list[tuple[torch.Tensor, torch.Tensor, float]]) -> torch.Tensor:
    """The L-BFGS direction ``-H g`` by the two-loop recursion (``-g`` with no pairs)."""
    q = -g
    if not pairs:
        return q
    alphas = []
    for s, y, rho in reversed(pairs):
        a = rho * _dot(s, q)
        q = q - a * y
        alphas.append(a)
    _, y, rho = pairs[-1]
    r = q / (rho * _dot(y, y))  # H0 = s.y / y.y, with rho = 1 / s.y
    for (s, y, rho), a in zip(pairs, reversed(alphas), strict=True):
        r = r + s * (a - rho * _dot(y, r))
    return r
