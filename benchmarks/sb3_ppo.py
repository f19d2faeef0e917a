"""Stable-Baselines3 PPO on a game level through the batched adapter (`SB3GameVecEnv`: all envs
in one engine call) against the per-env path (`DummyVecEnv` over `GameEnv`s, what
`make_vec_env("mamlgame/Game-v0", ...)` builds): wall time, and greedy success afterwards.

    python benchmarks/sb3_ppo.py [--pack chasers] [--level corridor] [--split test]
        [--timesteps 30000] [--envs 16] [--n-steps 64] [--batch-size 256] [--seed 0]
        [--eval-episodes 20] [--paths adapter,dummy] [--threads 1] [--json FILE]

Both paths train the same PPO (same seed, hyperparameters and `VecMonitor`) on the same
environments: the adapter gives exactly what `DummyVecEnv` over `GameEnv`s gives, so the two
runs learn the same parameters and only the wall time differs (the script checks it). The
greedy evaluation plays `--eval-episodes` episodes of the level in a `GameEnv` (seeds
`seed`..) with deterministic actions and counts those that reach the goal. Needs the `sb3`
extra.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

from mamlgame.envs import GameEnv
from mamlgame.packs import load_pack


def make_env(path: str, pack, level: str, split: str, n: int):
    """The vectorised env of one path, wrapped in `VecMonitor`."""
    from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor

    from mamlgame.envs import SB3GameVecEnv

    if path == "adapter":
        return VecMonitor(SB3GameVecEnv(n, pack, level=level, split=split))
    return VecMonitor(DummyVecEnv([lambda: GameEnv(pack, level=level, split=split)
                                   for _ in range(n)]))


def greedy_success(model, pack, level: str, split: str, episodes: int, seed: int
                   ) -> tuple[int, float]:
    """Episodes (of `episodes`) that reach the goal with deterministic actions, and the mean
    return."""
    env, wins, returns = GameEnv(pack, level=level, split=split), 0, []
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + k)
        total, done = 0.0, False
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, info = env.step(int(action))
            total, done = total + reward, terminated or truncated
        wins += bool(info["success"])
        returns.append(total)
    return wins, float(np.mean(returns))


def train(path: str, args, pack) -> tuple[dict, dict[str, torch.Tensor]]:
    """Train one path; its row of results and the learned parameters."""
    from stable_baselines3 import PPO

    env = make_env(path, pack, args.level, args.split, args.envs)
    model = PPO("MlpPolicy", env, n_steps=args.n_steps, batch_size=args.batch_size,
                seed=args.seed, device="cpu", verbose=0)
    start = time.perf_counter()
    model.learn(total_timesteps=args.timesteps)
    seconds = time.perf_counter() - start
    wins, mean_return = greedy_success(model, pack, args.level, args.split,
                                       args.eval_episodes, args.seed)
    env.close()
    row = {"path": path, "timesteps": model.num_timesteps, "seconds": round(seconds, 1),
           "steps_per_second": round(model.num_timesteps / seconds),
           "success": f"{wins}/{args.eval_episodes}", "greedy_return": round(mean_return, 2)}
    return row, {k: v.detach().clone() for k, v in model.policy.state_dict().items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pack", default="chasers")
    ap.add_argument("--level", default="corridor")
    ap.add_argument("--split", default="test")
    ap.add_argument("--timesteps", type=int, default=30_000)
    ap.add_argument("--envs", type=int, default=16)
    ap.add_argument("--n-steps", type=int, default=64, help="PPO rollout steps per env")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-episodes", type=int, default=20)
    ap.add_argument("--paths", default="adapter,dummy")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    pack = load_pack(args.pack)
    rows, params = [], {}
    for path in args.paths.split(","):
        row, params[path] = train(path, args, pack)
        rows.append(row)
        print(f"{path:8s} {row['timesteps']} steps in {row['seconds']:7.1f} s "
              f"({row['steps_per_second']} steps/s); greedy success {row['success']}, "
              f"return {row['greedy_return']}")
    result = {"workload": f"SB3 PPO MlpPolicy on {args.pack} level {args.level} "
                          f"({args.split}), {args.envs} envs",
              "args": vars(args), "runs": rows,
              "machine": f"{platform.processor() or platform.machine()}, torch "
                         f"{torch.__version__}, python {platform.python_version()}"}
    if len(params) == 2:
        a, b = params.values()
        result["same_parameters"] = all(torch.equal(a[k], b[k]) for k in a)
        result["speedup"] = round(rows[1]["seconds"] / rows[0]["seconds"], 1)
        print(f"same learned parameters: {result['same_parameters']}; "
              f"speed-up {result['speedup']}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
        print(f"json: {args.json}")


if __name__ == "__main__":
    main()
