"""The game family in the viewer: keys -> actions, the trail, the caption, the outcome and
the drawing at a tile size that fits. No pygame here."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from mamlgame.families.base import State
from mamlgame.families.game.draw import draw_game_decorated
from mamlgame.families.game.opponents import behaviour_at
from mamlgame.packs import Tasks

# keys -> action index (`mamlgame.families.game.rules.ACTIONS`)
TOPDOWN_KEYS = {"left": 1, "right": 2, "up": 3, "down": 4}
OUTCOME_WORDS = {1: "GOAL!", 2: "CAUGHT!", 3: "HAZARD!"}


def is_platformer(tasks: Tasks) -> bool:
    return bool(tasks["platformer"][0])


def game_action(tasks: Tasks, keys: list[str]) -> torch.Tensor:
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


class GameControls:
    """Arrows/WASD move, space jumps (platformer levels)."""

    def __init__(self, tasks: Tasks):
        self.tasks = tasks

    def action(self, keys: list[str], fine: bool) -> torch.Tensor:
        return game_action(self.tasks, keys)

    def press(self, key: str) -> torch.Tensor | None:
        return None

    def status(self) -> str:
        return ""


def tile_rc(tasks: Tasks, flat: int) -> tuple[int, int]:
    """Map (row, col) as drawn by `draw_game` of a flat tile index of the padded grid."""
    ww = int(tasks["grid"][0, 1])
    return flat // ww - 1, flat % ww - 1


def game_trail_point(tasks: Tasks, state: State, action: Any = None) -> np.ndarray:
    """The player's (row, col) in map coordinates."""
    return np.array(tile_rc(tasks, int(state["pos"][0, 0])), np.float64)


def game_outcome(state: State) -> str:
    """GOAL!, CAUGHT!, HAZARD! or '' (running / out of time)."""
    return OUTCOME_WORDS.get(int(state["outcome"][0, 0]), "") if "outcome" in state else ""


def game_caption(tasks: Tasks) -> str:
    """Mode, size, speeds and opponents of the level (the goal is shown on the map)."""
    h, w = (int(x) for x in tasks["dims"][0])
    mode = "platformer" if is_platformer(tasks) else "topdown"
    opp = [f"{behaviour_at(int(b)).name} {float(s):.2g}" for b, s, m in zip(
        tasks["opp_beh"][0], tasks["opp_speed"][0], tasks["opp_mask"][0], strict=True) if m]
    text = f"{mode} {h}x{w}   speed {float(tasks['speed'][0]):.2g}"
    return text + (f"   opponents: {', '.join(opp)}" if opp else "")


def draw_game_state(tasks: Tasks, state: State | None, trail: np.ndarray | list | None,
                    size: int, step: int = 0) -> np.ndarray:
    """The level at a tile size that fits `size` pixels, with trail and sprites."""
    h, w = (int(x) for x in tasks["dims"][0])
    tile = max(4, size // max(h, w))
    if isinstance(trail, list):
        trail = np.stack(trail) if trail else None
    return draw_game_decorated(tasks, state, trail, tile)


BELIEF_TINT = np.array([255, 170, 40], np.float32)  # the believed goal's tiles


def draw_game_belief(tasks: Tasks, frame: np.ndarray, params: dict[str, torch.Tensor]
                     ) -> np.ndarray:
    """Task 0's goal belief (softmax of params["head.belief"], when the policy has one) as an
    orange tint over a drawing of its level: the stronger, the likelier the agent thinks the
    goal is there. A uniform belief (before adaptation) is a faint even wash."""
    if "head.belief" not in params:
        return frame
    hh, ww = (int(x) for x in tasks["grid"][0])
    h, w = (int(x) for x in tasks["dims"][0])
    p = torch.softmax(params["head.belief"].detach().reshape(-1, hh * ww)[0].float(), -1)
    p = p.reshape(hh, ww)[1:h + 1, 1:w + 1].numpy()
    n_open = max(1, int((p > 1e-9).sum()))
    alpha = 0.6 * np.clip(p / max(float(p.max()), 4.0 / n_open), 0.0, 1.0)
    tile = frame.shape[0] // h
    a = np.repeat(np.repeat(alpha, tile, 0), tile, 1)[..., None]
    out = frame.astype(np.float32)
    out[:h * tile, :w * tile] = (1 - a) * out[:h * tile, :w * tile] + a * BELIEF_TINT
    return out.astype(np.uint8)


def describe_level(level: dict[str, Any], split: str) -> list[str]:
    """A hand-designed level for `levels show`: mode, size, speeds, opponents and its map."""
    spec = level["spec"]
    h, w = spec.shape
    opps = ", ".join(f"{o.behaviour} {o.speed:g}" for o in spec.opponents) or "none"
    lines = [f"  {spec.name} ({split}, {spec.mode}, {h}x{w}, player speed "
             f"{spec.player_speed:g}, opponents: {opps})"]
    return lines + ["    " + row for row in spec.ascii().splitlines()]
