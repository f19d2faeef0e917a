"""The baseline of the unbiased estimator's score term: a prediction of each task's
post-adaptation return that never sees the task's own episodes.

`dice` weights the log-probabilities of a task's inner episodes by (R_tau - b_tau). Any b_tau
that does not depend on those episodes keeps the estimate unbiased; the closer it is to R_tau,
the smaller the noise. `ScoreBaseline` is a kernel ridge regression of returns on task
parameters, fitted on the batch's other tasks and on the tasks of the last `memory` batches
(drawn before this batch): the memory lets it learn how the return varies over the task space,
which twenty tasks of one batch cannot.
"""

from __future__ import annotations

import torch

from mamlgame.packs import Tasks


def task_features(tasks: Tasks, max_features: int = 16) -> torch.Tensor:
    """Task parameters as one float64 row per task [T, d]; no columns (d = 0) when they are
    larger than `max_features` (e.g. game maps), which leaves the regression an intercept."""
    feats = torch.cat([v.reshape(len(tasks), -1).double().cpu() for v in tasks.params.values()],
                      -1)
    return feats if feats.shape[1] <= max_features else feats[:, :0]


def loo_kernel_ridge(feats: torch.Tensor, y: torch.Tensor, n_new: int, reg: float,
                     width: float) -> torch.Tensor:
    """Leave-one-out predictions for the last `n_new` rows of (feats [n, d], y [n]): kernel
    ridge regression with a Gaussian kernel (on features standardised over all rows, bandwidth
    `width` times their median pairwise distance) plus a constant (the intercept). Row i's
    prediction is the fit on every other row, evaluated at feats[i] (the exact LOO formula of
    a linear smoother)."""
    n = feats.shape[0]
    if feats.shape[1]:
        x = (feats - feats.mean(0)) / (feats.std(0) + 1e-8) if n > 1 else feats
        d2 = torch.cdist(x, x).square()
        h2 = (width * d2[d2 > 0].sqrt().median()) ** 2 if (d2 > 0).any() else torch.tensor(1.0)
        K = torch.exp(-d2 / (2 * h2)) + 1.0
    else:
        K = torch.ones(n, n, dtype=y.dtype)
    hat = K @ torch.linalg.inv(K + reg * torch.eye(n, dtype=K.dtype))
    new = slice(n - n_new, n)
    resid = (y[new] - hat[new] @ y) / (1.0 - hat[new, new].diagonal()).clamp(min=1e-6)
    return y[new] - resid


class ScoreBaseline:
    """b_tau for a batch's tasks from the batch's other tasks and the last `memory` batches
    (kernel ridge, `loo_kernel_ridge`). Calling it predicts, then remembers the batch."""

    def __init__(self, memory: int = 10, reg: float = 1.0, width: float = 0.5):
        self.memory, self.reg, self.width = memory, reg, width
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
                                    self.reg, self.width)
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
