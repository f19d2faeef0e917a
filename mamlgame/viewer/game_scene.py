"""The game family in the viewer: keys -> actions, the trail, the caption, the drawing.

Drawing is `mamlgame.render.game.draw_game` (the one drawing of game levels), decorated
with the trail and sprites by `mamlgame.render.families.draw_game_decorated`. No pygame here.
"""

from __future__ import annotations

import numpy as np
import torch

from mamlgame.packs import Tasks
from mamlgame.render.families import draw_game_decorated
from mamlgame.tasks import State, TaskFamily

# keys -> action index (`mamlgame.packs.game_rules.ACTIONS`)
TOPDOWN_KEYS = {"left": 1, "right": 2, "up": 3, "down": 4}
OUTCOME_WORDS = {1: "GOAL!", 2: "CAUGHT!", 3: "HAZARD!"}


def is_platformer(tasks: Tasks) -> bool:
    return bool(tasks["platformer"][0])


def game_action(family: TaskFamily, tasks: Tasks, keys: list[str]) -> torch.Tensor:
    """The action for the held/tapped keys (most recent last): topdown moves in the latest
    direction; platformer: left/right, space or up jumps (with the held direction)."""
    if is_platformer(tasks):
        jump = "jump" in keys or "up" in keys
        horiz = [k for k in keys if k in ("left", "right")]
        d = horiz[-1] if horiz else None
        a = {(False, None): 0, (False, "left"): 1, (False, "right"): 2, (True, None): 3,
             (True, "left"): 4, (True, "right"): 5}[(jump, d)]
    else:
        dirs = [k for k in keys if k in TOPDOWN_KEYS]
        a = TOPDOWN_KEYS[dirs[-1]] if dirs else 0
    return torch.tensor([[a]], dtype=torch.long)


def tile_rc(tasks: Tasks, flat: int) -> tuple[int, int]:
    """Map (row, col) as drawn by `draw_game` of a flat tile index of the padded grid."""
    ww = int(tasks["grid"][0, 1])
    return flat // ww - 1, flat % ww - 1


def game_trail_point(tasks: Tasks, state: State) -> np.ndarray:
    """The player's (row, col) in map coordinates."""
    return np.array(tile_rc(tasks, int(state["pos"][0, 0])), np.float64)


def game_outcome(state: State) -> str:
    """GOAL!, CAUGHT!, HAZARD! or '' (running / out of time)."""
    return OUTCOME_WORDS.get(int(state["outcome"][0, 0]), "") if "outcome" in state else ""


def game_caption(family: TaskFamily, tasks: Tasks) -> str:
    """Mode, size, speeds and opponents of the level (the goal is shown on the map)."""
    from mamlgame.packs.game_levels import BEHAVIOURS  # noqa: PLC0415

    h, w = (int(x) for x in tasks["dims"][0])
    mode = "platformer" if is_platformer(tasks) else "topdown"
    opp = [f"{BEHAVIOURS[int(b)]} {float(s):.2g}" for b, s, m in zip(
        tasks["opp_beh"][0], tasks["opp_speed"][0], tasks["opp_mask"][0], strict=True) if m]
    text = f"{mode} {h}x{w}   speed {float(tasks['speed'][0]):.2g}"
    return text + (f"   opponents: {', '.join(opp)}" if opp else "")


def draw_game_state(family: TaskFamily, tasks: Tasks, state: State,
                    trail: list[np.ndarray], size: int) -> np.ndarray:
    """The level at a tile size that fits `size` pixels, with trail and sprites."""
    h, w = (int(x) for x in tasks["dims"][0])
    tile = max(4, size // max(h, w))
    return draw_game_decorated(tasks, state, np.stack(trail) if trail else None, tile)
