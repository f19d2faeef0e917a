"""Act-time lookahead for a game agent (`mamlgame eval --lookahead DEPTH`): before each move
the agent tries every action, each followed by `SAMPLES` continuations of its own policy for
DEPTH - 1 more steps, played with the engine's rules, and lowers the logit of each action
by `PENALTY` times the share of its continuations that end caught or on a hazard.

What the simulation knows is what the player sees: the map, every opponent's tile,
behaviour, speed, heading and pace (its speed accumulator: when it next moves). It does not
know the goal: the simulated levels have none (reaching the goal ends nothing), so the
lookahead only avoids losing; where to go stays the policy's (its adapted goal belief).
Random walkers are redrawn: every continuation gets a fresh random key, never the
episode's own.

The policy itself is unchanged (training never uses the lookahead): it is a different way to
act with the same adapted params, as search over a learned policy. It costs DEPTH policy
and engine steps on `6 * SAMPLES` times the episodes, per step.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch

from mamlgame.errors import MamlgameError
from mamlgame.families.base import State
from mamlgame.families.game.constants import LevelCache
from mamlgame.families.game.engine import Game
from mamlgame.families.game.rules import N_ACTIONS
from mamlgame.packs import Tasks

Logits = Callable[[torch.Tensor], torch.Tensor]  # obs [T, K, D] -> the policy's logits

SAMPLES = 4      # continuations per action
PENALTY = 10.0   # logit cost of an action whose every continuation is lost
_M31 = 0x7FFFFFFF


class Lookahead:
    """The game's act-time chooser (`FamilyBase.chooser`): actions [T, E] for a rollout."""

    def __init__(self, game: Game, depth: int, samples: int = SAMPLES,
                 penalty: float = PENALTY):
        if depth < 1:
            raise MamlgameError(f"lookahead: expected at least 1 step, got {depth}")
        self.depth, self.samples, self.penalty = depth, samples, penalty
        # its own engine: the simulated levels' constants must not evict the real ones
        self.sim = copy.copy(game)
        self.sim.levels = LevelCache()
        self._blind: tuple[Tasks, Tasks] | None = None

    def blind(self, tasks: Tasks) -> Tasks:
        """`tasks` without their goals (tile 0, a border wall: never reached)."""
        if self._blind is None or self._blind[0] is not tasks:
            self._blind = (tasks, Tasks({**tasks.params,
                                         "goal": torch.zeros_like(tasks["goal"])}, tasks.ids))
        return self._blind[1]

    def lost_share(self, tasks: Tasks, state: State, logits: Logits, draw: Logits,
                   generator: torch.Generator | None) -> torch.Tensor:
        """[T, E, A]: the share of each action's continuations caught or on a hazard within
        `depth` steps; `draw` turns logits into actions."""
        t, e = state["pos"].shape
        a, s = N_ACTIONS, self.samples
        blind = self.blind(tasks)
        sim = {k: v.repeat_interleave(a * s, 1) for k, v in state.items()}
        sim["rng"] = torch.randint(0, _M31, sim["rng"].shape, generator=generator)
        first = torch.arange(a).repeat_interleave(s).repeat(e).expand(t, -1)
        lost = torch.zeros(t, e * a * s, dtype=torch.bool)
        for j in range(self.depth):
            act = first if j == 0 else draw(logits(self.sim.observe(blind, sim)))
            sim, _, ended = self.sim.step(blind, sim, act)
            lost |= ended
        return lost.float().view(t, e, a, s).mean(-1)

    def __call__(self, tasks: Tasks, state: State, obs: torch.Tensor, logits: Logits,
                 draw: Logits, generator: torch.Generator | None, deterministic: bool
                 ) -> torch.Tensor:
        with torch.no_grad():
            share = self.lost_share(tasks, state, logits, draw, generator)
            out = logits(obs) - self.penalty * share
            return out.argmax(-1) if deterministic else draw(out)
