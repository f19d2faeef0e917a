"""`mamlgame bench`: seconds per meta-iteration on the MAML paper's 2D-navigation workload."""

from __future__ import annotations

import os
import platform
import time
from typing import Any

import torch

from mamlgame.config import TrainConfig
from mamlgame.distributed import default_device, resolve_device
from mamlgame.families import make_family
from mamlgame.meta import MetaLearner, meta_step
from mamlgame.packs import load_pack
from mamlgame.policy import params_of, policy_for

DEFAULTS = TrainConfig()
WORKLOAD = "navigation: 20 tasks x (20 inner + 20 outer) episodes x 100 steps, MLP 2x100 relu"


def seconds_per_iteration(algo: str, iterations: int = 5, warmup: int = 2, tasks: int = 20,
                          episodes: int = 20, estimator: str = DEFAULTS.estimator,
                          device: str = "cpu") -> float:
    """Median wall time of one meta-iteration (sample, adapt, outer rollout, backward, Adam)
    with the caller's torch thread count (`mamlgame bench --threads` sets it)."""
    dev = resolve_device(device)
    cfg = TrainConfig(pack="navigation", algo=algo, meta_batch=tasks, episodes=episodes,
                      estimator=estimator, seed=0)
    pack = load_pack(cfg.pack)
    cfg = cfg.resolved(pack)
    family = make_family(pack, cfg.horizon)
    policy = policy_for(family, cfg).to(dev)
    learner = MetaLearner.from_config(policy, family, cfg)
    params = params_of(policy)
    opt = torch.optim.Adam(learner.meta_parameters(params), lr=1e-3)
    gen = torch.Generator(dev).manual_seed(cfg.seed)
    pool = pack.pool("train").to(dev)
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


def run_bench(algos: list[str], iterations: int = 5, device: str = "cpu") -> dict[str, Any]:
    """The DESIGN.md bench report (timed with the caller's torch thread count)."""
    dev = resolve_device(device)
    where = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    return {"workload": WORKLOAD, "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "device": where,
            "seconds_per_iteration": {
                a: round(seconds_per_iteration(a, iterations, device=device), 4)
                for a in algos}}
