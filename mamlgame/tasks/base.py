"""The task-family interface: functional dynamics batched over [tasks, episodes].

A family is configured by a pack (horizon, reward settings); per-task parameters come in
`Tasks`. State is a dict of tensors with leading dims [T, E]. Nothing here loops over tasks
or episodes.
"""

from __future__ import annotations

from typing import Any

import torch

from mamlgame.packs import LevelPack, Tasks

State = dict[str, torch.Tensor]


class TaskFamily:
    """Base class of task families.

    Attributes: `name`, `obs_dim`, `discrete` (categorical actions), `action_dim` (number of
    continuous action dims, or of discrete actions), `horizon`.
    """

    name = ""
    obs_dim = 0
    discrete = False
    action_dim = 1

    def __init__(self, pack: LevelPack, horizon: int | None = None):
        self.pack = pack
        self.reward_cfg: dict[str, Any] = dict(pack.reward)
        self.horizon = int(horizon or pack.horizon)

    def reset(self, tasks: Tasks, n_episodes: int, generator: torch.Generator | None) -> State:
        """Initial state for every task and episode."""
        raise NotImplementedError

    def step(self, tasks: Tasks, state: State, action: torch.Tensor
             ) -> tuple[State, torch.Tensor, torch.Tensor]:
        """One step for all [T, E]: (next state, reward [T, E], done [T, E] bool)."""
        raise NotImplementedError

    def observe(self, tasks: Tasks, state: State) -> torch.Tensor:
        """Observation [T, E, obs_dim] (float)."""
        raise NotImplementedError

    def success(self, tasks: Tasks, state: State) -> torch.Tensor:
        """Whether each episode reached its goal [T, E] (False for families without one)."""
        return state["success"] if "success" in state else torch.zeros(
            next(iter(state.values())).shape[:2], dtype=torch.bool)


def task_param(tasks: Tasks, key: str) -> torch.Tensor:
    """A scalar task parameter shaped [T, 1] for broadcasting over episodes."""
    return tasks[key].reshape(len(tasks), 1)
