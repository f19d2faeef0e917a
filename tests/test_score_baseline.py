"""dice's score baseline: a prediction of each task's return that never uses that return."""

import time

import torch

from mamlgame.packs import Tasks
from mamlgame.score_baseline import (
    ScoreBaseline,
    gaussian_factor,
    loo_kernel_ridge,
    loo_kernel_ridge_exact,
    loo_kernel_ridge_lowrank,
    loo_mean,
    task_features,
)


def _tasks(g: torch.Tensor) -> Tasks:
    return Tasks({"g": g}, tuple(map(str, range(len(g)))))


def test_loo_kernel_ridge_is_the_fit_without_the_row():
    torch.manual_seed(0)
    feats = torch.rand(15, 2, dtype=torch.float64)
    y = feats.square().sum(1) + 0.1 * torch.randn(15, dtype=torch.float64)
    got = loo_kernel_ridge(feats, y, 5, reg=0.3, width=0.25)
    # by hand: the kernel the function uses, and a ridge solve without row i
    x = (feats - feats.mean(0)) / feats.std(0)
    d = torch.cdist(x, x)
    h = 0.25 * d[d > 0].median()
    K = torch.exp(-d.square() / (2 * h**2)) + 1.0
    for j, i in enumerate(range(10, 15)):
        keep = torch.arange(15) != i
        a = torch.linalg.solve(K[keep][:, keep] + 0.3 * torch.eye(14, dtype=K.dtype), y[keep])
        torch.testing.assert_close(got[j], K[i, keep] @ a)


def test_without_task_features_it_predicts_from_the_other_returns():
    """Game maps are too large to regress on: the prediction is a shrunk mean of the others."""
    y = torch.tensor([1.0, 2.0, 3.0, 10.0], dtype=torch.float64)
    got = loo_kernel_ridge(torch.zeros(4, 0, dtype=torch.float64), y, 4, reg=1e-6, width=0.25)
    torch.testing.assert_close(got, (y.sum() - y) / 3, rtol=1e-4, atol=1e-4)
    big = _tasks(torch.zeros(3, 20))
    assert task_features(big).shape == (3, 0)


def test_a_task_baseline_never_sees_its_own_return():
    torch.manual_seed(1)
    g = torch.rand(12, 2)
    tasks = _tasks(g)
    history = [(_tasks(torch.rand(12, 2)), torch.randn(12)) for _ in range(3)]

    def baseline(ret):
        sb = ScoreBaseline(memory=3)
        for t, r in history:
            sb(r, t)
        return sb(ret, tasks)

    ret = g.sum(1) + 0.1 * torch.randn(12)
    b = baseline(ret)
    for i in range(12):
        changed = ret.clone()
        changed[i] += 100.0
        b2 = baseline(changed)
        assert b2[i] == b[i]  # task i's own return does not move its baseline
        assert (b2 - b).abs().max() > 0  # the other tasks' baselines use it


def test_the_memory_learns_the_return_over_the_task_space():
    """Twenty tasks of one batch predict a bumpy return badly; remembered batches do better."""
    gen = torch.Generator().manual_seed(2)

    def batch():
        g = torch.rand(20, 2, generator=gen) - 0.5
        return _tasks(g), torch.sin(8 * g[:, 0]) * 10 + 0.3 * torch.randn(20, generator=gen)

    errors = {}
    for memory in (0, 10):
        sb = ScoreBaseline(memory=memory)
        err = []
        for k in range(30):
            tasks, ret = batch()
            b = sb(ret, tasks)
            if k >= 10:
                err.append((ret - b).square().mean())
        errors[memory] = torch.stack(err).mean()
        assert len(sb.returns) == memory
    assert errors[10] < 0.3 * errors[0], errors


def test_state_round_trip_predicts_the_same():
    gen = torch.Generator().manual_seed(3)
    sb = ScoreBaseline(memory=4)
    for _ in range(6):
        sb(torch.randn(8, generator=gen), _tasks(torch.rand(8, 2, generator=gen)))
    other = ScoreBaseline(memory=4)
    other.load(sb.state())
    tasks, ret = _tasks(torch.rand(8, 2, generator=gen)), torch.randn(8, generator=gen)
    torch.testing.assert_close(other(ret, tasks), sb(ret, tasks))


