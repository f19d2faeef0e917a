"""dice's score baseline: a prediction of each task's return that never uses that return."""

import torch

from mamlgame.packs import Tasks
from mamlgame.score_baseline import ScoreBaseline, loo_kernel_ridge, task_features


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
