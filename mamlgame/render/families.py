"""Pure drawing of the continuous task families: one episode's state -> an RGB array.

No pygame here: every function returns a uint8 array [H, W, 3] that the viewer, recordings,
level previews and `rgb_array` renderers share. Sprites come from `assets/sprites/` (made by
`assets/make_sprites.py`, see `mamlgame.render.raster`).

- navigation: the arena, the start, the hidden goal (shown to the viewer), the trail, the agent.
- velocity: a runner on a scrolling track, a gauge with the target and the current speed, and
  the speed history.
- terrain: the ground coloured by friction (ice .. mud), the robot with its payload crates,
  its velocity, the goal with its success radius, and the trail.
- bandit: the action line with the hidden target and the actions taken.
"""

from __future__ import annotations

import math

import numpy as np

from mamlgame.render.raster import (  # noqa: F401 (re-exported for drawing code and tests)
    BACKGROUND,
    SPRITES_DIR,
    Color,
    blend,
    blit,
    canvas,
    disk,
    draw_sprite,
    fill_rect,
    polyline,
    sprite,
)

GRID: Color = (44, 48, 60)
BORDER: Color = (120, 126, 140)
START: Color = (90, 96, 110)
GOAL: Color = (250, 210, 40)
AGENT: Color = (52, 120, 220)
AGENT_EDGE: Color = (230, 236, 250)
TRAIL: Color = (90, 160, 250)
TRACK: Color = (170, 84, 60)
LANE: Color = (236, 220, 200)
SKY: Color = (70, 110, 170)
GAUGE: Color = (52, 56, 68)
NEEDLE: Color = (230, 70, 60)
TARGET: Color = (60, 200, 90)
ICE: Color = (190, 225, 245)
GRASS: Color = (96, 150, 70)
MUD: Color = (110, 76, 46)
CRATE: Color = (150, 100, 60)
ARROW: Color = (250, 250, 250)


# ---- 2D arenas (navigation, terrain) -------------------------------------------------------
def arena_extent(*points: tuple[float, float], minimum: float = 0.6) -> float:
    """Half-width of a square view [-e, e]^2 that holds the points with a margin."""
    far = max([abs(float(c)) for p in points for c in p] + [0.0])
    return max(minimum, math.ceil((far * 1.15 + 0.05) * 4) / 4)


class _View:
    """World (x right, y up) to pixel mapping for a square arena [-extent, extent]^2."""

    def __init__(self, size: int, extent: float):
        self.size, self.extent = size, extent
        self.scale = (size - 1) / (2 * extent)

    def px(self, p: np.ndarray) -> np.ndarray:
        p = np.asarray(p, np.float64).reshape(-1, 2)
        return np.stack([(p[:, 0] + self.extent) * self.scale,
                         (self.extent - p[:, 1]) * self.scale], -1)

    def grid(self, img: np.ndarray, color: Color = GRID, step: float = 0.25) -> None:
        n = int(self.extent / step)
        for k in range(-n, n + 1):
            x, y = self.px(np.array([k * step, k * step]))[0]
            img[:, int(x)] = color if k else BORDER
            img[min(int(y), self.size - 1), :] = color if k else BORDER


def _trail(img: np.ndarray, view: _View, trail: np.ndarray | None, color: Color) -> None:
    if trail is None or len(trail) < 2:
        return
    pts = view.px(np.asarray(trail)[-400:])
    n = len(pts)
    for i, (a, b) in enumerate(zip(pts[:-1], pts[1:], strict=True)):  # older segments fade out
        polyline(img, np.stack([a, b]), blend(BACKGROUND, color, 0.25 + 0.75 * (i + 1) / n), 2)


def _flag(img: np.ndarray, gx: float, gy: float, s: int) -> None:
    """The goal flag planted just right of the goal point (which stays visible)."""
    draw_sprite(img, "goal", gx + 0.45 * s, gy - 0.55 * s, s, GOAL)


