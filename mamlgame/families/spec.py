"""`FamilySpec`: everything the rest of mamlgame asks of a task family, in one record.

A family registers one spec (`mamlgame.families.register`); packs, the viewer, level previews
and the CLI look a family up by its pack's `family` name and never compare names themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from mamlgame.families.base import State, TaskFamily
from mamlgame.packs import LevelPack, Tasks
from mamlgame.packs.schema import FamilySchema


class Controls(Protocol):
    """Keys -> actions for a person playing one level (`mamlgame play`).

    Key names: left, right, up, down, jump (space). `action` runs once per simulation step
    with the keys held or tapped since the last step (None: wait); `press` runs on each key
    press and may act at once (None: the key is only held); `status` is extra HUD text.
    """

    def action(self, keys: list[str], fine: bool) -> torch.Tensor | None: ...

    def press(self, key: str) -> torch.Tensor | None: ...

    def status(self) -> str: ...


def _no_outcome(state: State) -> str:
    return ""


@dataclass(frozen=True)
class FamilySpec:
    """One task family: its pack keys, dynamics, drawing and viewer hints.

    - `schema`: the `[generate]`, `[reward]` and `[[level]]` keys and how splits are built.
    - `dynamics(pack, horizon) -> TaskFamily`: the batched dynamics.
    - `draw(tasks, state, trail, size, step) -> RGB uint8 [h, w, 3]`: task 0, episode 0 of a
      batched state (`state` None: as the level starts), the trail as recorded by
      `trail_point(tasks, state, action)` (one point per step, or None).
    - `preview(tasks, tile) -> RGB`: the level as it starts, for `levels preview`.
    - `caption(tasks) -> str`: what the viewer (not the agent) knows about task 0.
    - `describe_level(level, split) -> lines`: a hand-designed level for `levels show`.
    - `controls(family, tasks) -> Controls`: keys -> actions for human play; `help` its keys.
    - `outcome(state) -> str`: a banner word for how episode 0 ended ('' for the default
      SUCCESS / TIME UP).
    - `speed`: simulation steps per second the viewer starts with.
    - `keep_trail`: the trail spans episodes (a one-step bandit shows its recent actions).
    """

    name: str
    schema: FamilySchema
    dynamics: Callable[[LevelPack, int | None], TaskFamily]
    draw: Callable[[Tasks, State | None, np.ndarray | None, int, int], np.ndarray]
    trail_point: Callable[[Tasks, State, torch.Tensor | None], np.ndarray | None]
    preview: Callable[[Tasks, int], np.ndarray]
    caption: Callable[[Tasks], str]
    describe_level: Callable[[dict, str], list[str]]
    controls: Callable[[TaskFamily, Tasks], Controls]
    help: str = "arrows/WASD move"
    outcome: Callable[[State], str] = _no_outcome
    speed: float = 10.0
    keep_trail: bool = False
