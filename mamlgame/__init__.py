"""mamlgame: meta-learn agents (MAML for RL) that adapt in one gradient step to unseen levels.

`import mamlgame as mg`; `mg.load_pack(path)`; `pack.tasks(split, n, seed)`;
`mg.make_policy(family)`; `mg.MAML(policy, family, inner_lr=..., inner_steps=...,
first_order=False)` with `.adapt(params, tasks, ...)` and `.meta_loss(params, tasks, ...)`;
`mg.envs.GameEnv` (Gymnasium), `mg.envs.GameParallelEnv` (PettingZoo).
"""

from __future__ import annotations

import importlib
from typing import Any

from mamlgame.checkpoint import load_agent
from mamlgame.config import TrainConfig
from mamlgame.errors import CheckpointError, MamlgameError, PackError, TrainingError
from mamlgame.evaluate import evaluate
from mamlgame.families import make_family
from mamlgame.meta import MAML, MetaLearner
from mamlgame.packs import LevelPack, Tasks, load_pack
from mamlgame.policy import make_policy
from mamlgame.rollout import Episodes, rollout
from mamlgame.train import run as train

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "envs":  # imported on first use: gymnasium and pettingzoo are heavy
        return importlib.import_module("mamlgame.envs")
    raise AttributeError(name)


__all__ = [
    "MAML", "CheckpointError", "Episodes", "LevelPack", "MamlgameError", "MetaLearner",
    "PackError", "Tasks", "TrainConfig", "TrainingError", "evaluate", "load_agent", "load_pack",
    "make_family", "make_policy", "rollout", "train",
]
