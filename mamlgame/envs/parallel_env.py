"""`GameParallelEnv`: a game level as a PettingZoo `ParallelEnv` (player and opponents)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from pettingzoo import ParallelEnv

from mamlgame.envs.common import (
    RENDER_MODES,
    Renderer,
    level_index,
    open_game,
    player_obs,
    start_level,
)
from mamlgame.families.game.engine import OBS_BOUND, OUTCOMES
from mamlgame.families.game.rules import MOVES, N_ACTIONS
from mamlgame.packs import LevelPack

PLAYER = "player_0"


def opponent_agent(j: int) -> str:
    return f"opponent_{j}"


class GameParallelEnv(ParallelEnv):
    """The player (`"player_0"`) and each opponent (`"opponent_<j>"`) as agents.

    Same arguments as `GameEnv`. The player acts with Discrete(6) (see `GameEnv`); an
    opponent with Discrete(5): 0 stay, 1 up, 2 down, 3 left, 4 right. An opponent whose action
    is not given in `step(actions)` follows its scripted behaviour. An opponent observes
    `Game.observe_opponents_view` (`Game.opponent_obs_dim` floats: its behaviour's code is a
    one-hot over the behaviour table `opponents.TABLE`). Rewards: the player's
    game reward; each opponent gets its negative. All agents terminate together (goal,
    caught, hazard) and are truncated at the horizon. `possible_agents` holds the most
    opponents a level of the split has; `agents` those of the current level.
    """

    metadata = {"render_modes": RENDER_MODES, "name": "mamlgame_game_v0",
                "is_parallelizable": True, "render_fps": 8}

    def __init__(self, pack: str | LevelPack = "mixed", level: int | str | None = None,
                 split: str = "train", render_mode: str | None = None,
                 horizon: int | None = None, tile: int = 24):
        if render_mode not in (None, *RENDER_MODES):
            raise ValueError(f"render_mode must be None or one of {RENDER_MODES}, got "
                             f"{render_mode!r}")
        self.pack, self.game = open_game(pack, split, horizon)
        self.split, self.render_mode, self.tile = split, render_mode, tile
        self.renderer = Renderer(self.pack, render_mode, tile)
        self.fixed_level = level_index(self.pack, split, level)
        mask = self.pack.pool(split)["opp_mask"]
        if self.fixed_level is not None:
            mask = mask[self.fixed_level:self.fixed_level + 1]
        self.possible_agents = [PLAYER] + [opponent_agent(j)
                                           for j in range(int(mask.sum(1).max()))]
        box = spaces.Box(-OBS_BOUND, OBS_BOUND, (self.game.obs_dim,), np.float32)
        opp_box = spaces.Box(-OBS_BOUND, OBS_BOUND, (self.game.opponent_obs_dim,), np.float32)
        self._obs_spaces = {a: box if a == PLAYER else opp_box for a in self.possible_agents}
        self._act_spaces = {a: spaces.Discrete(N_ACTIONS if a == PLAYER else len(MOVES))
                            for a in self.possible_agents}
        n_state = self.game.obs_dim + (len(self.possible_agents) - 1) * self.game.opponent_obs_dim
        self.state_space = spaces.Box(-OBS_BOUND, OBS_BOUND, (n_state,), np.float32)
        self.agents: list[str] = []
        self.tasks, self.game_state = None, None
        self._rng = np.random.default_rng()

    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self._act_spaces[agent]

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        fixed = self.fixed_level
        if options and options.get("level") is not None:
            fixed = level_index(self.pack, self.split, options["level"])
        self.tasks, self.game_state = start_level(self.pack, self.game, self.split, fixed,
                                                  self._rng)
        n = int(self.tasks["opp_mask"][0].sum())
        self.agents = [PLAYER] + [opponent_agent(j) for j in range(n)]
        return self._observations(), {a: self._info() for a in self.agents}

    def step(self, actions: dict[str, Any]):
        if self.game_state is None:
            raise RuntimeError("call reset() before step()")
        m = self.tasks["opp_mask"].shape[1]
        opp_action = torch.full((1, 1, m), -1, dtype=torch.long)
        for j in range(len(self.agents) - 1):
            act = actions.get(opponent_agent(j))
            if act is not None:
                opp_action[0, 0, j] = int(act)
        player = actions.get(PLAYER)
        a = torch.tensor([[0 if player is None else int(player)]])
        self.game_state, reward, done = self.game.step(self.tasks, self.game_state, a, opp_action)
        r = float(reward[0, 0])
        terminated = bool(done[0, 0])
        truncated = not terminated and int(self.game_state["t"][0, 0]) >= self.game.horizon
        agents = self.agents
        obs = self._observations()
        rewards = {a: (r if a == PLAYER else -r) for a in agents}
        terms = {a: terminated for a in agents}
        truncs = {a: truncated for a in agents}
        infos = {a: self._info() for a in agents}
        if terminated or truncated:
            self.agents = []
        return obs, rewards, terms, truncs, infos

    def render(self) -> np.ndarray | None:
        return self.renderer.render(self.tasks, self.game_state)

    def state(self) -> np.ndarray:
        """PettingZoo's global state (for centralised critics): the player's observation, then
        every possible opponent's (zeros for those the current level lacks)."""
        if self.game_state is None:
            raise RuntimeError("call reset() before state()")
        out = np.zeros(self.state_space.shape, np.float32)
        player = player_obs(self.game, self.tasks, self.game_state)
        opp = self._opponent_views()
        out[:len(player)] = player
        out[len(player):len(player) + opp.size] = opp.reshape(-1)
        return out

    def close(self) -> None:
        self.renderer.close()

    def _observations(self) -> dict[str, np.ndarray]:
        out = {PLAYER: player_obs(self.game, self.tasks, self.game_state)}
        for a, view in zip(self.agents[1:], self._opponent_views(), strict=True):
            out[a] = view
        return out

    def _opponent_views(self) -> np.ndarray:
        """The current level's opponents' observations [n, opponent_obs_dim]."""
        views = self.game.observe_opponents_view(self.tasks, self.game_state)[0, 0].numpy()
        return views[:int(self.tasks["opp_mask"][0].sum())].astype(np.float32)

    def _info(self) -> dict[str, Any]:
        outcome = OUTCOMES[int(self.game_state["outcome"][0, 0])]
        return {"level": self.tasks.ids[0], "outcome": outcome}
