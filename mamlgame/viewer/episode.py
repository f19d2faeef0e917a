"""One episode of one level, stepped one action at a time and drawn as an RGB array.

The viewer runs the family's batched dynamics with a batch of one task and one episode, so
what it shows is exactly what training and evaluation simulate. No pygame here.
"""

from __future__ import annotations

import numpy as np
import torch

from mamlgame.families import FamilySpec, State, TaskFamily, family_spec
from mamlgame.packs import Tasks
from mamlgame.policy import MLPPolicy, Params, with_task_inputs
from mamlgame.rollout import act


def draw_state(family: TaskFamily, tasks: Tasks, state: State, trail: list[np.ndarray],
               size: int, step: int = 0) -> np.ndarray:
    """The drawing of task 0, episode 0 of a batched state (any family)."""
    tr = np.stack(trail) if trail else None
    return family_spec(family.name).draw(tasks, state, tr, size, step)


class Episode:
    """A single running episode: state, step count, return, success and the trail."""

    def __init__(self, family: TaskFamily, tasks: Tasks, seed: int = 0):
        self.family, self.tasks = family, tasks
        self.spec: FamilySpec = family_spec(family.name)
        self.reset(seed)

    def reset(self, seed: int) -> None:
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)
        self.state = self.family.reset(self.tasks, 1, self.generator)
        self.steps, self.ret, self.done, self.success = 0, 0.0, False, False
        self.last_reward = 0.0
        # a one-step bandit keeps its recent actions across episodes; other trails restart
        keep = self.spec.keep_trail and hasattr(self, "trail")
        self.trail: list[np.ndarray] = self.trail[-29:] if keep else []
        self._record(None)

    def _record(self, action: torch.Tensor | None) -> None:
        point = self.spec.trail_point(self.tasks, self.state, action)
        if point is not None:
            self.trail.append(point)

    def observe(self) -> torch.Tensor:
        return self.family.observe(self.tasks, self.state)

    def step(self, action: torch.Tensor) -> float:
        """Apply one action ([1, 1, ...] or anything reshapeable to it); no-op when done."""
        if self.done:
            return 0.0
        if self.family.discrete:
            action = torch.as_tensor(action, dtype=torch.long).reshape(1, 1)
        else:
            action = torch.as_tensor(action, dtype=torch.float32).reshape(1, 1, -1)
        self.state, reward, done = self.family.step(self.tasks, self.state, action)
        self.steps += 1
        self.last_reward = float(reward[0, 0])
        self.ret += self.last_reward
        self.success = bool(self.family.success(self.tasks, self.state)[0, 0])
        self.done = bool(done[0, 0]) or self.steps >= self.family.horizon
        self._record(action)
        return self.last_reward

    def frame(self, size: int) -> np.ndarray:
        return draw_state(self.family, self.tasks, self.state, self.trail, size, self.steps)

    def outcome(self) -> str:
        """A banner word for how the episode ended ('' while running)."""
        if not self.done:
            return ""
        return self.spec.outcome(self.state) or ("SUCCESS" if self.success else "TIME UP")


class PolicyPlayer:
    """Acts in an `Episode` with a policy and params (shared or per task [1, ...])."""

    def __init__(self, policy: MLPPolicy, params: Params, greedy: bool = False):
        self.policy, self.params, self.greedy = policy, params, greedy
        self._bound: tuple | None = None  # (params, tasks, params with the level's inputs)

    def act(self, episode: Episode) -> torch.Tensor:
        bound = self._bound
        if bound is None or bound[0] is not self.params or bound[1] is not episode.tasks:
            bound = self._bound = (self.params, episode.tasks, with_task_inputs(
                self.policy, episode.tasks, self.params))
        return act(episode.family, episode.tasks, episode.state, episode.observe(),
                   self.policy, bound[2], episode.generator, self.greedy)


def task_caption(family: TaskFamily, tasks: Tasks) -> str:
    """What the viewer (not the agent) knows about the level: its hidden parameters."""
    return family_spec(family.name).caption(tasks)
