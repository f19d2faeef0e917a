"""Two trees' game meta-iterations side by side in one process (issue 24): each tree's
package is imported on its own (its modules, caches and level tables kept apart), both start a
fresh run of PACK's recipe on the same seed, and their iterations alternate one by one (the
first of each pair alternating too), so both see the same machine load in the same seconds.

    python benchmarks/issue24_trees_ab.py OLD_TREE NEW_TREE [--pack mixed] [--iterations 12]
                                          [--reps 3]

Prints each tree's median seconds per meta-iteration (a fresh run's first ITERATIONS,
`mamlgame bench`'s workload, level preparation included) and the median of the paired
new / old ratios: a steadier comparison on a loaded machine than separate processes.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time

import torch


def load(tree: str):
    """`tree`'s mamlgame modules for a bench run (imported afresh from `tree`)."""
    for name in list(sys.modules):
        if name == "mamlgame" or name.startswith("mamlgame."):
            del sys.modules[name]
    sys.path.insert(0, tree)
    try:
        mods = {n: importlib.import_module(f"mamlgame.{n}")
                for n in ("bench", "meta", "cpu", "families.game.distances")}
    finally:
        sys.path.remove(tree)
    return mods


def fresh(m: dict, pack: str):
    """A fresh run of `pack`'s recipe as `mamlgame bench` starts it."""
    bench = m["bench"]
    lp = bench.load_pack(pack)
    cfg = bench.bench_config(lp, bench.RECIPE)
    family = bench.make_family(lp, cfg.horizon)
    policy = bench.policy_for(family, cfg)
    learner = m["meta"].MetaLearner.from_config(policy, family, cfg)
    params = bench.params_of(policy)
    opt = torch.optim.Adam(learner.meta_parameters(params), lr=1e-3)
    return learner, params, opt, torch.Generator().manual_seed(cfg.seed), lp.pool("train")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--pack", default="mixed")
    ap.add_argument("--iterations", type=int, default=12)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    trees = {"old": load(args.old), "new": load(args.new)}
    trees["new"]["cpu"].configure(1)
    times: dict[str, list[float]] = {"old": [], "new": []}
    for rep in range(args.reps):
        for m in trees.values():
            m["families.game.distances"].clear_cache()  # as a fresh process finds it
        runs = {name: fresh(m, args.pack) for name, m in trees.items()}
        for i in range(args.iterations):
            for name in (("old", "new") if (i + rep) % 2 == 0 else ("new", "old")):
                learner, params, opt, gen, pool = runs[name]
                start = time.perf_counter()
                batch = pool.select(torch.randint(len(pool), (20,), generator=gen))
                trees[name]["meta"].meta_step(learner, params, batch, gen)
                opt.step()
                times[name].append(time.perf_counter() - start)
    for name, secs in times.items():
        print(f"{name}: median {statistics.median(secs):.4f} s per meta-iteration "
              f"({len(secs)} iterations)")
    ratios = sorted(b / a for a, b in zip(times["old"], times["new"], strict=True))
    print(f"new / old, paired: median {statistics.median(ratios):.3f} "
          f"(quartiles {ratios[len(ratios) // 4]:.3f} / {ratios[3 * len(ratios) // 4]:.3f})")


if __name__ == "__main__":
    main()
