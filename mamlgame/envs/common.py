"""What both adapters share: choosing a pack and level, and one-level engine calls."""

from __future__ import annotations

import functools

import numpy as np
import torch

from mamlgame.errors import PackError
from mamlgame.families import make_family
from mamlgame.families.game import Game, draw_game
from mamlgame.packs import LevelPack, Tasks, load_pack
from mamlgame.render.raster import BACKGROUND

RENDER_MODES = ["human", "rgb_array"]


def open_game(pack: str | LevelPack, split: str, horizon: int | None) -> tuple[LevelPack, Game]:
    """The pack (a shipped name, a path or a loaded pack) and its game engine."""
    pack = pack if isinstance(pack, LevelPack) else load_pack(pack)
    game = make_family(pack, horizon)
    if not isinstance(game, Game):
        raise PackError(f"{pack.path}: the game envs need a game pack (this one is "
                        f"{pack.family})")
    pack.pool(split)  # validates the split name and generates it
    return pack, game


def level_index(pack: LevelPack, split: str, level: int | str | None) -> int | None:
    """Index into the split's pool of a level given by name or index (None: random)."""
    if level is None:
        return None
    ids = pack.pool(split).ids
    if isinstance(level, str) and not level.isdigit():
        if level not in ids:
            raise PackError(f"{pack.path}: no level named '{level}' in the {split} split")
        return ids.index(level)
    index = int(level)
    if not 0 <= index < len(ids):
        raise PackError(f"{pack.path}: level index {index} is out of range (the {split} "
                        f"split has {len(ids)} levels)")
    return index


def player_obs(game: Game, tasks: Tasks, state: dict[str, torch.Tensor]) -> np.ndarray:
    """The player's observation of a one-level, one-episode state."""
    return game.observe(tasks, state)[0, 0].numpy().astype(np.float32)


class Renderer:
    """Frames of one env: `rgb_array` returns the level drawn at `tile` pixels per tile, padded
    to the largest map of the pack (both splits), so every level gives a frame of the same
    size (video recorders and frame stacks need that); `human` shows it in a pygame window."""

    def __init__(self, pack: LevelPack, render_mode: str | None, tile: int):
        if render_mode not in RENDER_MODES + [None]:
            raise ValueError(f"render_mode must be None or one of {RENDER_MODES}, got "
                             f"{render_mode!r}")
        self.mode, self.tile, self.window, self.pack = render_mode, tile, None, pack

    @functools.cached_property
    def shape(self) -> tuple[int, int, int]:
        """The frame's shape: the pack's largest map (all splits), in pixels."""
        dims = torch.cat([self.pack.pool(s)["dims"] for s in self.pack.splits]).amax(0)
        return (int(dims[0]) * self.tile, int(dims[1]) * self.tile, 3)

    def frame(self, tasks: Tasks, state: dict[str, torch.Tensor]) -> np.ndarray:
        """The padded frame of task 0, episode 0 (the padding is the background colour)."""
        img = draw_game(tasks, state, tile=self.tile)
        out = np.empty(self.shape, np.uint8)
        out[:] = BACKGROUND
        out[:img.shape[0], :img.shape[1]] = img
        return out

    def render(self, tasks: Tasks | None, state: dict[str, torch.Tensor] | None
               ) -> np.ndarray | None:
        """The `rgb_array` frame, or None (human mode draws into its window)."""
        if self.mode is None or state is None:
            return None
        img = self.frame(tasks, state)
        if self.mode == "rgb_array":
            return img
        if self.window is None:
            from mamlgame.envs.window import FrameWindow  # pygame only when a window opens

            self.window = FrameWindow(img.shape[1], img.shape[0], "mamlgame")
        self.window.show(img)
        return None

    def close(self) -> None:
        if self.window is not None:
            self.window.close()
            self.window = None


def start_level(pack: LevelPack, game: Game, split: str, fixed: int | None,
                rng: np.random.Generator) -> tuple[Tasks, dict[str, torch.Tensor]]:
    """Pick the level (fixed, or drawn with `rng`) and reset one episode of it."""
    pool = pack.pool(split)
    index = fixed if fixed is not None else int(rng.integers(len(pool)))
    tasks = pool.select([index])
    generator = torch.Generator().manual_seed(int(rng.integers(2**31 - 1)))
    return tasks, game.reset(tasks, 1, generator)
