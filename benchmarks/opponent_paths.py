"""Chasing opponents on big maps: the cost of preparing levels (`specs_to_tasks`) and of
stepping them (`Game.step`), for square maze and open maps of several sizes, each with two
chasers and a guard.

    python benchmarks/opponent_paths.py [--sizes 16,32,64] [--levels 8] [--episodes 16]
        [--steps 60] [--repeat 3] [--layouts maze,open] [--threads 1] [--json FILE]

Per size and layout: `prepare` is seconds per level of `specs_to_tasks`; `cold` the
milliseconds per step of the first `--steps` steps of a fresh engine (it fills whatever it
computes lazily), `warm` the median of `--repeat` runs of the same steps again; `memory`
the bytes of the level tensors plus the opponents' path distances the engine keeps
(`Game.paths.nbytes`, when the engine has it), per level. Levels: a map of the layout (the
generator's own code), start, goal and opponents on random open tiles, drawn from `--seed`.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time

import numpy as np
import torch

from mamlgame.families.game.engine import Game
from mamlgame.families.game.generate import GENERATORS
from mamlgame.families.game.levels import LevelSpec, Opponent, specs_to_tasks
from mamlgame.packs import load_pack


def level(size: int, layout: str, seed: int) -> LevelSpec:
    """A `size` x `size` map (outer walls included) with two chasers and a guard."""
    rng = random.Random(f"{size}:{layout}:{seed}")
    rows = tuple("".join(r) for r in GENERATORS[layout](rng, size, size, 3))
    cells = [(r + 1, c + 1) for r in range(size) for c in range(size) if rows[r][c] == "."]
    start, goal, *spawns = rng.sample(cells, 5)
    opponents = tuple(Opponent(r, c, b, 1.0) for (r, c), b in zip(
        spawns, ("chase", "chase", "guard"), strict=True))
    return LevelSpec(f"{layout}-{size}-{seed}", "topdown", rows, start, goal, 1.0,
                     guard_radius=3, opponents=opponents)


def measure(pack, size: int, layout: str, n_levels: int, episodes: int, steps: int,
            seed: int, repeat: int) -> dict:
    specs = [level(size, layout, seed + i) for i in range(n_levels)]
    start = time.perf_counter()
    tasks = specs_to_tasks(specs)
    prepare = (time.perf_counter() - start) / n_levels
    game = Game(pack)
    g = torch.Generator().manual_seed(seed)
    actions = torch.randint(0, 6, (steps, n_levels, episodes), generator=g)

    def rollout() -> float:
        state = game.reset(tasks, episodes, torch.Generator().manual_seed(seed))
        t0 = time.perf_counter()
        for a in actions:
            state, _, _ = game.step(tasks, state, a)
        return (time.perf_counter() - t0) / steps * 1e3

    cold = rollout()
    warm = float(np.median([rollout() for _ in range(repeat)]))
    memory = sum(v.numel() * v.element_size() for v in tasks.params.values())
    memory += int(getattr(getattr(game, "paths", None), "nbytes", 0))
    return {"size": size, "layout": layout, "prepare_s_per_level": prepare,
            "cold_ms_per_step": cold, "warm_ms_per_step": warm,
            "bytes_per_level": memory / n_levels}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="16,32,64")
    p.add_argument("--layouts", default="maze,open")
    p.add_argument("--levels", type=int, default=8)
    p.add_argument("--episodes", type=int, default=16)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    pack = load_pack("chasers")
    rows = []
    print(f"{args.levels} levels x {args.episodes} episodes, {args.steps} steps, "
          f"{args.threads} thread(s)")
    print(f"{'map':>10} {'layout':>6} {'prepare s/level':>16} {'cold ms/step':>13} "
          f"{'warm ms/step':>13} {'MB/level':>9}")
    for size in (int(s) for s in args.sizes.split(",")):
        for layout in args.layouts.split(","):
            r = measure(pack, size, layout, args.levels, args.episodes, args.steps, args.seed,
                        args.repeat)
            rows.append(r)
            print(f"{size:>4}x{size:<5} {layout:>6} {r['prepare_s_per_level']:16.4f} "
                  f"{r['cold_ms_per_step']:13.2f} {r['warm_ms_per_step']:13.2f} "
                  f"{r['bytes_per_level'] / 2**20:9.2f}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"workload": "opponent_paths", "machine": platform.processor(),
                       "numpy": np.__version__, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
