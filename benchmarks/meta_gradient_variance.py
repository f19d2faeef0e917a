"""The meta-gradient's noise per estimator on navigation: at a fixed policy (the seed's
initialisation), B independent meta-batches (20 tasks x 20 episodes, 100 steps) give B
meta-gradients; reported are the total variance relative to the squared norm of their mean
(a noise-to-signal ratio) and the mean cosine between one batch's gradient and the mean of
the others. dice's gradients are rescaled by the carried advantage scale they were divided by.

Usage: python benchmarks/meta_gradient_variance.py [BATCHES]
"""

import sys

import torch

from mamlgame.config import TrainConfig
from mamlgame.families import make_family
from mamlgame.meta import MetaLearner
from mamlgame.packs import load_pack
from mamlgame.policy import make_policy, params_of

torch.set_num_threads(1)
B = int(sys.argv[1]) if len(sys.argv) > 1 else 24
pack = load_pack("navigation")
for estimator in ("dice", "lvc", "naive"):
    cfg = TrainConfig(pack="navigation", estimator=estimator, **pack.train).resolved(pack)
    family = make_family(pack, cfg.horizon)
    policy = make_policy(family, cfg.hidden, seed=0)
    learner = MetaLearner.from_config(policy, family, cfg)
    params = params_of(policy)
    pool, gen = pack.pool("train"), torch.Generator().manual_seed(1)
    learner.meta_loss(params, pool.select(torch.randint(len(pool), (20,), generator=gen)), gen)
    grads = []
    for _ in range(B):
        scale = learner.adv_scale if learner.unbiased else 1.0
        loss, _ = learner.meta_loss(
            params, pool.select(torch.randint(len(pool), (20,), generator=gen)), gen)
        g = torch.autograd.grad(loss, list(params.values()))
        grads.append(torch.cat([x.flatten() for x in g]) * scale)
    G = torch.stack(grads)
    mean = G.mean(0)
    noise = G.var(0).sum() / mean.square().sum()
    cos = torch.stack([torch.nn.functional.cosine_similarity(
        G[i], (G.sum(0) - G[i]) / (B - 1), 0) for i in range(B)]).mean()
    print(f"{estimator:<6} noise/signal {noise.item():8.2f}   cosine to the others' mean "
          f"{cos.item():.3f}")
