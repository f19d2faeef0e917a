"""Pack schemas of the task families: the `[generate]`, `[reward]` and `[[level]]` keys of
each family and how a split's tasks are built from them.

The game family's schema lives in `mamlgame.packs.game`; it registers itself here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from mamlgame.packs.schema import Dist, Field
from mamlgame.packs.tasks import Tasks

if TYPE_CHECKING:
    from mamlgame.packs.loader import LevelPack


def _no_check(table: str, values: dict[str, Any]) -> None:
    return None


@dataclass(frozen=True)
class FamilySchema:
    """What a pack of one family may contain and how its tasks are generated.

    `build(pack, generate, hand_levels, n, split, seed, exclude) -> Tasks` makes a split:
    the hand-designed levels first, then `n` generated ones, none equal to a task of `exclude`.
    `parse_level(level, generate) -> level` completes a validated `[[level]]` table.
    `check(table, values)` validates cross-key constraints (raise FieldError("key: msg")).
    """

    name: str
    horizon: int
    generate: dict[str, Field]
    reward: dict[str, Field]
    level: dict[str, Field]
    build: Callable[..., Tasks]
    parse_level: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]
    check: Callable[[str, dict[str, Any]], None] = field(default=_no_check)


def continuous_schema(name: str, horizon: int, generate: dict[str, Field],
                      reward: dict[str, Field]) -> FamilySchema:
    """A family whose task is a vector of scalars, each drawn from its `[generate]` key."""
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
    return FamilySchema(name, horizon, generate, reward, level, build, parse_level)


CONTROL = Field("float", 0.01, "control cost c in -c * |a|^2", lo=0.0, hi=100.0)

FAMILY_SCHEMAS: dict[str, FamilySchema] = {
    "velocity": continuous_schema(
        "velocity", 20,
        {"target_velocity": Field("dist", [0.0, 2.0], "target velocity v*", lo=-10, hi=10)},
        {"kind": Field("str", "squared", "-(v - v*)^2 or -|v - v*|", choices=("squared", "abs")),
         "control": CONTROL},
    ),
    "navigation": continuous_schema(
        "navigation", 100,
        {"goal_x": Field("dist", [-0.5, 0.5], "goal x", lo=-10, hi=10),
         "goal_y": Field("dist", [-0.5, 0.5], "goal y", lo=-10, hi=10)},
        {},
    ),
    "terrain": continuous_schema(
        "terrain", 50,
        {"goal_x": Field("dist", [-1.0, 1.0], "goal x", lo=-10, hi=10),
         "goal_y": Field("dist", [-1.0, 1.0], "goal y", lo=-10, hi=10),
         "friction": Field("dist", [0.0, 2.0], "ground friction (velocity damping per s)",
                           lo=0, hi=9),
         "payload": Field("dist", [0.0, 2.0], "carried payload mass (robot mass is 1)",
                          lo=0, hi=100)},
        {"control": CONTROL},
    ),
    "bandit": continuous_schema(
        "bandit", 1,
        {"target": Field("dist", [-1.0, 1.0], "target action g", lo=-100, hi=100)},
        {},
    ),
}


def register_schema(schema: FamilySchema) -> None:
    """Add a family's pack schema (used by the game family)."""
    FAMILY_SCHEMAS[schema.name] = schema