def test_intercept_only_closed_form_is_the_refit_without_the_row():
    """No task features: the leave-one-out mean, against an explicit ridge refit on a constant
    without each row and against the n x n formula."""
    gen = torch.Generator().manual_seed(4)
    y = torch.randn(30, generator=gen, dtype=torch.float64) * 5 + 2
    none = torch.zeros(30, 0, dtype=torch.float64)
    got = loo_kernel_ridge(none, y, 12, reg=1.0, width=0.5)
    for j, i in enumerate(range(18, 30)):
        keep = torch.arange(30) != i
        ones = torch.ones(29, 1, dtype=torch.float64)
        a = torch.linalg.solve(ones.T @ ones + torch.eye(1, dtype=torch.float64), ones.T @ y[keep])
        torch.testing.assert_close(got[j], a[0])
    torch.testing.assert_close(got, loo_mean(y, 12, 1.0))
    torch.testing.assert_close(got, loo_kernel_ridge_exact(none, y, 12, reg=1.0, width=0.5))


def test_gaussian_factor_is_the_kernel_or_nystrom_at_its_pivots():
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(200, 2, generator=gen, dtype=torch.float64)
    h2 = torch.tensor(0.3, dtype=torch.float64)
    K = torch.exp(-torch.cdist(x, x).square() / (2 * h2))
    full = gaussian_factor(x, h2, max_rank=200, tol=1e-12)
    assert full.shape[1] < 200  # the tolerance stops it early
    torch.testing.assert_close(full @ full.T, K, rtol=0, atol=1e-10)
    few = gaussian_factor(x, h2, max_rank=20)  # capped: Nystrom with 20 centres
    assert few.shape == (200, 20)
    piv = torch.tensor([int((few[:, k] - few[:, k].max()).abs().argmin()) for k in range(20)])
    nystrom = K[:, piv] @ torch.linalg.solve(K[piv][:, piv], K[piv])
    torch.testing.assert_close(few @ few.T, nystrom, rtol=0, atol=1e-8)


def test_low_rank_path_matches_the_exact_formula_on_small_n():
    gen = torch.Generator().manual_seed(6)
    for d, atol in ((1, 1e-9), (2, 1e-8), (3, 1e-4)):  # d = 3: capped at 256 centres
        feats = torch.rand(400, d, generator=gen, dtype=torch.float64)
        y = 10 * torch.sin(6 * feats[:, 0]) + torch.randn(400, generator=gen, dtype=torch.float64)
        exact = loo_kernel_ridge_exact(feats, y, 40, reg=1.0, width=0.5)
        fast = loo_kernel_ridge_lowrank(feats, y, 40, reg=1.0, width=0.5)
        torch.testing.assert_close(fast, exact, rtol=0, atol=atol)
        uncapped = loo_kernel_ridge_lowrank(feats, y, 40, reg=1.0, width=0.5, max_rank=400)
        torch.testing.assert_close(uncapped, exact, rtol=0, atol=1e-8)
        # the dispatcher takes the low-rank path above `exact_rows`
        torch.testing.assert_close(loo_kernel_ridge(feats, y, 40, 1.0, 0.5, exact_rows=100),
                                   fast, rtol=0, atol=0)
    sb, fast_sb = ScoreBaseline(memory=3), ScoreBaseline(memory=3, exact_rows=0)
    for _ in range(5):
        g = torch.rand(50, 2, generator=gen)
        ret = 5 * torch.cos(4 * g[:, 1]) + torch.randn(50, generator=gen)
        torch.testing.assert_close(fast_sb(ret, _tasks(g)), sb(ret, _tasks(g)), rtol=0, atol=1e-5)


def test_a_task_return_never_moves_its_baseline_at_large_n():
    """n = 22000 (a meta-batch of 2000 and ten remembered batches): fast, and each task's
    baseline stays put (to rounding) when its own return changes while the others' move."""
    gen = torch.Generator().manual_seed(7)
    T = 2000
    for d in (0, 1, 2):
        mem = [torch.rand(T, d, generator=gen, dtype=torch.float64) for _ in range(10)]
        state = {"feats": mem, "returns": [torch.randn(T, generator=gen, dtype=torch.float64)
                                           + (3 * f.sum(1) if d else 0) for f in mem]}
        g = torch.rand(T, d, generator=gen, dtype=torch.float64)
        ret = torch.randn(T, generator=gen, dtype=torch.float64) + (3 * g.sum(1) if d else 0)

        # d = 0: parameters too large to regress on (a game map), an intercept only
        tasks = Tasks({"g": g} if d else {"map": torch.zeros(T, 20)}, tuple(map(str, range(T))))

        def baseline(r, state=state, tasks=tasks):
            sb = ScoreBaseline()
            sb.load(state)
            return sb(r, tasks)

        start = time.perf_counter()
        b = baseline(ret)
        assert time.perf_counter() - start < 2.0
        for i in (0, 777, T - 1):
            changed = ret.clone()
            changed[i] += 100.0
            b2 = baseline(changed)
            torch.testing.assert_close(b2[i], b[i], rtol=0, atol=1e-9)
            assert (b2 - b).abs().max() > 1e-4
