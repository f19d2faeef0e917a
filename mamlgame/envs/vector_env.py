"""`GameVectorEnv`: a natively batched Gymnasium `VectorEnv` (`gym.make_vec("mamlgame/Game-v0",
num_envs=N, ...)`), every sub-environment stepped by one engine call."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from mamlgame.envs.batch import GameBatch
from mamlgame.envs.common import Renderer
from mamlgame.families.game.engine import OBS_BOUND
from mamlgame.families.game.rules import N_ACTIONS
from mamlgame.packs import LevelPack


class GameVectorEnv(VectorEnv):
    """`num_envs` independent `GameEnv`s (same arguments), batched: sub-environment i gives
    exactly what a `GameEnv` gives with the same seed and actions, autoresets included, as
    `gymnasium.vector.SyncVectorEnv` over `GameEnv`s would (observations, rewards, flags and
    infos alike).

    Seeding as `SyncVectorEnv`: `reset(seed=s)` seeds sub-environment i with s + i (or takes a
    list of seeds); each then draws its own level at every reset unless `level` fixes it.
    `autoreset_mode` (declared in `metadata["autoreset_mode"]`): `NEXT_STEP` (default: the
    step after an episode ends returns the next episode's first observation, reward 0, and
    ignores the action), `SAME_STEP` (the ending step returns the next episode's first
    observation; the last one is in `infos["final_obs"]`, its info in `infos["final_info"]`)
    or `DISABLED` (reset ended sub-environments with `reset(options={"reset_mask": mask})`).
    Reset options: `level` (all reset sub-environments play it), `reset_mask`.
    `render_mode`: None or "rgb_array" (a tuple of one frame per sub-environment).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 8,
                "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int = 1, pack: str | LevelPack = "mixed",
                 level: int | str | None = None, split: str = "train",
                 render_mode: str | None = None, horizon: int | None = None, tile: int = 24,
                 autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array' for a vector env, got "
                             f"{render_mode!r}")
        self.batch = GameBatch(pack, num_envs, level, split, horizon)
        self.num_envs, self.render_mode = num_envs, render_mode
        self.autoreset_mode = AutoresetMode(autoreset_mode)
        self.metadata = {**self.metadata, "autoreset_mode": self.autoreset_mode}
        self.renderer = Renderer(self.batch.pack, render_mode, tile)
        self.single_observation_space = spaces.Box(-OBS_BOUND, OBS_BOUND,
                                                   (self.batch.game.obs_dim,), np.float32)
        self.single_action_space = spaces.Discrete(N_ACTIONS)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._ended = np.zeros(num_envs, bool)  # episodes that ended at the last step

    def reset(self, *, seed: int | list[int | None] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        if mask is None:
            mask = np.ones(self.num_envs, bool)
        elif not (isinstance(mask, np.ndarray) and mask.dtype == np.bool_
                  and mask.shape == (self.num_envs,) and mask.any()):
            raise ValueError(f"options['reset_mask'] must be a bool array of shape "
                             f"({self.num_envs},) with a True value, got {mask!r}")
        seeds = _seeds(seed, self.num_envs)
        if isinstance(seed, int):
            super().reset(seed=seed)
        rows = np.flatnonzero(mask)
        for i in rows:
            if seeds[i] is not None:
                self.batch.seed(int(i), seeds[i])
        level = self.batch.level_of(options.get("level"))
        self.batch.reset(rows, [level] * len(rows))
        self._ended[rows] = False
        return self.batch.obs.copy(), _infos(self.batch.infos(), mask)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                  np.ndarray, dict[str, Any]]:
        mode = self.autoreset_mode
        if mode == AutoresetMode.DISABLED and self._ended.any():
            raise RuntimeError(f"sub-environments {np.flatnonzero(self._ended).tolist()} "
                               "ended: reset them (options={'reset_mask': ...}) before stepping")
        reward, terminated, truncated = self.batch.step(actions)
        reward = reward.astype(np.float64)
        infos: dict[str, Any] = {}
        if mode == AutoresetMode.NEXT_STEP and self._ended.any():
            rows = np.flatnonzero(self._ended)
            self.batch.reset(rows)
            reward[rows], terminated[rows], truncated[rows] = 0.0, False, False
        ended = terminated | truncated
        if mode == AutoresetMode.SAME_STEP and ended.any():
            final_obs = np.full(self.num_envs, None, dtype=object)
            for i in np.flatnonzero(ended):
                final_obs[i] = self.batch.obs[i].copy()
            infos = {"final_obs": final_obs, "_final_obs": ended.copy(),
                     "final_info": _infos(self.batch.infos(), ended),
                     "_final_info": ended.copy()}
            self.batch.reset(np.flatnonzero(ended))
        self._ended = ended
        infos.update(_infos(self.batch.infos(), np.ones(self.num_envs, bool)))
        return self.batch.obs, reward, terminated.copy(), truncated.copy(), infos

    def render(self) -> tuple[np.ndarray, ...] | None:
        if self.render_mode is None or self.batch.state is None:
            return None
        return tuple(self.renderer.frame(*self.batch.row(i)) for i in range(self.num_envs))

    def close_extras(self, **kwargs: Any) -> None:
        self.renderer.close()


def _seeds(seed: int | list[int | None] | None, n: int) -> list[int | None]:
    """Per-sub-environment seeds, as `SyncVectorEnv.reset` spreads them."""
    if seed is None:
        return [None] * n
    if isinstance(seed, int):
        return [seed + i for i in range(n)]
    if len(seed) != n:
        raise ValueError(f"expected {n} seeds, got {len(seed)}")
    return list(seed)


def _infos(values: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    """Vector infos of the sub-environments in `mask` (each key with its `_key` mask; other
    entries hold what `VectorEnv._add_info` leaves there: None, or False for bools)."""
    out: dict[str, np.ndarray] = {}
    for key, v in values.items():
        if not mask.all():
            v = np.where(mask, v, False if v.dtype == np.bool_ else None).astype(v.dtype)
        out[key], out[f"_{key}"] = v, mask.copy()
    return out
