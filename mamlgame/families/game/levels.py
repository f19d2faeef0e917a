"""Game levels as data: `LevelSpec` (one level), ASCII maps, reachability and path distances,
and the batched tensors of a split (`specs_to_tasks`).

A spec's coordinates include a one-tile wall border: map row `i`, column `j` of an ASCII map
is tile `(i + 1, j + 1)`. Path distances use the rules of `mamlgame.families.game.rules`;
each is one breadth-first search over the level's movement graph (scipy, in C), so a level
costs time and memory about linear in its area. The opponents' path distances are not part
of a level's tensors: the engine computes them where it needs them (`paths.PathCache`).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from mamlgame.families.game.opponents import BEHAVIOURS, TABLE  # noqa: F401 (BEHAVIOURS: for importers)
from mamlgame.families.game.rules import N_ACTIONS, player_submove
from mamlgame.packs.schema import FieldError
from mamlgame.packs.tasks import Tasks

LEGEND = {"#": "wall", ".": "floor", "S": "player start", "G": "goal", "O": "opponent spawn",
          "^": "hazard"}
MODES = ("topdown", "platformer")
MAX_SIZE = 128  # hand-designed maps: rows and columns, without the border
MAX_OPPONENTS = 8


@dataclass(frozen=True)
class Opponent:
    row: int
    col: int
    behaviour: str
    speed: float


@dataclass(frozen=True)
class LevelSpec:
    """One level. `rows` hold only `#`, `.` and `^`; positions include the wall border."""

    name: str
    mode: str
    rows: tuple[str, ...]
    start: tuple[int, int]
    goal: tuple[int, int]
    player_speed: float = 1.0
    jump_height: int = 3
    guard_radius: int = 3
    opponents: tuple[Opponent, ...] = ()

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the map, without the border."""
        return len(self.rows), len(self.rows[0])

    def grid(self) -> np.ndarray:
        """Characters [h + 2, w + 2] with the wall border (no S/G/O marks)."""
        h, w = self.shape
        g = np.full((h + 2, w + 2), "#")
        g[1:-1, 1:-1] = np.array([list(r) for r in self.rows])
        return g

    def ascii(self) -> str:
        """The map with S, G and O marks, as in a pack file."""
        g = self.grid()
        for o in self.opponents:
            g[o.row, o.col] = "O"
        g[self.goal] = "G"
        g[self.start] = "S"
        return "\n".join("".join(r) for r in g[1:-1, 1:-1])

    def digest(self) -> int:
        """A content hash (without the name): equal levels have equal digests."""
        key = repr((self.mode, self.rows, self.start, self.goal, round(self.player_speed, 6),
                    self.jump_height, self.guard_radius,
                    tuple((o.row, o.col, o.behaviour, round(o.speed, 6)) for o in self.opponents)))
        return int.from_bytes(hashlib.sha256(key.encode()).digest()[:7], "little")


