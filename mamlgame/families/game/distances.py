"""Path distances on the player's movement graph, for the goal belief
(`mamlgame.families.game.belief`): per-level tables, built by breadth-first search in C
(scipy) and kept between batches in a cache bounded in bytes.

A level's graph: states s = rise * N + tile (N tiles of the padded grid), `succ` [S, A] the
state after one sub-move of each action; walls and hazards are never left. A distance from a
state to a tile counts the steps to reach that tile at any rise.

- `dense_tables`: every state to every tile, [N, S] per level (small maps: exact, and the
  cost grows with the square of the area).
- `cell_tables`: the two-scale tables of big maps, linear in the area: the tiles are
  grouped into square cells (at most about `cells` of them), and each level keeps the
  distance from every state to each cell's representative tile [S, C] plus the exact
  distance to every tile within a small radius of the state [S, (2r + 1)²].
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

FAR = 128.0  # the dense table's distance of unreachable tiles (and the cap of every distance)
NEAR = 255  # `local_dist`: farther than the radius (or outside the grid)
CACHE_BYTES = 128 << 20  # the per-level tables kept between batches


class _Cache:
    """Per-level tables by layout; the least recently used go first past `limit` bytes."""

    def __init__(self, limit: int):
        self.limit, self.used = limit, 0
        self.items: OrderedDict[tuple, tuple[torch.Tensor, ...]] = OrderedDict()

    def get(self, key: tuple, make: Callable[[], tuple[torch.Tensor, ...]]
            ) -> tuple[torch.Tensor, ...]:
        if key in self.items:
            self.items.move_to_end(key)
            return self.items[key]
        value = self.items[key] = make()
        self.used += sum(v.nbytes for v in value)
        while self.used > self.limit and len(self.items) > 1:
            _, old = self.items.popitem(last=False)
            self.used -= sum(v.nbytes for v in old)
        return value


_CACHE = _Cache(CACHE_BYTES)


def clear_cache() -> None:
    """Forget every cached table (benchmarks that time level preparation)."""
    _CACHE.items.clear()
    _CACHE.used = 0


def _per_level(kind: str, closed: torch.Tensor, succ: torch.Tensor,
               make: Callable[[np.ndarray, np.ndarray], tuple[torch.Tensor, ...]], *args: Any
               ) -> list[tuple[torch.Tensor, ...]]:
    """`make(blocked, succ)` for every level of the batch, cached by layout."""
    blocked, nxt = closed.cpu().numpy(), succ.cpu().numpy()
    return [_CACHE.get((kind, *args, blocked[i].tobytes(), nxt[i].tobytes()),
                       lambda i=i: make(blocked[i], nxt[i]))
            for i in range(len(blocked))]


def _searches(blocked: np.ndarray, succ: np.ndarray, tiles: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """Which of `tiles` need a search (some move leads onto them; a wall's distances are 0
    at its own rise states and unreachable elsewhere) [K] bool, and the path steps + 1 from
    each searched tile's virtual node to every state [k, S] (inf when unreachable): one
    breadth-first search per tile on the reversed graph of one level (`succ` [S, A],
    `blocked` [N]), from a virtual node linked to the tile's rise states."""
    s, a = succ.shape
    n = len(blocked)
    levels = s // n
    moving = np.flatnonzero(~np.tile(blocked, levels))  # the states with moves out
    dst = succ[moving].reshape(-1)
    entered = np.zeros(n, bool)
    entered[dst % n] = True
    searched = entered[tiles]
    found = tiles[searched]
    k = len(found)
    if not k:
        return searched, np.zeros((0, s))
    # reversed edges (succ -> state), and the virtual nodes' edges to their rise states, in
    # the row order of a CSR matrix
    rows = np.concatenate([dst, s + np.repeat(np.arange(k), levels)])
    cols = np.concatenate([np.repeat(moving, a),
                           (np.arange(levels)[None, :] * n + found[:, None]).reshape(-1)])
    order = np.argsort(rows, kind="stable")
    indptr = np.zeros(s + k + 1, np.int32)
    np.cumsum(np.bincount(rows, minlength=s + k), out=indptr[1:])
    graph = csr_matrix((np.ones(len(rows)), cols[order].astype(np.int32), indptr),
                       shape=(s + k, s + k))
    return searched, dijkstra(graph, unweighted=True, indices=np.arange(s, s + k))[:, :s]


