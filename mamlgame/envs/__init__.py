"""Ecosystem adapters over the game engine: a Gymnasium `Env` and natively batched `VectorEnv`,
a Stable-Baselines3 `VecEnv` and a PettingZoo `ParallelEnv`.

All run `mamlgame.families.game.engine.Game` (through `GameBatch`: N episodes, one engine call
per step), so every rule has exactly one implementation. Importing this package registers
`mamlgame/Game-v0`, with `GameVectorEnv` as its vector entry point:

    import gymnasium as gym, mamlgame.envs
    env = gym.make("mamlgame/Game-v0", pack="chasers", level="corridor", split="test")
    envs = gym.make_vec("mamlgame/Game-v0", num_envs=64, pack="mixed")

`SB3GameVecEnv` (Stable-Baselines3, the `sb3` extra) is imported on first use.
"""

from __future__ import annotations

import os
from typing import Any

import gymnasium
import torch

from mamlgame.envs.batch import GameBatch
from mamlgame.envs.gym_env import GameEnv
from mamlgame.envs.parallel_env import GameParallelEnv
from mamlgame.envs.vector_env import GameVectorEnv

# A forked worker (gymnasium's AsyncVectorEnv, multiprocessing) inherits torch's OpenMP pool
# in a state that deadlocks at its first parallel op; one thread there is also the fast
# choice for a batch of one.
os.register_at_fork(after_in_child=lambda: torch.set_num_threads(1))

ENV_ID = "mamlgame/Game-v0"
if ENV_ID not in gymnasium.registry:
    gymnasium.register(id=ENV_ID, entry_point="mamlgame.envs.gym_env:GameEnv",
                       vector_entry_point="mamlgame.envs.vector_env:GameVectorEnv")


def __getattr__(name: str) -> Any:
    if name == "SB3GameVecEnv":  # Stable-Baselines3 is optional: import it when asked for
        from mamlgame.envs.sb3 import SB3GameVecEnv

        return SB3GameVecEnv
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# (not SB3GameVecEnv: a star import must work without the optional extra)
__all__ = ["ENV_ID", "GameBatch", "GameEnv", "GameParallelEnv", "GameVectorEnv"]
