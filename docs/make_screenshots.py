"""Regenerate the viewer screenshots in docs/screenshots/ (headless, deterministic).

    .venv/bin/python docs/make_screenshots.py [--retrain]

Trains a navigation agent once into runs/screenshots/ (200 meta-iterations; --retrain redoes
it); the game pictures use the shipped agents (`make agents`: each pack's own recipe, as
`mamlgame train PACK --seed 0` trains it). Then records, as `mamlgame play --record` does:
play.png (a person playing a mixed-pack level, scripted keys), watch.png and watch.gif
(navigation: before | after one inner step), watch-game.png and watch-game.gif (the shipped
mixed agent on the first level of its valid split: unseen, from the training distribution;
the GIFs hold one whole episode after adaptation, like `--headless --record x.mp4`),
versus.png (human vs the shipped chasers agent), families.png (velocity, terrain and
navigation drawings) and preview.png (`mamlgame levels preview`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_AUDIODRIVER"] = "dummy"
os.environ["PYGAME_HIDE_SUPPORT_PROMPT"] = "1"

import numpy as np  # noqa: E402
import pygame  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from mamlgame.checkpoint import load_agent  # noqa: E402
from mamlgame.config import TrainConfig  # noqa: E402
from mamlgame.packs import load_pack  # noqa: E402
from mamlgame.train import train  # noqa: E402
from mamlgame.viewer.play import PlayApp  # noqa: E402
from mamlgame.viewer.record import Recorder, run_recorded  # noqa: E402
from mamlgame.viewer.versus import VersusApp  # noqa: E402
from mamlgame.viewer.watch import WatchApp  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
RUNS = ROOT / "runs" / "screenshots"


def key(k: int, down: bool = True) -> pygame.event.Event:
    return pygame.event.Event(pygame.KEYDOWN if down else pygame.KEYUP, key=k, mod=0)


def agent_for(pack: str, iterations: int, retrain: bool):
    """An agent for `pack` trained `iterations` with the default settings and seed 0."""
    ckpt = RUNS / pack / "checkpoint.pt"
    if retrain or not ckpt.exists():
        print(f"training {pack} ({iterations} iterations) -> {ckpt}")
        train(TrainConfig(pack=pack, seed=0, checkpoint_every=50, iterations=iterations),
              ckpt.parent, progress=False, overwrite=True)
    return load_agent(ckpt)


def record(app, frames: int | None, path: Path, events=None,
           episodes: int | None = None) -> np.ndarray:
    """Run `app` into a recording at `path` for `frames` frames or `episodes` episodes."""
    rec = Recorder(path)
    run_recorded(app, rec, frames, episodes, events)
    print(f"wrote {path.relative_to(ROOT)} ({rec.count} frames)")
    return rec.last


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--retrain", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    OUT.mkdir(parents=True, exist_ok=True)

    # a person plays the maze: each arrow is held until the next one (walls stop the player)
    path = [pygame.K_RIGHT, pygame.K_DOWN, pygame.K_LEFT, pygame.K_DOWN, pygame.K_RIGHT]
    events = {20 * i: [key(k)] + ([key(path[i - 1], False)] if i else [])
              for i, k in enumerate(path)}
    record(PlayApp(load_pack("mixed"), level="maze-run", headless=True, speed=6), 130,
           OUT / "play.png", events)

    nav = agent_for("navigation", 200, args.retrain)
    record(WatchApp(nav, level="corner", headless=True, speed=60, greedy=True), 110,
           OUT / "watch.png")
    record(WatchApp(nav, level="test-3", headless=True, speed=45, pane=240, greedy=True), None,
           OUT / "watch.gif", episodes=1)
    mixed = load_agent("mixed")  # the shipped agent
    record(WatchApp(mixed, level="valid-0", split="valid", headless=True, speed=8, greedy=True),
           110, OUT / "watch-game.png")
    record(WatchApp(mixed, level="valid-0", split="valid", headless=True, speed=15, pane=300,
                    greedy=True), None, OUT / "watch-game.gif", episodes=1)
    record(VersusApp(load_agent("chasers"), level="guarded", headless=True, speed=6), 80,
           OUT / "versus.png", {60: [key(pygame.K_LEFT)]})

    # the continuous families side by side
    tiles = []
    for pack, level, keys in (("velocity", "sprint", [pygame.K_RIGHT]),
                              ("terrain", "ice-heavy", [pygame.K_RIGHT, pygame.K_UP]),
                              ("navigation", "corner", [pygame.K_RIGHT, pygame.K_DOWN])):
        app = PlayApp(load_pack(pack), level=level, headless=True, size=360)
        app.run(max_frames=12, events={0: [key(k) for k in keys]})
        tiles.append(app.draw())
        app.close()
    Image.fromarray(np.concatenate(tiles, 1)).save(OUT / "families.png")
    print(f"wrote {(OUT / 'families.png').relative_to(ROOT)}")

    subprocess.run([sys.executable, "-m", "mamlgame", "levels", "preview", "mixed", "--level",
                    "spike-pit", "--tile", "32", "--out", str(OUT / "preview.png")], check=True)


if __name__ == "__main__":
    main()
