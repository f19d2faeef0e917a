"""A square 2D arena in world coordinates (x right, y up) drawn into pixels: the grid, a
fading trail and the goal flag. Navigation and terrain draw on it. No pygame here."""

from __future__ import annotations

import math

import numpy as np

from mamlgame.render.palette import BACKGROUND, BORDER, GOAL, GRID
from mamlgame.render.raster import Color, blend, draw_sprite, polyline


def arena_extent(*points: tuple[float, float], minimum: float = 0.6) -> float:
    """Half-width of a square view [-e, e]^2 that holds the points with a margin."""
    far = max([abs(float(c)) for p in points for c in p] + [0.0])
    return max(minimum, math.ceil((far * 1.15 + 0.05) * 4) / 4)


class ArenaView:
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

    def trail(self, img: np.ndarray, trail: np.ndarray | None, color: Color) -> None:
        """The world-coordinate trail, older segments fading out."""
        if trail is None or len(trail) < 2:
            return
        pts = self.px(np.asarray(trail)[-400:])
        n = len(pts)
        for i, (a, b) in enumerate(zip(pts[:-1], pts[1:], strict=True)):
            polyline(img, np.stack([a, b]), blend(BACKGROUND, color, 0.25 + 0.75 * (i + 1) / n),
                     2)


def flag(img: np.ndarray, gx: float, gy: float, s: int) -> None:
    """The goal flag planted just right of the goal pixel (gx, gy), which stays visible."""
    draw_sprite(img, "goal", gx + 0.45 * s, gy - 0.55 * s, s, GOAL)
