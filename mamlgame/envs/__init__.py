"""Ecosystem adapters over the game engine: a Gymnasium `Env` and a PettingZoo `ParallelEnv`.

Both run `mamlgame.families.game.engine.Game` with a batch of one level and one episode, so every
rule has exactly one implementation. Importing this package registers `mamlgame/Game-v0`:

    import gymnasium as gym, mamlgame.envs
    env = gym.make("mamlgame/Game-v0", pack="chasers", level="corridor", split="test")
"""

from __future__ import annotations

import os

import gymnasium
import torch

from mamlgame.envs.gym_env import GameEnv
from mamlgame.envs.parallel_env import GameParallelEnv

# A forked worker (gymnasium's AsyncVectorEnv, multiprocessing) inherits torch's OpenMP pool
# in a state that deadlocks at its first parallel op; one thread there is also the fast
# choice for a batch of one.
os.register_at_fork(after_in_child=lambda: torch.set_num_threads(1))

ENV_ID = "mamlgame/Game-v0"
if ENV_ID not in gymnasium.registry:
    gymnasium.register(id=ENV_ID, entry_point="mamlgame.envs.gym_env:GameEnv")

__all__ = ["ENV_ID", "GameEnv", "GameParallelEnv"]
