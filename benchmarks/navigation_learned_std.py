"""A probe, not an option (issue 20): the navigation recipe plus a meta-learned shift c of the
log std at the first inner step (starting at 0), then the eval protocol's curve.

    python benchmarks/navigation_learned_std.py SEED [--frozen]

Trains as `mamlgame train navigation --seed SEED` does (same draws: with `--frozen`, c stays
0 and the run is the recipe's, seed for seed), with c among the outer optimiser's parameters;
then prints the curve of `mamlgame eval CKPT --split test --tasks 40 --episodes 40 --steps
0,1,2,3 --seed 1` under several later-step schedules (D: `inner_std_decay`, R:
`inner_lr_decay`), c applied at the first step.
"""

from __future__ import annotations

import argparse

import torch

from mamlgame.config import TrainConfig, with_recipe
from mamlgame.families import make_family
from mamlgame.meta import MetaLearner, meta_step
from mamlgame.packs import load_pack
from mamlgame.policy import Params, params_of, policy_for
from mamlgame.rollout import rollout

SCHEDULES = ((0.5, 0.4), (0.5, 0.15), (0.5, 0.25), (0.67, 0.25), (0.67, 0.15), (1.0, 0.25))


def with_first_shift(learner: MetaLearner, c: torch.Tensor) -> MetaLearner:
    """`learner` whose first inner step also adds `c` to the log std."""
    later = learner.shrink_std

    def shrink(params: Params, k: int):
        if k == 0:
            return {**params, "log_std": params["log_std"] + c}, c.detach()
        return later(params, k)

    learner.shrink_std = shrink  # type: ignore[method-assign]
    return learner


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("seed", type=int)
    ap.add_argument("--frozen", action="store_true", help="keep c at 0 (the recipe itself)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    pack = load_pack("navigation")
    cfg, _ = with_recipe(TrainConfig(pack="navigation", seed=args.seed), pack.train)
    cfg = cfg.resolved(pack)
    family = make_family(pack, cfg.horizon)
    policy = policy_for(family, cfg)
    c = torch.zeros(1, requires_grad=not args.frozen)
    learner = with_first_shift(MetaLearner.from_config(policy, family, cfg), c)
    params = params_of(policy)
    opt = torch.optim.Adam(learner.meta_parameters(params) + ([] if args.frozen else [c]),
                           lr=cfg.outer_lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    pool = pack.pool("train")
    for it in range(cfg.iterations):
        for group in opt.param_groups:
            group["lr"] = cfg.outer_lr * (1 - it / cfg.iterations)
        tasks = pool.select(torch.randint(len(pool), (cfg.meta_batch,), generator=gen))
        step = meta_step(learner, params, tasks, gen)
        opt.step()
        if it % 25 == 24:
            print(f"{it + 1}: before {step.metrics['return_before']:.1f} after "
                  f"{step.metrics['return_after']:.1f}, c {c.item():.3f}, std "
                  f"{params['log_std'].exp().mean().item():.3f}", flush=True)
    tasks = pack.tasks("test", 40)
    theta = {k: v.detach() for k, v in params.items()}
    for d, r in SCHEDULES:
        ev = with_first_shift(MetaLearner.from_config(
            policy, family, cfg, episodes=40, inner_std_decay=d, inner_lr_decay=r), c.detach())
        g = torch.Generator().manual_seed(1)
        ad = ev.adapt(theta, tasks, g, steps=3)
        eps = ad.episodes + [rollout(family, tasks, policy, ad.params, 40, g)]
        cells = [e.total_reward.mean(1) for e in eps]
        print(f"D {d} R {r}: " + "  ".join(f"{x.mean():7.2f} ± {x.std() / 40 ** 0.5:4.2f}"
                                            for x in cells), flush=True)


if __name__ == "__main__":
    main()
