"""The share of the meta-batch this process holds in a distributed run (`Shard`), and the few
operations that must see the whole batch so that results do not depend on the split.

Determinism across world sizes: every process draws the random numbers of the *whole*
meta-batch from the shared generator (same shapes, same order as a single-process run) and
keeps the rows of its own tasks. A rollout stops only when every task of every process has
ended, so each process consumes its generator exactly as the single process does. Draws are
tiny next to the policy's forward pass, so this costs little. Without an active shard (the
single-process case) every function here is the plain torch call.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist

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


_active: Shard | None = None


def active() -> Shard | None:
    """The shard of this process while a distributed training step runs, else None."""
    return _active


@contextmanager
def use(shard: Shard | None) -> Iterator[None]:
    """Make `shard` the active shard inside the block."""
    global _active
    previous, _active = _active, shard
    try:
        yield
    finally:
        _active = previous


def _full(shape: torch.Size | tuple[int, ...], s: Shard) -> tuple[int, ...]:
    return (s.total, *tuple(shape)[1:])


def randn(shape: torch.Size | tuple[int, ...], generator: torch.Generator | None,
          dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Standard normal noise of `shape` [T, ...], drawn as the whole batch would draw it."""
    s = _active
    if s is None:
        return torch.randn(shape, generator=generator, dtype=dtype, device=device)
    full = torch.randn(_full(shape, s), generator=generator, dtype=dtype, device=device)
    return full[s.start:s.stop]


def multinomial(probs: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One categorical sample per row of `probs` [T, ..., K] -> long [T, ...].

    torch's sampler consumes the generator per row independently of the values, so the other
    processes' rows are filled with ones and ours land where the whole batch has them.
    """
    s, k = _active, probs.shape[-1]
    if s is not None:
        full = torch.ones(_full(probs.shape, s), dtype=probs.dtype, device=probs.device)
        full[s.start:s.stop] = probs
        out = torch.multinomial(full.reshape(-1, k), 1, generator=generator)
        return out.reshape(full.shape[:-1])[s.start:s.stop]
    return torch.multinomial(probs.reshape(-1, k), 1, generator=generator).reshape(
        probs.shape[:-1])


def reset(family, tasks, n_episodes: int, generator: torch.Generator | None) -> dict:
    """`family.reset` as the whole batch would run it (families draw by shape, not value)."""
    s = _active
    if s is None:
        return family.reset(tasks, n_episodes, generator)
    idx = (torch.arange(s.total) - s.start) % len(tasks)  # our tasks at rows [start, stop)
    state = family.reset(tasks.select(idx), n_episodes, generator)
    return {k: v[s.start:s.stop] for k, v in state.items()}


def max_steps(steps: int) -> int:
    """The most steps any process's share of the batch needs (called once per rollout), so
    that every process draws the noise of as many steps as the whole batch does."""
    if _active is None:
        return steps
    n = torch.tensor([steps], dtype=torch.int64)
    dist.all_reduce(n, op=dist.ReduceOp.MAX)
    return int(n.item())


def gather(x: torch.Tensor) -> torch.Tensor:
    """Per-task values [T_local, ...] of every process, as [T, ...] in meta-batch order."""
    s = _active
    if s is None:
        return x
    full = torch.zeros(_full(x.shape, s), dtype=x.dtype, device=x.device)
    full[s.start:s.stop] = x.detach()
    dist.all_reduce(full)  # each row is nonzero on one process only: the sum is exact
    return full


def local(x: torch.Tensor) -> torch.Tensor:
    """This process's rows of a whole-batch tensor [T, ...]."""
    s = _active
    return x if s is None else x[s.start:s.stop]


def whole(tasks: Tasks) -> Tasks:
    """The whole meta-batch's tasks (the shard's `tasks`), or `tasks` without a shard."""
    s = _active
    if s is None:
        return tasks
    if s.tasks is None:
        raise RuntimeError("the active shard does not carry the meta-batch's tasks")
    return s.tasks
