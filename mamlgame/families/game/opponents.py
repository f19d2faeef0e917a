"""Opponent behaviours, in one table: `TABLE` maps a behaviour's name to a `Behaviour` (its
batched scripted move, whether it needs path distances, where it spawns, its colour and
sprite). Everything that knows about behaviours reads the table: the engine (moves, and the
one-hot code in what an opponent observes: its index here), the level generator (spawns),
the pack schema (the names a pack may use), the drawing and the viewer's caption, `mamlgame
levels new` and the PettingZoo observation space (its size follows the table's length).

A behaviour is one entry: `register(Behaviour(...))` (and optionally a sprite
`mamlgame/assets/sprites/<name>.png`; without one it is drawn as a disc of its colour). A
level stores a behaviour as its index in the table, so the shipped four keep theirs: chase
0, patrol 1, random 2, guard 3; new ones append.

A move is a pure function of a `Context` (tensors [T, E, M] for T levels, E episodes and M
opponent slots) that returns each opponent's move (0 stay, 1 up, 2 down, 3 left, 4 right,
`rules.MOVES`) and, optionally, its new patrol direction. It is evaluated for every opponent
slot; only the entries where `ctx.mine` is true are used. Two kinds the engine steps more
cheaply, with the same moves: a `tabled` behaviour (its move depends only on the level, its
tile and direction: read from a table per level that `tabulate` fills with its own `move`),
and one with a `target` (it walks a shortest path to that tile: one `toward` serves all of
them).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple, overload

import torch

from mamlgame.families.game.rules import REVERSE, at, move_offsets
from mamlgame.packs.tasks import Tasks

Color = tuple[int, int, int]
Cell = tuple[int, int]  # (row, col) of a map, without its border
_M31 = 0x7FFFFFFF


def mix(x: torch.Tensor) -> torch.Tensor:
    """A 31-bit integer hash (no overflow in int64): the engine's per-episode random key."""
    y = (x >> 15).bitwise_xor_(x).mul_(0x2C1B3C6D).bitwise_and_(_M31)  # (in place: one
    z = (y >> 12).bitwise_xor_(y).mul_(0x297A2D39).bitwise_and_(_M31)  # buffer a round)
    return (z >> 15).bitwise_xor_(z)


@dataclass(frozen=True)
class Context:
    """What the engine gives a behaviour's move in one sub-move. Shapes [T, E, M] unless
    noted; tiles are flat indices of the padded grid (`row * width + col`)."""

    tasks: Tasks
    opp: torch.Tensor        # each opponent's tile
    home: torch.Tensor       # its spawn tile
    player: torch.Tensor     # the player's tile
    cand: torch.Tensor       # [T, E, M, 5] the tile each move leads to (stay, up, ..., right)
    direction: torch.Tensor  # the patrol direction (a move index), kept between steps
    key: torch.Tensor        # [T, E] this step's random key of the episode (31 bits)
    k: int                   # the sub-move (0 or 1: speeds up to 2 give two moves a step)
    width: int               # the padded grid's width
    blocked: torch.Tensor    # [T, N] walls and hazards
    mine: torch.Tensor       # the opponents that follow this behaviour (and exist)
    # (target [T, E, M], tiles [T, E, M, ...]) -> exact path distances [T, E, M, ...] from
    # `target` to `tiles` over open tiles (4-neighbour moves), `paths.FAR` when unreachable;
    # for behaviours with `needs_paths` (computed only where `mine`, FAR elsewhere)
    distances: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    # (any topdown level, any platformer level) in the batch: a rule for one mode may be
    # skipped when no level plays it
    modes: tuple[bool, bool] = (True, True)

    @functools.cached_property
    def free(self) -> torch.Tensor:
        """[T, E, M, 5] the tile each move leads to is open (no wall, no hazard; stay: True),
        made when first read (the shipped behaviours' moves do not)."""
        free = ~at(self.blocked, self.cand)
        free[..., 0] = True
        return free


class Move(NamedTuple):
    """A behaviour's output: moves [T, E, M] and new patrol directions (None: unchanged)."""

    move: torch.Tensor
    direction: torch.Tensor | None = None


def anywhere(cells: list[Cell], start: Cell, goal: Cell) -> list[Cell]:
    """Spawn rule: any of the candidate tiles (reachable, away from the start)."""
    return cells


