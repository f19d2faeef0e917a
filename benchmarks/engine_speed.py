"""Game engine speed: env steps per second of the batched engine (random actions, thousands
of levels stepped together), of the Gymnasium envs a client steps (one `GameEnv`, the
natively batched `GameVectorEnv`) and of `gymnasium.vector.SyncVectorEnv` over `GameEnv`s.

    python benchmarks/engine_speed.py [--pack mixed] [--levels 4096] [--steps 100]
        [--envs 64] [--env-steps 2000] [--single-steps 5000] [--warmup 1000]
        [--vec-envs 256] [--vec-steps 20] [--repeat 3] [--threads 1] [--json FILE]

An env step is one level advancing one step and producing its observation. The batched
engine steps [levels, 1] states with `Game.step` + `Game.observe` (finished episodes keep
stepping, as nothing resets them; the work per step is the same). The envs take uniformly
random actions and reset every episode that ends (`GameEnv` by hand, the vector envs by
autoreset), so resets and new levels are included; each is warmed up (`--warmup` steps,
which also fill the opponents' path-distance cache the way a long run would) and then timed
`--repeat` times, reporting the median and every run. `SyncVectorEnv`'s per-env rate does
not depend on how many envs it holds.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import gymnasium as gym
import numpy as np
import torch

from mamlgame.envs import ENV_ID, GameEnv
from mamlgame.families.game.engine import Game
from mamlgame.packs import load_pack


def batched_rate(pack, levels: int, steps: int, seed: int = 0) -> float:
    """Env steps per second of `Game.step` + `Game.observe` on `levels` levels at once."""
    game = Game(pack)
    tasks = pack.tasks("train", levels, seed=seed)
    g = torch.Generator().manual_seed(seed)
    state = game.reset(tasks, 1, g)
    actions = torch.randint(0, game.action_dim, (steps, levels, 1), generator=g)
    for a in actions[:5]:  # warm up
        state, _, _ = game.step(tasks, state, a)
        game.observe(tasks, state)
    start = time.perf_counter()
    for a in actions:
        state, _, _ = game.step(tasks, state, a)
        game.observe(tasks, state)
    return levels * steps / (time.perf_counter() - start)


def single_rates(pack, steps: int, warmup: int, repeat: int, seed: int = 0) -> list[float]:
    """Steps per second of one `GameEnv` (random actions, resets included), per timed run."""
    env = GameEnv(pack)
    env.reset(seed=seed)
    actions = np.random.default_rng(seed).integers(0, 6, warmup + repeat * steps).tolist()

    def run(chunk: list[int]) -> float:
        start = time.perf_counter()
        for a in chunk:
            _, _, terminated, truncated, _ = env.step(a)
            if terminated or truncated:
                env.reset()
        return len(chunk) / (time.perf_counter() - start)

    run(actions[:warmup])
    return [run(actions[warmup + i * steps:warmup + (i + 1) * steps]) for i in range(repeat)]


def vector_rates(envs: gym.vector.VectorEnv, steps: int, warmup: int, repeat: int,
                 seed: int = 0) -> list[float]:
    """Env steps per second of a vector env (random actions, autoreset), per timed run."""
    n = envs.num_envs
    envs.reset(seed=seed)
    actions = np.random.default_rng(seed).integers(0, 6, (warmup + repeat * steps, n))

    def run(chunk: np.ndarray) -> float:
        start = time.perf_counter()
        for a in chunk:
            envs.step(a)
        return n * len(chunk) / (time.perf_counter() - start)

    run(actions[:warmup])
    return [run(actions[warmup + i * steps:warmup + (i + 1) * steps]) for i in range(repeat)]


def _summary(rates: list[float], **extra) -> dict:
    return {**extra, "env_steps_per_second": round(statistics.median(rates)),
            "runs": [round(r) for r in rates]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pack", default="mixed")
    ap.add_argument("--levels", type=int, default=4096, help="batched engine: levels")
    ap.add_argument("--steps", type=int, default=100, help="batched engine: timed steps")
    ap.add_argument("--envs", type=int, default=64, help="GameVectorEnv: sub-environments")
    ap.add_argument("--env-steps", type=int, default=2000, help="GameVectorEnv: timed steps")
    ap.add_argument("--single-steps", type=int, default=5000, help="GameEnv: timed steps")
    ap.add_argument("--warmup", type=int, default=1000, help="env steps before timing")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of each env")
    ap.add_argument("--vec-envs", type=int, default=256, help="SyncVectorEnv: envs")
    ap.add_argument("--vec-steps", type=int, default=20, help="SyncVectorEnv: timed steps")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for the batched run")
    ap.add_argument("--json", default=None, help="also write the results to this file")
    args = ap.parse_args()

    pack = load_pack(args.pack)
    pack.pool("train")  # generate the levels before timing
    torch.set_num_threads(1)  # the envs: one core
    single = single_rates(pack, args.single_steps, args.warmup, args.repeat)
    native = vector_rates(gym.make_vec(ENV_ID, num_envs=args.envs, pack=pack),
                          args.env_steps, args.warmup, args.repeat)
    sync = vector_rates(gym.make_vec(ENV_ID, num_envs=args.vec_envs, pack=pack,
                                     vectorization_mode="sync"), args.vec_steps, 2, 1)
    torch.set_num_threads(args.threads)
    batched = batched_rate(pack, args.levels, args.steps)
    result = {
        "workload": f"game pack {args.pack}: random actions, step + observe (envs: resets "
                    "included)",
        "batched": {"levels": args.levels, "steps": args.steps, "torch_threads": args.threads,
                    "env_steps_per_second": round(batched)},
        "game_env": _summary(single, steps=args.single_steps),
        "game_vector_env": _summary(native, envs=args.envs, steps=args.env_steps),
        "sync_vector_env": _summary(sync, envs=args.vec_envs, steps=args.vec_steps),
        "speedup": round(batched / sync[0], 1),
        "machine": f"{platform.processor() or platform.machine()}, "
                   f"torch {torch.__version__}, python {platform.python_version()}",
    }
    print(f"batched engine, {args.levels} levels ({args.threads} thread(s)): "
          f"{batched:,.0f} env steps/s")
    for name, rates in [(f"GameVectorEnv, {args.envs} envs", native), ("GameEnv", single)]:
        print(f"{name}: {statistics.median(rates):,.0f} env steps/s (median; runs "
              f"{', '.join(f'{r:,.0f}' for r in rates)})")
    print(f"SyncVectorEnv over GameEnv, {args.vec_envs} envs: {sync[0]:,.0f} env steps/s")
    print(f"speed-up (batched engine / SyncVectorEnv): {batched / sync[0]:.1f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
        print(f"json: {args.json}")


if __name__ == "__main__":
    main()