def draw_navigation(goal: tuple[float, float], pos: tuple[float, float],
                    trail: np.ndarray | None = None, *, size: int = 320,
                    extent: float | None = None, tolerance: float = 0.01) -> np.ndarray:
    """The 2D point-mass arena: grid, start, hidden goal (flag + tolerance), trail, agent."""
    extent = extent or arena_extent(goal)
    view = _View(size, extent)
    pos = np.clip(np.asarray(pos, np.float64), -extent, extent)  # off-field: shown at the edge
    img = canvas(size, size)
    view.grid(img)
    sx, sy = view.px(np.zeros(2))[0]
    disk(img, sx, sy, size / 40, START)
    gx, gy = view.px(np.asarray(goal))[0]
    disk(img, gx, gy, max(tolerance * view.scale, size / 30), GOAL, inner=size / 30 - 2)
    disk(img, gx, gy, 2, GOAL)
    _flag(img, gx, gy, max(size // 12, 8))
    _trail(img, view, trail, TRAIL)
    ax, ay = view.px(np.asarray(pos))[0]
    disk(img, ax, ay, size / 45 + 2, AGENT_EDGE)
    disk(img, ax, ay, size / 45, AGENT)
    return img


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
    view = _View(size, extent)
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
    _flag(img, gx, gy, max(size // 12, 8))
    _trail(img, view, trail, (250, 250, 250))
    ax, ay = view.px(np.asarray(pos))[0]
    body = max(size // 9, 10)
    draw_sprite(img, "robot", ax, ay, body, AGENT)
    crates = int(math.ceil(max(float(payload), 0.0) - 1e-6))
    c = max(body // 3, 4)
    for i in range(min(crates, 6)):  # stacked beside the robot
        col, row = divmod(i, 3)
        cx, cy = ax + body / 2 + c / 2 + col * c, ay + body / 2 - c / 2 - row * c
        draw_sprite(img, "crate", cx, cy, c, CRATE)
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


# ---- velocity -------------------------------------------------------------------------------
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


# ---- bandit ---------------------------------------------------------------------------------
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


# ---- one entry point for the viewer --------------------------------------------------------
def trail_point(family: str, state: dict[str, np.ndarray], action: np.ndarray | None
                ) -> np.ndarray | None:
    """What the trail of `family` records at one step (position, speed or action)."""
    if family in ("navigation", "terrain"):
        return np.asarray(state["p"], np.float64).reshape(2)
    if family == "velocity":
        return np.asarray(state["v"], np.float64).reshape(1)
    if family == "bandit":
        return None if action is None else np.asarray(action, np.float64).reshape(1)
    return None


def draw_family(family: str, task: dict[str, float], state: dict[str, np.ndarray],
                trail: np.ndarray | None = None, *, size: int = 320, step: int = 0,
                extent: float | None = None) -> np.ndarray:
    """Draw one episode of a continuous family from its task parameters and state."""
    def f(key: str) -> float:
        return float(np.asarray(state[key]).reshape(-1)[0])

    def vec(key: str) -> tuple[float, float]:
        a = np.asarray(state[key], np.float64).reshape(2)
        return float(a[0]), float(a[1])

    if family == "navigation":
        return draw_navigation((task["goal_x"], task["goal_y"]), vec("p"), trail, size=size,
                               extent=extent)
    if family == "terrain":
        return draw_terrain((task["goal_x"], task["goal_y"]), vec("p"), vec("v"),
                            task["friction"], task["payload"], trail, size=size, extent=extent)
    if family == "velocity":
        return draw_velocity(task["target_velocity"], f("x"), f("v"), trail, size=(size, size),
                             step=step)
    if family == "bandit":
        return draw_bandit(task["target"], trail, size=size)
    raise ValueError(f"no drawing for family {family!r}")


# ---- game decoration (sprites and trail over `render.game.draw_game`) ------------------------
def game_layout(tasks, state=None, task_index: int = 0, episode_index: int = 0) -> dict:
    """Where things are in one game level and episode, in map (row, col) as `draw_game`
    draws them: the input of `decorate_game`. `state` None: the level as it starts."""
    from mamlgame.packs.game_levels import BEHAVIOURS  # noqa: PLC0415

    i, e = task_index, episode_index
    hh, ww = (int(x) for x in tasks["grid"][i])
    h, w = (int(x) for x in tasks["dims"][i])

    def rc(flat) -> tuple[int, int]:
        return int(flat) // ww - 1, int(flat) % ww - 1

    wall = tasks["wall"][i].reshape(hh, ww)[1:h + 1, 1:w + 1].numpy()
    hazard = tasks["hazard"][i].reshape(hh, ww)[1:h + 1, 1:w + 1].numpy()
    pos = tasks["start"][i] if state is None else state["pos"][i, e]
    opp = tasks["opp_pos"][i] if state is None else state["opp"][i, e]
    outcome = 0 if state is None or "outcome" not in state else int(state["outcome"][i, e])
    opponents = [(rc(o), BEHAVIOURS[int(b)]) for o, b, m in zip(
        opp, tasks["opp_beh"][i], tasks["opp_mask"][i], strict=True) if m]
    return {"wall": wall, "hazard": hazard, "goal": rc(tasks["goal"][i]), "player": rc(pos),
            "opponents": opponents, "outcome": outcome}


def draw_game_decorated(tasks, state=None, trail: np.ndarray | None = None, tile: int = 24,
                        task_index: int = 0, episode_index: int = 0) -> np.ndarray:
    """`render.game.draw_game` with sprites and the trail (map (row, col) points) on top:
    the look of the viewer, for previews and recordings too."""
    from mamlgame.render.game import draw_game  # noqa: PLC0415

    img = draw_game(tasks, state, task_index, episode_index, tile)
    return decorate_game(img, game_layout(tasks, state, task_index, episode_index), trail, tile)


def decorate_game(img: np.ndarray, layout: dict, trail: np.ndarray | None, tile: int
                  ) -> np.ndarray:
    """Sprites over a flat game drawing: bricks on walls, spikes on hazards, the goal flag, a
    look per opponent behaviour and the player; the player's trail through tile centres.

    `layout`: wall, hazard [h, w] bool; goal, player (row, col); opponents [((row, col),
    behaviour)]; outcome (0 running, 1 goal, 2 caught, 3 hazard). Returns a new array.
    """
    img = img.copy()
    wall_sprite = sprite("wall", tile)
    if wall_sprite is not None:
        for r, c in zip(*np.nonzero(layout["wall"]), strict=True):
            img[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile] = wall_sprite[..., :3]
    hazard_sprite = sprite("hazard", tile)
    if hazard_sprite is not None:
        for r, c in zip(*np.nonzero(layout["hazard"]), strict=True):
            blit(img, hazard_sprite, (c + 0.5) * tile, (r + 0.5) * tile)

    def centre(rc: tuple[int, int]) -> tuple[float, float]:
        return (rc[1] + 0.5) * tile, (rc[0] + 0.5) * tile

    gx, gy = centre(layout["goal"])
    draw_sprite(img, "goal", gx, gy, int(tile * 0.9), GOAL)
    if trail is not None and len(trail) > 1:
        pts = (np.asarray(trail, np.float64)[-300:, ::-1] + 0.5) * tile
        n = len(pts)
        for i in range(n - 1):
            polyline(img, pts[i:i + 2], blend(BACKGROUND, TRAIL, 0.3 + 0.7 * (i + 1) / n),
                     max(tile / 8, 2))
    for rc, behaviour in layout["opponents"]:
        draw_sprite(img, behaviour, *centre(rc), int(tile * 0.95), NEEDLE)
    px, py = centre(layout["player"])
    if layout.get("outcome", 0) == 1:
        disk(img, px, py, tile * 0.5, TARGET, inner=tile * 0.4)
    elif layout.get("outcome", 0) >= 2:
        disk(img, px, py, tile * 0.5, NEEDLE, inner=tile * 0.4)
    draw_sprite(img, "player", px, py, int(tile * 0.95), AGENT)
    return img


def draw_start(family: str, task: dict[str, float], size: int = 320) -> np.ndarray:
    """A continuous family's task as its episodes start (for level previews)."""
    zero2, zero = np.zeros(2), np.zeros(())
    start = {"navigation": {"p": zero2}, "terrain": {"p": zero2, "v": zero2},
             "velocity": {"x": zero, "v": zero}, "bandit": {"t": zero}}
    if family not in start:
        raise ValueError(f"no drawing for family {family!r}")
    return draw_family(family, task, start[family], None, size=size)
