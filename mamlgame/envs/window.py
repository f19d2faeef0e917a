"""A plain pygame window that shows RGB frames: the envs' `human` render mode.

It lives with the envs (not in `mamlgame.viewer`), so that the envs never import the viewer:
the viewer is the layer above, and its human-vs-agent app runs through the PettingZoo env.
pygame is imported only when a window opens, as Gymnasium's own envs do.
"""

from __future__ import annotations

import os

import numpy as np


class FrameWindow:
    """Opens a `width` x `height` window on first use; `show(frame)` draws an RGB array."""

    def __init__(self, width: int, height: int, title: str = "mamlgame"):
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        import pygame

        pygame.display.init()
        self.pg = pygame
        self.screen = pygame.display.set_mode((width, height))
        pygame.display.set_caption(title)

    def show(self, frame: np.ndarray) -> None:
        """Draw `frame` ([height, width, 3] uint8) and keep the window responsive."""
        self.pg.event.pump()
        surface = self.pg.surfarray.make_surface(np.ascontiguousarray(frame.swapaxes(0, 1)))
        self.screen.blit(surface, (0, 0))
        self.pg.display.flip()

    def close(self) -> None:
        """Close the window."""
        self.pg.display.quit()
