"""A one-step continuous bandit: reward -(a - g)^2 for a hidden target g.

Observation: the constant 1. The episode ends after one step. Used for exact-gradient tests
(with a Gaussian policy the expected return is closed form) and for teaching.
Pack keys: `[generate] target`. Drawing: the action line with the hidden target and the
actions taken; a person moves a cursor with left/right and commits it with space.
"""

from __future__ import annotations

import numpy as np
import torch

from mamlgame.families import scalar
from mamlgame.families.base import FamilyBase, State, task_param
from mamlgame.families.spec import FamilySpec
from mamlgame.packs import Field, Tasks
from mamlgame.render.palette import AGENT, BACKGROUND, BORDER, GOAL
from mamlgame.render.raster import blend, canvas, disk, draw_sprite, fill_rect


class Bandit(FamilyBase):
    name = "bandit"
    obs_dim = 1
    action_dim = 1

    def reset(self, tasks: Tasks, n_episodes: int, generator: torch.Generator | None) -> State:
        return {"t": torch.zeros(len(tasks), n_episodes)}

    def step(self, tasks: Tasks, state: State, action: torch.Tensor):
        reward = -(action[..., 0] - task_param(tasks, "target")).square()
        return {"t": state["t"] + 1}, reward, torch.ones_like(reward, dtype=torch.bool)

    def observe(self, tasks: Tasks, state: State) -> torch.Tensor:
        return torch.ones(*state["t"].shape, 1)


def draw_bandit(target: float, actions: np.ndarray | None = None, *, size: int = 320,
                span: float = 1.5) -> np.ndarray:
    """The action line [-span, span]: the hidden target (flag) and the actions taken (dots)."""
    img = canvas(size // 2, size)
    span = max(span, abs(float(target)) * 1.2)
    y = size // 4

    def xpx(a: float) -> float:
        return (min(max(a, -span), span) + span) / (2 * span) * (size - 20) + 10

    fill_rect(img, 10, y - 1, size - 10, y + 2, BORDER)
    fill_rect(img, xpx(0) - 1, y - 6, xpx(0) + 1, y + 6, BORDER)
    draw_sprite(img, "goal", xpx(target), y - size / 20, max(size // 12, 8), GOAL)
    fill_rect(img, xpx(target) - 1, y - 3, xpx(target) + 2, y + 12, GOAL)
    acts = [] if actions is None else np.asarray(actions, np.float64).reshape(-1)[-30:]
    for i, a in enumerate(acts):
        disk(img, xpx(a), y + 18 + (i % 3) * 8, 3, blend(BACKGROUND, AGENT, 0.4 + 0.6 * (
            i + 1) / len(acts)))
    return img


class CursorControls:
    """Left/right move a cursor along the action line; space commits it as the action."""

    def __init__(self) -> None:
        self.cursor = 0.0

    def action(self, keys: list[str], fine: bool) -> None:
        self.cursor += 0.05 * (("right" in keys) - ("left" in keys))
        self.cursor = max(min(self.cursor, 3.0), -3.0)
        return None

    def press(self, key: str) -> torch.Tensor | None:
        return torch.tensor([self.cursor]) if key == "jump" else None

    def status(self) -> str:
        return f"cursor {self.cursor:+.2f} (space: commit)"


def _trail_point(tasks: Tasks, state: State, action: torch.Tensor | None) -> np.ndarray | None:
    return None if action is None else action.reshape(-1).cpu().numpy().astype(np.float64)


SPEC = FamilySpec(
    name="bandit",
    schema=scalar.scalar_schema(
        1, {"target": Field("dist", [-1.0, 1.0], "target action g", lo=-100, hi=100)}, {}),
    dynamics=Bandit,
    draw=lambda tasks, state, trail, size, step=0: draw_bandit(
        scalar.first_task(tasks)["target"], trail, size=size),
    trail_point=_trail_point,
    caption=lambda tasks: f"hidden target {scalar.first_task(tasks)['target']:+.2f}",
    controls=lambda family, tasks: CursorControls(),
    help="left/right move the cursor   space commit",
    speed=2.0,
    keep_trail=True,
)
