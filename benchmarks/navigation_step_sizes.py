"""A checkpoint's adaptation curve with a step size per inner step (issue 20).

    python benchmarks/navigation_step_sizes.py CKPT 0.6,0.6,0.6 0.6,0.3,0.15 [--seed 1]
        [--log-std-mult M] [--std-decay D] [--deterministic]

Each schedule gives the step sizes of steps 1, 2, 3...; the episodes, tasks and random draws
are those of `mamlgame eval CKPT --tasks 40 --episodes 40 --seed S`, so the schedule
`inner_lr * decay**k` equals eval of a checkpoint trained with `--inner-lr-decay decay`.
`--log-std-mult M`: the policy's log std steps M times further at steps 2 and later.
`--std-decay D`: every step after the first also multiplies the policy's std by D, as with a
checkpoint trained with `--inner-std-decay D` (default: the checkpoint's own); a checkpoint
trained with `--learn-std-shift` shifts the std by its learned amount at the first step.
`--deterministic`: the last row's episodes follow the policy's mean action.
"""

from __future__ import annotations

import argparse
import math

import torch

from mamlgame.checkpoint import load_agent
from mamlgame.rollout import rollout


def curve(ckpt: str, lrs: list[float], seed: int, log_std_mult: float, deterministic: bool,
          std_decay: float | None = None) -> tuple[list[torch.Tensor], list[float]]:
    """Per-task returns after 0..len(lrs) steps and the policy's mean std after each step."""
    agent = load_agent(ckpt)
    tasks = agent.pack.tasks("test", 40)
    learner = agent.learner(episodes=40, inner_lr_decay=1.0)  # the schedule says each size
    if std_decay is not None:
        learner.log_std_shift = math.log(std_decay)
    gen = torch.Generator().manual_seed(seed)
    p = {k: v.detach() for k, v in agent.params.items()}
    returns, stds = [], []
    for k, lr in enumerate(lrs):
        learner.inner_lr = lr
        learner.inner_lrs = {"log_std": torch.tensor(lr * (log_std_mult if k else 1.0))}
        # one step at a time, each in its place (the std shift of step k)
        ad = learner.adapt(p, tasks, gen, steps=1, first_step=k)
        returns.append(ad.episodes[0].total_reward.mean(1))
        p = {name: v.detach() for name, v in ad.params.items()}
        stds.append(p["log_std"].exp().mean().item())
    last = rollout(agent.family, tasks, agent.policy, p, 40, gen, deterministic=deterministic)
    return returns + [last.total_reward.mean(1)], stds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("schedules", nargs="+", help="step sizes of steps 1..K, comma separated")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--log-std-mult", type=float, default=1.0)
    ap.add_argument("--std-decay", type=float, default=None)
    ap.add_argument("--deterministic", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    for s in args.schedules:
        rets, stds = curve(args.checkpoint, [float(x) for x in s.split(",")], args.seed,
                           args.log_std_mult, args.deterministic, args.std_decay)
        cells = "  ".join(f"{r.mean():7.2f} ± {r.std() / len(r) ** 0.5:4.2f}" for r in rets)
        print(f"{s:>16}: {cells}   std after each step: "
              + ", ".join(f"{x:.3f}" for x in stds), flush=True)


if __name__ == "__main__":
    main()
