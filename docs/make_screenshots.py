"""Regenerate the viewer screenshots in docs/screenshots/ (headless, deterministic).

    .venv/bin/python docs/make_screenshots.py [--retrain]

Trains a navigation agent once into runs/screenshots/ (200 meta-iterations; --retrain redoes
it); the game pictures use the shipped agents (`make agents`: each pack's own recipe, as
`mamlgame train PACK --seed 0` trains it). Then records, as `mamlgame play --record` does:
play.png (a person playing a mixed-pack level, scripted keys), watch.png and watch.gif
(navigation: before | after one inner step), watch-game.png and watch-game.gif (the shipped
mixed agent on a level of its test split, unseen and larger, with more opponents than in
training, chosen by `chaser_level`'s rule: the first with a chaser that the agent loses
before adapting and wins after one inner step, a chaser coming within 2 tiles of it on the
way; the GIFs hold one whole episode after adaptation, like `--headless --record x.mp4`),
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
from mamlgame.families.game.opponents import BEHAVIOURS  # noqa: E402
from mamlgame.packs import load_pack  # noqa: E402
from mamlgame.train import train  # noqa: E402
from mamlgame.viewer.adapt import LiveAdaptation  # noqa: E402
from mamlgame.viewer.episode import Episode, PolicyPlayer  # noqa: E402
from mamlgame.viewer.levels import LevelList  # noqa: E402
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


def greedy_episode(agent, tasks, params, seed: int, chasers) -> tuple[bool, int]:
    """(won, the closest a chaser came, in tiles) of the watch view's greedy episode."""
    episode = Episode(agent.family, tasks, seed)
    player = PolicyPlayer(agent.policy, params, greedy=True)
    width, closest = int(tasks["grid"][0, 1]), 1 << 30
    while not episode.done:
        episode.step(player.act(episode))
        pos, opp = int(episode.state["pos"][0, 0]), episode.state["opp"][0, 0][chasers]
        far = (opp // width - pos // width).abs() + (opp % width - pos % width).abs()
        closest = min(closest, int(far.min()))
    return episode.success, closest


def chaser_level(agent, split: str = "test", seed: int = 0, near: int = 2) -> str:
    """The first level of `split` with a chaser that `agent` loses before adapting and wins
    after one inner step (adapted as `WatchApp` adapts it, same seeds, greedy), a chaser
    coming within `near` tiles (Manhattan) of it on the way."""
    levels = LevelList(agent.pack, split)
    chase = BEHAVIOURS.index("chase")
    for i in range(len(levels)):
        tasks, name = levels.get(i)
        chasers = (tasks["opp_beh"][0] == chase) & tasks["opp_mask"][0]
        if not bool(chasers.any()):
            continue
        # the panes restart with the next episode seed once the inner step is taken
        if greedy_episode(agent, tasks, agent.params, seed + 1, chasers)[0]:
            continue
        live = LiveAdaptation(agent, tasks)
        live.start(agent.params, 10_000 * (seed + 1) + 1)  # WatchApp's first batch
        while not live.advance():
            pass
        won, closest = greedy_episode(agent, tasks, live.result, seed + 1, chasers)
        if won and closest <= near:
            return name
    raise SystemExit(f"no level of {agent.pack.name}/{split} fits the watch GIF's rule")


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
    level = chaser_level(mixed)
    print(f"watch-game: mixed/test level {level} (the first that fits chaser_level's rule)")
    record(WatchApp(mixed, level=level, split="test", headless=True, speed=8, greedy=True),
           110, OUT / "watch-game.png")
    record(WatchApp(mixed, level=level, split="test", headless=True, speed=15, pane=300,
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
