"""Procedural game levels: layouts `open`, `rooms`, `maze` (topdown) and `platforms`, `gaps`
(platformer), then start, hazards, goal (by path distance) and opponents.

Every draw goes through one `random.Random` seeded from (split seed, index, attempt), so a
level is reproducible from (pack, split, index). The goal is chosen among tiles the player
can reach (path distance from the engine's rules), so every generated level is solvable
without its opponents; with `winnable = true` the split's builder (`schema.build`) also
redraws, with the next attempt, a level that the planner proves no player can win.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from mamlgame.families.game.levels import (
    LevelSpec,
    Opponent,
    distances_from,
    player_graph,
    standable,
)
from mamlgame.families.game.opponents import TABLE
from mamlgame.packs.schema import Dist, FieldError

LAYOUTS = {"topdown": ("open", "rooms", "maze"), "platformer": ("platforms", "gaps")}
MAX_ATTEMPTS = 100


def _open(rng: random.Random, h: int, w: int, jump: int) -> np.ndarray:
    g = _box(h, w)
    cells = [(r, c) for r in range(2, h - 2) for c in range(2, w - 2)]
    for r, c in rng.sample(cells, int(0.15 * len(cells))):
        g[r, c] = "#"
    return g


def _rooms(rng: random.Random, h: int, w: int, jump: int) -> np.ndarray:
    g = _box(h, w)

    def split(r0: int, c0: int, r1: int, c1: int, depth: int) -> None:  # interior [r0, r1)
        tall, wide = r1 - r0, c1 - c0
        if depth == 0 or max(tall, wide) < 5:
            return
        if tall >= wide:
            r = rng.randrange(r0 + 2, r1 - 2)
            g[r, c0:c1] = "#"
            for c in rng.sample(range(c0, c1), 1 + (wide > 8)):
                g[r, c] = "."
            split(r0, c0, r, c1, depth - 1)
            split(r + 1, c0, r1, c1, depth - 1)
        else:
            c = rng.randrange(c0 + 2, c1 - 2)
            g[r0:r1, c] = "#"
            for r in rng.sample(range(r0, r1), 1 + (tall > 8)):
                g[r, c] = "."
            split(r0, c0, r1, c, depth - 1)
            split(r0, c + 1, r1, c1, depth - 1)

    split(1, 1, h - 1, w - 1, 2)
    return g


def _maze(rng: random.Random, h: int, w: int, jump: int) -> np.ndarray:
    g = np.full((h, w), "#")
    cells = [(r, c) for r in range(1, h - 1, 2) for c in range(1, w - 1, 2)]
    stack, seen = [cells[rng.randrange(len(cells))]], set()
    seen.add(stack[0])
    g[stack[0]] = "."
    while stack:
        r, c = stack[-1]
        nbrs = [(r + dr, c + dc) for dr, dc in ((-2, 0), (2, 0), (0, -2), (0, 2))
                if 0 < r + dr < h - 1 and 0 < c + dc < w - 1 and (r + dr, c + dc) not in seen]
        if not nbrs:
            stack.pop()
            continue
        nr, nc = rng.choice(nbrs)
        g[(r + nr) // 2, (c + nc) // 2] = g[nr, nc] = "."
        seen.add((nr, nc))
        stack.append((nr, nc))
    inner = [(r, c) for r in range(1, h - 1) for c in range(1, w - 1) if g[r, c] == "#"
             and ((g[r - 1, c] == g[r + 1, c] == ".") or (g[r, c - 1] == g[r, c + 1] == "."))]
    for rc in rng.sample(inner, len(inner) // 8):  # a few loops
        g[rc] = "."
    return g


def _platforms(rng: random.Random, h: int, w: int, jump: int) -> np.ndarray:
    g = _box(h, w)
    row = h - 2  # the player walks on row h - 2 (the border below is the ground)
    while True:
        row -= rng.randint(2, max(2, min(jump - 1, 3)))  # platform tiles at this row
        if row < 3:
            break
        for _ in range(rng.randint(1, max(1, w // 6))):
            length = rng.randint(2, max(2, min(6, w // 3)))
            c0 = rng.randint(1, max(1, w - 1 - length))
            g[row, c0:c0 + length] = "#"
    return g


def _gaps(rng: random.Random, h: int, w: int, jump: int) -> np.ndarray:
    g = _box(h, w)
    ground = h - 2
    g[ground, 1:-1] = "#"
    c = 3
    while c < w - 3:
        width = rng.randint(1, 2)
        g[ground, c:c + width] = "^"
        c += width + rng.randint(2, 4)
    for _ in range(rng.randint(0, max(0, w // 6))):
        row = ground - rng.randint(2, max(2, min(jump - 1, 3)))
        length = rng.randint(2, 4)
        c0 = rng.randint(1, max(1, w - 1 - length))
        if row >= 2:
            g[row, c0:c0 + length] = "#"
    return g


GENERATORS = {"open": _open, "rooms": _rooms, "maze": _maze, "platforms": _platforms,
              "gaps": _gaps}


def _box(h: int, w: int) -> np.ndarray:
    g = np.full((h, w), ".")
    g[0] = g[-1] = "#"
    g[:, 0] = g[:, -1] = "#"
    return g


def mode_layouts(mode: str, layout: Dist) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """The layouts of `layout` that belong to `mode`, with their weights."""
    pairs = [(c, w) for c, w in zip(layout.choices, layout.weights, strict=True)
             if c in LAYOUTS[mode] and w > 0]
    return tuple(c for c, _ in pairs), tuple(w for _, w in pairs)


def generate_level(gen: dict[str, Any], seed: int, index: int, name: str,
                   exclude: set[int] = frozenset()) -> LevelSpec:
    """Level `index` of a split: deterministic in (gen, seed, index); never in `exclude`."""
    return draw_level(gen, seed, index, name, exclude)[0]


def draw_level(gen: dict[str, Any], seed: int, index: int, name: str,
               exclude: set[int] = frozenset(), first: int = 0) -> tuple[LevelSpec, int]:
    """`generate_level` from attempt `first` on: the level and the attempt that made it."""
    for attempt in range(first, MAX_ATTEMPTS):
        rng = random.Random(f"{seed}:{index}:{attempt}")
        spec = _attempt(gen, rng, name)
        if spec is not None and spec.digest() not in exclude:
            return spec, attempt
    if first:
        raise FieldError(f"winnable: no level {index} that a perfect player can win in "
                         f"{MAX_ATTEMPTS} attempts (opponents faster than the player, or "
                         "guards on the only way to the goal?)")
    raise FieldError(f"size: could not generate level {index} in {MAX_ATTEMPTS} attempts "
                     "(maps too small for the goal distance or opponents?)")


def _attempt(gen: dict[str, Any], rng: random.Random, name: str) -> LevelSpec | None:
    mode = str(gen["mode"].draw(rng))
    choices, weights = mode_layouts(mode, gen["layout"])
    layout = rng.choices(choices, weights)[0]
    h, w = int(gen["size"].draw(rng)), int(gen["size"].draw(rng))
    jump = int(gen["jump_height"].draw(rng))
    grid = GENERATORS[layout](rng, h, w, jump)
    rows = tuple("".join(r) for r in grid)
    probe = LevelSpec(name, mode, rows, (1, 1), (1, 1), jump_height=jump)
    stand = standable(probe)[1:-1, 1:-1]
    cells = [(int(r), int(c)) for r, c in np.argwhere(stand)]
    if mode == "platformer":  # start near the left edge
        cells = [rc for rc in cells if rc[1] <= max(2, w // 4)] or cells
    if not cells:
        return None
    start = rng.choice(cells)
    g = np.array([list(r) for r in rows])
    free = [(int(r), int(c)) for r, c in np.argwhere(stand)
            if abs(r - start[0]) + abs(c - start[1]) > 1]
    for rc in rng.sample(free, min(len(free), int(gen["hazards"].draw(rng)))):
        g[rc] = "^"
    rows = tuple("".join(r) for r in g)
    probe = LevelSpec(name, mode, rows, _b(start), _b(start), jump_height=jump)
    graph = player_graph(probe)
    dist = distances_from(graph, _b(start)[0] * graph.width + _b(start)[1])
    dist = graph.tile_min(np.where(dist < 0, 1 << 40, dist)).reshape(h + 2, w + 2)[1:-1, 1:-1]
    stand = standable(probe)[1:-1, 1:-1]
    goal_ok = stand & (dist < 1 << 40) & (dist > 0)
    if not goal_ok.any():
        return None
    lo, hi = int(gen["goal_distance"].lo), int(gen["goal_distance"].hi)
    want = int(gen["goal_distance"].draw(rng))
    in_range = goal_ok & (dist >= lo) & (dist <= hi)
    if in_range.any():
        options = np.argwhere(in_range & (dist == want)) if (in_range & (dist == want)).any() \
            else np.argwhere(in_range)
    else:  # nothing in range: the reachable tiles closest to it
        gap = np.where(goal_ok, np.maximum(lo - dist, dist - hi), 1 << 40)
        options = np.argwhere(gap == gap.min())
    goal = tuple(int(x) for x in options[rng.randrange(len(options))])
    opponents = _opponents(gen, rng, stand & (dist < 1 << 40), start, goal, mode)
    return LevelSpec(name, mode, rows, _b(start), _b(goal),
                     player_speed=round(float(gen["player_speed"].draw(rng)), 4),
                     jump_height=jump, guard_radius=int(gen["guard_radius"].draw(rng)),
                     opponents=opponents)


def _opponents(gen: dict[str, Any], rng: random.Random, reach: np.ndarray,
               start: tuple[int, int], goal: tuple[int, int], mode: str
               ) -> tuple[Opponent, ...]:
    """Spawns on reachable tiles, not on the start (nor next to it if avoidable), narrowed by
    each behaviour's spawn rule (`opponents.TABLE`: guards near the goal)."""
    cells = [(int(r), int(c)) for r, c in np.argwhere(reach) if (r, c) != start]
    far = [rc for rc in cells if abs(rc[0] - start[0]) + abs(rc[1] - start[1]) >= 3] or cells
    out = []
    for _ in range(int(gen["opponents"].draw(rng))):
        beh = str(gen["opponent_behaviour"].draw(rng))
        speed = round(float(gen["opponent_speed"].draw(rng)), 4)
        pool = TABLE[beh].spawn(far, start, goal)
        if not pool:
            break
        r, c = rng.choice(pool)
        out.append(Opponent(r + 1, c + 1, beh, speed))
    return tuple(out)


def _b(rc: tuple[int, int]) -> tuple[int, int]:
    """Map coordinates -> bordered coordinates."""
    return int(rc[0]) + 1, int(rc[1]) + 1
