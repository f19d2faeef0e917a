"""`mamlgame bench`: seconds per meta-iteration on the MAML paper's 2D-navigation workload,
or on any pack with the settings `mamlgame train PACK` uses."""

from __future__ import annotations

import os
import platform
import time
from typing import Any

import torch

from mamlgame.config import BUDGET_KEYS, TrainConfig, pack_recipe
from mamlgame.distributed import default_device, resolve_device
from mamlgame.families import make_family
from mamlgame.memory import check_training
from mamlgame.meta import MetaLearner, meta_step
from mamlgame.packs import LevelPack, load_pack
from mamlgame.policy import params_of, policy_for

DEFAULTS = TrainConfig()
RECIPE = "recipe"  # an algo name for bench: the pack's own recipe
PAPER_PACK = "navigation"  # the MAML paper's workload, bench's default
WORKLOAD = "navigation: 20 tasks x (20 inner + 20 outer) episodes x 100 steps, MLP 2x100 relu"


def seconds_per_iteration(algo: str, iterations: int = 5, warmup: int = 2, tasks: int = 20,
                          episodes: int = 20, estimator: str = DEFAULTS.estimator,
                          device: str = "cpu", pack: str = PAPER_PACK) -> float:
    """Median wall time of one meta-iteration (sample, adapt, outer rollout, backward, Adam)
    with the caller's torch thread count (`mamlgame bench --threads` sets it), on `pack`
    (the paper's navigation workload by default) with the settings `mamlgame train PACK
    --algo ALGO` would use (`algo` "recipe": the pack's own recipe, as a bare `train PACK`);
    levels are drawn from the train split as training draws them, so the first iterations
    prepare new levels."""
    dev = resolve_device(device)
    lp = load_pack(pack)
    cfg = bench_config(lp, algo, tasks, episodes, estimator)
    check_training(cfg, lp, dev)  # a recipe too big for memory: one line, not the allocator
    family = make_family(lp, cfg.horizon)
    policy = policy_for(family, cfg).to(dev)
    learner = MetaLearner.from_config(policy, family, cfg)
    params = params_of(policy)
    opt = torch.optim.Adam(learner.meta_parameters(params), lr=1e-3)
    gen = torch.Generator(dev).manual_seed(cfg.seed)
    pool = lp.pool("train").to(dev)
    sync = torch.cuda.synchronize if dev.type == "cuda" else lambda: None
    times = []
    with default_device(dev):
        for i in range(warmup + iterations):
            sync()
            t0 = time.perf_counter()
            batch = pool.select(torch.randint(len(pool), (tasks,), generator=gen, device=dev))
            meta_step(learner, params, batch, gen)
            opt.step()
            sync()
            if i >= warmup:
                times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def bench_config(lp: LevelPack, algo: str, tasks: int = 20, episodes: int = 20,
                 estimator: str = DEFAULTS.estimator) -> TrainConfig:
    """The resolved settings `mamlgame train PACK --algo ALGO --meta-batch TASKS --episodes
    EPISODES` uses (`algo` "recipe": no --algo), less the run's length."""
    given = {"meta_batch", "episodes", "estimator", "seed", *(["algo"] if algo != RECIPE else [])}
    recipe = pack_recipe(lp.train, given, skip=BUDGET_KEYS, algo=algo)
    base = {} if algo == RECIPE else {"algo": algo}
    cfg = TrainConfig(**{"pack": str(lp.path), **recipe, **base, "meta_batch": tasks,
                         "episodes": episodes, "estimator": estimator, "seed": 0})
    return cfg.resolved(lp)


def recipe_algo(pack: str) -> str:
    """The algo a bare `mamlgame train PACK` trains."""
    return load_pack(pack).train.get("algo", DEFAULTS.algo)


def run_bench(algos: list[str], iterations: int = 5, device: str = "cpu",
              pack: str = PAPER_PACK, warmup: int = 2) -> dict[str, Any]:
    """The DESIGN.md bench report (timed with the caller's torch thread count); `algos` may
    hold "recipe", reported under the recipe's algo."""
    dev = resolve_device(device)
    where = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    names = {a: (f"{recipe_algo(pack)} (recipe)" if a == RECIPE else a) for a in algos}
    return {"workload": WORKLOAD if pack == PAPER_PACK else
            f"{pack}: 20 levels x (20 inner + 20 outer) episodes, the settings of "
            f"`mamlgame train {pack}`, levels drawn as training draws them",
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "device": where,
            "seconds_per_iteration": {
                names[a]: round(seconds_per_iteration(a, iterations, warmup, device=device,
                                                      pack=pack), 4)
                for a in algos}}
