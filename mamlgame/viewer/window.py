"""A plain pygame window that shows RGB frames (the envs' `human` render mode)."""

from __future__ import annotations

import numpy as np

from mamlgame.viewer.app import init_pygame


class FrameWindow:
    """Opens a `width` x `height` window on first use; `show(frame)` draws an RGB array."""

    def __init__(self, width: int, height: int, title: str = "mamlgame"):
        self.pg = init_pygame(headless=False)
        self.screen = self.pg.display.set_mode((width, height))
        self.pg.display.set_caption(title)

    def show(self, frame: np.ndarray) -> None:
        self.pg.event.pump()  # keep the window responsive
        surface = self.pg.surfarray.make_surface(np.ascontiguousarray(frame.swapaxes(0, 1)))
        self.screen.blit(surface, (0, 0))
        self.pg.display.flip()

    def close(self) -> None:
        self.pg.display.quit()
