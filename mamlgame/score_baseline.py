"""The baseline of the unbiased estimator's score term: a prediction of each task's
post-adaptation return that never sees the task's own episodes.

`dice` weights the log-probabilities of a task's inner episodes by (R_tau - b_tau). Any b_tau
that does not depend on those episodes keeps the estimate unbiased; the closer it is to R_tau,
the smaller the noise. `ScoreBaseline` is a kernel ridge regression of returns on task
parameters, fitted on the batch's other tasks and on the tasks of the last `memory` batches
(drawn before this batch): the memory lets it learn how the return varies over the task space,
which twenty tasks of one batch cannot.

Cost. With n rows (the batch and its memory), the regression is computed three ways, all
leave-one-out and all giving a task's baseline without its own return:
- no task features (game maps): an intercept only, in closed form (`loo_mean`), O(n);
- up to `EXACT_ROWS` rows: the n x n kernel and its inverse (`loo_kernel_ridge_exact`);
- more rows: the kernel through a low-rank factor K ~ L L^T from a pivoted Cholesky
  decomposition (Nystrom with greedily chosen centres, at most `MAX_RANK`), stopped once every
  row's unexplained kernel variance is below `RANK_TOL`; then ridge regression in that feature
  space with its own exact leave-one-out formula (`loo_kernel_ridge_lowrank`), O(n rank^2)
  time and O(n rank) memory. On the shipped families the rank stops at ~20 (one task
  parameter) or ~160 (two); with the same bandwidth the predictions match the n x n formula
  to ~1e-9 (the bandwidth's median distance is taken over `MEDIAN_ROWS` of the rows).
"""

from __future__ import annotations

import torch

from mamlgame.packs import Tasks

EXACT_ROWS = 1000  # at most this many rows: the n x n kernel (the default meta-batch's 220)
MAX_RANK = 256  # the low-rank path's most centres
RANK_TOL = 1e-10  # ... and the kernel variance it may leave unexplained per row
MEDIAN_ROWS = 1000  # the bandwidth's median distance over at most this many (evenly spaced) rows


def task_features(tasks: Tasks, max_features: int = 16) -> torch.Tensor:
    """Task parameters as one float64 row per task [T, d]; no columns (d = 0) when they are
    larger than `max_features` (e.g. game maps), which leaves the regression an intercept."""
    feats = torch.cat([v.reshape(len(tasks), -1).double().cpu() for v in tasks.params.values()],
                      -1)
    return feats if feats.shape[1] <= max_features else feats[:, :0]


def loo_mean(y: torch.Tensor, n_new: int, reg: float) -> torch.Tensor:
    """Leave-one-out predictions for the last `n_new` rows of y [n] by ridge regression on a
    constant alone (the kernel of ones): the sum of the other rows over (n - 1 + reg)."""
    return (y.sum() - y[len(y) - n_new:]) / (len(y) - 1 + reg)


def _standardise(feats: torch.Tensor) -> torch.Tensor:
    n = feats.shape[0]
    return (feats - feats.mean(0)) / (feats.std(0) + 1e-8) if n > 1 else feats


