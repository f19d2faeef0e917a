"""2D point-mass navigation to a hidden goal (the MAML paper's task and reference code).

Start at (0, 0); the velocity is clipped to [-0.1, 0.1] per axis; p' = p + v. As in the
reference code (rllab's `normalize` wrapper around the point env), the policy acts in
[-1, 1]: v = 0.1 * clip(a, -1, 1).
Reward: -||p' - g||. The episode ends when |p' - g| < 0.01 on both axes.
Observation: the position p; the goal g is not observed.
Pack keys: `[generate] goal_x, goal_y`. Drawing: the arena, the start, the hidden goal
(shown to the viewer), the trail and the agent.
"""

from __future__ import annotations

import numpy as np
import torch

from mamlgame.families import scalar
from mamlgame.families.base import FamilyBase, State
from mamlgame.families.spec import FamilySpec
from mamlgame.packs import Field, Tasks
from mamlgame.render.arena import ArenaView, arena_extent, flag
from mamlgame.render.palette import AGENT, AGENT_EDGE, GOAL, START, TRAIL
from mamlgame.render.raster import canvas, disk


class Navigation(FamilyBase):
    name = "navigation"
    obs_dim = 2
    action_dim = 2
    max_step = 0.1
    tolerance = 0.01

    @staticmethod
    def goal(tasks: Tasks) -> torch.Tensor:
        """Goals [T, 1, 2]."""
        return torch.cat([tasks["goal_x"], tasks["goal_y"]], -1).reshape(len(tasks), 1, 2)

    def reset(self, tasks: Tasks, n_episodes: int, generator: torch.Generator | None) -> State:
        p = torch.zeros(len(tasks), n_episodes, 2)
        return {"p": p, "success": torch.zeros(len(tasks), n_episodes, dtype=torch.bool)}

    def step(self, tasks: Tasks, state: State, action: torch.Tensor):
        p = state["p"] + self.max_step * action.clamp(-1.0, 1.0)
        d = p - self.goal(tasks)
        reward = -d.norm(dim=-1)
        done = (d.abs() < self.tolerance).all(-1)
        return {"p": p, "success": state["success"] | done}, reward, done

    def observe(self, tasks: Tasks, state: State) -> torch.Tensor:
        return state["p"]


def draw_navigation(goal: tuple[float, float], pos: tuple[float, float],
                    trail: np.ndarray | None = None, *, size: int = 320,
                    extent: float | None = None, tolerance: float = 0.01) -> np.ndarray:
    """The 2D point-mass arena: grid, start, hidden goal (flag + tolerance), trail, agent."""
    extent = extent or arena_extent(goal)
    view = ArenaView(size, extent)
    pos = np.clip(np.asarray(pos, np.float64), -extent, extent)  # off-field: shown at the edge
    img = canvas(size, size)
    view.grid(img)
    sx, sy = view.px(np.zeros(2))[0]
    disk(img, sx, sy, size / 40, START)
    gx, gy = view.px(np.asarray(goal))[0]
    disk(img, gx, gy, max(tolerance * view.scale, size / 30), GOAL, inner=size / 30 - 2)
    disk(img, gx, gy, 2, GOAL)
    flag(img, gx, gy, max(size // 12, 8))
    view.trail(img, trail, TRAIL)
    ax, ay = view.px(np.asarray(pos))[0]
    disk(img, ax, ay, size / 45 + 2, AGENT_EDGE)
    disk(img, ax, ay, size / 45, AGENT)
    return img


def _draw(tasks: Tasks, state: State | None, trail: np.ndarray | None, size: int,
          step: int = 0) -> np.ndarray:
    t = scalar.first_task(tasks)
    pos = (0.0, 0.0) if state is None else tuple(scalar.first_state(state)["p"].reshape(2))
    return draw_navigation((t["goal_x"], t["goal_y"]), pos, trail, size=size)


def _caption(tasks: Tasks) -> str:
    t = scalar.first_task(tasks)
    return f"hidden goal ({t['goal_x']:+.2f}, {t['goal_y']:+.2f})"


SPEC = FamilySpec(
    name="navigation",
    schema=scalar.scalar_schema(
        100, {"goal_x": Field("dist", [-0.5, 0.5], "goal x", lo=-10, hi=10),
              "goal_y": Field("dist", [-0.5, 0.5], "goal y", lo=-10, hi=10)}, {}),
    dynamics=Navigation,
    draw=_draw,
    trail_point=scalar.position_trail,
    caption=_caption,
    speed=30.0,
    has_success=True,
)
