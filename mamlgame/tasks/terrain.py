"""Robot navigation over terrains with payloads: the dynamics vary per task.

A 2D robot of mass 1 + payload on ground with friction mu drives to a hidden goal.
Action: a force per axis clipped to [-1, 1]. Dynamics (dt = 0.1):
v' = (1 - mu * dt) * v + dt * f / (1 + payload), p' = p + dt * v'.
Reward: -||p' - g|| - c * ||f||^2. Success: within 0.1 of the goal at the end.
Observation: (p, v); goal, friction and payload are not observed.
"""

from __future__ import annotations

import torch

from mamlgame.packs import Tasks
from mamlgame.tasks.base import State, TaskFamily, task_param


class Terrain(TaskFamily):
    name = "terrain"
    obs_dim = 4
    action_dim = 2
    dt = 0.1
    radius = 0.1

    def reset(self, tasks: Tasks, n_episodes: int, generator: torch.Generator | None) -> State:
        z = torch.zeros(len(tasks), n_episodes, 2)
        return {"p": z, "v": z.clone(),
                "success": torch.zeros(len(tasks), n_episodes, dtype=torch.bool)}

    def step(self, tasks: Tasks, state: State, action: torch.Tensor):
        f = action.clamp(-1.0, 1.0)
        mu = task_param(tasks, "friction").unsqueeze(-1)
        mass = 1.0 + task_param(tasks, "payload").unsqueeze(-1)
        v = (1.0 - mu * self.dt).clamp(min=0.0) * state["v"] + self.dt * f / mass
        p = state["p"] + self.dt * v
        goal = torch.cat([tasks["goal_x"], tasks["goal_y"]], -1).reshape(len(tasks), 1, 2)
        dist = (p - goal).norm(dim=-1)
        reward = -dist - self.reward_cfg["control"] * f.square().sum(-1)
        success = dist < self.radius
        return {"p": p, "v": v, "success": success}, reward, torch.zeros_like(success)

    def observe(self, tasks: Tasks, state: State) -> torch.Tensor:
        return torch.cat([state["p"], state["v"]], -1)
