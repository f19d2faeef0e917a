"""What the scalar families (velocity, navigation, terrain, bandit) share: a task is a vector of
scalars, each drawn from its `[generate]` key, and the drawings read task 0 and episode 0 as
floats.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mamlgame.packs import Dist, Field, Tasks
from mamlgame.packs.schema import FamilySchema

if TYPE_CHECKING:
    from mamlgame.families.base import State
    from mamlgame.packs import LevelPack

CONTROL = Field("float", 0.01, "control cost c in -c * |a|^2", lo=0.0, hi=100.0)


def scalar_schema(horizon: int, generate: dict[str, Field],
                  reward: dict[str, Field]) -> FamilySchema:
    """The schema of a family whose task is one scalar per `[generate]` key."""
    keys = tuple(generate)

    def parse_level(level: dict[str, Any], gen: dict[str, Any]) -> dict[str, Any]:
        # a hand-designed task gives constants; a missing key takes the distribution's mean
        out = {"name": level["name"]}
        for k in keys:
            d = gen[k]
            out[k] = level.get(k, d.lo if d.kind == "const" else d.mean)
        return out

    def build(pack: LevelPack, gen: dict[str, Dist], hand: list[dict[str, Any]], n: int,
              split: str, seed: int, exclude: Tasks | None) -> Tasks:
        g = torch.Generator().manual_seed(seed)
        params = {k: gen[k].sample(n, g).float() for k in keys}
        generated = Tasks({k: v.unsqueeze(-1) for k, v in params.items()},
                          tuple(f"{split}-{i}" for i in range(n)))
        if exclude is not None and n:
            # continuous draws coincide with probability zero; make it a guarantee
            a = torch.cat([generated[k] for k in keys], -1)
            b = torch.cat([exclude[k] for k in keys], -1)
            keep = ~(a[:, None, :] == b[None, :, :]).all(-1).any(-1)
            generated = generated.select(torch.nonzero(keep).flatten())
        handmade = Tasks({k: torch.tensor([[float(lv[k])] for lv in hand]).reshape(-1, 1)
                          for k in keys}, tuple(lv["name"] for lv in hand))
        return Tasks.cat([handmade, generated]) if len(handmade) else generated

    level = {k: Field("float", 0.0, f.doc, lo=f.lo, hi=f.hi) for k, f in generate.items()}
    return FamilySchema(horizon, generate, reward, level, build, parse_level)


def first_task(tasks: Tasks) -> dict[str, float]:
    """Task 0's parameters as floats."""
    return {k: float(v.reshape(len(tasks), -1)[0, 0]) for k, v in tasks.params.items()}


def first_state(state: State) -> dict[str, np.ndarray]:
    """Episode 0 of task 0 of a batched state, as arrays."""
    return {k: v[0, 0].detach().cpu().numpy() for k, v in state.items()}


def position_trail(tasks: Tasks, state: State, action: torch.Tensor | None) -> np.ndarray:
    """The trail point of a 2D arena family: episode 0's position `p`."""
    return first_state(state)["p"].astype(np.float64).reshape(2)
