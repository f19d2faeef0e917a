"""Raster primitives for the pure drawings (numpy, in place) and the sprites of `assets/`.

Sprites are PNGs made by `assets/make_sprites.py`; `sprite(name, size)` returns None when the
file is missing (e.g. an install without the repository's assets) and `draw_sprite` then
draws a plain disk instead.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

Color = tuple[int, int, int]
SPRITES_DIR = Path(__file__).resolve().parents[1] / "assets" / "sprites"  # mamlgame/assets
BACKGROUND: Color = (24, 26, 33)


def canvas(height: int, width: int, color: Color = BACKGROUND) -> np.ndarray:
    """A new RGB image filled with `color`."""
    img = np.empty((height, width, 3), np.uint8)
    img[:] = color
    return img


def fill_rect(img: np.ndarray, x0: float, y0: float, x1: float, y1: float, color: Color) -> None:
    """Fill the pixel box [x0, x1) x [y0, y1), clipped to the image."""
    h, w = img.shape[:2]
    xa, xb = max(int(round(x0)), 0), min(int(round(x1)), w)
    ya, yb = max(int(round(y0)), 0), min(int(round(y1)), h)
    if xa < xb and ya < yb:
        img[ya:yb, xa:xb] = color


def disk(img: np.ndarray, cx: float, cy: float, r: float, color: Color,
         inner: float = 0.0) -> None:
    """Fill a disk of radius `r` (a ring when `inner` > 0) centred at pixel (cx, cy)."""
    h, w = img.shape[:2]
    xa, xb = max(int(cx - r - 1), 0), min(int(cx + r + 2), w)
    ya, yb = max(int(cy - r - 1), 0), min(int(cy + r + 2), h)
    if xa >= xb or ya >= yb:
        return
    yy, xx = np.mgrid[ya:yb, xa:xb]
    d2 = (xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2
    m = (d2 <= r * r) & (d2 >= inner * inner)
    img[ya:yb, xa:xb][m] = color


def polyline(img: np.ndarray, points: np.ndarray, color: Color, width: float = 1.0) -> None:
    """Draw connected segments through pixel points [n, 2] (x, y), `width` pixels thick."""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    if len(pts) == 0:
        return
    segs = [pts[:1]]
    for a, b in zip(pts[:-1], pts[1:], strict=True):
        n = max(int(np.abs(b - a).max()) + 1, 1)
        segs.append(a + (b - a) * np.linspace(0, 1, n + 1)[1:, None])
    p = np.concatenate(segs)
    h, w = img.shape[:2]
    rad = max(width / 2.0, 0.5)
    for dx in np.arange(-rad + 0.5, rad, 1.0):
        for dy in np.arange(-rad + 0.5, rad, 1.0):
            x = np.floor(p[:, 0] + dx).astype(int)
            y = np.floor(p[:, 1] + dy).astype(int)
            ok = (x >= 0) & (x < w) & (y >= 0) & (y < h)
            img[y[ok], x[ok]] = color


def blend(a: Color, b: Color, t: float) -> Color:
    """Linear mix of two colours, t in [0, 1] (0 gives a)."""
    t = min(max(float(t), 0.0), 1.0)
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


@lru_cache(maxsize=128)
def sprite(name: str, size: int) -> np.ndarray | None:
    """Sprite `name` scaled (nearest neighbour) to size x size RGBA, or None when missing."""
    path = SPRITES_DIR / f"{name}.png"
    if not path.is_file() or size < 1:
        return None
    from PIL import Image

    with Image.open(path) as im:
        rgba = np.asarray(im.convert("RGBA"))
    idx_y = (np.arange(size) * rgba.shape[0] // size)
    idx_x = (np.arange(size) * rgba.shape[1] // size)
    out = rgba[idx_y][:, idx_x].copy()
    out.setflags(write=False)
    return out


def blit(img: np.ndarray, rgba: np.ndarray, cx: float, cy: float, flip: bool = False) -> None:
    """Paste an RGBA sprite centred at pixel (cx, cy) with binary alpha, clipped."""
    sh, sw = rgba.shape[:2]
    x0, y0 = int(round(cx - sw / 2)), int(round(cy - sh / 2))
    h, w = img.shape[:2]
    xa, xb, ya, yb = max(x0, 0), min(x0 + sw, w), max(y0, 0), min(y0 + sh, h)
    if xa >= xb or ya >= yb:
        return
    src = rgba[:, ::-1] if flip else rgba
    src = src[ya - y0:yb - y0, xa - x0:xb - x0]
    m = src[..., 3] > 127
    img[ya:yb, xa:xb][m] = src[..., :3][m]


def draw_sprite(img: np.ndarray, name: str, cx: float, cy: float, size: int,
                fallback: Color, flip: bool = False) -> None:
    """A named sprite centred at (cx, cy), or a disk of `fallback` colour without the file."""
    rgba = sprite(name, int(size))
    if rgba is None:
        disk(img, cx, cy, size / 2.5, fallback)
    else:
        blit(img, rgba, cx, cy, flip)
