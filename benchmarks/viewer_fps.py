"""Viewer frame rate on a 16 x 16 game level (and a navigation level), headless.

Runs the real app loop (events, simulation steps at the viewer's speed, drawing, HUD) with
no frame cap from the clock, and reports frames per second for play and for watch (split
view, after the live adaptation finished). The viewer aims at 30 fps.

    .venv/bin/python benchmarks/viewer_fps.py [--frames 300] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import torch  # noqa: E402

from mamlgame.packs import parse_pack  # noqa: E402

LEVEL_16 = '''
[pack]
name = "bench-16"
family = "game"
horizon = 200
seed = 1

[split]
train = 2
test = 2

[generate]
size = [9, 9]
opponents = 0

[[level]]
name = "sixteen"
map = """
################
#S.....#.......#
#......#..^....#
#..##..#.......#
#......O.......#
#..#.......##..#
#..#...^.......#
#..#######..#..#
#.........#.O..#
#..^......#....#
#...###...#..###
#.....#........#
#..O..#...^....#
#.....####.....#
#.............G#
################
"""
opponents = [{ behaviour = "chase", speed = 0.5 }, { behaviour = "patrol", speed = 1.0 },
             { behaviour = "random", speed = 0.75 }]
'''


def measure(app, frames: int) -> float:
    """Frames per second of `app.run` over `frames` frames (after 10 warm-up frames)."""
    app.run(max_frames=10)
    start = time.perf_counter()
    app.run(max_frames=10 + frames)
    return frames / (time.perf_counter() - start)


def checkpoint_for(pack_path: Path, out: Path) -> Path:
    from mamlgame.config import TrainConfig
    from mamlgame.train import train

    cfg = TrainConfig(pack=str(pack_path), iterations=1, meta_batch=2, episodes=4,
                      hidden=(64, 64), checkpoint_every=1)
    return train(cfg, out, progress=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)

    from mamlgame.checkpoint import load_agent
    from mamlgame.viewer.play import PlayApp
    from mamlgame.viewer.watch import WatchApp

    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        pack_path = Path(tmp) / "bench16.toml"
        pack_path.write_text(LEVEL_16)
        pack = parse_pack(LEVEL_16, str(pack_path))
        for speed in (6.0, 30.0):
            app = PlayApp(pack, level="sixteen", headless=True, speed=speed)
            results[f"play_game16_{speed:g}steps_fps"] = measure(app, args.frames)
        ckpt = checkpoint_for(pack_path, Path(tmp) / "run")
        agent = load_agent(ckpt)
        app = WatchApp(agent, level="sixteen", headless=True, speed=30.0)
        app.run(max_frames=100)  # the live adaptation finishes first
        assert not app.adaptation.running
        results["watch_game16_30steps_fps"] = measure(app, args.frames)
        from mamlgame.packs import load_pack

        app = PlayApp(load_pack("navigation"), headless=True, speed=30.0)
        results["play_navigation_30steps_fps"] = measure(app, args.frames)

    info = {"machine": f"{platform.machine()} {os.cpu_count()} cpus, "
                       f"python {platform.python_version()}",
            "frames": args.frames, **{k: round(v, 1) for k, v in results.items()}}
    for k, v in info.items():
        print(f"{k:32s} {v}")
    if args.json:
        Path(args.json).write_text(json.dumps(info, indent=2) + "\n")


if __name__ == "__main__":
    main()
