"""Velocity tracking: a 1D point mass must run at a hidden target velocity v*.

State: position x, velocity v. Action: a force, clipped to [-max_force, max_force].
Dynamics (dt = 0.1, unit mass): v' = v + dt * f, x' = x + dt * v'.
Reward: -(v' - v*)^2 - c * f^2 (`kind = "squared"`) or -|v' - v*| - c * f^2 (`"abs"`).
Observation: (x, v); v* is not observed. No early termination.
"""

from __future__ import annotations

import torch

from mamlgame.packs import Tasks
from mamlgame.tasks.base import State, TaskFamily, task_param


class Velocity(TaskFamily):
    name = "velocity"
    obs_dim = 2
    action_dim = 1
    dt = 0.1
    max_force = 5.0

    def reset(self, tasks: Tasks, n_episodes: int, generator: torch.Generator | None) -> State:
        z = torch.zeros(len(tasks), n_episodes)
        return {"x": z, "v": z.clone()}

    def step(self, tasks: Tasks, state: State, action: torch.Tensor):
        f = action[..., 0].clamp(-self.max_force, self.max_force)
        v = state["v"] + self.dt * f
        x = state["x"] + self.dt * v
        err = v - task_param(tasks, "target_velocity")
        track = err.abs() if self.reward_cfg["kind"] == "abs" else err.square()
        reward = -track - self.reward_cfg["control"] * f.square()
        return {"x": x, "v": v}, reward, torch.zeros_like(reward, dtype=torch.bool)

    def observe(self, tasks: Tasks, state: State) -> torch.Tensor:
        return torch.stack([state["x"], state["v"]], -1)
