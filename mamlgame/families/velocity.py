"""Velocity tracking: a 1D point mass must run at a hidden target velocity v*.

State: position x, velocity v. Action: a force, clipped to [-max_force, max_force].
Dynamics (dt = 0.1, unit mass): v' = v + dt * f, x' = x + dt * v'.
Reward: -(v' - v*)^2 - c * f^2 (`kind = "squared"`) or -|v' - v*| - c * f^2 (`"abs"`).
Observation: (x, v); v* is not observed. No early termination.
Pack keys: `[generate] target_velocity`, `[reward] kind, control`. Drawing: a runner on a
scrolling track, a gauge with the target and the current speed, and the speed history.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from mamlgame.families import scalar
from mamlgame.families.base import FamilyBase, State, task_param
from mamlgame.families.spec import ArrowControls, FamilySpec
from mamlgame.packs import Field, Tasks
from mamlgame.render.palette import AGENT, BACKGROUND, BORDER, NEEDLE, TARGET
from mamlgame.render.raster import Color, canvas, disk, draw_sprite, fill_rect, polyline

TRACK: Color = (170, 84, 60)
LANE: Color = (236, 220, 200)
SKY: Color = (70, 110, 170)
GAUGE: Color = (52, 56, 68)


class Velocity(FamilyBase):
    name = "velocity"
    obs_dim = 2
    action_dim = 1
    dt = 0.1
    max_force = 5.0

    def reset(self, tasks: Tasks, n_episodes: int, generator: torch.Generator | None) -> State:
        z = torch.zeros(len(tasks), n_episodes)
        return {"x": z, "v": z.clone()}

    def step(self, tasks: Tasks, state: State, action: torch.Tensor):
        f = action[..., 0].clamp(-self.max_force, self.max_force)
        v = state["v"] + self.dt * f
        x = state["x"] + self.dt * v
        err = v - task_param(tasks, "target_velocity")
        track = err.abs() if self.reward_cfg["kind"] == "abs" else err.square()
        reward = -track - self.reward_cfg["control"] * f.square()
        return {"x": x, "v": v}, reward, torch.zeros_like(reward, dtype=torch.bool)

    def observe(self, tasks: Tasks, state: State) -> torch.Tensor:
        return torch.stack([state["x"], state["v"]], -1)


def _gauge(img: np.ndarray, cx: float, cy: float, r: float, lo: float, hi: float,
           target: float, value: float) -> None:
    """A half-circle gauge from lo (left) to hi (right): target tick and value needle."""
    def at(v: float, rad: float) -> tuple[float, float]:
        a = math.pi * (1 - (min(max(v, lo), hi) - lo) / (hi - lo))
        return cx + rad * math.cos(a), cy - rad * math.sin(a)

    disk(img, cx, cy, r, GAUGE)
    fill_rect(img, cx - r - 1, cy + 1, cx + r + 2, cy + r + 2, BACKGROUND)
    for k in range(int(math.ceil(lo)), int(math.floor(hi)) + 1):  # a tick per unit speed
        polyline(img, np.array([at(k, r * 0.82), at(k, r * 0.98)]), BORDER, 2)
    polyline(img, np.array([at(target, r * 0.55), at(target, r)]), TARGET, 5)
    polyline(img, np.array([(cx, cy), at(value, r * 0.9)]), NEEDLE, 3)
    disk(img, cx, cy, r * 0.08, BORDER)


def draw_velocity(target: float, x: float, v: float, history: np.ndarray | None = None, *,
                  size: tuple[int, int] = (320, 320), speed_range: tuple[float, float] = (-1, 3),
                  step: int = 0) -> np.ndarray:
    """A runner at position x on a track scrolling past; a gauge shows the target speed (green)
    and the current speed (red needle); the bottom right plots the speed history."""
    h, w = size
    img = canvas(h, w)
    lo, hi = min(speed_range[0], v, target), max(speed_range[1], v, target)
    top = h // 2
    fill_rect(img, 0, 0, w, top * 0.55, SKY)
    fill_rect(img, 0, top * 0.55, w, top, TRACK)
    px_per_unit = w / 4.0  # the camera follows the runner; marks every half unit scroll by
    for k in range(-6, 7):
        mark = (math.floor(x * 2) / 2 + k / 2 - x) * px_per_unit + w / 2
        fill_rect(img, mark - 2, top * 0.75, mark + 2, top * 0.95, LANE)
    fill_rect(img, 0, top * 0.55, w, top * 0.55 + 2, LANE)
    frame = "runner0" if (step // 3) % 2 == 0 or abs(v) < 0.05 else "runner1"
    draw_sprite(img, frame, w / 2, top * 0.6, int(top * 0.55), AGENT, flip=v < -0.05)
    _gauge(img, w * 0.27, h * 0.93, min(w * 0.24, h * 0.4), lo, hi, target, v)
    # speed history: target (green) and speed (red) over time
    x0, x1, y0, y1 = w * 0.55, w - 6, top + 8, h - 8
    fill_rect(img, x0, y0, x1, y1, GAUGE)

    def ypx(s: float) -> float:
        return y1 - 2 - (min(max(s, lo), hi) - lo) / (hi - lo) * (y1 - y0 - 4)

    fill_rect(img, x0, ypx(target) - 1, x1, ypx(target) + 1, TARGET)
    if history is not None and len(history) > 1:
        hist = np.asarray(history, np.float64).reshape(-1)[-200:]
        xs = np.linspace(x0 + 2, x1 - 2, max(len(hist), 2))[: len(hist)]
        polyline(img, np.stack([xs, [ypx(s) for s in hist]], -1), NEEDLE, 2)
    return img


def _draw(tasks: Tasks, state: State | None, trail: np.ndarray | None, size: int,
          step: int = 0) -> np.ndarray:
    t = scalar.first_task(tasks)
    one = scalar.first_state(state) if state is not None else {"x": np.zeros(()),
                                                               "v": np.zeros(())}
    return draw_velocity(t["target_velocity"], float(one["x"]), float(one["v"]), trail,
                         size=(size, size), step=step)


SPEC = FamilySpec(
    name="velocity",
    schema=scalar.scalar_schema(
        20, {"target_velocity": Field("dist", [0.0, 2.0], "target velocity v*", lo=-10, hi=10)},
        {"kind": Field("str", "squared", "-(v - v*)^2 or -|v - v*|", choices=("squared", "abs")),
         "control": scalar.CONTROL}),
    dynamics=Velocity,
    draw=_draw,
    trail_point=lambda tasks, state, action: scalar.first_state(state)["v"].astype(
        np.float64).reshape(1),
    caption=lambda tasks: f"target speed {scalar.first_task(tasks)['target_velocity']:+.2f}",
    controls=lambda family, tasks: ArrowControls(1, family.max_force),
    help="left/right push (shift: gently)",
)
