"""Robot navigation over terrains with payloads: the dynamics vary per task.

A 2D robot of mass 1 + payload on ground with friction mu drives to a hidden goal.
Action: a force per axis clipped to [-1, 1]. Dynamics (dt = 0.1):
v' = (1 - mu * dt) * v + dt * f / (1 + payload), p' = p + dt * v'.
Reward: -||p' - g|| - c * ||f||^2. Success: within 0.1 of the goal at the end.
Observation: (p, v); goal, friction and payload are not observed.
Pack keys: `[generate] goal_x, goal_y, friction, payload`, `[reward] control`. Drawing: the
ground coloured by friction (ice .. mud), the robot with its payload crates, its velocity,
the goal with its success radius, and the trail.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from mamlgame.families import scalar
from mamlgame.families.base import FamilyBase, State, task_param
from mamlgame.families.spec import FamilySpec
from mamlgame.packs import Field, Tasks
from mamlgame.render.arena import ArenaView, arena_extent, flag
from mamlgame.render.palette import AGENT, BACKGROUND, GOAL
from mamlgame.render.raster import Color, blend, canvas, disk, draw_sprite, fill_rect, polyline

ICE: Color = (190, 225, 245)
GRASS: Color = (96, 150, 70)
MUD: Color = (110, 76, 46)
CRATE: Color = (150, 100, 60)
ARROW: Color = (250, 250, 250)


class Terrain(FamilyBase):
    name = "terrain"
    obs_dim = 4
    action_dim = 2
    dt = 0.1
    radius = 0.1

    def reset(self, tasks: Tasks, n_episodes: int, generator: torch.Generator | None) -> State:
        z = torch.zeros(len(tasks), n_episodes, 2)
        return {"p": z, "v": z.clone(),
                "success": torch.zeros(len(tasks), n_episodes, dtype=torch.bool)}

    def step(self, tasks: Tasks, state: State, action: torch.Tensor):
        f = action.clamp(-1.0, 1.0)
        mu = task_param(tasks, "friction").unsqueeze(-1)
        mass = 1.0 + task_param(tasks, "payload").unsqueeze(-1)
        v = (1.0 - mu * self.dt).clamp(min=0.0) * state["v"] + self.dt * f / mass
        p = state["p"] + self.dt * v
        goal = torch.cat([tasks["goal_x"], tasks["goal_y"]], -1).reshape(len(tasks), 1, 2)
        dist = (p - goal).norm(dim=-1)
        reward = -dist - self.reward_cfg["control"] * f.square().sum(-1)
        success = dist < self.radius
        return {"p": p, "v": v, "success": success}, reward, torch.zeros_like(success)

    def observe(self, tasks: Tasks, state: State) -> torch.Tensor:
        return torch.cat([state["p"], state["v"]], -1)


def ground_color(friction: float) -> Color:
    """Ice (no friction) through grass to mud (friction 2 and above)."""
    f = max(float(friction), 0.0)
    return blend(ICE, GRASS, f) if f <= 1.0 else blend(GRASS, MUD, f - 1.0)


def draw_terrain(goal: tuple[float, float], pos: tuple[float, float], vel: tuple[float, float],
                 friction: float, payload: float, trail: np.ndarray | None = None, *,
                 size: int = 320, extent: float | None = None, radius: float = 0.1
                 ) -> np.ndarray:
    """The robot on its ground (colour = friction), carrying `ceil(payload)` crates."""
    extent = extent or arena_extent(goal, minimum=1.25)
    view = ArenaView(size, extent)
    pos = np.clip(np.asarray(pos, np.float64), -extent, extent)  # off-field: shown at the edge
    ground = ground_color(friction)
    img = canvas(size, size, ground)
    yy, xx = np.mgrid[0:size, 0:size]
    if friction < 0.6:  # ice: diagonal sheen
        img[((xx + yy) % 24) < 2] = blend(ground, (255, 255, 255), 0.5)
    elif friction > 1.3:  # mud: speckles
        img[((xx * 7 + yy * 13) % 29 == 0)] = blend(ground, (40, 25, 15), 0.6)
    view.grid(img, blend(ground, (0, 0, 0), 0.18), step=0.5)
    gx, gy = view.px(np.asarray(goal))[0]
    disk(img, gx, gy, radius * view.scale, GOAL, inner=radius * view.scale - 3)
    flag(img, gx, gy, max(size // 12, 8))
    view.trail(img, trail, (250, 250, 250))
    ax, ay = view.px(np.asarray(pos))[0]
    body = max(size // 9, 10)
    draw_sprite(img, "robot", ax, ay, body, AGENT)
    _crates(img, ax, ay, body, payload)
    v = np.asarray(vel, np.float64)
    if np.linalg.norm(v) > 1e-3:
        tip = np.asarray(pos) + v * 0.5
        polyline(img, np.concatenate([view.px(np.asarray(pos)), view.px(tip)]), ARROW, 2)
    # friction and payload gauges along the bottom edge
    fill_rect(img, 4, size - 14, size / 2 - 4, size - 6, BACKGROUND)
    fill_rect(img, 5, size - 13, 5 + (size / 2 - 10) * min(friction / 2.0, 1.0), size - 7,
              ground_color(friction))
    fill_rect(img, size / 2 + 4, size - 14, size - 4, size - 6, BACKGROUND)
    fill_rect(img, size / 2 + 5, size - 13,
              size / 2 + 5 + (size / 2 - 10) * min(payload / 3.0, 1.0), size - 7, CRATE)
    return img


def _crates(img: np.ndarray, ax: float, ay: float, body: int, payload: float) -> None:
    """`ceil(payload)` crates (at most 6) stacked beside the robot."""
    crates = int(math.ceil(max(float(payload), 0.0) - 1e-6))
    c = max(body // 3, 4)
    for i in range(min(crates, 6)):
        col, row = divmod(i, 3)
        cx, cy = ax + body / 2 + c / 2 + col * c, ay + body / 2 - c / 2 - row * c
        draw_sprite(img, "crate", cx, cy, c, CRATE)


def _draw(tasks: Tasks, state: State | None, trail: np.ndarray | None, size: int,
          step: int = 0) -> np.ndarray:
    t = scalar.first_task(tasks)
    one = scalar.first_state(state) if state is not None else {"p": np.zeros(2),
                                                               "v": np.zeros(2)}
    return draw_terrain((t["goal_x"], t["goal_y"]), tuple(one["p"].reshape(2)),
                        tuple(one["v"].reshape(2)), t["friction"], t["payload"], trail,
                        size=size)


def _caption(tasks: Tasks) -> str:
    t = scalar.first_task(tasks)
    ground = "ice" if t["friction"] < 0.6 else ("mud" if t["friction"] > 1.3 else "grass")
    return (f"goal ({t['goal_x']:+.2f}, {t['goal_y']:+.2f})   friction {t['friction']:.2f}"
            f" ({ground})   payload {t['payload']:.2f}")


SPEC = FamilySpec(
    name="terrain",
    schema=scalar.scalar_schema(
        50, {"goal_x": Field("dist", [-1.0, 1.0], "goal x", lo=-10, hi=10),
             "goal_y": Field("dist", [-1.0, 1.0], "goal y", lo=-10, hi=10),
             "friction": Field("dist", [0.0, 2.0], "ground friction (velocity damping per s)",
                               lo=0, hi=9),
             "payload": Field("dist", [0.0, 2.0], "carried payload mass (robot mass is 1)",
                              lo=0, hi=100)},
        {"control": scalar.CONTROL}),
    dynamics=Terrain,
    draw=_draw,
    trail_point=scalar.position_trail,
    caption=_caption,
    speed=20.0,
    has_success=True,
)
