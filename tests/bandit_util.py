"""The one-step Gaussian bandit the meta-gradient tests compute exact values on: a policy
a ~ N(MU0, exp(LOG_STD0)²) with no hidden layer, reward -(a - TARGET)², `N_INNER` inner
episodes, inner step size `ALPHA`."""

from __future__ import annotations

import math

import torch

from mamlgame.families import make_family
from mamlgame.packs import Tasks, load_pack
from mamlgame.policy import MLPPolicy

TARGET, ALPHA, N_INNER = 1.0, 0.1, 10
MU0, LOG_STD0 = 0.2, math.log(0.7)


def bandit_setup(n_tasks: int):
    """(family, policy at mean MU0 and std exp(LOG_STD0), `n_tasks` tasks at TARGET)."""
    family = make_family(load_pack("bandit"))
    policy = MLPPolicy(1, 1, hidden=(), init_std=math.exp(LOG_STD0))
    with torch.no_grad():
        policy.layers[0].weight.zero_()
        policy.layers[0].bias.fill_(MU0)
    tasks = Tasks({"target": torch.full((n_tasks, 1), TARGET)}, tuple(map(str, range(n_tasks))))
    return family, policy, tasks
