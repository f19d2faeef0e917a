"""Pure drawing of game levels: (tasks, state) -> an RGB array. No pygame here.

`draw_game` is the flat drawing; `draw_game_decorated` adds sprites and the trail (the look of
the viewer, previews in the viewer and recordings); `draw_game_preview` is the flat drawing
with a legend of its colours below (`mamlgame levels preview`).

`draw_game(tasks, state, task_index, episode_index, tile)` draws one episode of one level as
a uint8 array [h * tile, w * tile, 3] where (h, w) is the level's map size as written in
the pack (map row i, column j is the box `tile_box(i, j, tile)`). Tiles are flat colours
(the constants below), the player a square and the opponents discs coloured by behaviour,
so a test can check the pixel at `tile_center(i, j, tile)`. The viewer, `levels preview`
and the envs' `rgb_array` rendering all use this function. Opponents' colours and sprites
come from the behaviour table (`opponents.TABLE`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import numpy as np
import torch

from mamlgame.families.game.opponents import TABLE, behaviour_at
from mamlgame.packs import Tasks
from mamlgame.render.legend import Entry, with_legend
from mamlgame.render.palette import AGENT, BACKGROUND, GOAL, NEEDLE, TARGET, TRAIL
from mamlgame.render.raster import blend, blit, disk, draw_sprite, polyline, sprite

Color = tuple[int, int, int]
FLOOR: Color = (34, 38, 48)
WALL: Color = (110, 116, 132)
HAZARD: Color = (200, 60, 50)
START: Color = (52, 58, 72)
PLAYER: Color = (60, 140, 240)
PLAYER_WON: Color = (90, 220, 120)
PLAYER_LOST: Color = (150, 60, 200)


class _Colours(Mapping[str, Color]):
    """Behaviour name -> its colour, read live from `opponents.TABLE`."""

    def __getitem__(self, name: str) -> Color:
        return TABLE[name].colour

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(TABLE))

    def __len__(self) -> int:
        return len(TABLE)


OPPONENT: Mapping[str, Color] = _Colours()


def tile_box(row: int, col: int, tile: int) -> tuple[int, int, int, int]:
    """Pixel box (y0, x0, y1, x1) of map tile (row, col)."""
    return row * tile, col * tile, (row + 1) * tile, (col + 1) * tile


def tile_center(row: int, col: int, tile: int) -> tuple[int, int]:
    """Pixel (y, x) at the centre of map tile (row, col)."""
    return row * tile + tile // 2, col * tile + tile // 2


def _square(img: np.ndarray, row: int, col: int, tile: int, inset: int, color: Color) -> None:
    y0, x0, y1, x1 = tile_box(row, col, tile)
    img[y0 + inset:y1 - inset, x0 + inset:x1 - inset] = color


def _disc(img: np.ndarray, row: int, col: int, tile: int, radius: float, color: Color) -> None:
    y0, x0, y1, x1 = tile_box(row, col, tile)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    cy, cx = (y0 + y1 - 1) / 2, (x0 + x1 - 1) / 2
    inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius ** 2
    img[y0:y1, x0:x1][inside] = color


def _mark(img: np.ndarray, row: int, col: int, tile: int, color: Color) -> None:
    """The start or goal square."""
    _square(img, row, col, tile, max(1, tile // 8), color)


def _player(img: np.ndarray, row: int, col: int, tile: int, color: Color) -> None:
    _square(img, row, col, tile, max(1, tile // 5), color)


def _opponent(img: np.ndarray, row: int, col: int, tile: int, color: Color) -> None:
    _disc(img, row, col, tile, tile * 0.4, color)


def draw_game(tasks: Tasks, state: dict[str, torch.Tensor] | None = None, task_index: int = 0,
              episode_index: int = 0, tile: int = 24, show_goal: bool = True) -> np.ndarray:
    """One level and episode as RGB [h * tile, w * tile, 3] uint8.

    `state` is the engine's state ([T, E, ...] tensors); None draws the level as it starts.
    """
    i = task_index
    hh, ww = (int(x) for x in tasks["grid"][i])
    h, w = (int(x) for x in tasks["dims"][i])
    wall = tasks["wall"][i].reshape(hh, ww)[1:h + 1, 1:w + 1].numpy()
    hazard = tasks["hazard"][i].reshape(hh, ww)[1:h + 1, 1:w + 1].numpy()
    cells = np.where(wall[..., None], WALL, np.where(hazard[..., None], HAZARD, FLOOR))
    img = np.repeat(np.repeat(cells.astype(np.uint8), tile, 0), tile, 1)

    def rc(flat: int) -> tuple[int, int]:
        return flat // ww - 1, flat % ww - 1

    _mark(img, *rc(int(tasks["start"][i])), tile, START)
    if show_goal:
        _mark(img, *rc(int(tasks["goal"][i])), tile, GOAL)
    if state is None:
        pos, opp, outcome = int(tasks["start"][i]), tasks["opp_pos"][i], 0
    else:
        pos = int(state["pos"][i, episode_index])
        opp = state["opp"][i, episode_index]
        outcome = int(state["outcome"][i, episode_index]) if "outcome" in state else 0
    mask = tasks["opp_mask"][i]
    for j in range(len(mask)):
        if mask[j]:
            colour = behaviour_at(int(tasks["opp_beh"][i, j])).colour
            _opponent(img, *rc(int(opp[j])), tile, colour)
    player = PLAYER_WON if outcome == 1 else PLAYER_LOST if outcome >= 2 else PLAYER
    _player(img, *rc(pos), tile, player)
    return img


def game_legend(tasks: Tasks, tile: int = 24, task_index: int = 0) -> list[Entry]:
    """What each colour of `draw_game` means in level `task_index`, drawn as `draw_game`
    draws it (a swatch of `tile` pixels, 12 to 32): the tiles and marks, hazards when the
    level has any and an opponent per behaviour it has."""
    s = min(max(tile, 12), 32)

    def swatch(fill: Color, draw: Callable[..., None] | None = None, color: Color = FLOOR
               ) -> np.ndarray:
        img = np.empty((s, s, 3), np.uint8)
        img[:] = fill
        if draw is not None:
            draw(img, 0, 0, s, color)
        return img

    i = task_index
    entries = [(swatch(WALL), "wall"), (swatch(FLOOR), "floor")]
    if bool(tasks["hazard"][i].any()):
        entries.append((swatch(HAZARD), "hazard"))
    entries += [(swatch(FLOOR, _mark, START), "start"), (swatch(FLOOR, _mark, GOAL), "goal"),
                (swatch(FLOOR, _player, PLAYER), "player")]
    present = {int(b) for b, m in zip(tasks["opp_beh"][i], tasks["opp_mask"][i], strict=True)
               if m}
    entries += [(swatch(FLOOR, _opponent, behaviour_at(b).colour),
                 f"{behaviour_at(b).name} opponent") for b in sorted(present)]
    return entries


def draw_game_preview(tasks: Tasks, tile: int = 24, task_index: int = 0) -> np.ndarray:
    """`draw_game` of the level as it starts (at the top left, map tile (i, j) where
    `draw_game` puts it) with the legend of its colours below."""
    return with_legend(draw_game(tasks, None, task_index, 0, tile),
                       game_legend(tasks, tile, task_index))


def game_layout(tasks: Tasks, state: dict[str, torch.Tensor] | None = None, task_index: int = 0,
                episode_index: int = 0) -> dict:
    """Where things are in one game level and episode, in map (row, col) as `draw_game`
    draws them: the input of `decorate_game`. `state` None: the level as it starts."""
    i, e = task_index, episode_index
    hh, ww = (int(x) for x in tasks["grid"][i])
    h, w = (int(x) for x in tasks["dims"][i])

    def rc(flat: int | torch.Tensor) -> tuple[int, int]:
        return int(flat) // ww - 1, int(flat) % ww - 1

    wall = tasks["wall"][i].reshape(hh, ww)[1:h + 1, 1:w + 1].numpy()
    hazard = tasks["hazard"][i].reshape(hh, ww)[1:h + 1, 1:w + 1].numpy()
    pos = tasks["start"][i] if state is None else state["pos"][i, e]
    opp = tasks["opp_pos"][i] if state is None else state["opp"][i, e]
    outcome = 0 if state is None or "outcome" not in state else int(state["outcome"][i, e])
    opponents = [(rc(o), behaviour_at(int(b)).name) for o, b, m in zip(
        opp, tasks["opp_beh"][i], tasks["opp_mask"][i], strict=True) if m]
    return {"wall": wall, "hazard": hazard, "goal": rc(tasks["goal"][i]), "player": rc(pos),
            "opponents": opponents, "outcome": outcome}


def draw_game_decorated(tasks: Tasks, state: dict[str, torch.Tensor] | None = None,
                        trail: np.ndarray | None = None, tile: int = 24,
                        task_index: int = 0, episode_index: int = 0) -> np.ndarray:
    """`draw_game` with sprites and the trail (map (row, col) points) on top:
    the look of the viewer, for previews and recordings too."""
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
    for rc, name in layout["opponents"]:
        behaviour = TABLE.get(name)
        sprite_name = behaviour.sprite_name if behaviour is not None else name
        colour = behaviour.colour if behaviour is not None else NEEDLE
        draw_sprite(img, sprite_name, *centre(rc), int(tile * 0.95), colour)
    px, py = centre(layout["player"])
    if layout.get("outcome", 0) == 1:
        disk(img, px, py, tile * 0.5, TARGET, inner=tile * 0.4)
    elif layout.get("outcome", 0) >= 2:
        disk(img, px, py, tile * 0.5, NEEDLE, inner=tile * 0.4)
    draw_sprite(img, "player", px, py, int(tile * 0.95), AGENT)
    return img
