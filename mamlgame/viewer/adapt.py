"""Live adaptation for the viewer: collect the inner-loop episodes a few at a time (so the
viewer can show progress), then take one inner policy-gradient step with the meta-learner."""

from __future__ import annotations

import torch

from mamlgame.checkpoint import Agent
from mamlgame.packs import Tasks
from mamlgame.policy import Params
from mamlgame.rollout import Episodes, rollout


def cat_episodes(parts: list[Episodes]) -> Episodes:
    """Join episode batches along the episode dimension."""
    return Episodes(*(torch.cat(fields, 1) for fields in zip(*parts, strict=True)))


class LiveAdaptation:
    """One inner step on one level from `agent.config.episodes` fresh episodes.

    `start(params, seed)` begins from shared params (theta) or per-task params [1, ...]
    (a further step from theta'); `advance()` collects one chunk and, once all episodes are
    in, computes the adapted params. `result` is None until then.
    """

    def __init__(self, agent: Agent, tasks: Tasks, episodes: int | None = None, chunks: int = 8):
        self.agent, self.tasks = agent, tasks
        self.learner = agent.learner(episodes=episodes)
        self.n_episodes = self.learner.episodes
        self.chunk = max(1, -(-self.n_episodes // chunks))
        self.result: Params | None = None
        self.steps_taken = 0
        self._parts: list[Episodes] = []
        self._base: Params | None = None

    def start(self, params: Params, seed: int, steps_before: int = 0) -> None:
        self._base = {k: v.detach() for k, v in params.items()}
        self._generator = torch.Generator().manual_seed(seed)
        self._parts, self.result = [], None
        self.steps_taken = steps_before

    @property
    def collected(self) -> int:
        return sum(p.rewards.shape[1] for p in self._parts)

    @property
    def running(self) -> bool:
        return self._base is not None and self.result is None

    @property
    def progress(self) -> float:
        return self.collected / self.n_episodes

    def advance(self) -> bool:
        """Collect one chunk of episodes (or finish); True once the adapted params are ready."""
        if not self.running:
            return self.result is not None
        assert self._base is not None
        n = min(self.chunk, self.n_episodes - self.collected)
        if n > 0:
            self._parts.append(rollout(self.agent.family, self.tasks, self.agent.policy,
                                       self._base, n, self._generator))
            return False
        ad = self.learner.adapt(self._base, self.tasks, self._generator, steps=1,
                                first_episodes=cat_episodes(self._parts),
                                first_step=self.steps_taken)
        self.result = {k: v.detach() for k, v in ad.params.items()}
        self.steps_taken += 1
        self.inner_return = float(ad.episodes[0].total_reward.mean())
        return True
