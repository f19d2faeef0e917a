"""Statistics for claims over training seeds and held-out tasks, after rliable (Agarwal et al.,
"Deep RL at the edge of the statistical precipice", NeurIPS 2021), in numpy.

Scores are arrays `[runs, tasks]` (one row per training seed, one column per held-out task;
higher is better). The aggregates reduce the last two axes, so they also take a leading
axis of bootstrap resamples `[reps, runs, tasks]`:
- `mean` over all runs × tasks; `median`: the median over tasks of each task's mean over runs
  (rliable's `aggregate_median`);
- `iqm`, the interquartile mean: the mean of the middle 50 % of the runs × tasks scores
  (`scipy.stats.trim_mean(x, 0.25, axis=None)`: `int(0.25 n)` cut from each end);
- `optimality_gap`: the mean shortfall below a target, `mean(max(target - x, 0))` (lower is
  better; rliable's `gamma - mean(min(x, gamma))`, with a target per task allowed);
- `probability_of_improvement(x, y)`: P(X > Y) for a run X of one method and a run Y of
  another on the same task, ties counting one half (the Mann-Whitney U statistic over
  `runs_x * runs_y`), averaged over tasks.

Confidence intervals are percentile intervals of the *stratified bootstrap*: each resample
draws, for every task column, runs with replacement from that task's runs; with
`task_bootstrap` (the default here, rliable's `task_bootstrap=True`) the task of each column is
drawn with replacement first, so that the interval covers the spread over seeds *and* over the
task distribution the held-out tasks are a sample of. With one run per task that is the plain
bootstrap over tasks (what `eval` reports). Pairs of methods share the task draw (they were
evaluated on the same tasks) and draw their runs independently.

rliable itself (1.2.0) does not import beside pandas 3 (its `arch` dependency fails), hence
these definitions; `tests/test_stats.py` checks them against hand-computed values and against
numbers rliable gives on the same arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

REPS = 2000  # bootstrap resamples (rliable's examples use 2000; its paper 50000)
LEVEL = 0.95  # confidence level of the intervals
AGGREGATES = ("mean", "median", "iqm", "optimality_gap")


@dataclass(frozen=True)
class Interval:
    """A point estimate with the bounds of its confidence interval."""

    value: float
    lo: float
    hi: float

    def to_dict(self, digits: int = 4) -> dict[str, float | list[float]]:
        return {"value": round(self.value, digits),
                "ci": [round(self.lo, digits), round(self.hi, digits)]}


def _cells(scores: np.ndarray) -> np.ndarray:
    """`[..., runs, tasks]` as `[..., runs * tasks]`."""
    scores = np.asarray(scores, dtype=float)
    if scores.ndim < 2:
        raise ValueError(f"expected scores [runs, tasks], got shape {scores.shape}")
    return scores.reshape(*scores.shape[:-2], -1)


def mean(scores: np.ndarray) -> np.ndarray:
    """Mean over runs × tasks."""
    return _cells(scores).mean(-1)


def median(scores: np.ndarray) -> np.ndarray:
    """Median over tasks of the mean over runs (as rliable)."""
    _cells(scores)  # the shape check
    return np.median(np.asarray(scores, dtype=float).mean(-2), -1)


def iqm(scores: np.ndarray) -> np.ndarray:
    """Interquartile mean over runs × tasks: `int(n / 4)` scores cut from each end."""
    cells = np.sort(_cells(scores), -1)
    n = cells.shape[-1]
    cut = int(0.25 * n)
    return cells[..., cut:n - cut].mean(-1)


def optimality_gap(scores: np.ndarray, target: float | np.ndarray = 1.0) -> np.ndarray:
    """Mean shortfall below `target` (a number, or one per task column), clipped at 0."""
    return mean(np.maximum(np.asarray(target, dtype=float) - np.asarray(scores, float), 0.0))


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """P(X > Y) (ties one half), averaged over tasks: `x` `[..., runs_x, tasks]`, `y`
    `[..., runs_y, tasks]` on the same tasks."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(f"x and y need the same tasks, got shapes {x.shape} and {y.shape}")
    a, b = x[..., :, None, :], y[..., None, :, :]
    wins = (a > b).mean((-3, -2)) + 0.5 * (a == b).mean((-3, -2))  # [..., tasks]
    return wins.mean(-1)


