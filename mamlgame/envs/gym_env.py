"""`GameEnv`: one game level as a Gymnasium environment (`mamlgame/Game-v0`)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from mamlgame.envs.batch import GameBatch
from mamlgame.envs.common import RENDER_MODES, Renderer
from mamlgame.families.base import State
from mamlgame.families.game.engine import OBS_BOUND, OUTCOMES
from mamlgame.families.game.rules import N_ACTIONS
from mamlgame.packs import LevelPack, Tasks


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
    Reset options: `level` (name or index) plays that level this episode.

    It is a `GameBatch` of one episode; `gym.make_vec` gives the natively batched
    `GameVectorEnv`, which steps any number of these in one engine call.
    """

    metadata = {"render_modes": RENDER_MODES, "render_fps": 8}

    def __init__(self, pack: str | LevelPack = "mixed", level: int | str | None = None,
                 split: str = "train", render_mode: str | None = None,
                 horizon: int | None = None, tile: int = 24):
        if render_mode not in (None, *RENDER_MODES):
            raise ValueError(f"render_mode must be None or one of {RENDER_MODES}, got "
                             f"{render_mode!r}")
        self.batch = GameBatch(pack, 1, level, split, horizon)
        self.pack, self.game, self.split = self.batch.pack, self.batch.game, split
        self.render_mode, self.tile = render_mode, tile
        self.fixed_level = self.batch.fixed_level
        self.renderer = Renderer(self.pack, render_mode, tile)
        self.observation_space = spaces.Box(-OBS_BOUND, OBS_BOUND, (self.game.obs_dim,),
                                            np.float32)
        self.action_space = spaces.Discrete(N_ACTIONS)

    @property
    def tasks(self) -> Tasks | None:
        """The current level as a one-level batch (None before the first reset)."""
        return self.batch.tasks

    @property
    def game_state(self) -> State | None:
        """The engine's state of the episode ([1, 1] tensors; None before the first reset)."""
        return self.batch.state

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.batch.rngs[0] = self.np_random
        level = None
        if options and options.get("level") is not None:
            level = self.batch.level_of(options["level"])
        self.batch.reset([0], [level])
        return self.batch.obs[0], self._info()

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        reward, terminated, truncated = self.batch.step([int(action)])
        return (self.batch.obs[0], float(reward[0]), bool(terminated[0]), bool(truncated[0]),
                self._info())

    def render(self) -> np.ndarray | None:
        return self.renderer.render(self.tasks, self.game_state)

    def close(self) -> None:
        self.renderer.close()

    def _info(self) -> dict[str, Any]:
        state = self.batch.state
        return {"level": self.batch.tasks.ids[0],
                "outcome": OUTCOMES[int(state["outcome"].numpy()[0, 0])],
                "success": bool(state["success"].numpy()[0, 0])}
