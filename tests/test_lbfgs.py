"""The L-BFGS of every Gatys run (atelier.core.lbfgs): convergence, the evaluation budget, no uphill step."""

import torch

from atelier.core.lbfgs import lbfgs


def _quadratic(seed: int = 0, n: int = 12):
    g = torch.Generator().manual_seed(seed)
    q = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))[0]
    a = q @ torch.diag(torch.logspace(0, 2, n, dtype=torch.float64)) @ q.T  # condition number 100
    b = torch.randn(n, generator=g, dtype=torch.float64)
    seen: list[float] = []

    def fn(x: torch.Tensor) -> tuple[float, torch.Tensor]:
        value = float(0.5 * x @ a @ x - b @ x)
        seen.append(value)
        return value, a @ x - b

    return fn, torch.linalg.solve(a, b), seen


def test_it_solves_an_ill_conditioned_quadratic_within_its_budget():
    fn, solution, seen = _quadratic()
    x, loss = lbfgs(fn, torch.zeros_like(solution), max_evals=60)
    assert len(seen) <= 60
    assert torch.allclose(x, solution, atol=1e-6)
    assert abs(loss - fn(solution)[0]) < 1e-9


def test_the_accepted_losses_never_rise_and_the_input_is_untouched():
    fn, solution, seen = _quadratic(seed=1)
    start = torch.full_like(solution, 3.0)
    x, loss = lbfgs(fn, start, max_evals=8)
    assert len(seen) == 8  # far from converged: every evaluation is used
    assert torch.equal(start, torch.full_like(solution, 3.0))
    assert loss == min(seen) and loss < seen[0]


def test_a_step_that_overshoots_is_halved_instead_of_taken():
    # f = sum(log cosh x) from far out: its curvature vanishes there, so unit quasi-Newton steps overshoot
    calls: list[float] = []

    def fn(x: torch.Tensor) -> tuple[float, torch.Tensor]:
        value = float(torch.log(torch.cosh(x)).sum())
        calls.append(value)
        return value, torch.tanh(x)

    x, loss = lbfgs(fn, torch.tensor([3.0, -2.0, 5.0], dtype=torch.float64), max_evals=80)
    uphill = [i for i in range(1, len(calls)) if calls[i] > min(calls[:i])]
    assert uphill, "no trial overshot: the test does not exercise the backtrack"
    assert loss == min(calls) and loss < 1e-8
    assert bool((x.abs() < 1e-3).all())


def test_it_stops_at_a_stationary_point():
    calls = []

    def fn(x: torch.Tensor) -> tuple[float, torch.Tensor]:
        calls.append(1)
        return float((x ** 2).sum()), 2 * x

    x, loss = lbfgs(fn, torch.zeros(4), max_evals=50)
    assert len(calls) == 1 and loss == 0.0 and bool((x == 0).all())


def test_a_gatys_run_does_not_import_the_torch_compiler():
    # torch.optim's first optimizer imports torch._dynamo (0.8 s and ~150 MiB per process, docs/gatys.md);
    # the default engine must not pay for a compiler it never uses
    import subprocess
    import sys
    code = ("import sys, atelier\n"
            "from atelier.io import samples\n"
            "atelier.stylize(samples.content('astronaut'), samples.style('swirl', size=96), size=64, levels=2,"
            " iterations=2)\n"
            "print('torch._dynamo' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
