"""The task-family interface: functional dynamics batched over [tasks, episodes].

A family is configured by a pack (horizon, reward settings); per-task parameters come in
`Tasks`. State is a dict of tensors with leading dims [T, E]. Nothing here loops over tasks
or episodes. `TaskFamily` is the protocol the core API (rollout, meta-learners, evaluation)
takes; `FamilyBase` is a convenient base class that implements its bookkeeping.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import torch

from mamlgame.packs import LevelPack, Tasks

State = dict[str, torch.Tensor]


@runtime_checkable
class TaskFamily(Protocol):
    """Batched dynamics of one task family.

    `obs_dim`: observation size; `discrete`: categorical actions; `action_dim`: number of
    continuous action dims, or of discrete actions; `horizon`: steps per episode;
    `chooser`: how a rollout acts instead of sampling the policy, or None (`FamilyBase`).
    """

    name: str
    obs_dim: int
    discrete: bool
    action_dim: int
    horizon: int
    chooser: Callable[..., torch.Tensor] | None

    def reset(self, tasks: Tasks, n_episodes: int, generator: torch.Generator | None) -> State:
        """Initial state for every task and episode."""
        ...

    def step(self, tasks: Tasks, state: State, action: torch.Tensor
             ) -> tuple[State, torch.Tensor, torch.Tensor]:
        """One step for all [T, E]: (next state, reward [T, E], done [T, E] bool)."""
        ...

    def observe(self, tasks: Tasks, state: State) -> torch.Tensor:
        """Observation [T, E, obs_dim] (float)."""
        ...

    def success(self, tasks: Tasks, state: State) -> torch.Tensor:
        """Whether each episode reached its goal [T, E] (False for families without one)."""
        ...


@runtime_checkable
class PolicyHead(Protocol):
    """A family's per-level part of a policy (an `nn.Module`; `FamilySpec.policy_head` makes
    it). The policy adds `logits` to its network's output; its parameters appear in the
    policy's params as `head.<name>`, and so do its per-task `inputs`.

    - `kind`: its registry key (`FamilySpec.heads`), to rebuild it from `config()`;
    - `adapted`: names (its params or inputs) that start afresh at every level: the inner step
      of `--algo cavia` adapts them alone, and they are never meta-learned;
    - `inputs`: per-task data the head reads (`task_inputs(tasks)`), never learned;
    - `logits(p, obs)`: logits [..., action_dim] for obs [T, ...] from `p`, its params and
      inputs by their own names (per task [T, ...] where adapted).
    """

    kind: str
    adapted: tuple[str, ...]
    inputs: tuple[str, ...]

    def task_inputs(self, tasks: Tasks) -> dict[str, torch.Tensor]: ...

    def logits(self, p: dict[str, torch.Tensor], obs: torch.Tensor) -> torch.Tensor: ...

    def config(self) -> dict[str, Any]: ...


class FamilyBase:
    """Base class of the shipped families: pack, reward settings, horizon and `success`."""

    name = ""
    obs_dim = 0
    discrete = False
    action_dim = 1
    # how a rollout acts instead of sampling the policy: (tasks, state, obs, logits, draw,
    # generator, deterministic, head) -> actions, where logits(obs) are the policy's,
    # draw(logits) samples actions and head holds the policy head's params and inputs (by
    # their names in the head, e.g. the game's adapted "belief"), e.g. the game's lookahead
    # (`FamilySpec.lookahead`, `eval --lookahead`); None: sample the policy
    chooser: Callable[..., torch.Tensor] | None = None

    def __init__(self, pack: LevelPack, horizon: int | None = None):
        self.pack = pack
        self.reward_cfg: dict[str, Any] = dict(pack.reward)
        self.horizon = int(horizon or pack.horizon)

    def success(self, tasks: Tasks, state: State) -> torch.Tensor:
        """`state["success"]`, or all False for families without a goal."""
        return state["success"] if "success" in state else torch.zeros(
            next(iter(state.values())).shape[:2], dtype=torch.bool)


def task_param(tasks: Tasks, key: str) -> torch.Tensor:
    """A scalar task parameter shaped [T, 1] for broadcasting over episodes."""
    return tasks[key].reshape(len(tasks), 1)