def _lone(dist: np.ndarray, searched: np.ndarray, tiles: np.ndarray, n: int) -> None:
    """Write 0 at the rise states of each tile not `searched` into its row of `dist`."""
    lone = np.flatnonzero(~searched)
    levels = dist.shape[1] // n
    dist[lone[:, None], np.arange(levels) * n + tiles[lone][:, None]] = 0


def tile_distances(blocked: np.ndarray, succ: np.ndarray, tiles: np.ndarray) -> np.ndarray:
    """Path steps [K, S] from every state to each of `tiles` (inf when unreachable) on one
    level (`succ` [S, A], `blocked` [N]): one breadth-first search per tile on the reversed
    graph, from a virtual node linked to the tile's rise states. A tile no move leads onto
    (a wall) reaches its own rise states alone (0 steps): those rows need no search."""
    tiles = np.asarray(tiles)
    searched, found = _searches(blocked, succ, tiles)
    dist = np.full((len(tiles), succ.shape[0]), np.inf)
    _lone(dist, searched, tiles, len(blocked))
    dist[searched] = found - 1
    return dist


def _capped_distances(blocked: np.ndarray, succ: np.ndarray) -> np.ndarray:
    """`tile_distances` to every tile, capped at `FAR`, as uint8 [N, S]: each searched row
    capped and converted where the search left it (min(d + 1, FAR + 1) - 1 is min(d, FAR),
    exactly: integers and inf)."""
    n = len(blocked)
    tiles = np.arange(n)
    searched, found = _searches(blocked, succ, tiles)
    out = np.full((n, succ.shape[0]), int(FAR), np.uint8)
    _lone(out, searched, tiles, n)
    out[searched] = np.minimum(found, FAR + 1) - 1
    return out


def dense_tables(closed: torch.Tensor, succ: torch.Tensor) -> torch.Tensor:
    """goal_dist [T, N, S]: path steps from each state to each tile, capped at `FAR` (also
    the distance of unreachable tiles)."""
    def make(blocked: np.ndarray, nxt: np.ndarray) -> tuple[torch.Tensor, ...]:
        n = len(blocked)
        levels = len(nxt) // n
        if levels > 1 and _rise_free(nxt, n):  # one search of the rise-0 states, copied
            dist = np.tile(_capped_distances(blocked, nxt[:n]), (1, levels))
        else:
            dist = _capped_distances(blocked, nxt)
        return (torch.from_numpy(dist),)

    rows = _per_level("dense", closed, succ, make)
    out = torch.empty(len(rows), *rows[0][0].shape)  # float: each level's copy converts
    for i, r in enumerate(rows):
        out[i] = r[0]
    return out.to(succ.device)


def _rise_free(succ: np.ndarray, n: int) -> bool:
    """Whether a level's moves ignore the rise (a topdown level in a batch with platformer
    levels): every state's successors are its rise-0 twin's, all at rise 0. Then a state's
    distances are its twin's (a tile's rise states are reached together), and one search
    over the N rise-0 states gives the whole table."""
    first = succ[:n]
    return bool((first < n).all()) and bool((succ.reshape(-1, n, succ.shape[1]) == first).all())


def cell_side(n: int, cells: int) -> int:
    """The side of the square cells of a grid of `n` tiles with at most about `cells`."""
    return max(1, math.ceil(math.sqrt(n / cells)))


