"""2D point-mass navigation to a hidden goal (the MAML paper's task and reference code).

Start at (0, 0); action = velocity clipped to [-0.1, 0.1] per axis; p' = p + a.
Reward: -||p' - g||. The episode ends when |p' - g| < 0.01 on both axes.
Observation: the position p; the goal g is not observed.
"""

from __future__ import annotations

import torch

from mamlgame.packs import Tasks
from mamlgame.tasks.base import State, TaskFamily


class Navigation(TaskFamily):
    name = "navigation"
    obs_dim = 2
    action_dim = 2
    max_step = 0.1
    tolerance = 0.01

    @staticmethod
    def goal(tasks: Tasks) -> torch.Tensor:
        """Goals [T, 1, 2]."""
        return torch.cat([tasks["goal_x"], tasks["goal_y"]], -1).reshape(len(tasks), 1, 2)

    def reset(self, tasks: Tasks, n_episodes: int, generator: torch.Generator | None) -> State:
        p = torch.zeros(len(tasks), n_episodes, 2)
        return {"p": p, "success": torch.zeros(len(tasks), n_episodes, dtype=torch.bool)}

    def step(self, tasks: Tasks, state: State, action: torch.Tensor):
        p = state["p"] + action.clamp(-self.max_step, self.max_step)
        d = p - self.goal(tasks)
        reward = -d.norm(dim=-1)
        done = (d.abs() < self.tolerance).all(-1)
        return {"p": p, "success": state["success"] | done}, reward, done

    def observe(self, tasks: Tasks, state: State) -> torch.Tensor:
        return state["p"]
