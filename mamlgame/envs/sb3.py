"""`SB3GameVecEnv`: a Stable-Baselines3 `VecEnv` over a `GameBatch`, every environment stepped
by one engine call (needs the `sb3` extra: `pip install 'mamlgame[sb3]'`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

try:
    from stable_baselines3.common.vec_env import VecEnv
except ImportError as e:  # pragma: no cover - the extra is installed in CI
    raise ImportError("mamlgame.envs.sb3 needs Stable-Baselines3: pip install "
                      "'mamlgame[sb3]' (or pip install stable-baselines3)") from e

from mamlgame.envs.batch import GameBatch
from mamlgame.envs.common import Renderer
from mamlgame.families.game.engine import OBS_BOUND
from mamlgame.families.game.rules import N_ACTIONS
from mamlgame.packs import LevelPack


class SB3GameVecEnv(VecEnv):
    """`num_envs` `GameEnv`s (same arguments) as one SB3 `VecEnv`: environment i gives
    exactly what `DummyVecEnv` over `GameEnv`s gives with the same seeds and actions.

    SB3's conventions: `step` returns (obs, rewards float32, dones, infos: a list of dicts
    with `level`, `outcome`, `success`, `TimeLimit.truncated`); an environment that ends is
    reset at once, its last observation in `infos[i]["terminal_observation"]`; `seed(s)`
    seeds environment i with s + i at the next `reset()`, `set_options({"level": ...})` fixes
    the level of the next reset. Attributes are shared by all environments (`get_attr`
    returns this object's, once per index). `render_mode`: None or "rgb_array".
    """

    def __init__(self, num_envs: int = 1, pack: str | LevelPack = "mixed",
                 level: int | str | None = None, split: str = "train",
                 render_mode: str | None = None, horizon: int | None = None, tile: int = 24):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.batch = GameBatch(pack, num_envs, level, split, horizon)
        self.num_envs, self.render_mode = num_envs, render_mode  # read by VecEnv.__init__
        self.renderer = Renderer(self.batch.pack, render_mode, tile)
        obs_space = spaces.Box(-OBS_BOUND, OBS_BOUND, (self.batch.game.obs_dim,), np.float32)
        super().__init__(num_envs, obs_space, spaces.Discrete(N_ACTIONS))
        self.actions: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        for i, seed in enumerate(self._seeds):
            if seed is not None:
                self.batch.seed(i, seed)
        levels = [self.batch.level_of(o.get("level")) for o in self._options]
        self.batch.reset(np.arange(self.num_envs), levels)
        self.reset_infos = _dicts(self.batch.infos(), range(self.num_envs))
        self._reset_seeds()
        self._reset_options()
        return self.batch.obs.copy()

    def step_async(self, actions: np.ndarray) -> None:
        self.actions = actions

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        reward, terminated, truncated = self.batch.step(self.actions)
        dones = terminated | truncated
        infos = _dicts(self.batch.infos(), range(self.num_envs))
        for info, cut in zip(infos, (truncated & ~terminated).tolist(), strict=True):
            info["TimeLimit.truncated"] = cut
        ended = np.flatnonzero(dones)
        if len(ended):
            for i in ended:
                infos[i]["terminal_observation"] = self.batch.obs[i].copy()
            self.batch.reset(ended)
            for i, info in zip(ended, _dicts(self.batch.infos(), ended), strict=True):
                self.reset_infos[i] = info
        return self.batch.obs, reward.copy(), dones, infos

    def close(self) -> None:
        self.renderer.close()

    def get_images(self) -> Sequence[np.ndarray | None]:
        if self.render_mode != "rgb_array" or self.batch.state is None:
            return [None] * self.num_envs
        return [self.renderer.frame(*self.batch.row(i)) for i in range(self.num_envs)]

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [getattr(self, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None,
                   **method_kwargs: Any) -> list[Any]:
        method = getattr(self, method_name)
        return [method(*method_args, **method_kwargs) for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]


def _dicts(values: dict[str, np.ndarray], rows: Iterable[int]) -> list[dict[str, Any]]:
    """Per-environment info dicts (plain Python values) of `rows`."""
    cols = {k: v.tolist() for k, v in values.items()}
    return [{k: c[i] for k, c in cols.items()} for i in rows]
