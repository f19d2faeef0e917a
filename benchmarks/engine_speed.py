"""Game engine speed: env steps per second of the batched engine (random actions, thousands
of levels stepped together) against `gymnasium.vector.SyncVectorEnv` over `GameEnv`.

    python benchmarks/engine_speed.py [--pack mixed] [--levels 4096] [--steps 100]
        [--vec-envs 256] [--vec-steps 20] [--threads 1] [--json FILE]

An env step is one level advancing one step and producing its observation. The batched
engine steps [levels, 1] states with `Game.step` + `Game.observe` (finished episodes keep
stepping, as nothing resets them; the work per step is the same). The vector env steps
`--vec-envs` `GameEnv`s with autoreset; its per-env rate does not depend on how many.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import gymnasium as gym
import numpy as np
import torch

from mamlgame.envs import GameEnv
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


def vector_rate(pack, n_envs: int, steps: int, seed: int = 0) -> float:
    """Env steps per second of `SyncVectorEnv` over `n_envs` `GameEnv`s."""
    envs = gym.vector.SyncVectorEnv([lambda: GameEnv(pack) for _ in range(n_envs)])
    envs.reset(seed=seed)
    rng = np.random.default_rng(seed)
    actions = rng.integers(0, 6, (steps, n_envs))
    for a in actions[:2]:
        envs.step(a)
    start = time.perf_counter()
    for a in actions:
        envs.step(a)
    rate = n_envs * steps / (time.perf_counter() - start)
    envs.close()
    return rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pack", default="mixed")
    ap.add_argument("--levels", type=int, default=4096)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--vec-envs", type=int, default=256)
    ap.add_argument("--vec-steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1, help="torch threads for the batched run")
    ap.add_argument("--json", default=None, help="also write the results to this file")
    args = ap.parse_args()

    pack = load_pack(args.pack)
    pack.pool("train")  # generate the levels before timing
    torch.set_num_threads(1)
    vec = vector_rate(pack, args.vec_envs, args.vec_steps)
    torch.set_num_threads(args.threads)
    batched = batched_rate(pack, args.levels, args.steps)
    result = {
        "workload": f"game pack {args.pack}: random actions, step + observe",
        "batched": {"levels": args.levels, "steps": args.steps, "torch_threads": args.threads,
                    "env_steps_per_second": round(batched)},
        "sync_vector_env": {"envs": args.vec_envs, "steps": args.vec_steps,
                            "env_steps_per_second": round(vec)},
        "speedup": round(batched / vec, 1),
        "machine": f"{platform.processor() or platform.machine()}, "
                   f"torch {torch.__version__}, python {platform.python_version()}",
    }
    print(f"batched engine, {args.levels} levels ({args.threads} thread(s)): "
          f"{batched:,.0f} env steps/s")
    print(f"SyncVectorEnv over GameEnv, {args.vec_envs} envs: {vec:,.0f} env steps/s")
    print(f"speed-up: {batched / vec:.1f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
        print(f"json: {args.json}")


if __name__ == "__main__":
    main()
