"""The game's movement rules as pure batched tensor functions.

One implementation, shared by the engine (`mamlgame.families.game.engine`), the level generators'
reachability analysis and, through the engine, the Gymnasium and PettingZoo adapters.

Maps are flat: a level of `h x w` tiles sits in a padded grid of `height x width` tiles with
a wall border (row 0, column 0 and everything past the level are walls), so a tile is the
flat index `row * width + col` and the neighbours of any open tile are inside the grid.

Actions (the same 6 indices in both modes, see `ACTIONS`):

| index | topdown | platformer |
|-------|---------|------------|
| 0     | stay    | stay       |
| 1     | left    | left       |
| 2     | right   | right      |
| 3     | up      | jump       |
| 4     | down    | jump-left  |
| 5     | stay    | jump-right |

Moves (`MOVES`, used by opponents): 0 stay, 1 up, 2 down, 3 left, 4 right.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import NamedTuple

import torch

ACTIONS = {
    "topdown": ("stay", "left", "right", "up", "down", "stay"),
    "platformer": ("stay", "left", "right", "jump", "jump-left", "jump-right"),
}
N_ACTIONS = 6
MOVES = ("stay", "up", "down", "left", "right")
REVERSE = torch.tensor([0, 2, 1, 4, 3])
TOPDOWN_MOVE = torch.tensor([0, 3, 4, 1, 2, 0])
PLATFORM_MOVE = torch.tensor([0, 3, 4, 0, 3, 4])
PLATFORM_JUMP = torch.tensor([False, False, False, True, True, True])
MAX_MOVES = 2  # speeds are capped at 2 tiles per step


def move_offsets(width: int) -> torch.Tensor:
    """Flat index offsets of the 5 moves in a grid `width` tiles wide."""
    return torch.tensor([0, -width, width, -1, 1])


def at(grid: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """`grid[t, idx[t, ...]]` for grid [T, N] and idx [T, ...]."""
    if idx.dim() == 2:
        return grid.gather(1, idx)
    return grid.gather(1, idx.reshape(idx.shape[0], -1)).reshape(idx.shape)


class ActionMoves(NamedTuple):
    """What a step's actions mean for the player's sub-moves, fixed for the step: the flat
    offset of the topdown move, of the platformer's horizontal move, and whether it jumps
    (None for a mode no level of the batch plays)."""

    topdown: torch.Tensor | None
    horizontal: torch.Tensor | None
    jump: torch.Tensor | None


def action_moves(action: torch.Tensor, width: int, topdown: bool = True,
                 platformer: bool = True) -> ActionMoves:
    """`ActionMoves` of `action` in a grid `width` tiles wide, for the modes asked for."""
    off = move_offsets(width)
    dev = action.device  # the tables above are CPU constants
    return ActionMoves(off[TOPDOWN_MOVE.to(dev)[action]] if topdown else None,
                       off[PLATFORM_MOVE.to(dev)[action]] if platformer else None,
                       PLATFORM_JUMP.to(dev)[action] if platformer else None)


def player_move(wall: torch.Tensor, width: int, pos: torch.Tensor, rise: torch.Tensor,
                moves: ActionMoves, platformer: torch.Tensor, jump_height: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """One tile of player movement for every entry of `pos` [T, ...], the actions given as
    `ActionMoves` (a mode they leave out must not be played by any level).

    topdown: move one tile in the action's direction unless it is a wall.
    platformer: first the vertical part (a jump starts when standing on a wall and `rise` is
    0 and sets `rise = jump_height`; while `rise > 0` move up one tile, a wall above ends the
    jump; otherwise fall one tile when nothing is below), then one horizontal tile.
    `platformer` and `jump_height` broadcast against `pos` ([T, 1, ...]). Returns (pos, rise).
    """
    if moves.topdown is not None:
        td_next = pos + moves.topdown
        td_pos = torch.where(at(wall, td_next), pos, td_next)
        if moves.jump is None:  # topdown levels only
            return td_pos, torch.zeros_like(rise)
    assert moves.jump is not None and moves.horizontal is not None
    below = at(wall, pos + width)
    starts = moves.jump & below & (rise == 0)
    r = torch.where(starts, jump_height.expand_as(rise), rise)
    rising = r > 0
    up_free = ~at(wall, pos - width)
    goes_up = rising & up_free
    falls = ~rising & ~below
    p = torch.where(goes_up, pos - width, torch.where(falls, pos + width, pos))
    r = torch.where(goes_up, r - 1, torch.zeros_like(r))
    h_next = p + moves.horizontal
    p = torch.where(at(wall, h_next), p, h_next)
    if moves.topdown is None:  # platformer levels only
        return p, r
    return torch.where(platformer, p, td_pos), torch.where(platformer, r, torch.zeros_like(r))


def player_submove(wall: torch.Tensor, width: int, pos: torch.Tensor, rise: torch.Tensor,
                   action: torch.Tensor, platformer: torch.Tensor, jump_height: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """`player_move` for actions [T, ...] (both modes computed, as levels may mix them)."""
    return player_move(wall, width, pos, rise, action_moves(action, width), platformer,
                       jump_height)


def successor_table(tasks: Mapping[str, torch.Tensor], levels: int) -> torch.Tensor:
    """succ [T, A, S] with S = `levels` * N: the movement state (rise * N + tile) after one
    sub-move of each action from every state (a wall state stands for any open one: it is
    never occupied). The last table is kept and given again for the same, unchanged level
    tensors (the goal belief and the engine both ask for a batch's)."""
    wall, plat, jump = tasks["wall"], tasks["platformer"], tasks["jump"]
    sources = (wall, plat, jump)
    last = _LAST_SUCC[0] if _LAST_SUCC else None
    if (last is not None and last[1] == levels and all(map(operator.is_, last[0], sources))
            and last[2] == tuple(map(tensor_version, sources))
            and (torch.is_inference_mode_enabled() or not last[3].is_inference())):
        return last[3]  # (one made in inference mode, a rollout's, only for inference mode)
    width = int(tasks["grid"][0, 1])
    # each mode by its own part of `player_move` (what the rule of both modes gives it): a
    # topdown level's moves ignore the rise, so its table is its rise-0 states', once per
    # rise; a platformer level's, every state's
    rows = plat.nonzero().squeeze(1)
    if len(rows) == len(plat):
        succ = _submoves(wall, width, levels, jump, platformer=True)
    else:
        succ = _submoves(wall, width, 1, jump, platformer=False).repeat(1, 1, levels)
        if len(rows):
            succ[rows] = _submoves(wall[rows], width, levels, jump[rows], platformer=True)
    _LAST_SUCC[:] = [(sources, levels, tuple(map(tensor_version, sources)), succ)]
    return succ


def _submoves(wall: torch.Tensor, width: int, levels: int, jump: torch.Tensor,
              platformer: bool) -> torch.Tensor:
    """`successor_table` [T, A, levels * N] of levels of one mode (`platformer` or topdown)
    with walls `wall` [T, N] and jump heights `jump` [T]."""
    t, n = wall.shape
    s, dev = levels * n, wall.device
    tiles = torch.arange(n, device=dev).repeat(levels)
    tiles = torch.where(wall[:, tiles], width + 1, tiles)  # a wall state: any in-range tile
    rise = torch.arange(levels, device=dev).repeat_interleave(n).expand(t, s)
    pos = tiles.repeat(1, N_ACTIONS)
    # (one row of actions for all levels: their moves broadcast against the states)
    act = torch.arange(N_ACTIONS, device=dev).repeat_interleave(s).unsqueeze(0)
    moves = action_moves(act, width, topdown=not platformer, platformer=platformer)
    flag = torch.full((t, 1), platformer, device=dev)
    p, r = player_move(wall, width, pos, rise.repeat(1, N_ACTIONS), moves, flag, jump.view(t, 1))
    return (r.clamp(max=levels - 1) * n + p).reshape(t, N_ACTIONS, s)


_LAST_SUCC: list = []  # (level tensors, levels, their versions, table) of `successor_table`


def tensor_version(x: torch.Tensor) -> int:
    """A tensor's in-place change counter (inference tensors keep none: -1)."""
    return -1 if x.is_inference() else x._version


def rise_levels(tasks) -> int:
    """Rise states per tile in a batch of levels (the highest jump + 1; 1 without
    platformer levels): a movement state is rise * N + tile."""
    plat = tasks["platformer"]
    return int(tasks["jump"][plat].max()) + 1 if bool(plat.any()) else 1


def speed_moves(acc: torch.Tensor, speed: torch.Tensor, slow: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Fractional speeds: (moves this step, as whole floats: compare them with a sub-move's
    index; new accumulator); `acc` stays in [0, 1). `slow`: every speed is below 1 - 1e-5
    (`LevelConstants.one_move`), so the moves are 0 or 1 without the cap."""
    total = acc + speed
    moves = (total + 1e-6).floor_()
    if not slow:
        moves.clamp_(0, MAX_MOVES)
    return moves, (total - moves).clamp_(min=0.0)
