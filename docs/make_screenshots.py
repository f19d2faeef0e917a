"""Regenerate the viewer screenshots in docs/screenshots/ (headless, deterministic).

    .venv/bin/python docs/make_screenshots.py [--retrain]

Trains its agents once into runs/screenshots/ (--retrain redoes it): navigation (200
meta-iterations), chasers (100) and mixed with its own recipe, i.e. what `mamlgame train mixed
--seed 0` trains (400 iterations, about 6 minutes on two CPU cores). Then records: play.png
(a person playing a mixed-pack level, scripted keys), watch.png and watch.gif (navigation:
before | after one inner step), watch-game.png and watch-game.gif (mixed, on the first level
of its valid split: unseen, from the training distribution), versus.png (human vs agent),
families.png (velocity, terrain and navigation drawings) and preview.png (`mamlgame levels
preview`).
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
from mamlgame.viewer.record import Recorder  # noqa: E402
from mamlgame.viewer.versus import VersusApp  # noqa: E402
from mamlgame.viewer.watch import WatchApp  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
RUNS = ROOT / "runs" / "screenshots"


def key(k: int, down: bool = True) -> pygame.event.Event:
    return pygame.event.Event(pygame.KEYDOWN if down else pygame.KEYUP, key=k, mod=0)


def agent_for(pack: str, iterations: int | None, retrain: bool):
    """A trained agent for `pack`: `iterations` with the default settings, or (None) the
    pack's own recipe, as `mamlgame train PACK --seed 0` runs it."""
    ckpt = RUNS / pack / "checkpoint.pt"
    if retrain or not ckpt.exists():
        settings = load_pack(pack).train if iterations is None else {"iterations": iterations}
        print(f"training {pack} ({settings}) -> {ckpt}")
        train(TrainConfig(pack=pack, seed=0, checkpoint_every=50, **settings),
              ckpt.parent, progress=False, overwrite=True)
    return load_agent(ckpt)


def record(app, frames: int, path: Path, events=None) -> np.ndarray:
    rec = Recorder(path)
    app.run(max_frames=frames, events=events, recorder=rec)
    rec.save()
    app.close()
    print(f"wrote {path.relative_to(ROOT)}")
    return rec.frames[-1]


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
    record(WatchApp(nav, level="test-3", headless=True, speed=45, pane=240, greedy=True), 75,
           OUT / "watch.gif")
    mixed = agent_for("mixed", None, args.retrain)
    for name, frames in (("watch-game.png", 110), ("watch-game.gif", 90)):
        record(WatchApp(mixed, level="valid-0", split="valid", headless=True, speed=8,
                        greedy=True), frames, OUT / name)
    chasers = agent_for("chasers", 100, args.retrain)
    record(VersusApp(chasers, level="guarded", headless=True, speed=6), 80, OUT / "versus.png",
           {60: [key(pygame.K_LEFT)]})

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
