"""2D point-mass navigation to a hidden goal (the MAML paper's task and reference code).

Start at (0, 0); the velocity is clipped to [-0.1, 0.1] per axis; p' = p + v. As in the
reference code (rllab's `normalize` wrapper around the point env), the policy acts in
[-1, 1]: v = 0.1 * clip(a, -1, 1).
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
        p = state["p"] + self.max_step * action.clamp(-1.0, 1.0)
        d = p - self.goal(tasks)
        reward = -d.norm(dim=-1)
        done = (d.abs() < self.tolerance).all(-1)
        return {"p": p, "success": state["success"] | done}, reward, done

    def observe(self, tasks: Tasks, state: State) -> torch.Tensor:
        return state["p"]