def performance_profile(scores: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """Fraction of runs × tasks scores above each threshold in `taus` (rliable's score
    distribution): `[..., len(taus)]`."""
    cells = _cells(scores)
    return np.stack([(cells > t).mean(-1) for t in np.asarray(taus, float)], -1)


# ---- the stratified bootstrap ----------------------------------------------------------------
def resample_indices(runs: int, tasks: int, reps: int, rng: np.random.Generator,
                     task_bootstrap: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays `(run_idx [reps, runs, tasks], task_idx [reps, 1, tasks])`: resample r of
    `scores` is `scores[run_idx[r], task_idx[r]]`."""
    if task_bootstrap:
        task_idx = rng.integers(tasks, size=(reps, 1, tasks))
    else:
        task_idx = np.broadcast_to(np.arange(tasks), (reps, 1, tasks))
    return rng.integers(runs, size=(reps, runs, tasks)), task_idx


def _bounds(samples: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(samples, [tail, 100 - tail], axis=0)
    return lo, hi


def interval(scores: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray],
             reps: int = REPS, level: float = LEVEL, seed: int = 0,
             task_bootstrap: bool = True) -> Interval:
    """`statistic(scores)` with its stratified-bootstrap percentile interval."""
    scores = np.asarray(scores, dtype=float)
    rng = np.random.default_rng(seed)
    run_idx, task_idx = resample_indices(*scores.shape, reps, rng, task_bootstrap)
    lo, hi = _bounds(statistic(scores[run_idx, task_idx]), level)
    return Interval(float(statistic(scores)), float(lo), float(hi))


def interval_estimates(scores: np.ndarray, target: float | np.ndarray = 1.0, reps: int = REPS,
                       level: float = LEVEL, seed: int = 0, task_bootstrap: bool = True
                       ) -> dict[str, Interval]:
    """Mean, median, IQM and optimality gap (below `target`, a number or one per task) of
    `scores` `[runs, tasks]`, each with its interval, from one set of resamples."""
    scores = np.asarray(scores, dtype=float)
    runs, tasks = scores.shape
    shortfall = np.maximum(np.broadcast_to(np.asarray(target, float), (tasks,)) - scores, 0.0)
    rng = np.random.default_rng(seed)
    run_idx, task_idx = resample_indices(runs, tasks, reps, rng, task_bootstrap)
    drawn, drawn_short = scores[run_idx, task_idx], shortfall[run_idx, task_idx]
    out = {}
    for name, f, data, resampled in (("mean", mean, scores, drawn),
                                     ("median", median, scores, drawn),
                                     ("iqm", iqm, scores, drawn),
                                     ("optimality_gap", mean, shortfall, drawn_short)):
        lo, hi = _bounds(f(resampled), level)
        out[name] = Interval(float(f(data)), float(lo), float(hi))
    return out


def improvement_interval(x: np.ndarray, y: np.ndarray, reps: int = REPS, level: float = LEVEL,
                         seed: int = 0, task_bootstrap: bool = True) -> Interval:
    """`probability_of_improvement(x, y)` with its interval: one task draw for both methods
    (same tasks), each method's runs drawn independently within each task."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    tasks = x.shape[1]
    rng = np.random.default_rng(seed)
    rx, task_idx = resample_indices(x.shape[0], tasks, reps, rng, task_bootstrap)
    ry = rng.integers(y.shape[0], size=(reps, y.shape[0], tasks))
    lo, hi = _bounds(probability_of_improvement(x[rx, task_idx], y[ry, task_idx]), level)
    return Interval(float(probability_of_improvement(x, y)), float(lo), float(hi))


def profile_band(scores: np.ndarray, taus: np.ndarray, reps: int = REPS, level: float = LEVEL,
                 seed: int = 0, task_bootstrap: bool = True
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The performance profile of `scores` at `taus` with its pointwise interval band:
    `(profile, lo, hi)`, each `[len(taus)]`."""
    scores = np.asarray(scores, dtype=float)
    rng = np.random.default_rng(seed)
    run_idx, task_idx = resample_indices(*scores.shape, reps, rng, task_bootstrap)
    lo, hi = _bounds(performance_profile(scores[run_idx, task_idx], taus), level)
    return performance_profile(scores, taus), lo, hi


def mean_interval(values: np.ndarray | list[float], reps: int = REPS, level: float = LEVEL,
                  seed: int = 0) -> Interval:
    """The mean of per-task `values` with its bootstrap interval over tasks (one run)."""
    return interval(np.asarray(values, dtype=float)[None, :], mean, reps, level, seed)
