"""Where a game meta-iteration's time goes: one profile of `--iterations` meta-iterations of
PACK with the settings `mamlgame train PACK` uses (levels drawn as training draws them, so
most are new to the run), split into the parts of the iteration.

    python benchmarks/game_profile.py [--pack mixed] [--iterations 12] [--threads 1] [--ops]

Each row is the inclusive time of one function per meta-iteration (cProfile's cumulative
time, divided by the iterations; the profiler itself adds ~20-30%): parts nest, e.g. the
rollouts hold the engine's steps, its observations and the action sampling, which holds the
head's logits. The last row is the whole `meta_step` plus the Adam update, unprofiled, on
the same levels. With `--ops`, instead: the tensor ops (dispatcher calls, views included)
of one meta-iteration after two warm-up ones, by the innermost mamlgame function calling them
(what a game iteration's time mostly goes with: ~2-5 us an op on this CPU).
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import pstats
import sys
import time

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from mamlgame import cpu
from mamlgame.bench import RECIPE, bench_config
from mamlgame.families import make_family
from mamlgame.families.game.distances import clear_cache
from mamlgame.meta import MetaLearner, meta_step
from mamlgame.packs import load_pack
from mamlgame.policy import params_of, policy_for

# (label, module path suffix, function name): the parts of a game meta-iteration
PARTS = [
    ("meta_step: the whole meta-gradient", "mamlgame/meta.py", "meta_step"),
    ("  inner loop (adapt, its rollout included)", "mamlgame/meta.py", "adapt"),
    ("  rollouts (inner and outer)", "mamlgame/rollout.py", "rollout"),
    ("    engine step", "mamlgame/families/game/engine.py", "step"),
    ("      scripted opponents", "mamlgame/families/game/engine.py", "_scripted"),
    ("      chase/guard path rows", "mamlgame/families/game/paths.py", "distances"),
    ("    observations", "mamlgame/families/game/engine.py", "observe"),
    ("    action sampling (policy forward)", "mamlgame/policy.py", "sample"),
    ("  head logits (rollouts and loss passes)", "mamlgame/families/game/head.py",
     "logits|logits_at"),
    ("    expected distance field", "mamlgame/families/game/belief.py", "expected_distance"),
    ("  level tables (belief inputs)", "mamlgame/families/game/belief.py", "belief_inputs"),
    ("    dense distance tables", "mamlgame/families/game/distances.py", "dense_tables"),
    ("  returns, baselines, advantages", "mamlgame/returns.py", "advantages"),
    ("    linear baseline fit", "mamlgame/returns.py", "linear_baseline"),
    ("  log-probabilities (loss passes)", "mamlgame/policy.py", "log_prob"),
    ("  outer objective (forward)", "mamlgame/meta.py", "_outer_objective"),
    ("  autograd backward (meta-gradient)", "torch/_tensor.py", "backward"),
    ("  autograd.grad (inner step)", "torch/autograd/__init__.py", "grad"),
]


def setup(pack: str):
    lp = load_pack(pack)
    cfg = bench_config(lp, RECIPE)
    family = make_family(lp, cfg.horizon)
    policy = policy_for(family, cfg)
    learner = MetaLearner.from_config(policy, family, cfg)
    params = params_of(policy)
    opt = torch.optim.Adam(learner.meta_parameters(params), lr=cfg.outer_lr)
    return cfg, learner, params, opt, lp.pool("train")


def run(learner, params, opt, pool, iterations: int, seed: int) -> float:
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(iterations):
        batch = pool.select(torch.randint(len(pool), (20,), generator=gen))
        meta_step(learner, params, batch, gen)
        opt.step()
    return (time.perf_counter() - start) / iterations


class _OpCounter(TorchDispatchMode):
    """Counts dispatcher ops by the innermost mamlgame function on the stack."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: collections.Counter[str] = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: D105
        frame, where = sys._getframe(1), "(outside mamlgame)"
        while frame is not None:
            name = frame.f_code.co_filename.replace("\\", "/")
            if "/mamlgame/" in name and "/benchmarks/" not in name:
                where = f"{name.split('/mamlgame/')[-1]}:{frame.f_code.co_name}"
                break
            frame = frame.f_back
        self.counts[where] += 1
        return func(*args, **(kwargs or {}))


def count_ops(pack: str, top: int = 20) -> None:
    """Print the ops of one meta-iteration (after two) by function."""
    cfg, learner, params, opt, pool = setup(pack)
    run(learner, params, opt, pool, 2, seed=1)
    counter = _OpCounter()
    with counter:
        run(learner, params, opt, pool, 1, seed=2)
    print(f"{pack}: {sum(counter.counts.values())} tensor ops in one meta-iteration")
    for where, n in counter.counts.most_common(top):
        print(f"{n:8d}  {where}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pack", default="mixed")
    ap.add_argument("--iterations", type=int, default=12)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ops", action="store_true", help="count tensor ops instead")
    args = ap.parse_args()
    cpu.configure(args.threads)
    if args.ops:
        count_ops(args.pack)
        return
    cfg, learner, params, opt, pool = setup(args.pack)
    prof = cProfile.Profile()
    prof.enable()
    run(learner, params, opt, pool, args.iterations, seed=1)
    prof.disable()
    stats = pstats.Stats(prof).stats
    print(f"{args.pack}: {cfg.algo}, meta-batch {cfg.meta_batch}, {cfg.episodes} episodes per "
          f"step, horizon {cfg.horizon}; s per meta-iteration (inclusive, profiled)")
    for label, path, name in PARTS:
        total = sum(v[3] for (file, _, fn), v in stats.items()  # (names: "a|b", either)
                    if fn in name.split("|") and file.replace("\\", "/").endswith(path))
        print(f"{label:<46} {total / args.iterations:7.3f}")
    # the same work unprofiled, every level's tables to be built again
    clear_cache()
    cfg, learner, params, opt, pool = setup(args.pack)
    plain = run(learner, params, opt, pool, args.iterations, seed=1)
    print(f"{'meta-iteration, unprofiled (with Adam)':<46} {plain:7.3f}")


if __name__ == "__main__":
    main()