def near_goal(radius: int) -> Callable[[list[Cell], Cell, Cell], list[Cell]]:
    """Spawn rule: candidate tiles within `radius` (Manhattan) of the goal, not on it
    (all candidates when there is none)."""
    def rule(cells: list[Cell], start: Cell, goal: Cell) -> list[Cell]:
        return [rc for rc in cells if abs(rc[0] - goal[0]) + abs(rc[1] - goal[1]) <= radius
                and rc != goal] or cells
    rule.__doc__ = f"within {radius} tiles of the goal"
    return rule


@dataclass(frozen=True)
class Behaviour:
    """One opponent behaviour: everything the game needs to know about it."""

    name: str                              # as written in packs ([a-z], unique)
    doc: str                               # one line: what it does (docs, schema)
    move: Callable[[Context], Move]        # the batched scripted move
    colour: Color                          # flat drawing, legend, sprite fallback
    needs_paths: bool = False              # reads `ctx.distances`
    # (candidate map cells, start, goal) -> the cells it may spawn on (the generator draws
    # one with its RNG); candidates are reachable and away from the start
    spawn: Callable[[list[Cell], Cell, Cell], list[Cell]] = anywhere
    sprite: str = ""                       # sprite file name ("": the behaviour's name)
    # its move depends only on the level, the opponent's tile and its direction (not on the
    # player, the episode's key, the sub-move or paths): the engine then reads it from a
    # table per level (`tabulate`) instead of calling `move` at every sub-move
    tabled: bool = False
    # a behaviour that walks a shortest path towards a tile: ctx -> that tile [T, E, M] (its
    # `move` is `toward` it); the engine then takes one `toward` for all such behaviours
    target: Callable[[Context], torch.Tensor] | None = None

    @property
    def sprite_name(self) -> str:
        return self.sprite or self.name


def tabulate(behaviour: Behaviour, tasks: Tasks, blocked: torch.Tensor, width: int,
             modes: tuple[bool, bool]) -> torch.Tensor:
    """A `tabled` behaviour's move and new direction from every tile and direction of each
    level [T, N * 5], as move * 5 + direction at tile * 5 + direction: `move` evaluated once
    over them all (tiles whose neighbours' neighbours leave the grid stand in for the
    nearest that do not: they are walls, never an opponent's)."""
    t, n = blocked.shape
    dev = blocked.device
    tiles = torch.arange(n, device=dev).clamp(width, n - 1 - 2 * width).repeat_interleave(5)
    dirs = torch.arange(5, device=dev).repeat(n).expand(t, 1, -1)
    opp = tiles.expand(t, 1, -1)
    cand = opp[..., None] + move_offsets(width).to(dev)
    key = torch.zeros(t, 1, dtype=torch.long, device=dev)

    def no_paths(target: torch.Tensor, tiles: torch.Tensor) -> torch.Tensor:
        raise RuntimeError(f"a tabled behaviour ({behaviour.name}) reads no path distances")
    ctx = Context(tasks, opp, opp, opp, cand, dirs, key, 0, width, blocked,
                  torch.ones_like(opp, dtype=torch.bool), no_paths, modes)
    out = behaviour.move(ctx)
    return (out.move * 5 + (dirs if out.direction is None else out.direction)).view(t, -1)


# ---- the shipped behaviours ------------------------------------------------------------------
def toward(ctx: Context, target: torch.Tensor) -> torch.Tensor:
    """The open move that most shortens the path distance to `target` (ties: the first of
    stay, up, down, left, right). A wall or hazard is `FAR` from every target, no nearer
    than staying put, so it needs no mask (`ctx.free`): the same moves as with one."""
    return ctx.distances(target, ctx.cand).long().argmin(-1)


def chase_target(ctx: Context) -> torch.Tensor:
    """The player's tile."""
    return ctx.player


def chase(ctx: Context) -> Move:
    """Step along a shortest path towards the player."""
    return Move(toward(ctx, chase_target(ctx)))


def guard_target(ctx: Context) -> torch.Tensor:
    """The player's tile while the player is within `guard_radius` (path distance) of the
    spawn tile, else the spawn tile."""
    t = ctx.opp.shape[0]
    near = ctx.distances(ctx.home, ctx.player) <= ctx.tasks["guard_radius"].view(t, 1, 1)
    return torch.where(near, ctx.player, ctx.home)


