"""Cost of a game meta-iteration against the map's size: peak memory, seconds per
meta-iteration over the first iterations of a run (every level new to it) and the cost of
preparing one level, for generated packs of S x S maps (topdown and platformer, with
opponents, a horizon of 3 S), trained with the game family's recipe (meta-batch 20, 20
episodes per step) on one torch thread.

    python benchmarks/map_sizes.py [--sizes 16,32,64] [--modes topdown,platformer]
                                   [--iterations 4] [--json FILE]

Each row is one `mamlgame train PACK --iterations N --threads 1` in a subprocess: the time is
the mean of the logged per-iteration `seconds`, the memory the peak resident memory of that
process (`getrusage(RUSAGE_CHILDREN)`). Preparing a level is timed in this process:
generating it, its tensors (`specs_to_tasks`) and the goal belief's inputs
(`belief_inputs`), for levels no cache has seen. The last column is the rest of the run's
wall time: start-up and generating the whole train split (400 levels), once per run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEAK = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
        "stdout=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
LAYOUTS = {"topdown": "{ open = 0.4, rooms = 0.4, maze = 0.2 }",
           "platformer": "{ platforms = 0.6, gaps = 0.4 }"}


def pack_text(mode: str, side: int) -> str:
    """A generated pack of `side` x `side` maps with 1-3 opponents of every behaviour."""
    return f"""[pack]
name = "scale-{mode}-{side}"
family = "game"
description = "{side}x{side} {mode} maps for benchmarks/map_sizes.py"
horizon = {3 * side}
seed = 11

[split]
train = 400
test = 8

[generate]
mode = "{mode}"
size = [{side}, {side}]
layout = {LAYOUTS[mode]}
goal_distance = [{side // 2}, {2 * side}]
opponents = [1, 3]
opponent_speed = [0.25, 0.75]
opponent_behaviour = {{ chase = 0.3, patrol = 0.3, random = 0.2, guard = 0.2 }}
"""


def prepare_seconds(path: Path, levels: int = 3) -> float:
    """Mean seconds to generate one new level and build its tensors and belief inputs."""
    from mamlgame.families.game.belief import belief_inputs
    from mamlgame.families.game.generate import generate_level
    from mamlgame.families.game.levels import specs_to_tasks
    from mamlgame.packs import load_pack

    pack = load_pack(path)
    times = []
    for i in range(levels):
        start = time.perf_counter()
        tasks = specs_to_tasks([generate_level(pack.generate, 12345, i, f"probe-{i}")])
        belief_inputs(tasks)
        times.append(time.perf_counter() - start)
    return sum(times) / len(times)


def train_row(path: Path, iterations: int, out: Path) -> tuple[float, float, float]:
    """(mean seconds per meta-iteration, peak resident GiB, seconds outside the iterations:
    start-up and generating the train split) of a short training run."""
    cmd = [sys.executable, "-m", "mamlgame", "train", str(path), "--iterations",
           str(iterations), "--threads", "1", "--out", str(out), "--overwrite"]
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", PEAK, *cmd], text=True, capture_output=True,
                         cwd=ROOT)
    if run.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{run.stderr[-2000:]}")
    peak = run.stdout.split()[-1]
    wall = time.perf_counter() - start
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    seconds = [r["seconds"] for r in rows]
    return sum(seconds) / len(seconds), int(peak) / 2**20, wall - sum(seconds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="16,32,64")
    ap.add_argument("--modes", default="topdown,platformer")
    ap.add_argument("--iterations", type=int, default=4)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    rows = []
    print("| mode | map | horizon | peak memory | s / meta-iteration | preparing a level | "
          "start-up and train split |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes.split(","):
            for side in (int(s) for s in args.sizes.split(",")):
                path = Path(tmp) / f"scale-{mode}-{side}.toml"
                path.write_text(pack_text(mode, side))
                prep = prepare_seconds(path)
                secs, gib, setup = train_row(path, args.iterations,
                                             Path(tmp) / f"run-{mode}-{side}")
                rows.append({"mode": mode, "size": side, "horizon": 3 * side,
                             "peak_gib": gib, "seconds_per_iteration": secs,
                             "prepare_level_seconds": prep, "setup_seconds": setup})
                print(f"| {mode} | {side}x{side} | {3 * side} | {gib:.2f} GiB | {secs:.2f} | "
                      f"{prep:.3f} s | {setup:.0f} s |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
