"""Human play: a person steers the player with the keyboard.

Keys: R restarts, N/P next/previous level, +/- change the speed, Esc quits; the family's
controls (its `FamilySpec.controls`) turn the arrows/WASD and space into actions: the game
moves and jumps, continuous families take a unit action (shift for fine steps), the bandit
moves a cursor and commits it with space.
"""

from __future__ import annotations

import math

import torch

from mamlgame.families import family_spec, make_family
from mamlgame.packs import LevelPack
from mamlgame.viewer.app import ACCENT, BAD, DIM, FPS, GOOD, HUD_BG, App
from mamlgame.viewer.episode import Episode, task_caption
from mamlgame.viewer.levels import LevelList

HUD_H, FOOT_H = 78, 22
END_HOLD_FRAMES = 45  # how long the end-of-episode banner stays before a restart


class KeyState:
    """Held direction keys (most recent last) and a latched press, so that a tap between two
    simulation steps still counts."""

    DIRS = ("left", "right", "up", "down", "jump")

    def __init__(self, pg):
        k = pg
        self.map = {k.K_LEFT: "left", k.K_a: "left", k.K_RIGHT: "right", k.K_d: "right",
                    k.K_UP: "up", k.K_w: "up", k.K_DOWN: "down", k.K_s: "down",
                    k.K_SPACE: "jump"}
        self.held: list[str] = []
        self.pressed: set[str] = set()  # pressed since the last step
        self.fine = False

    def press(self, key: int, mods: int = 0) -> bool:
        name = self.map.get(key)
        if name is None:
            return False
        if name in self.held:
            self.held.remove(name)
        self.held.append(name)
        self.pressed.add(name)
        return True

    def release(self, key: int) -> None:
        name = self.map.get(key)
        if name in self.held:
            self.held.remove(name)

    def active(self) -> list[str]:
        """Keys that act at this step (held or tapped since the last step), oldest first;
        clears the taps."""
        out = list(self.held) + [n for n in self.pressed if n not in self.held]
        self.pressed = set()
        return out

    def clear(self) -> None:
        self.held, self.pressed = [], set()


class PlayApp(App):
    """A person plays one pack's levels."""

    title = "mamlgame play"

    def __init__(self, pack: LevelPack, level: str | int | None = None, headless: bool = True,
                 speed: float | None = None, seed: int = 0, size: int = 480,
                 split: str | None = None):
        self.spec = family_spec(pack.family)
        super().__init__(size, size + HUD_H + FOOT_H, headless, speed or self.spec.speed)
        self.pack, self.size, self.seed = pack, size, seed
        self.family = make_family(pack)
        self.levels = LevelList(pack, split)
        self.keys = KeyState(self.pg)
        self.wins = 0
        self._end_timer = 0
        self.load(self.levels.resolve(level))

    def load(self, index: int) -> None:
        """Switch to viewer level `index` and start an episode."""
        self.index = index
        self.tasks, self.level_name = self.levels.get(index)
        self.controls = self.spec.controls(self.family, self.tasks)
        self.episode = Episode(self.family, self.tasks, self.seed)
        self.keys.clear()
        self._end_timer = 0

    def restart(self) -> None:
        self.episode.reset(self.episode.seed + 1)
        self.keys.clear()
        self._end_timer = 0

    def frames_for(self, episodes: int) -> int:
        """The frames `episodes` episodes take at most when nobody presses a key (each runs
        to the horizon at this speed, then shows its end banner): the cap of a headless run.
        A family whose controls wait for a key (the bandit's space) never ends one alone."""
        steps = math.ceil(self.family.horizon * FPS / self.speed)
        return episodes * (steps + END_HOLD_FRAMES + 2)

    def step_level(self, delta: int) -> None:
        self.load(self.levels.step(self.index, delta))

    def handle(self, event) -> None:
        super().handle(event)
        pg = self.pg
        if event.type == pg.KEYDOWN:
            mods = getattr(event, "mod", 0)
            self.keys.fine = bool(mods & pg.KMOD_SHIFT)
            if event.key == pg.K_r:
                self.restart()
            elif event.key == pg.K_n:
                self.step_level(+1)
            elif event.key == pg.K_p:
                self.step_level(-1)
            elif event.key in (pg.K_PLUS, pg.K_EQUALS, pg.K_KP_PLUS):
                self.change_speed(1.5)
            elif event.key in (pg.K_MINUS, pg.K_KP_MINUS):
                self.change_speed(1 / 1.5)
            elif not self._act_on_press(event.key):
                self.keys.press(event.key, mods)
        elif event.type == pg.KEYUP:
            self.keys.release(event.key)

    def _act_on_press(self, key: int) -> bool:
        """Let the family's controls act on a key press at once (the bandit's space)."""
        name = self.keys.map.get(key)
        action = None if name is None else self.controls.press(name)
        if action is not None:
            self.episode.step(action)
        return action is not None

    def action(self) -> torch.Tensor | None:
        """The action of this simulation step from the keys (None: wait)."""
        return self.controls.action(self.keys.active(), self.keys.fine)

    def update(self) -> None:
        if self.episode.done:
            self._end_timer += 1
            if self._end_timer >= END_HOLD_FRAMES and self.episode_over():
                self.restart()
            return
        super().update()

    def tick(self) -> None:
        if self.episode.done:
            return
        action = self.action()
        if action is not None:
            self.episode.step(action)
            self.wins += int(self.episode.done and self.episode.success)

    def render(self, surface) -> None:
        surface.fill(HUD_BG)
        ep = self.episode
        self.blit_array(surface, ep.frame(self.size), (0, HUD_H, self.size, self.size))
        self.text(surface, f"{self.pack.name}  ·  level {self.level_name} "
                  f"({self.levels.split} #{self.index})",
                  (8, 6))
        self.text(surface, f"step {ep.steps}/{self.family.horizon}   return {ep.ret:+.2f}   "
                  f"speed {self.speed:.0f}/s   wins {self.wins}", (8, 30), DIM, 20,
                  max_width=self.width - 16)
        self.text(surface, task_caption(self.family, self.tasks), (8, 54), DIM, 18,
                  max_width=self.width - 16)
        status = self.controls.status()
        if status:
            self.text(surface, status, (self.width - 8, 30), ACCENT, 20, "topright")
        if ep.done:
            self.text(surface, ep.outcome(), (self.width // 2, HUD_H + self.size // 2),
                      GOOD if ep.success else BAD, 64, "center")
        help_ = f"{self.spec.help}   R restart   N/P level   +/- speed   Esc quit"
        self.text(surface, help_, (8, self.height - 4), DIM, 15, "bottomleft",
                  max_width=self.width - 48)  # room for the frame counter
        self.frame_counter(surface)
