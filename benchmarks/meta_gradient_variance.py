"""The meta-gradient's noise per estimator on navigation: at a fixed policy (the seed's
initialisation, or a checkpoint's params), B independent meta-batches (20 tasks x 20
episodes, 100 steps) give B meta-gradients; reported are their total variance (the trace of
their covariance: comparable between estimators at the same policy), the squared norm of their
mean, the ratio of the two (noise to signal; unreliable once the signal is smaller than the
variance / B) and the mean cosine between one batch's gradient and the mean of the others.
All estimators' gradients are in units of normalised advantages (dice divides by its
carried scale, nearly constant at a fixed policy, the others by each batch's std), so their
variances compare. 10 batches drawn first fill what dice carries over batches (its scale and
its score baseline's memory), as in training.

Usage: python benchmarks/meta_gradient_variance.py [BATCHES] [CHECKPOINT] [ESTIMATOR ...]
                                                  [--tasks T] [--exact-rows N]
(CHECKPOINT "-": the initialisation.) --tasks: the meta-batch (20); --exact-rows: dice's score
baseline takes its n x n formula up to N rows (default: the code's EXACT_ROWS), e.g. 0 for the
low-rank path always, 10**9 for the n x n formula always.
"""

import argparse

import torch

from mamlgame.checkpoint import load_agent
from mamlgame.config import TrainConfig
from mamlgame.families import make_family
from mamlgame.meta import MetaLearner
from mamlgame.packs import load_pack
from mamlgame.policy import make_policy, params_of
from mamlgame.score_baseline import EXACT_ROWS, ScoreBaseline

torch.set_num_threads(1)
ap = argparse.ArgumentParser()
ap.add_argument("batches", nargs="?", type=int, default=24)
ap.add_argument("checkpoint", nargs="?", default="-")
ap.add_argument("estimators", nargs="*")
ap.add_argument("--tasks", type=int, default=20)
ap.add_argument("--exact-rows", type=int, default=EXACT_ROWS)
args = ap.parse_args()
B, T = args.batches, args.tasks
ckpt = None if args.checkpoint == "-" else args.checkpoint
estimators = args.estimators or ("dice", "lvc", "naive")
for estimator in estimators:
    if ckpt is None:
        pack = load_pack("navigation")
        cfg = TrainConfig(pack="navigation", estimator=estimator, **pack.train).resolved(pack)
        family = make_family(pack, cfg.horizon)
        policy = make_policy(family, cfg.hidden, seed=0)
        learner = MetaLearner.from_config(policy, family, cfg)
        params = params_of(policy)
    else:
        agent = load_agent(ckpt)
        pack, policy, learner = agent.pack, agent.policy, agent.learner(estimator=estimator)
        params = {k: v.detach().requires_grad_() for k, v in agent.params.items()}
    learner.score_baseline = ScoreBaseline(exact_rows=args.exact_rows)
    pool, gen = pack.pool("train"), torch.Generator().manual_seed(1)
    for _ in range(10):
        learner.meta_loss(params, pool.select(torch.randint(len(pool), (T,), generator=gen)),
                          gen)
    grads = []
    for _ in range(B):
        loss, _ = learner.meta_loss(
            params, pool.select(torch.randint(len(pool), (T,), generator=gen)), gen)
        g = torch.autograd.grad(loss, list(params.values()))
        grads.append(torch.cat([x.flatten() for x in g]))
    G = torch.stack(grads)
    mean = G.mean(0)
    var, signal = G.var(0).sum().item(), mean.square().sum().item()
    cos = torch.stack([torch.nn.functional.cosine_similarity(
        G[i], (G.sum(0) - G[i]) / (B - 1), 0) for i in range(B)]).mean()
    print(f"{estimator:<6} variance {var:9.4g}   |mean|^2 {signal:8.4g}   noise/signal "
          f"{var / signal:8.2f}   cosine to the others' mean {cos.item():.3f}")
