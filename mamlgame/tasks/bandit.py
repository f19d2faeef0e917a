"""A one-step continuous bandit: reward -(a - g)^2 for a hidden target g.

Observation: the constant 1. The episode ends after one step. Used for exact-gradient tests
(with a Gaussian policy the expected return is closed form) and for teaching.
"""

from __future__ import annotations

import torch

from mamlgame.packs import Tasks
from mamlgame.tasks.base import State, TaskFamily, task_param


class Bandit(TaskFamily):
    name = "bandit"
    obs_dim = 1
    action_dim = 1

    def reset(self, tasks: Tasks, n_episodes: int, generator: torch.Generator | None) -> State:
        return {"t": torch.zeros(len(tasks), n_episodes)}

    def step(self, tasks: Tasks, state: State, action: torch.Tensor):
        reward = -(action[..., 0] - task_param(tasks, "target")).square()
        return {"t": state["t"] + 1}, reward, torch.ones_like(reward, dtype=torch.bool)

    def observe(self, tasks: Tasks, state: State) -> torch.Tensor:
        return torch.ones(*state["t"].shape, 1)
