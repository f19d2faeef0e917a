"""Legends under drawings: a swatch and a label per entry, wrapped into rows (numpy and
Pillow's built-in font; no pygame)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from mamlgame.render.palette import BACKGROUND, LABEL
from mamlgame.render.raster import Color, canvas

Entry = tuple[np.ndarray, str]  # (RGB swatch [s, s, 3], what it means)
PAD, GAP = 8, 6  # pixels around the legend and between a swatch and its label
FRAME: Color = (150, 156, 170)  # a one-pixel frame around each swatch


@lru_cache(maxsize=8)
def _font(size: int) -> Any:
    """Pillow's built-in font (scalable where Pillow has FreeType)."""
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def text_image(text: str, size: int, color: Color = LABEL,
               background: Color = BACKGROUND) -> np.ndarray:
    """One line of `text` as RGB, `size` pixels high font, tightly cropped left and right."""
    from PIL import Image, ImageDraw

    font = _font(size)
    x0, _, x1, _ = ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox((0, 0), text, font=font)
    height = size + size // 3
    img = Image.new("RGB", (max(1, x1 - x0), height), background)
    draw = ImageDraw.Draw(img)
    _, y0, _, y1 = draw.textbbox((0, 0), text, font=font)
    draw.text((-x0, (height - y1 - y0) // 2), text, fill=color, font=font)
    return np.asarray(img)


def legend(entries: list[Entry], width: int) -> np.ndarray:
    """The entries left to right, wrapped at `width` pixels (wider when one entry needs it);
    labels in a font scaled with the swatches."""
    s = max(e[0].shape[0] for e in entries)
    labels = [text_image(label, max(11, round(s * 0.7))) for _, label in entries]
    widths = [sw.shape[1] + GAP + lb.shape[1] for (sw, _), lb in zip(entries, labels,
                                                                   strict=True)]
    width = max(width, max(widths) + 2 * PAD)
    row_h = max(s, max(lb.shape[0] for lb in labels))
    places, x, y = [], PAD, PAD
    for w in widths:
        if x > PAD and x + w > width - PAD:
            x, y = PAD, y + row_h + GAP
        places.append((x, y))
        x += w + 2 * PAD
    img = canvas(y + row_h + PAD, width)
    for (sw, _), lb, (x, y) in zip(entries, labels, places, strict=True):
        h, sy = sw.shape[0], y + (row_h - sw.shape[0]) // 2
        img[sy - 1:sy + h + 1, x - 1:x + sw.shape[1] + 1] = FRAME  # seen on any background
        img[sy:sy + h, x:x + sw.shape[1]] = sw
        x += sw.shape[1] + GAP
        ly = y + (row_h - lb.shape[0]) // 2
        img[ly:ly + lb.shape[0], x:x + lb.shape[1]] = lb
    return img


def with_legend(img: np.ndarray, entries: list[Entry]) -> np.ndarray:
    """`img` at the top left with the legend of `entries` below it (the canvas widened with
    the background colour when the legend needs more room)."""
    strip = legend(entries, img.shape[1])
    h, w = img.shape[:2]
    out = canvas(h + strip.shape[0], max(w, strip.shape[1]))
    out[:h, :w] = img
    out[h:, :strip.shape[1]] = strip
    return out
