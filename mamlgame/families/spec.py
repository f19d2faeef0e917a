"""`FamilySpec`: everything the rest of mamlgame asks of a task family, in one record.

A family registers one spec (`mamlgame.families.register`); packs, the viewer, level previews
and the CLI look a family up by its pack's `family` name and never compare names themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np
import torch

from mamlgame.families.base import PolicyHead, State, TaskFamily
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


class ArrowControls:
    """Arrow keys as a unit direction (shift: 0.2 of it), times `scale`; `dims` 1 uses the
    horizontal axis only. The default controls of continuous families."""

    def __init__(self, dims: int = 2, scale: float = 1.0):
        self.dims, self.scale = dims, scale

    def action(self, keys: list[str], fine: bool) -> torch.Tensor:
        dx = float(("right" in keys) - ("left" in keys))
        dy = float(("up" in keys) - ("down" in keys))
        d = torch.tensor([dx, dy][:self.dims])
        if d.norm() > 0:
            d = d / d.norm()
        return d * self.scale * (0.2 if fine else 1.0)

    def press(self, key: str) -> torch.Tensor | None:
        return None

    def status(self) -> str:
        return ""


class Plays(NamedTuple):
    """Episodes played by a family's planner (`FamilySpec.planner`), [T, E] each, and a
    one-line note per level on why it lost where it did ('' where it never lost, or where
    the family can say nothing)."""

    total_reward: torch.Tensor  # [T, E] undiscounted return
    success: torch.Tensor       # [T, E] bool: reached the goal
    end: torch.Tensor           # [T, E] long: how it ended, as `rollout.Episodes.end`
    steps: torch.Tensor         # [T, E] long: steps taken
    notes: tuple[str, ...]      # [T]


def describe_params(level: dict[str, Any], split: str) -> list[str]:
    """A hand-designed task whose parameters are numbers, for `levels show`."""
    values = ", ".join(f"{k} = {v:g}" for k, v in level.items() if k != "name")
    return [f"  {level['name']} ({split}): {values}"]


def _arrows(family: TaskFamily, tasks: Tasks) -> Controls:
    return ArrowControls(min(family.action_dim, 2))


def _no_trail(tasks: Tasks, state: State, action: torch.Tensor | None) -> None:
    return None


def _no_text(_: Any) -> str:
    return ""


@dataclass(frozen=True)
class FamilySpec:
    """One task family: its pack keys, dynamics, drawing and viewer hints.

    - `schema`: the `[generate]`, `[reward]` and `[[level]]` keys and how splits are built.
    - `dynamics(pack, horizon) -> TaskFamily`: the batched dynamics.
    - `draw(tasks, state, trail, size, step) -> RGB uint8 [h, w, 3]`: task 0, episode 0 of a
      batched state (`state` None: as the level starts), the trail as recorded by
      `trail_point(tasks, state, action)` (one point per step, or None).
    - `preview(tasks, tile) -> RGB`: the level as it starts, for `levels preview` (the
      game's with a legend of its colours below; None: `draw` with no state at 320 px per
      24 px tile).
    - `caption(tasks) -> str`: what the viewer (not the agent) knows about task 0.
    - `describe_level(level, split) -> lines`: a hand-designed level for `levels show`.
    - `controls(family, tasks) -> Controls`: keys -> actions for human play; `help` its keys.
    - `outcome(state) -> str`: a banner word for how episode 0 ended ('' for the default
      SUCCESS / TIME UP).
    - `overlay(tasks, frame, params) -> RGB`: what a policy's params show on a drawing of
      task 0 (the game: its goal belief as a tint), for the viewer's adapted side; it returns
      `frame` itself when the params hold nothing to show; None: no overlay. `overlay_help`
      says what it shows.
    - `speed`: simulation steps per second the viewer starts with.
    - `keep_trail`: the trail spans episodes (a one-step bandit shows its recent actions).
    - `has_success`: its episodes can reach a goal (`TaskFamily.success`): reports such as
      `compare` show success rates.
    - `policy_head(family, table_radius) -> PolicyHead | None`: the per-level head of
      `--algo cavia`'s policy (None: cavia adapts a context vector); `heads`: the head
      classes it makes, by `kind`, so a saved policy can be rebuilt; `upgrade_policy(config,
      params) -> (config, params)`: a policy saved by an older mamlgame (a config without
      "head"), in today's form.
    - `outcomes(tasks, end) -> {name: bool [T, E]}`: how each episode ended, from its end
      code [T, E] (`rollout.Episodes.end`): masks that are mutually exclusive and cover every
      episode (the game: goal, caught, hazard, timeout); None: `eval` reports none.
    - `groups(tasks) -> {name: bool [T]}`: groups of levels `eval` splits the outcomes by
      (the game: with and without opponents, by behaviour, by the player's speed against
      its opponents'); a level may be in several or none.
    - `planner(family, tasks, n_episodes, generator) -> Plays`: an agent that knows each
      level (its hidden goal, its opponents' rules) and plays it: the ceiling row of `eval
      --baselines` and `mamlgame levels check` (None: neither has one).
    - `lookahead(family, depth) -> chooser`: an act-time search over the policy's own
      continuations, `depth` steps deep, to set as the family's `chooser` (`eval
      --lookahead`; None: the family has none).
    - `goal_rewards(family, rewards, mask, end) -> rewards [T, E, H]`: the rewards of
      episodes (`rollout.Episodes`' fields) that say where the goal is, which the inner step
      reads with `inner_rewards = "goal"` (the game: all but a catch's or a hazard's; None:
      the family has no such split).
    """

    name: str
    schema: FamilySchema
    dynamics: Callable[[LevelPack, int | None], TaskFamily]
    draw: Callable[[Tasks, State | None, np.ndarray | None, int, int], np.ndarray]
    trail_point: Callable[[Tasks, State, torch.Tensor | None], np.ndarray | None] = _no_trail
    preview: Callable[[Tasks, int], np.ndarray] | None = None
    caption: Callable[[Tasks], str] = _no_text
    describe_level: Callable[[dict, str], list[str]] = describe_params
    controls: Callable[[TaskFamily, Tasks], Controls] = _arrows
    help: str = "arrows/WASD move"
    outcome: Callable[[State], str] = _no_text
    overlay: Callable[[Tasks, np.ndarray, dict[str, torch.Tensor]], np.ndarray] | None = None
    overlay_help: str = ""
    speed: float = 10.0
    keep_trail: bool = False
    has_success: bool = False
    policy_head: Callable[[TaskFamily, int], PolicyHead | None] | None = None
    heads: tuple[type, ...] = ()
    upgrade_policy: Callable[[dict, dict], tuple[dict, dict]] | None = None
    outcomes: Callable[[Tasks, torch.Tensor], dict[str, torch.Tensor]] | None = None
    groups: Callable[[Tasks], dict[str, torch.Tensor]] | None = None
    planner: Callable[[TaskFamily, Tasks, int, torch.Generator | None], Plays] | None = None
    lookahead: Callable[[TaskFamily, int], Callable[..., torch.Tensor]] | None = None
    goal_rewards: Callable[[TaskFamily, torch.Tensor, torch.Tensor, torch.Tensor],
                           torch.Tensor] | None = None

    def preview_image(self, tasks: Tasks, tile: int = 24) -> np.ndarray:
        """Task 0 as it starts, `tile` pixels per game tile (other families scale with it)."""
        if self.preview is not None:
            return self.preview(tasks, tile)
        return self.draw(tasks, None, None, max(64, round(tile * 320 / 24)), 0)