def parse_map(text: str) -> tuple[tuple[str, ...], tuple[int, int], tuple[int, int],
                                   list[tuple[int, int]]]:
    """ASCII map -> (rows of #.^, start, goal, opponent spawns in reading order)."""
    lines = [ln.rstrip() for ln in text.split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    legend = ", ".join(f"'{k}' {v}" for k, v in LEGEND.items())
    if not lines:
        raise FieldError(f"map: expected rows of tiles ({legend}), got an empty map")
    width = len(lines[0])
    if len(lines) > MAX_SIZE or width > MAX_SIZE:
        raise FieldError(f"map: expected at most {MAX_SIZE} x {MAX_SIZE} tiles, "
                         f"got {len(lines)} x {width}")
    rows, start, goal, spawns = [], [], [], []
    for i, line in enumerate(lines):
        if len(line) != width:
            raise FieldError(f"map: row {i + 1} has {len(line)} tiles, expected {width} "
                             "(every row the same width)")
        for j, ch in enumerate(line):
            if ch not in LEGEND:
                raise FieldError(f"map: row {i + 1}, column {j + 1}: unknown tile '{ch}' "
                                 f"(expected {legend})")
            pos = (i + 1, j + 1)
            {"S": start, "G": goal, "O": spawns}.get(ch, []).append(pos)
        rows.append("".join("." if c in "SGO" else c for c in line))
    for mark, found in (("S", start), ("G", goal)):
        if len(found) != 1:
            raise FieldError(f"map: expected exactly one '{mark}', found {len(found)}")
    if len(spawns) > MAX_OPPONENTS:
        raise FieldError(f"map: expected at most {MAX_OPPONENTS} 'O', found {len(spawns)}")
    return tuple(rows), start[0], goal[0], spawns


# ---- analysis: the player's movement graph and path distances ---------------------------
@dataclass(frozen=True)
class Graph:
    """The player's movement graph of one level at speed 1: state = rise * n + tile."""

    succ: np.ndarray      # [S, N_ACTIONS] successor state
    blocked: np.ndarray   # [S] walls (never entered) and hazards (terminal)
    n: int                # tiles in the bordered grid
    width: int

    def tile_min(self, dist: np.ndarray) -> np.ndarray:
        """Per-tile minimum over the rise states."""
        return dist.reshape(-1, self.n).min(0)


GRAPH_CACHE_BYTES = 128 << 20  # graphs kept between calls (generation, then the split's tensors)
_GRAPHS: OrderedDict[tuple[tuple[str, ...], str, int], Graph] = OrderedDict()


def player_graph(spec: LevelSpec) -> Graph:
    """Successors of every (rise, tile) under every action, by the engine's own rule (the
    most recent graphs are kept, up to `GRAPH_CACHE_BYTES`)."""
    key = (spec.rows, spec.mode, spec.jump_height)
    graph = _GRAPHS.get(key)
    if graph is None:
        graph = _GRAPHS[key] = _graph(*key)
        total = sum(g.succ.nbytes + g.blocked.nbytes for g in _GRAPHS.values())
        while total > GRAPH_CACHE_BYTES and len(_GRAPHS) > 1:
            _, old = _GRAPHS.popitem(last=False)
            total -= old.succ.nbytes + old.blocked.nbytes
    _GRAPHS.move_to_end(key)
    return graph


def _graph(rows: tuple[str, ...], mode: str, jump_height: int) -> Graph:
    g = LevelSpec("", mode, rows, (1, 1), (1, 1), jump_height=jump_height).grid()
    hh, ww = g.shape
    n = hh * ww
    platformer = mode == "platformer"
    levels = jump_height + 1 if platformer else 1
    wall = torch.from_numpy((g == "#").reshape(1, n))
    tiles = torch.arange(n).repeat(levels)
    rise = torch.arange(levels).repeat_interleave(n)
    tiles = torch.where(wall[0, tiles], torch.full_like(tiles, ww + 1), tiles)  # keep in range
    s = len(tiles)
    p, r = player_submove(wall, ww, tiles.repeat(N_ACTIONS)[None], rise.repeat(N_ACTIONS)[None],
                          torch.arange(N_ACTIONS).repeat_interleave(s)[None],
                          torch.tensor([[platformer]]), torch.tensor([[jump_height]]))
    succ = (r[0] * n + p[0]).reshape(N_ACTIONS, s).T.to(torch.int32).numpy()
    blocked_tile = (g == "#").ravel() | (g == "^").ravel()
    return Graph(np.ascontiguousarray(succ), np.tile(blocked_tile, levels), n, ww)


def _edges(graph: Graph, active: np.ndarray) -> csr_matrix:
    """The movement graph as a sparse matrix [S, S]: an edge s -> succ(s, a) for every
    action a of every state in mask `active`."""
    s = len(graph.succ)
    src = np.repeat(np.flatnonzero(active), graph.succ.shape[1])
    dst = graph.succ[active].ravel()
    return csr_matrix((np.ones(len(src), np.int8), (src, dst)), shape=(s, s))


def _steps(d: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(d), d, -1).astype(np.int64)


def distances_from(graph: Graph, source: int) -> np.ndarray:
    """Steps from state `source` to every state (-1: unreachable); hazards are not left."""
    edges = _edges(graph, ~graph.blocked)
    return _steps(dijkstra(edges, indices=source, unweighted=True))


def distances_to(graph: Graph, targets: np.ndarray) -> np.ndarray:
    """Steps from every state to the nearest state in mask `targets` (-1: unreachable); paths
    pass only through states that are not blocked."""
    edges = _edges(graph, ~graph.blocked & ~targets)
    d = dijkstra(edges.T.tocsr(), indices=np.flatnonzero(targets), unweighted=True,
                 min_only=True)
    return _steps(d)


def standable(spec: LevelSpec) -> np.ndarray:
    """Tiles [h + 2, w + 2] where the player can rest: open, no hazard, and in platformer
    mode a wall below."""
    g = spec.grid()
    ok = g == "."
    if spec.mode == "platformer":
        ok[:-1] &= g[1:] == "#"
    return ok


def check_reachable(spec: LevelSpec) -> None:
    """Raise FieldError unless the goal is reachable from the start (ignoring opponents)."""
    graph = player_graph(spec)
    s = spec.start[0] * graph.width + spec.start[1]
    gl = spec.goal[0] * graph.width + spec.goal[1]
    dist = distances_from(graph, s)
    dist = graph.tile_min(np.where(dist < 0, 1 << 40, dist))
    if dist[gl] >= 1 << 40:
        raise FieldError("map: the goal 'G' is not reachable from the start 'S'")


# ---- a split as tensors ---------------------------------------------------------------------
def specs_to_tasks(specs: list[LevelSpec]) -> Tasks:
    """Batch levels, padded to the largest map; precompute what `step` gathers.

    Keys (T levels, N = height * width padded tiles, M = most opponents, R = highest jump + 1):
    wall, hazard [T, N] bool; start, goal [T] long; dims [T, 2] (h, w) and grid [T, 2]
    (height, width of the padded grid, equal for all); platformer [T] bool; speed [T];
    jump [T] long; guard_radius [T]; potential [T, R * N] float (path distance to the goal
    per (rise, tile)); opp_pos, opp_dir [T, M] long, opp_speed [T, M], opp_beh [T, M] long
    (index into `opponents.TABLE`), opp_mask [T, M] bool; digest [T] long.
    """
    hh = max(s.shape[0] for s in specs) + 2
    ww = max(s.shape[1] for s in specs) + 2
    n, t = hh * ww, len(specs)
    m = max(1, max(len(s.opponents) for s in specs))
    levels = max(s.jump_height + 1 if s.mode == "platformer" else 1 for s in specs)
    wall = np.ones((t, hh, ww), bool)
    hazard = np.zeros((t, hh, ww), bool)
    potential = np.zeros((t, levels, hh, ww), np.float32)
    opp = np.zeros((t, m, 4), np.float64)  # row, col, behaviour, speed
    opp_mask = np.zeros((t, m), bool)
    opp_dir = np.zeros((t, m), np.int64)
    code = {name: i for i, name in enumerate(TABLE)}
    for i, s in enumerate(specs):
        g = s.grid()
        a, b = g.shape
        wall[i, :a, :b] = g == "#"
        hazard[i, :a, :b] = g == "^"
        graph = player_graph(s)
        gl = s.goal[0] * b + s.goal[1]
        targets = np.zeros(len(graph.succ), bool)
        targets[gl::graph.n] = True
        d = distances_to(graph, targets).astype(np.float32)
        d[d < 0] = d.max() + 1
        r = len(d) // graph.n
        d = d.reshape(r, a, b)
        potential[i, :, :a, :b] = np.concatenate([d, np.repeat(d[-1:], levels - r, 0)])[:levels]
        for j, o in enumerate(s.opponents):
            opp[i, j] = (o.row, o.col, code[o.behaviour], o.speed)
            opp_mask[i, j] = True
            opp_dir[i, j] = _patrol_dir(g, o.row, o.col)
    pos = np.where(opp_mask, opp[..., 0] * ww + opp[..., 1], ww + 1).astype(np.int64)
    tt = torch.tensor
    params = {
        "wall": torch.from_numpy(wall.reshape(t, n)),
        "hazard": torch.from_numpy(hazard.reshape(t, n)),
        "start": tt([s.start[0] * ww + s.start[1] for s in specs]),
        "goal": tt([s.goal[0] * ww + s.goal[1] for s in specs]),
        "dims": tt([list(s.shape) for s in specs]),
        "grid": tt([[hh, ww]] * t),
        "platformer": tt([s.mode == "platformer" for s in specs]),
        "speed": tt([float(s.player_speed) for s in specs]),
        "jump": tt([s.jump_height for s in specs]),
        "guard_radius": tt([s.guard_radius for s in specs]),
        "potential": torch.from_numpy(potential.reshape(t, levels * n)),
        "opp_pos": torch.from_numpy(pos),
        "opp_dir": torch.from_numpy(opp_dir),
        "opp_speed": torch.from_numpy(opp[..., 3].astype(np.float32)),
        "opp_beh": torch.from_numpy(opp[..., 2].astype(np.int64)),
        "opp_mask": torch.from_numpy(opp_mask),
        "digest": tt([s.digest() for s in specs]),
    }
    return Tasks(params, tuple(s.name for s in specs))


def _patrol_dir(g: np.ndarray, row: int, col: int) -> int:
    """A patrol walks right if it can move sideways, else down (moves: 1 up .. 4 right)."""
    if g[row, col + 1] != "#" or g[row, col - 1] != "#":
        return 4 if g[row, col + 1] != "#" else 3
    return 2 if g[row + 1, col] != "#" else 1