def cell_tables(closed: torch.Tensor, succ: torch.Tensor, height: int, width: int,
                cells: int) -> dict[str, torch.Tensor]:
    """The two-scale tables of a batch of big levels (see the module docstring):
    `cell_dist` [T, S, C] int16 (from each state to each cell's representative tile, the
    open tile nearest its centre; a level's largest distance + 1 when unreachable or the cell
    has no open tile), `cell_of` [T, N] (each tile's cell) and `local_dist` [T, S, (2r+1)²]
    uint8 (exact steps to the tile at each offset of the window of radius r = side around
    the state's tile, which holds the cell's representative; `NEAR` past r)."""
    side = cell_side(height * width, cells)
    radius = side
    cell_of = _cells(height, width, side)

    def make(blocked: np.ndarray, nxt: np.ndarray) -> tuple[torch.Tensor, ...]:
        reps = _representatives(blocked, cell_of, height, width, side)
        ok = reps >= 0
        dist = np.full((len(reps), len(nxt)), np.inf)
        dist[ok] = tile_distances(blocked, nxt, reps[ok])
        finite = dist[np.isfinite(dist)]
        cap = (finite.max() if len(finite) else 0) + 1
        to_rep = torch.from_numpy(np.where(np.isfinite(dist), dist, cap).T.astype(np.int16))
        return to_rep.contiguous(), _local(blocked, nxt, width, radius)

    rows = _per_level("cells", closed, succ, make, side)
    dev = succ.device
    return {"cell_dist": torch.stack([r[0] for r in rows]).to(dev),
            "cell_of": torch.from_numpy(cell_of).expand(len(rows), -1).to(dev),
            "local_dist": torch.stack([r[1] for r in rows]).to(dev)}


def _cells(height: int, width: int, side: int) -> np.ndarray:
    """The cell of every tile [N] of a `height` x `width` grid, cells of `side` x `side`."""
    rows, cols = np.divmod(np.arange(height * width), width)
    return (rows // side) * -(-width // side) + cols // side


def _representatives(blocked: np.ndarray, cell_of: np.ndarray, height: int, width: int,
                     side: int) -> np.ndarray:
    """Each cell's open tile nearest its centre [C] (-1: the cell has none)."""
    rows, cols = np.divmod(np.arange(height * width), width)
    centre = (side - 1) / 2
    score = (rows % side - centre) ** 2 + (cols % side - centre) ** 2 + blocked * 1e9
    order = np.lexsort((score, cell_of))
    n_cells = -(-height // side) * -(-width // side)
    reps = np.full(n_cells, -1)
    first = np.ones(len(order), bool)
    first[1:] = cell_of[order][1:] != cell_of[order][:-1]
    best = order[first]
    reps[cell_of[best]] = np.where(blocked[best], -1, best)
    return reps


def _local(blocked: np.ndarray, succ: np.ndarray, width: int, radius: int) -> torch.Tensor:
    """Exact steps [S, (2r+1)²] uint8 from every state to the tiles of the window of radius
    r around its tile (`NEAR` past r): r rounds of relaxation over window offsets, each
    action's successor seen from its own window (a sub-move shifts the window by at most
    one tile each way)."""
    s, a = succ.shape
    n = len(blocked)
    side = 2 * radius + 1
    cells = side * side
    dist = np.full((s, cells + 1), NEAR, np.int16)  # the last column: outside the window
    dist[:, cells // 2] = 0
    # the window index of offset (dr, dc) seen from a successor moved by (mr, mc)
    span = np.arange(-radius, radius + 1)
    dr, dc = np.meshgrid(span, span, indexing="ij")
    shift = np.empty((3, 3, cells), np.int64)
    for mr in (-1, 0, 1):
        for mc in (-1, 0, 1):
            r, c = (dr - mr).reshape(-1), (dc - mc).reshape(-1)
            inside = (np.abs(r) <= radius) & (np.abs(c) <= radius)
            shift[mr + 1, mc + 1] = np.where(inside, (r + radius) * side + c + radius, cells)
    tile = np.arange(s) % n
    moving = ~np.tile(blocked, s // n)
    maps = []
    for k in range(a):
        there = succ[:, k] % n
        mr = np.clip(there // width - tile // width, -1, 1)
        mc = np.clip(there % width - tile % width, -1, 1)
        maps.append(shift[mr + 1, mc + 1][moving])
    for _ in range(radius):
        for k in range(a):
            seen = np.take_along_axis(dist[succ[moving, k]], maps[k], 1) + 1
            dist[moving, :cells] = np.minimum(dist[moving, :cells], seen)
    # past r an entry is only an upper bound: unknown
    return torch.from_numpy(np.where(dist[:, :cells] > radius, NEAR, dist[:, :cells])
                            .astype(np.uint8))


__all__ = ["CACHE_BYTES", "FAR", "NEAR", "cell_side", "cell_tables", "clear_cache", "dense_tables",
           "tile_distances"]
