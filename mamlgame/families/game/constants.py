"""What the game engine (`mamlgame.families.game.engine`) derives from a batch of levels
alone, computed once per `Tasks` batch and reused while the same tensors come back unchanged:
`LevelConstants` (the padded width, walls with hazards, the tile patch's offsets into a
border-padded copy of the grid, which behaviours and which modes are present, `state_scale`,
and per-level tables made when first asked for: the player's successor table, the tabled
opponent behaviours' moves, the observation's own features per movement state) and
`LevelCache`, which keeps the last batch's and a pool's. Results are those of computing
them per call (and, past `TABLE_ENTRIES`, of applying the rules at every step).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Hashable
from typing import Any

import torch

from mamlgame.families.game.opponents import TABLE, Behaviour, Move, tabulate
from mamlgame.families.game.rules import (
    N_ACTIONS,
    action_moves,
    move_offsets,
    player_move,
    rise_levels,
    successor_table,
)
from mamlgame.families.game.rules import tensor_version as _version
from mamlgame.packs import Tasks

OBS_BOUND = 8.0  # every observation entry lies in [-OBS_BOUND, OBS_BOUND]
TILE_SCALE = 1000.0  # `position = "tile"`: the tile index feature is index / TILE_SCALE
# the most entries of a per-level table (`LevelConstants.table`) of a batch or pool the
# engine keeps: past it the engine applies the rule at every sub-move instead
TABLE_ENTRIES = 1 << 23


def state_scale(tasks: Tasks) -> float:
    """The divisor of the observed movement state: `TILE_SCALE`, times the power of 10 that
    keeps the batch's largest state within `OBS_BOUND`."""
    states, scale = rise_levels(tasks) * tasks["wall"].shape[1], TILE_SCALE
    while states / scale > OBS_BOUND:
        scale *= 10
    return scale


_LEVEL_KEYS = ("wall", "hazard", "goal", "grid", "dims", "speed", "jump", "platformer",
               "opp_speed", "opp_mask", "opp_beh", "opp_pos", "potential")
_LEVEL_TENSORS = operator.itemgetter(*_LEVEL_KEYS)