def guard(ctx: Context) -> Move:
    """Chase while the player is within `guard_radius` (path distance) of the spawn tile,
    else walk back to it."""
    return Move(toward(ctx, guard_target(ctx)))


def patrol(ctx: Context) -> Move:
    """Keep going; turn at a wall or hazard (and, standing on a platform, at its edge)."""
    t = ctx.opp.shape[0]
    odir, cand, width = ctx.direction, ctx.cand, ctx.width
    ahead = cand.gather(-1, odir[..., None])[..., 0]
    back = REVERSE.to(odir.device)[odir]  # REVERSE is a CPU constant
    behind = cand.gather(-1, back[..., None])[..., 0]
    if ctx.modes[1]:
        wall = ctx.tasks["wall"]
        plat = ctx.tasks["platformer"].view(t, 1, 1) & at(wall, ctx.opp + width) & (odir >= 3)

        def stops(x: torch.Tensor) -> torch.Tensor:
            return at(ctx.blocked, x) | (plat & ~at(wall, x + width))
    else:  # no platformer level: no platform edges
        def stops(x: torch.Tensor) -> torch.Tensor:
            return at(ctx.blocked, x)

    fwd_ok, back_ok = ~stops(ahead), ~stops(behind)
    move = torch.where(fwd_ok, odir, torch.where(back_ok, back, 0))
    return Move(move, torch.where(~fwd_ok & back_ok, back, odir))


def random_walk(ctx: Context) -> Move:
    """One of the 5 moves, from a hash of the episode's key, the sub-move and the slot."""
    return Move(mix(ctx.key[..., None] ^ _salt(ctx.k, ctx.opp.shape[2], ctx.key.device)) % 5)


@functools.cache
def _salt(k: int, m: int, device: torch.device) -> torch.Tensor:
    """`random_walk`'s salt of sub-move `k` for `m` slots [M]."""
    return (k * m + torch.arange(m, device=device) + 1) * 0x9E3779B


TABLE: dict[str, Behaviour] = {}


def register(behaviour: Behaviour) -> Behaviour:
    """Add a behaviour at the end of the table (its index: the table's length before)."""
    if not behaviour.name.isalpha() or not behaviour.name.islower():
        raise ValueError(f"behaviour name: expected lowercase letters, got {behaviour.name!r}")
    if behaviour.name in TABLE:
        raise ValueError(f"behaviour {behaviour.name!r} is already registered")
    TABLE[behaviour.name] = behaviour
    return behaviour


def unregister(name: str) -> None:
    """Remove a behaviour (levels built before keep the old indices: rebuild them)."""
    del TABLE[name]


for _b in (
    Behaviour("chase", "steps along a shortest path towards the player", chase,
              (240, 110, 40), needs_paths=True, target=chase_target),
    Behaviour("patrol", "walks back and forth, turning at walls, hazards and platform edges",
              patrol, (230, 80, 160), tabled=True),
    Behaviour("random", "takes one of the 5 moves at random (seeded per episode)",
              random_walk, (170, 170, 180)),
    Behaviour("guard", "stays at its post near the goal and chases a player within "
              "guard_radius of it", guard, (200, 40, 40), needs_paths=True,
              spawn=near_goal(2), target=guard_target),
):
    register(_b)


class _Names(Sequence[str]):
    """The behaviours' names in table order, read live (a behaviour's index is its code)."""

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[str]: ...

    def __getitem__(self, i: int | slice) -> str | Sequence[str]:
        return tuple(TABLE)[i]

    def __len__(self) -> int:
        return len(TABLE)

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(TABLE))

    def __contains__(self, name: object) -> bool:
        return name in TABLE

    def __repr__(self) -> str:
        return repr(tuple(TABLE))


BEHAVIOURS: Sequence[str] = _Names()


def behaviour_at(index: int) -> Behaviour:
    """The behaviour a level stores as `index`."""
    return list(TABLE.values())[index]


def codes(device: torch.device | str = "cpu") -> torch.Tensor:
    """The observation code of each behaviour [B, B]: row i is behaviour i's one-hot."""
    return torch.eye(len(TABLE), device=device)


def described() -> str:
    """`chase | patrol | random | guard` (the table's names), for docs and messages."""
    return " | ".join(TABLE)
