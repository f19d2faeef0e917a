"""The share of the meta-batch this process holds in a distributed run (`Shard`), and the few
operations that must see the whole batch so that results do not depend on the split.

Determinism across world sizes: every process draws the random numbers of the *whole*
meta-batch from the shared generator (same shapes, same order as a single-process run) and
keeps the rows of its own tasks. A rollout stops only when every task of every process has
ended, so each process consumes its generator exactly as the single process does. Draws are
tiny next to the policy's forward pass, so this costs little.

The shard is passed explicitly (`rollout(..., shard=)`, `sample(..., shard=)`,
`MetaLearner.meta_loss(..., shard=)`); with `shard=None` (one process) those make the plain
torch calls and no collective.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist

from mamlgame.families import TaskFamily
from mamlgame.packs import Tasks


@dataclass(frozen=True)
class Shard:
    """Tasks [start, stop) of a meta-batch of `total` tasks, split over a process group."""

    start: int
    stop: int
    total: int
    tasks: Tasks | None = None  # the whole meta-batch, when operations need it

    @property
    def size(self) -> int:
        return self.stop - self.start

    @staticmethod
    def of(rank: int, world: int, tasks: Tasks) -> Shard:
        """Contiguous, balanced shares of `tasks`: rank r holds [r*T//W, (r+1)*T//W)."""
        T = len(tasks)
        return Shard(rank * T // world, (rank + 1) * T // world, T, tasks)

    def local(self, tasks: Tasks) -> Tasks:
        """This process's tasks."""
        return tasks.select(slice(self.start, self.stop))

    def rows(self, x: torch.Tensor) -> torch.Tensor:
        """This process's rows of a whole-batch tensor [T, ...]."""
        return x[self.start:self.stop]

    def batch(self) -> Tasks:
        """The whole meta-batch's tasks."""
        if self.tasks is None:
            raise RuntimeError("this shard does not carry the meta-batch's tasks")
        return self.tasks

    def _full(self, shape: torch.Size | tuple[int, ...]) -> tuple[int, ...]:
        return (self.total, *tuple(shape)[1:])

    def randn(self, shape: torch.Size | tuple[int, ...], generator: torch.Generator | None,
              dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """Standard normal noise of `shape` [T_local, ...], drawn as the whole batch would
        draw it."""
        full = torch.randn(self._full(shape), generator=generator, dtype=dtype, device=device)
        return self.rows(full)

    def whole(self, x: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
        """`x` [T_local, ...] in its rows of a whole-batch tensor [T, ...], `fill` elsewhere
        (a categorical draw from uniform logits consumes the generator as from any)."""
        full = x.new_full(self._full(x.shape), fill)
        full[self.start:self.stop] = x
        return full

    def reset(self, family: TaskFamily, tasks: Tasks, n_episodes: int,
              generator: torch.Generator | None) -> dict:
        """`family.reset` as the whole batch would run it (families draw by shape, not
        value)."""
        idx = (torch.arange(self.total) - self.start) % len(tasks)  # ours at [start, stop)
        state = family.reset(tasks.select(idx), n_episodes, generator)
        return {k: self.rows(v) for k, v in state.items()}

    def max_steps(self, steps: int) -> int:
        """The most steps any process's share of the batch needs (a collective, once per
        rollout), so that every process draws the noise of as many steps as the whole batch
        does."""
        n = torch.tensor([steps], dtype=torch.int64)
        dist.all_reduce(n, op=dist.ReduceOp.MAX)
        return int(n.item())

    def gather(self, x: torch.Tensor) -> torch.Tensor:
        """Per-task values [T_local, ...] of every process, as [T, ...] in meta-batch order
        (a collective)."""
        full = torch.zeros(self._full(x.shape), dtype=x.dtype, device=x.device)
        full[self.start:self.stop] = x.detach()
        dist.all_reduce(full)  # each row is nonzero on one process only: the sum is exact
        return full
