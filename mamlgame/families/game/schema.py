"""The `game` family's pack schema: `[generate]`, `[reward]` and `[[level]]` keys, and how a
split's levels are built (hand-designed first, then procedural) into padded tensors.

See DESIGN.md "Level packs" and "Game rules"; the rules themselves are in `rules`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from mamlgame.families.game.generate import LAYOUTS, draw_level, mode_layouts
from mamlgame.families.game.levels import (
    MAX_OPPONENTS,
    MODES,
    LevelSpec,
    Opponent,
    check_reachable,
    parse_map,
    specs_to_tasks,
)
from mamlgame.families.game.opponents import BEHAVIOURS, described
from mamlgame.packs.schema import Dist, FamilySchema, Field, FieldError, _fmt
from mamlgame.packs.tasks import Tasks

if TYPE_CHECKING:
    from mamlgame.packs.loader import LevelPack

HORIZON = 60
LAYOUT_NAMES = tuple(n for names in LAYOUTS.values() for n in names)
# keys that fix the observation size: the test split cannot override them
OBS_KEYS = ("observe_goal", "view", "observe_opponents", "position")
MAX_SPEED = 2.0
# generated maps (outer walls included); hand-designed ones: `levels.MAX_SIZE`
MAX_GENERATED_SIZE = 64
CHECK_BATCH = 256  # levels the `winnable` check searches at once (memory: its beam per level)
# the `winnable` check's verdicts by (level digest, horizon): a pure function of the level, so
# a process that loads a pack again (tests, the API) searches each level once
_VERDICTS: dict[tuple[int, int], bool] = {}

GENERATE = {
    "mode": Field("weights", "topdown", "topdown | platformer, or weights to mix them",
                  choices=MODES),
    "size": Field("intdist", [9, 13], "map height and width in tiles (outer walls included)",
                  lo=5, hi=MAX_GENERATED_SIZE),
    "layout": Field("weights", {"open": 1, "platforms": 1},
                    "topdown: open | rooms | maze; platformer: platforms | gaps "
                    "(layouts of the other mode are ignored)", choices=LAYOUT_NAMES),
    "goal_distance": Field("intdist", [3, 12], "path distance (steps) from start to goal",
                           lo=1, hi=(MAX_GENERATED_SIZE - 2) ** 2),
    "player_speed": Field("dist", 1.0, "tiles per step (fractions accumulate)",
                          lo=0.1, hi=MAX_SPEED),
    "jump_height": Field("intdist", 3, "platformer: tiles a jump rises", lo=1, hi=6),
    "opponents": Field("intdist", 0, "how many opponents", lo=0, hi=MAX_OPPONENTS),
    "opponent_speed": Field("dist", [0.5, 1.0], "opponent tiles per step", lo=0.0, hi=MAX_SPEED),
    "opponent_behaviour": Field("weights", "chase", described(), choices=BEHAVIOURS),
    "guard_radius": Field("intdist", 3, "guards chase a player this near their post",
                          lo=0, hi=64),
    "hazards": Field("intdist", 0, "extra hazard tiles", lo=0, hi=200),
    "winnable": Field("bool", False, "redraw a generated level that a perfect player cannot "
                      "win (the planner's search proves it; random walkers left out)"),
    "observe_goal": Field("bool", False, "add the goal to the observation"),
    "view": Field("int", 2, "radius of the observed tile patch", lo=0, hi=5),
    "position": Field("str", "graph", "how the player's position is observed: scaled (row and "
                      "column / map size), onehot (also one-hot row and column codes), tile "
                      "(also the tile's index, for a per-tile table) or graph (also the "
                      "movement state, for a goal-belief policy)",
                      choices=("scaled", "onehot", "tile", "graph")),
    "observe_opponents": Field("int", 2, "nearest opponents in the observation",
                               lo=0, hi=MAX_OPPONENTS),
}

REWARD = {
    "goal": Field("float", 10.0, "reaching the goal", lo=-1e4, hi=1e4),
    "caught": Field("float", -10.0, "touching an opponent", lo=-1e4, hi=1e4),
    "hazard": Field("float", -5.0, "stepping on a hazard", lo=-1e4, hi=1e4),
    "step": Field("float", -0.05, "every step", lo=-1e4, hi=1e4),
    "shaping": Field("float", 1.0, "shaping * (d_prev - d_now), d = path distance to goal",
                     lo=-1e4, hi=1e4),
}


@dataclass(frozen=True)
class OpponentList(Field):
    """`[[level]] opponents`: one table { behaviour, speed } per 'O' in reading order."""

    def expected(self) -> str:
        names = " | ".join(f'"{b}"' for b in BEHAVIOURS)
        return f"a list of tables {{ behaviour = {names}, speed = 0..{MAX_SPEED:g} }}"

    def parse(self, value: Any) -> Any:
        bad = FieldError(f"expected {self.expected()}, got {_fmt(value)}")
        if not isinstance(value, list):
            raise bad
        out = []
        for entry in value:
            if not isinstance(entry, dict) or set(entry) - {"behaviour", "speed"}:
                raise bad
            beh, speed = entry.get("behaviour"), entry.get("speed")
            if beh is not None and beh not in BEHAVIOURS:
                raise bad
            if speed is not None:
                Field("float", 1.0, lo=0.0, hi=MAX_SPEED).parse(speed)
            out.append((beh, speed))
        return tuple(out)


LEVEL = {
    "map": Field("str", "", "ASCII map: # wall, . floor, S start, G goal, O opponent, ^ hazard"),
    "mode": Field("str", "topdown", "topdown | platformer", choices=MODES),
    "player_speed": Field("float", 1.0, "tiles per step", lo=0.1, hi=MAX_SPEED),
    "jump_height": Field("int", 3, "platformer: tiles a jump rises", lo=1, hi=6),
    "guard_radius": Field("int", 3, "guards chase a player this near their post", lo=0, hi=64),
    "opponents": OpponentList("opponents", (), "one { behaviour, speed } per 'O'"),
}


def _likeliest(d: Dist) -> str:
    return d.choices[max(range(len(d.choices)), key=lambda i: d.weights[i])]


def _mean(d: Dist) -> float:
    return float(d.lo) if d.kind == "const" else d.mean


def parse_level(level: dict[str, Any], gen: dict[str, Any]) -> dict[str, Any]:
    """A `[[level]]` table -> {"name", "spec": LevelSpec}; missing keys take the pack's
    likeliest mode / behaviour and mean speeds."""
    if "map" not in level:
        raise FieldError("map: missing key 'map' (rows of # . S G O ^)")
    rows, start, goal, spawns = parse_map(level["map"])
    mode = level.get("mode", _likeliest(gen["mode"]))
    speed = float(level.get("player_speed", _mean(gen["player_speed"])))
    if mode == "platformer" and speed > 1.0:
        key = "player_speed" if "player_speed" in level else "mode"
        raise FieldError(f"{key}: platformer levels need a player speed <= 1, got {speed:g}")
    entries = level.get("opponents")
    if entries is not None and len(entries) != len(spawns):
        raise FieldError(f"opponents: expected one entry per 'O' in the map ({len(spawns)}), "
                         f"got {len(entries)}")
    entries = entries or [(None, None)] * len(spawns)
    beh0, speed0 = _likeliest(gen["opponent_behaviour"]), _mean(gen["opponent_speed"])
    opponents = tuple(Opponent(r, c, b or beh0, float(s if s is not None else speed0))
                      for (r, c), (b, s) in zip(spawns, entries, strict=True))
    spec = LevelSpec(level["name"], mode, rows, start, goal, speed,
                     int(level.get("jump_height", round(_mean(gen["jump_height"])))),
                     int(level.get("guard_radius", round(_mean(gen["guard_radius"])))),
                     opponents)
    check_reachable(spec)
    return {"name": level["name"], "spec": spec}


def check(table: str, values: dict[str, Any]) -> None:
    """Cross-key checks of `[generate]` / `[generate.test]`."""
    if not table.startswith("generate"):
        return
    mode = values["mode"]
    modes = [m for m, w in zip(mode.choices, mode.weights, strict=True) if w > 0]
    for mode in modes:
        if not mode_layouts(mode, values["layout"])[0]:
            raise FieldError(f"layout: mode {mode} needs one of its layouts "
                             f"({', '.join(LAYOUTS[mode])}) with a positive weight")
    if "platformer" in modes and values["player_speed"].hi > 1.0:
        raise FieldError("player_speed: platformer levels need speeds <= 1, got up to "
                         f"{values['player_speed'].hi:g}")
    _check_goal_distance(values["size"], values["goal_distance"])
    _check_hazards(values["size"], values["hazards"])


def _check_hazards(size: Dist, hazards: Dist) -> None:
    """A hazard count some map of the pack's sizes can hold: the largest map has (s - 2) ** 2
    tiles inside its outer walls, two of them the start and the goal. A range that starts
    beyond that is an error (one that only reaches past it is fine: a level then gets as
    many as its free tiles allow)."""
    largest = int(size.hi)
    most = (largest - 2) ** 2 - 2
    if hazards.lo > most:
        raise FieldError(f"hazards: no map holds {int(hazards.lo)} hazards (the largest, "
                         f"{largest}x{largest} with its outer walls, has {most} tiles besides "
                         f"the start and the goal); lower hazards to at most {most} or raise "
                         "size")


def _check_goal_distance(size: Dist, goal_distance: Dist) -> None:
    """A goal distance some map of the pack's sizes can have: a path on a map of size s
    (outer walls included) visits at most (s - 2) ** 2 floor tiles, so it is at most
    (s - 2) ** 2 - 1 steps long. A range that starts beyond that is an error (a range that
    only reaches past it is fine: a level's goal is then the farthest its map allows)."""
    largest = int(size.hi)
    longest = (largest - 2) ** 2 - 1
    if goal_distance.lo > longest:
        raise FieldError(f"goal_distance: no path is {int(goal_distance.lo)} steps long on "
                         f"the largest map ({largest}x{largest} with its outer walls: at most "
                         f"{longest}); lower goal_distance to at most {longest} or raise size")


def build(pack: LevelPack, gen: dict[str, Any], hand: list[dict[str, Any]], n: int,
          split: str, seed: int, exclude: Tasks | None) -> Tasks:
    """Hand-designed levels, then `n` generated ones (level i from (seed, i)), none equal
    to a level of `exclude`; tensors padded to the split's largest map."""
    excluded = set(exclude["digest"].tolist()) if exclude is not None and len(exclude) else set()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # thousands of tiny tensor ops: threads only add overhead
    try:
        specs: list[LevelSpec] = [lv["spec"] for lv in hand]
        drawn = [draw_level(gen, seed, i, f"{split}-{i}", excluded) for i in range(n)]
        if gen["winnable"]:
            drawn = _winnable(pack, gen, seed, split, drawn, excluded)
        specs += [spec for spec, _ in drawn]
        return specs_to_tasks(specs) if specs else Tasks({}, ())
    finally:
        torch.set_num_threads(threads)


def _winnable(pack: LevelPack, gen: dict[str, Any], seed: int, split: str,
              drawn: list[tuple[LevelSpec, int]], excluded: set[int]
              ) -> list[tuple[LevelSpec, int]]:
    """`drawn` (level, attempt) with every level the planner proves unwinnable redrawn from
    its next attempt, checked again, until none is (all levels at once per round)."""
    from mamlgame.families.game.engine import Game
    from mamlgame.families.game.planner import unwinnable

    game = Game(pack)
    drawn = list(drawn)
    todo = [i for i, (spec, _) in enumerate(drawn) if spec.opponents]
    while todo:
        keys = {i: (drawn[i][0].digest(), game.horizon) for i in todo}
        ask = [i for i in todo if keys[i] not in _VERDICTS]
        for part in range(0, len(ask), CHECK_BATCH):
            chunk = ask[part:part + CHECK_BATCH]
            lost = unwinnable(game, specs_to_tasks([drawn[i][0] for i in chunk])).tolist()
            _VERDICTS.update((keys[i], bad) for i, bad in zip(chunk, lost, strict=True))
        todo = [i for i in todo if _VERDICTS[keys[i]]]
        for i in todo:
            drawn[i] = draw_level(gen, seed, i, f"{split}-{i}", excluded, drawn[i][1] + 1)
        todo = [i for i in todo if drawn[i][0].opponents]
    return drawn


# the measured game recipe (BENCHMARKS.md, game agents): with the default position = "graph",
# cavia adapts a goal belief per level, by a step whose size training scales (`learn_inner_lr`,
# BENCHMARKS.md "A learned step size") and that reads the rewards saying where the goal is
# (`inner_rewards`, "The likeliest tile a way reaches"); the agent acts with a 6-step lookahead
# (eval, watch; `lookahead`); a pack's [train] keys replace these
RECIPE = {"algo": "cavia", "inner_lr": 1000.0, "learn_inner_lr": True, "inner_gamma": 0.0,
          "inner_rewards": "goal", "outer_lr": 1e-3, "iterations": 400, "lookahead": 6}
SCHEMA = FamilySchema(HORIZON, GENERATE, REWARD, LEVEL, build, parse_level, check,
                      recipe=RECIPE, test_fixed=OBS_KEYS)