class LevelConstants:
    """What the engine derives from a batch of levels alone, for `view` radius patches (with
    a goal channel when `goal`)."""

    def __init__(self, tasks: Tasks, view: int, goal: bool):
        t = len(tasks)
        self._refer(tasks)
        self.key = (view, goal)
        self.height, self.width = tasks["grid"][0].tolist()
        hh, ww = self.height, self.width
        self.wall, self.hazard = tasks["wall"], tasks["hazard"]
        self.blocked = self.wall | self.hazard
        self.off = move_offsets(ww)
        self.goal = tasks["goal"][:, None]
        # what the player's move onto each tile ends [T, N]: 1 goal, 3 hazard, 0 nothing
        self.ending = torch.where(self.hazard, 3, 0).scatter_(1, self.goal, 1)
        self.mask = tasks["opp_mask"][:, None, :]
        self.home = tasks["opp_pos"][:, None, :]
        self.speed, self.opp_speed = tasks["speed"].view(t, 1), tasks["opp_speed"][:, None, :]
        self.platformer, self.jump = tasks["platformer"].view(t, 1), tasks["jump"].view(t, 1)
        beh = torch.where(self.mask, tasks["opp_beh"][:, None, :], -1)
        present = sorted(set(beh[self.mask].tolist()))
        self.mine = {i: beh == i for i in present}  # [T, 1, M] per present behaviour
        self.modes = _modes(tasks["platformer"].tolist())  # (any topdown, any platformer)
        divisors = (tasks["dims"].view(t, 1, 2).float() - 1).clamp(min=1)
        self.rows, self.cols = divisors[..., 0], divisors[..., 1]  # of the observed position
        self.state_scale = state_scale(tasks)
        # the patch channels (walls, hazards and, with `goal`, the goal) of the grid with a
        # border of `view` tiles (walls, no hazard, never the goal), one block per channel,
        # and the offsets from a tile's index to its patch's tiles in them (`patch`)
        pw = ww + 2 * view
        border = (view, view, view, view)
        blocks = [torch.nn.functional.pad(self.wall.view(t, hh, ww), border, value=True),
                  torch.nn.functional.pad(self.hazard.view(t, hh, ww), border)]
        size = blocks[0][0].numel()
        blocks = [b.view(t, size) for b in blocks]
        if goal:
            at_goal = (tasks["goal"] // ww + view) * pw + tasks["goal"] % ww + view
            blocks.append(torch.zeros(t, size, dtype=torch.bool, device=self.wall.device).scatter_(
                1, at_goal.view(t, 1), True))
        self.channels = torch.cat(blocks, 1)
        self.offsets = _patch_offsets(view, pw, len(blocks), size, self.wall.device)
        self.side2 = (2 * view + 1) ** 2
        self.row_shift = 2 * view  # a tile's index in the padded grid - its own, per row
        self._derived: dict = {}  # `table`'s and `memo`'s, once asked for
        self._pool: tuple[LevelConstants, torch.Tensor] | None = None  # (pool, rows)

    _ROWS = ("blocked", "goal", "ending", "mask", "home", "speed", "opp_speed", "platformer",
             "jump", "rows", "cols", "channels")  # per-level tensors, indexed by `select`

    def select(self, tasks: Tasks, index: torch.Tensor) -> LevelConstants:
        """The constants of `tasks`, which holds the levels `index` of the batch these were
        computed from: indexed, not recomputed."""
        out = object.__new__(LevelConstants)
        out.__dict__.update({k: v for k, v in self.__dict__.items()
                             if k not in ("row_behaviours", "scale_shared", "one_move")})
        out._derived, out._pool = {}, (self, index)
        out._refer(tasks)
        out.wall, out.hazard = tasks["wall"], tasks["hazard"]
        for name in self._ROWS:
            setattr(out, name, getattr(self, name).index_select(0, index))
        rows = self.row_behaviours
        present = set().union(*(rows[i] for i in index.tolist()))
        out.mine = {i: self.mine[i].index_select(0, index) for i in sorted(present)}
        plat = self.sources["platformer"].tolist()
        out.modes = _modes([plat[i] for i in index.tolist()])
        out.state_scale = self.state_scale if self.scale_shared else state_scale(tasks)
        return out

    def table(self, key: Hashable, make: Callable[[LevelConstants], torch.Tensor | None]
              ) -> tuple[torch.Tensor, torch.Tensor, int] | None:
        """A per-level table `make(self)` [T, K] kept as the engine reads it: flat, each
        level's start in it [T, 1] and K; None where `make` gives None (past
        `TABLE_ENTRIES`: `fits`). Levels drawn from a pool (`select`) read the pool's, made
        once."""
        key = ("table", key)
        if key not in self._derived:
            if self._pool is not None:
                pool, rows = self._pool
                got = pool.table(key[1], make)
                self._derived[key] = got and (got[0], got[1].index_select(0, rows), got[2])
            elif (table := make(self)) is None:
                self._derived[key] = None
            else:
                t, k = table.shape
                start = torch.arange(t, device=table.device).view(t, 1) * k
                self._derived[key] = (table.reshape(-1), start, k)
        return self._derived[key]

    @property
    def table_scale(self) -> float:
        """The `state_scale` that `table`'s tables were made with: the pool's for levels
        drawn from one (`select`), else these levels' own."""
        return self.state_scale if self._pool is None else self._pool[0].state_scale

    def memo(self, key: Hashable, make: Callable[[LevelConstants], Any]) -> Any:
        """`make(self)`, made once for these levels."""
        key = ("memo", key)
        if key not in self._derived:
            self._derived[key] = make(self)
        return self._derived[key]

    def wide(self, key: Hashable, x: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        """`x`, a tensor of these levels known by `key` ([T, 1, ...]), expanded to `shape`
        and made contiguous once: an op costs less on it than on a broadcast view (the same
        values)."""
        got = self._derived.get(("wide", key, shape))  # (every step asks: no `memo` closure)
        if got is None:
            got = self._derived[("wide", key, shape)] = x.expand(shape).contiguous()
        return got

    def fits(self, size: int) -> bool:
        """Whether a table of `size` entries per level of this batch is within
        `TABLE_ENTRIES`."""
        return len(self.wall) * size <= TABLE_ENTRIES

    def successors(self) -> tuple[torch.Tensor, torch.Tensor, int] | None:
        """The player's successor table (`rules.successor_table`) as `table` keeps it, with
        the states S per action in place of its size (the state after action a from s is at
        start + a * S + s); None past `TABLE_ENTRIES` entries."""
        got = self.table("successors", _successors)
        return got and (got[0], got[1], got[2] // N_ACTIONS)

    def player(self, action: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        """The movement state after one sub-move of `action` [T, E] from states [T, E]: read
        from the successor table, or by the rule where the table would be too big."""
        table = self.successors()
        if table is not None:
            flat, start, size = table
            at_action = start + action * size
            return lambda s: flat.take(at_action + s)
        n = self.wall.shape[1]
        amoves = action_moves(action, self.width, *self.modes)

        def move(s: torch.Tensor) -> torch.Tensor:
            p, r = player_move(self.wall, self.width, s % n, s // n, amoves, self.platformer,
                               self.jump)
            return r * n + p
        return move

    def tabled(self, behaviour: Behaviour, opp: torch.Tensor, odir: torch.Tensor
               ) -> Move | None:
        """A `tabled` behaviour's moves of opponents at `opp` heading `odir` [T, E, M], read
        from its table of these levels (`opponents.tabulate`; None where it would not fit)."""
        def make(c: LevelConstants) -> torch.Tensor | None:
            if not c.fits(5 * c.wall.shape[1]):
                return None
            return tabulate(behaviour, c.sources, c.blocked, c.width, c.modes)
        got = self.table(("tabled", behaviour), make)
        if got is None:
            return None
        flat, start, _ = got
        code = flat.take(self.wide(("tabled starts", behaviour), start.view(-1, 1, 1), opp.shape)
                         + opp * 5 + odir)
        return Move(code // 5, code % 5)

    def walkers(self) -> torch.Tensor:
        """The opponents [T, 1, M] of behaviours with a `target` (one tensor per levels)."""
        def make(c: LevelConstants) -> torch.Tensor:
            walkers = torch.zeros_like(c.mask)
            for i, behaviour in enumerate(TABLE.values()):
                if behaviour.target is not None and i in c.mine:
                    walkers = walkers | c.mine[i]
            return walkers
        return self.memo("walkers", make)

    @functools.cached_property
    def scale_shared(self) -> bool:
        """Whether every level here has the batch's `state_scale` (then so has any subset)."""
        plat, jump = self.sources["platformer"], self.sources["jump"]
        kinds = {k: i for i, k in enumerate(zip(plat.tolist(), jump.tolist(), strict=True))}
        return all(state_scale(Tasks({k: v[i:i + 1] for k, v in self.sources.items()}, ("",)))
                   == self.state_scale for i in kinds.values())

    @functools.cached_property
    def one_move(self) -> bool:
        """Whether nobody here moves twice in a step: every speed (the player's, the
        opponents') is below 1 - 1e-5, so an accumulator in [0, 1] plus it, plus the 1e-6 of
        `rules.speed_moves`, stays below 2 (the engine then skips the second sub-move's
        check, which would find no one)."""
        fast = 1 - 1e-5
        return bool((self.speed < fast).all()) and bool((self.opp_speed < fast).all())

    @functools.cached_property
    def absent_still(self) -> bool:
        """Whether every absent opponent slot here has speed 0 (so it never moves: its
        accumulator stays 0, and so do its moves)."""
        return bool(((self.opp_speed == 0) | self.mask).all())

    @functools.cached_property
    def row_behaviours(self) -> list[set[int]]:
        """The behaviours present in each level."""
        beh = torch.where(self.mask, self.sources["opp_beh"][:, None], -1)
        return [set(row) - {-1} for row in beh[:, 0].tolist()]

    def matches(self, tasks: Tasks, key: tuple[int, bool]) -> bool:
        """Whether `tasks` holds the very tensors these were computed from, unchanged (two
        calls a step: each test one pass in C)."""
        return (key == self.key and all(map(operator.is_, _LEVEL_TENSORS(tasks.params), self.held))
                and tuple(map(_VERSION, self.tracked)) == self.versions)

    def _refer(self, tasks: Tasks) -> None:
        """Keep the level tensors these derive from, their identities and change counters
        (inference tensors keep none)."""
        self.sources = {k: tasks[k] for k in _LEVEL_KEYS}
        self.held = tuple(self.sources.values())
        self.tracked = tuple(v for v in self.sources.values() if not v.is_inference())
        self.versions = tuple(map(_VERSION, self.tracked))

    def patch(self, pos: torch.Tensor, row: torch.Tensor, channels: int) -> torch.Tensor:
        """The first `channels` patch channels [T, ..., channels * side ** 2] (float) around
        tiles `pos` [T, ...] of rows `row`, channel by channel, each row by row."""
        idx = (pos + row * self.row_shift)[..., None] + self.offsets[:channels * self.side2]
        t = pos.shape[0]
        return self.channels.gather(1, idx.view(t, -1)).view(idx.shape).float()


def _successors(lc: LevelConstants) -> torch.Tensor | None:
    """`rules.successor_table` of `lc`'s levels [T, A * S] if it `fits`."""
    levels, (t, n) = rise_levels(lc.sources), lc.wall.shape
    if not lc.fits(N_ACTIONS * levels * n):
        return None
    return successor_table(lc.sources, levels).view(t, -1)


def _modes(platformer: list[bool]) -> tuple[bool, bool]:
    """(any topdown level, any platformer level) of a batch's `platformer` flags."""
    return (not all(platformer), any(platformer))


@functools.cache
def _patch_offsets(view: int, width: int, blocks: int, size: int, device: torch.device
                   ) -> torch.Tensor:
    """Offsets [blocks * (2 view + 1) ** 2] from a tile's index to its patch's tiles in
    `blocks` grids of `size` tiles, `width` wide with a border of `view`, side by side."""
    span = torch.arange(-view, view + 1, device=device)
    patch = (span[:, None] * width + span[None, :]).reshape(-1) + view * (width + 1)
    return torch.cat([patch + b * size for b in range(blocks)])


class LevelCache:
    """The `LevelConstants` of the last batch of levels seen, and the potential of the last
    positions a step reached (the next step's start, when it gets those very tensors back):
    a derived view, not pickled."""

    def __init__(self) -> None:
        self.last: LevelConstants | None = None
        self.pool: LevelConstants | None = None  # of the batch `Game.select` draws from
        self.reached: tuple | None = None

    def remember(self, lc: LevelConstants, rise: torch.Tensor, pos: torch.Tensor,
                 potential: torch.Tensor) -> None:
        self.reached = (lc, rise, _version(rise), pos, _version(pos), potential)

    def potential(self, lc: LevelConstants, rise: torch.Tensor, pos: torch.Tensor
                  ) -> torch.Tensor | None:
        """The potential remembered for exactly these (unchanged) tensors, else None."""
        r = self.reached
        if r is None or r[0] is not lc or r[1] is not rise or r[3] is not pos:
            return None
        return r[5] if (r[2], r[4]) == (_version(rise), _version(pos)) else None

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()

    def get(self, tasks: Tasks, view: int, goal: bool) -> LevelConstants:
        if self.last is None or not self.last.matches(tasks, (view, goal)):
            self.last = LevelConstants(tasks, view, goal)
        return self.last

    def select(self, pool: Tasks, tasks: Tasks, index: torch.Tensor, view: int, goal: bool
               ) -> None:
        """Make the constants of `tasks` (levels `index` of `pool`) the last ones, indexed
        from `pool`'s (computed once and kept)."""
        if self.pool is None or not self.pool.matches(pool, (view, goal)):
            self.pool = LevelConstants(pool, view, goal)
        self.last = self.pool.select(tasks, index)




_VERSION = operator.attrgetter("_version")
