"""`GameEnv`: one game level as a Gymnasium environment (`mamlgame/Game-v0`)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from mamlgame.envs.common import (
    RENDER_MODES,
    Renderer,
    level_index,
    open_game,
    player_obs,
    start_level,
)
from mamlgame.families.game.engine import OBS_BOUND, OUTCOMES
from mamlgame.families.game.rules import N_ACTIONS
from mamlgame.packs import LevelPack


class GameEnv(gym.Env):
    """A level of a game pack; scripted opponents act inside the environment.

    Arguments: `pack` (shipped name, path or `LevelPack`; default "mixed"), `level` (name or
    index in the split; None draws a level at every reset), `split` ("train" or "test"),
    `render_mode` (None, "rgb_array": a frame of the same size for every level of the
    pack, or "human": a pygame window), `horizon` (default: the pack's).

    Action Space: Discrete(6): 0 stay, 1 left, 2 right, 3 up / jump, 4 down / jump-left,
    5 stay / jump-right (topdown / platformer).
    Observation Space: Box(-8, 8, (obs_dim,), float32), see `mamlgame.families.game.engine`.
    Rewards: the pack's `[reward]` (goal, caught, hazard, step, path-distance shaping).
    Termination: goal, caught or hazard. Truncation: at the horizon.
    Info: `level` (its id), `outcome` (running | goal | caught | hazard), `success`.
    """

    metadata = {"render_modes": RENDER_MODES, "render_fps": 8}

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
        self.observation_space = spaces.Box(-OBS_BOUND, OBS_BOUND, (self.game.obs_dim,),
                                            np.float32)
        self.action_space = spaces.Discrete(N_ACTIONS)
        self.tasks, self.game_state = None, None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        fixed = self.fixed_level
        if options and options.get("level") is not None:
            fixed = level_index(self.pack, self.split, options["level"])
        self.tasks, self.game_state = start_level(self.pack, self.game, self.split, fixed,
                                                  self.np_random)
        return self._obs(), self._info()

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self.game_state is None:
            raise RuntimeError("call reset() before step()")
        a = torch.tensor([[int(action)]])
        self.game_state, reward, done = self.game.step(self.tasks, self.game_state, a)
        terminated = bool(done[0, 0])
        truncated = not terminated and int(self.game_state["t"][0, 0]) >= self.game.horizon
        return self._obs(), float(reward[0, 0]), terminated, truncated, self._info()

    def render(self) -> np.ndarray | None:
        return self.renderer.render(self.tasks, self.game_state)

    def close(self) -> None:
        self.renderer.close()

    def _obs(self) -> np.ndarray:
        return player_obs(self.game, self.tasks, self.game_state)

    def _info(self) -> dict[str, Any]:
        state = self.game_state
        return {"level": self.tasks.ids[0], "outcome": OUTCOMES[int(state["outcome"][0, 0])],
                "success": bool(state["success"][0, 0])}
