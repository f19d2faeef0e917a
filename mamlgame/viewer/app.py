"""The viewer's app loop: events -> update -> draw, testable without a window.

`App.run(max_frames, events, recorder, max_episodes)` drives the loop. Scripted events (a
dict frame -> events) and events posted with `pygame.event.post` are handled like key presses.
An app calls `episode_over()` when an episode it counts has ended and its end banner has been
shown; the loop stops after `max_episodes` of those (watching, the episodes played while the
agent adapts are not counted). Time is virtual: each
frame advances the simulation by `speed / fps` steps, so a headless run and a recording are
the same on any machine; only a real window waits for the clock.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import numpy as np

from mamlgame.errors import MamlgameError
from mamlgame.viewer.record import Recorder

FPS = 30
HUD_BG = (14, 15, 20)
TEXT = (228, 230, 236)
DIM = (150, 156, 170)
GOOD = (90, 210, 110)
BAD = (235, 90, 80)
ACCENT = (250, 210, 40)


def init_pygame(headless: bool):
    """Import and initialise pygame (dummy video and audio drivers when headless)."""
    if headless:
        os.environ["SDL_VIDEODRIVER"] = "dummy"
        os.environ["SDL_AUDIODRIVER"] = "dummy"
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    pygame.display.init()
    pygame.font.init()
    return pygame


class App:
    """Base app: subclasses implement `handle`, `tick` (one simulation step) and `render`."""

    title = "mamlgame"

    def __init__(self, width: int, height: int, headless: bool = True, speed: float = 10.0):
        self.pg = init_pygame(headless)
        self.width, self.height, self.headless = width, height, headless
        self.surface = self.pg.Surface((width, height))
        self.screen = None
        self.speed, self.paused, self.running = float(speed), False, True
        self.frame_no, self._acc, self._single = 0, 0.0, False
        self.episodes_done, self.max_episodes = 0, None
        self._fonts: dict[int, object] = {}
        self._text_cache: dict[tuple, object] = {}

    # ---- the loop ---------------------------------------------------------------------------
    def handle(self, event) -> None:
        """React to one pygame event (quit and Esc here; subclasses add their keys)."""
        pg = self.pg
        if event.type == pg.QUIT or (event.type == pg.KEYDOWN and event.key == pg.K_ESCAPE):
            self.running = False

    def tick(self) -> None:
        """One simulation step."""

    def render(self, surface) -> None:
        """Draw the current frame onto `surface`."""

    def episode_over(self) -> bool:
        """Count an ended episode; False (and the app stops) once `max_episodes` have ended,
        else True: the app goes on to the next episode."""
        self.episodes_done += 1
        if self.max_episodes is not None and self.episodes_done >= self.max_episodes:
            self.running = False
        return self.running

    def change_speed(self, factor: float) -> None:
        self.speed = float(min(max(self.speed * factor, 0.5), 240.0))

    def step_once(self) -> None:
        """While paused: advance exactly one simulation step at the next update."""
        self._single = True

    def update(self) -> None:
        """Advance virtual time by one frame: 0 or more simulation steps."""
        if self.paused:
            n = 1 if self._single else 0
        else:
            self._acc += self.speed / FPS
            n = int(self._acc + 1e-9)
            self._acc -= n
        self._single = False
        for _ in range(n):
            self.tick()

    def draw(self) -> np.ndarray:
        """Render the frame and return it as RGB [height, width, 3]."""
        self.render(self.surface)
        return np.ascontiguousarray(self.pg.surfarray.array3d(self.surface).transpose(1, 0, 2))

    def open_window(self) -> None:
        if self.headless or self.screen is not None:
            return
        try:
            self.screen = self.pg.display.set_mode((self.width, self.height))
        except self.pg.error as e:
            raise MamlgameError(f"cannot open a window ({e}); use --headless") from None
        self.pg.display.set_caption(self.title)

    def run(self, max_frames: int | None = None,
            events: Mapping[int, Iterable] | None = None,
            recorder: Recorder | None = None, max_episodes: int | None = None) -> int:
        """Run until Esc/quit, `max_frames` or `max_episodes` ended episodes (whichever comes
        first); returns the number of frames run."""
        self.open_window()
        clock = self.pg.time.Clock()
        events = events or {}
        self.max_episodes = max_episodes
        while self.running and (max_frames is None or self.frame_no < max_frames):
            for ev in events.get(self.frame_no, ()):
                self.handle(ev)
            for ev in self.pg.event.get():
                self.handle(ev)
            if not self.running:
                break
            self.update()
            if not self.running:  # the last episode ended: its last frame is already drawn
                break
            if recorder is not None:
                recorder.add(self.draw())
            else:
                self.render(self.surface)
            if self.screen is not None:
                self.screen.blit(self.surface, (0, 0))
                self.pg.display.flip()
                clock.tick(FPS)
            self.frame_no += 1
        return self.frame_no

    def close(self) -> None:
        self.pg.display.quit()

    # ---- drawing helpers --------------------------------------------------------------------
    def font(self, size: int):
        if size not in self._fonts:
            self._fonts[size] = self.pg.font.Font(None, size)
        return self._fonts[size]

    def text(self, surface, text: str, pos: tuple[int, int], color=TEXT, size: int = 22,
             anchor: str = "topleft", max_width: int | None = None) -> None:
        """Blit one line of text (rendered surfaces are cached); with `max_width`, a smaller
        font (down to 3/4 of `size`) and then a cut ending in '...' keep it that wide."""
        key = (text, color, size, max_width)
        img = self._text_cache.get(key)
        if img is None:
            if len(self._text_cache) > 512:
                self._text_cache.clear()
            img = self._text_cache[key] = self._fitted(text, color, size, max_width)
        rect = img.get_rect(**{anchor: pos})
        surface.blit(img, rect)

    def _fitted(self, text: str, color, size: int, max_width: int | None):
        """`text` rendered at `size`, or smaller or cut to fit `max_width` pixels."""
        if max_width is not None:
            smallest = max(int(size * 0.75), 8)
            while size > smallest and self.font(size).size(text)[0] > max_width:
                size -= 1
            font = self.font(size)
            if font.size(text)[0] > max_width:
                while len(text) > 1 and font.size(text + "...")[0] > max_width:
                    text = text[:-1]
                text = text.rstrip() + "..."
        return self.font(size).render(text, True, color)

    def blit_array(self, surface, image: np.ndarray, rect: tuple[int, int, int, int]) -> None:
        """Blit an RGB array into `rect` (x, y, w, h), scaled to fit and centred."""
        h, w = image.shape[:2]
        img = self.pg.image.frombuffer(np.ascontiguousarray(image).tobytes(), (w, h), "RGB")
        x, y, rw, rh = rect
        scale = min(rw / w, rh / h)
        if abs(scale - 1.0) > 1e-6:
            img = self.pg.transform.scale(img, (max(int(w * scale), 1), max(int(h * scale), 1)))
        surface.blit(img, img.get_rect(center=(x + rw // 2, y + rh // 2)))

    def bar(self, surface, rect: tuple[int, int, int, int], frac: float, color=ACCENT) -> None:
        """A progress bar."""
        x, y, w, h = rect
        self.pg.draw.rect(surface, DIM, rect, 1)
        self.pg.draw.rect(surface, color, (x + 2, y + 2, int((w - 4) * min(max(frac, 0), 1)),
                                           h - 4))

    def frame_counter(self, surface) -> None:
        """The frame number in the bottom-right corner (keeps recorded frames distinct)."""
        self.text(surface, f"{self.frame_no}", (self.width - 4, self.height - 2), DIM, 14,
                  "bottomright")
