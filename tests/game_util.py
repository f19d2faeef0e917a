"""Helpers for the game tests: one-level packs from ASCII maps, tile coordinates."""

from __future__ import annotations

import torch

from mamlgame.families.game.engine import Game
from mamlgame.packs import Tasks, parse_pack

REWARD = "[reward]\ngoal = 10.0\ncaught = -10.0\nhazard = -5.0\nstep = -0.05\nshaping = 1.0\n"


def one_level(map_: str, extra: str = "", generate: str = "", reward: str = REWARD
              ) -> tuple[Game, Tasks]:
    """A game and the single hand-designed level of `map_` (`extra`: more level keys)."""
    text = (f'[pack]\nname = "t"\nfamily = "game"\nhorizon = 50\n[split]\ntrain = 0\ntest = 0\n'
            f"[generate]\n{generate}\n{reward}\n[[level]]\nname = \"l\"\n"
            f'map = """\n{map_.strip()}\n"""\n{extra}\n')
    pack = parse_pack(text, "t.toml")
    return Game(pack), pack.pool("train")


def tile(tasks: Tasks, row: int, col: int) -> int:
    """Flat tile index of map (row, col) (0-based, as written in the pack)."""
    return (row + 1) * int(tasks["grid"][0, 1]) + col + 1


def rc(tasks: Tasks, flat: int | torch.Tensor) -> tuple[int, int]:
    """Map (row, col) of a flat tile index."""
    w = int(tasks["grid"][0, 1])
    flat = int(flat)
    return flat // w - 1, flat % w - 1


def run(game: Game, tasks: Tasks, actions: list[int], state=None, episodes: int = 1):
    """Step the same action list in every episode; return the states, rewards and dones."""
    state = state or game.reset(tasks, episodes, torch.Generator().manual_seed(0))
    states, rewards, dones = [state], [], []
    for a in actions:
        state, r, d = game.step(tasks, state, torch.full((len(tasks), episodes), a))
        states.append(state)
        rewards.append(r)
        dones.append(d)
    return states, rewards, dones


# a generated game pack whose policy reads the player's tile (`position = "tile"`)
TILE_PACK = '''
[pack]
name = "tiles"
family = "game"
[split]
train = 6
test = 2
[generate]
size = [7, 8]
position = "tile"
'''
