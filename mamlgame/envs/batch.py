"""`GameBatch`: N independent episodes of a game pack, each on its own level, advanced by one
engine call per step. It is the core of `GameEnv` (N = 1), `GameVectorEnv` (Gymnasium) and
`SB3GameVecEnv` (Stable-Baselines3), so episode i of a batch is exactly a `GameEnv` given the
same seed and actions.

Episode i owns a NumPy generator, seeded as `gymnasium.Env.reset(seed=...)` seeds an env. A
reset of episode i draws its level from it (unless the level is fixed), then the seed of the
episode's random key (`episode_key`). The batch keeps the engine's state [N, 1] for the
levels `tasks` (a selection of the split's pool, rebuilt when a reset changes a level), and
`obs` [N, obs_dim] float32. An episode's first state and observation depend on its level
alone (and its key), so both are computed for the whole pool once. Engine calls run under
`torch.inference_mode()`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from gymnasium.utils import seeding

from mamlgame.envs.common import level_index, open_game
from mamlgame.families.base import State
from mamlgame.families.game.engine import OUTCOMES, state_index, state_scale
from mamlgame.families.game.rules import N_ACTIONS
from mamlgame.packs import LevelPack, Tasks

SEED_BOUND = 2**31 - 1  # an episode's key seed is drawn from [0, SEED_BOUND)
_KEY_BOUND = 0x7FFFFFFF  # `Game.reset` draws keys from [0, 2**31 - 1)
_OUTCOMES = np.array(OUTCOMES, dtype=object)


def episode_key(seed: int, generator: torch.Generator | None = None) -> int:
    """The random key `Game.reset` gives a one-episode batch from a generator seeded with
    `seed` (`generator` is reseeded and reused when given)."""
    g = (generator or torch.Generator()).manual_seed(seed)
    return int(torch.randint(0, _KEY_BOUND, (1, 1), generator=g))


class GameBatch:
    """`num_envs` episodes of a game pack's split (see the module docstring).

    `level`: a name or index fixing every episode's level (None: each reset draws one).
    """

    def __init__(self, pack: str | LevelPack, num_envs: int, level: int | str | None = None,
                 split: str = "train", horizon: int | None = None):
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        self.pack, self.game = open_game(pack, split, horizon)
        self.split, self.num_envs = split, num_envs
        self.pool = self.pack.pool(split)
        self.fixed_level = level_index(self.pack, split, level)
        self.rngs: list[np.random.Generator | None] = [None] * num_envs
        self.levels = np.full(num_envs, -1, dtype=np.int64)  # each episode's pool index
        self.tasks: Tasks | None = None
        self.state: State | None = None
        self.obs = np.zeros((num_envs, self.game.obs_dim), np.float32)
        self._ids = np.array(self.pool.ids, dtype=object)
        self._gen = torch.Generator()
        self._level_scale = _level_scales(self.pool, self.game.state_feature is not None)
        self._row_scale: torch.Tensor | None = None
        with torch.inference_mode():  # every level's first state (its key aside) and view
            self._pool_start = self.game.reset(self.pool, 1, self._gen)
            first = self.game.observe(self.pool, self._pool_start)[:, 0]
            if self._level_scale is not None:
                self._rescale(first, self.pool, self._pool_start,
                              torch.from_numpy(self._level_scale))
        self._first_obs = first.numpy()
        self._zero_start = {k for k, v in self._pool_start.items() if not v.any()}

    # ---- seeding and resets ------------------------------------------------------------------
    def seed(self, i: int, seed: int | None) -> None:
        """Reseed episode i's generator (None: from fresh entropy)."""
        self.rngs[i], _ = seeding.np_random(seed)

    def rng(self, i: int) -> np.random.Generator:
        """Episode i's generator (seeded from fresh entropy on first use)."""
        if self.rngs[i] is None:
            self.seed(i, None)
        return self.rngs[i]

    def level_of(self, level: int | str | None) -> int | None:
        """A level name or index as an index into the split's pool (checked)."""
        return level_index(self.pack, self.split, level)

    def reset(self, rows: Sequence[int] | np.ndarray, levels: Sequence[int | None] | None = None
              ) -> None:
        """Start a new episode in `rows`: on `levels[j]` (a pool index) where given, else
        on the fixed level, else on one drawn from the episode's generator."""
        rows = np.asarray(rows, dtype=np.int64)
        new_levels, keys = self.levels.copy(), np.zeros(self.num_envs, np.int64)
        for j, i in enumerate(rows.tolist()):
            rng = self.rng(i)
            index = levels[j] if levels is not None and levels[j] is not None \
                else self.fixed_level
            new_levels[i] = int(rng.integers(len(self.pool))) if index is None else index
            keys[i] = episode_key(int(rng.integers(SEED_BOUND)), self._gen)
        if self.tasks is None or not np.array_equal(new_levels, self.levels):
            self._select(new_levels)
        key = torch.from_numpy(keys)
        with torch.inference_mode():
            if self.state is None or len(rows) == self.num_envs:
                start = torch.from_numpy(new_levels)
                state = {k: v.index_select(0, start) for k, v in self._pool_start.items()}
                state["rng"] = key.view(-1, 1)
            else:  # the rows' first states, into the others' (new tensors: never in place)
                at, start = torch.from_numpy(rows), torch.from_numpy(new_levels[rows])
                state = {k: v.index_fill(0, at, 0) if k in self._zero_start else
                         v.index_put((at,), self._pool_start[k].index_select(0, start))
                         for k, v in self.state.items()}
                state["rng"] = self.state["rng"].index_put((at,), key[rows].view(-1, 1))
        self.state = state
        self.obs = self.obs.copy()  # never write into an array handed out before
        self.obs[rows] = self._first_obs[new_levels[rows]]

    def _select(self, levels: np.ndarray) -> None:
        """Make `levels` the batch's levels (every row must be a valid pool index)."""
        self.levels = levels
        index = torch.from_numpy(levels)
        self.tasks = self.game.select(self.pool, index)
        if self._level_scale is not None:
            self._row_scale = torch.from_numpy(self._level_scale[levels])

    def _rescale(self, obs: torch.Tensor, tasks: Tasks, state: State, scale: torch.Tensor
                 ) -> None:
        """Divide each row's observed movement state by its own level's `state_scale` (the
        engine divides by the batch's, which a lone level may not share)."""
        f = self.game.state_feature
        obs[:, f] = (state_index(tasks, state)[:, 0] / scale).float()

    # ---- stepping --------------------------------------------------------------------------
    def step(self, actions: torch.Tensor | np.ndarray | Sequence[int]
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Advance every episode by its action [N] (ints in [0, 6)): rewards [N] float32,
        terminated [N] and truncated [N] (bool; truncated at the horizon). `obs` follows."""
        if self.state is None:
            raise RuntimeError("call reset() before step()")
        a = np.asarray(actions)
        if a.size != self.num_envs or a.dtype.kind not in "iu":
            raise ValueError(f"expected {self.num_envs} integer actions, got {a.dtype} of "
                             f"shape {a.shape}")
        if a.min() < 0 or a.max() >= N_ACTIONS:
            raise ValueError(f"actions must lie in [0, {N_ACTIONS}), got {a.tolist()}")
        a = torch.from_numpy(a.astype(np.int64, copy=False).reshape(-1, 1))
        with torch.inference_mode():
            state, reward, done = self.game.step(self.tasks, self.state, a)
            obs = self.game.observe(self.tasks, state)
            if self._row_scale is not None:
                self._rescale(obs[:, 0], self.tasks, state, self._row_scale)
        self.state, self.obs = state, obs.numpy()[:, 0]
        terminated = done.numpy()[:, 0]
        truncated = ~terminated & (state["t"].numpy()[:, 0] >= self.game.horizon)
        return reward.numpy()[:, 0], terminated, truncated

    # ---- what the adapters report ----------------------------------------------------------
    def infos(self) -> dict[str, np.ndarray]:
        """Per-episode `level` (id), `outcome` (running | goal | caught | hazard), `success`."""
        return {"level": self._ids[self.levels],
                "outcome": _OUTCOMES[self.state["outcome"].numpy()[:, 0]],
                "success": self.state["success"].numpy()[:, 0].copy()}

    def row(self, i: int) -> tuple[Tasks, State]:
        """Episode i's level and state as a one-level batch (drawing, inspection)."""
        return self.tasks.select([i]), {k: v[i:i + 1] for k, v in self.state.items()}


def _level_scales(pool: Tasks, observed: bool) -> np.ndarray | None:
    """Each pool level's own `state_scale` where levels differ in it (None when the movement
    state is not observed or every level shares the pool's)."""
    if not observed:
        return None
    kinds = list(zip(pool["platformer"].tolist(), pool["jump"].tolist(), strict=True))
    first = {k: i for i, k in reversed(list(enumerate(kinds)))}
    scale = {k: state_scale(pool.select([i])) for k, i in first.items()}
    out = np.array([scale[k] for k in kinds], dtype=np.float32)
    return None if (out == state_scale(pool)).all() else out