def _bandwidth2(x: torch.Tensor, width: float) -> torch.Tensor:
    """(width x the median nonzero distance between rows)^2, over at most MEDIAN_ROWS evenly
    spaced rows (all rows when there are no more: then it is the exact formula's)."""
    n = x.shape[0]
    if n > MEDIAN_ROWS:
        x = x[torch.arange(MEDIAN_ROWS) * n // MEDIAN_ROWS]
    d2 = torch.cdist(x, x).square()
    return (width * d2[d2 > 0].sqrt().median()) ** 2 if (d2 > 0).any() else torch.tensor(1.0)


def loo_kernel_ridge_exact(feats: torch.Tensor, y: torch.Tensor, n_new: int, reg: float,
                           width: float) -> torch.Tensor:
    """`loo_kernel_ridge` by the n x n kernel and its inverse: O(n^3) time, O(n^2) memory."""
    n = feats.shape[0]
    if feats.shape[1]:
        x = _standardise(feats)
        d2 = torch.cdist(x, x).square()
        h2 = (width * d2[d2 > 0].sqrt().median()) ** 2 if (d2 > 0).any() else torch.tensor(1.0)
        K = torch.exp(-d2 / (2 * h2)) + 1.0
    else:
        K = torch.ones(n, n, dtype=y.dtype)
    hat = K @ torch.linalg.inv(K + reg * torch.eye(n, dtype=K.dtype))
    new = slice(n - n_new, n)
    resid = (y[new] - hat[new] @ y) / (1.0 - hat[new, new].diagonal()).clamp(min=1e-6)
    return y[new] - resid


def gaussian_factor(x: torch.Tensor, h2: torch.Tensor, max_rank: int = MAX_RANK,
                    tol: float = RANK_TOL) -> torch.Tensor:
    """L [n, r] with L L^T ~ exp(-|x_i - x_j|^2 / (2 h2)) by pivoted Cholesky: each step adds
    the row whose kernel variance is least explained yet, until none is above `tol` or r is
    `max_rank` (then it is Nystrom with those r centres). O(n r^2) time, O(n r) memory."""
    n = x.shape[0]
    rank = min(max_rank, n)
    rows = torch.empty(rank, n, dtype=x.dtype)  # L^T, one contiguous row per step
    left = torch.ones(n, dtype=x.dtype)  # the kernel's diagonal not yet explained
    r = 0
    while r < rank:
        p = int(left.argmax())
        if left[p] <= tol:
            break
        col = torch.exp(-(x - x[p]).square().sum(1) / (2 * h2))
        if r:
            col -= rows[:r, p] @ rows[:r]
        col /= left[p].sqrt()
        rows[r] = col
        left -= col.square()
        left[p] = 0.0
        r += 1
    return rows[:r].T


def loo_kernel_ridge_lowrank(feats: torch.Tensor, y: torch.Tensor, n_new: int, reg: float,
                             width: float, max_rank: int = MAX_RANK,
                             tol: float = RANK_TOL) -> torch.Tensor:
    """`loo_kernel_ridge` without an n x n matrix: the Gaussian kernel as L L^T
    (`gaussian_factor`), the constant as a column of ones, features phi = [L, 1]; ridge in that
    space, where row i's hat value is h_ii = phi_i^T (Phi^T Phi + reg I)^-1 phi_i and its
    leave-one-out residual is (y_i - yhat_i) / (1 - h_ii), exactly the refit without row i."""
    n = feats.shape[0]
    x = _standardise(feats)
    phi = torch.cat([gaussian_factor(x, _bandwidth2(x, width), max_rank, tol),
                     torch.ones(n, 1, dtype=x.dtype)], 1)
    chol = torch.linalg.cholesky(phi.T @ phi + reg * torch.eye(phi.shape[1], dtype=x.dtype))
    coef = torch.cholesky_solve((phi.T @ y).unsqueeze(1), chol).squeeze(1)
    new = phi[n - n_new:]
    hat_diag = (new * torch.cholesky_solve(new.T, chol).T).sum(1)
    y_new = y[n - n_new:]
    resid = (y_new - new @ coef) / (1.0 - hat_diag).clamp(min=1e-6)
    return y_new - resid


def loo_kernel_ridge(feats: torch.Tensor, y: torch.Tensor, n_new: int, reg: float,
                     width: float, exact_rows: int = EXACT_ROWS) -> torch.Tensor:
    """Leave-one-out predictions for the last `n_new` rows of (feats [n, d], y [n]): kernel
    ridge regression with a Gaussian kernel (on features standardised over all rows, bandwidth
    `width` times their median pairwise distance) plus a constant (the intercept). Row i's
    prediction is the fit on every other row, evaluated at feats[i] (the exact LOO formula of
    a linear smoother). No features: the closed form `loo_mean`; up to `exact_rows` rows the
    n x n formula, above it the low-rank one (see the module's docstring)."""
    if not feats.shape[1]:
        return loo_mean(y, n_new, reg)
    if feats.shape[0] <= exact_rows:
        return loo_kernel_ridge_exact(feats, y, n_new, reg, width)
    return loo_kernel_ridge_lowrank(feats, y, n_new, reg, width)


class ScoreBaseline:
    """b_tau for a batch's tasks from the batch's other tasks and the last `memory` batches
    (kernel ridge, `loo_kernel_ridge`). Calling it predicts, then remembers the batch."""

    def __init__(self, memory: int = 10, reg: float = 1.0, width: float = 0.5,
                 exact_rows: int = EXACT_ROWS):
        self.memory, self.reg, self.width = memory, reg, width
        self.exact_rows = exact_rows  # above this many rows: the low-rank path
        self.feats: list[torch.Tensor] = []  # per remembered batch [T, d]
        self.returns: list[torch.Tensor] = []  # per remembered batch [T]

    def __call__(self, returns: torch.Tensor, tasks: Tasks) -> torch.Tensor:
        """b [T] for `returns` [T] of `tasks`; each b_tau uses neither R_tau nor anything
        drawn with task tau's episodes."""
        feats, y = task_features(tasks), returns.detach().double().cpu()
        if len(y) < 2 and not self.returns:
            base = torch.zeros_like(y)
        else:
            same = [(f, r) for f, r in zip(self.feats, self.returns, strict=True)
                    if f.shape[1] == feats.shape[1]]
            base = loo_kernel_ridge(torch.cat([f for f, _ in same] + [feats]),
                                    torch.cat([r for _, r in same] + [y]), len(y),
                                    self.reg, self.width, self.exact_rows)
        self.feats = (self.feats + [feats])[-self.memory:] if self.memory else []
        self.returns = (self.returns + [y])[-self.memory:] if self.memory else []
        return base.to(returns.dtype).to(returns.device)

    def state(self) -> dict[str, list[torch.Tensor]]:
        """What a checkpoint saves (resuming then predicts what an uninterrupted run would)."""
        return {"feats": list(self.feats), "returns": list(self.returns)}

    def load(self, state: dict[str, list[torch.Tensor]] | None) -> None:
        """Restore `state()` (None: start empty)."""
        self.feats = list((state or {}).get("feats", []))
        self.returns = list((state or {}).get("returns", []))
