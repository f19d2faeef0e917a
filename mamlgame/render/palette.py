"""Colours the drawings share (the viewer, recordings, previews and `rgb_array` frames)."""

from mamlgame.render.raster import BACKGROUND, Color

GRID: Color = (44, 48, 60)
BORDER: Color = (120, 126, 140)
START: Color = (90, 96, 110)
GOAL: Color = (250, 210, 40)
AGENT: Color = (52, 120, 220)
AGENT_EDGE: Color = (230, 236, 250)
TRAIL: Color = (90, 160, 250)
NEEDLE: Color = (230, 70, 60)
TARGET: Color = (60, 200, 90)
LABEL: Color = (228, 230, 236)  # text on drawings (legends)

__all__ = ["AGENT", "AGENT_EDGE", "BACKGROUND", "BORDER", "GOAL", "GRID", "LABEL", "NEEDLE",
           "START", "TARGET", "TRAIL"]
