"""Opponents' path distances, computed where they are needed: `PathCache` keeps, per level,
distance rows `d(target, .)` over the opponents' graph (4-neighbour moves over open,
hazard-free tiles), filled by a breadth-first search (scipy, in C) the first time a target
tile is asked for, and answers a batch's lookups with two gathers. On small grids (at most
`WHOLE_TILES` tiles) a level's first lookup fills all its rows in one search: cheaper in
total than a search per new target as the player walks (0.5 ms against ~0.16 ms a call).

Memory and time grow with the map's area times the tiles actually used as targets (the
player's tiles, guards' posts), not with its square: a 64x64 map's row is 8.7 kB and takes
~0.15 ms. Distances are exact (int16; `FAR` when unreachable, and for every tile when the
target itself is not open).

The cache is a derived, deterministic view of the levels' tiles: a level is known by its
`digest` within a padded grid shape (and device), so it may be shared by any batch of the
same split, dropped (`clear`, or when it outgrows `MAX_BYTES`) and refilled with the same
numbers. A step that finds every row it needs does no Python loop over levels or episodes.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from mamlgame.families.game.rules import tensor_version
from mamlgame.packs.tasks import Tasks

FAR = int(torch.iinfo(torch.int16).max)  # "unreachable"; every real distance is smaller
MAX_BYTES = 256 << 20  # distance rows kept (all grids together) before starting over
WHOLE_TILES = 400  # grids of at most this many tiles fill every row of a level at once
KEPT = 2  # targets whose row starts a grid keeps (`_Grid.keep`): a guard's posts, the latest


def open_graph(open_tiles: np.ndarray, width: int) -> csr_matrix:
    """The opponents' graph of one level [N, N]: an edge between 4-neighbour open tiles
    (made in CSR form directly: each open tile's neighbours in ascending order)."""
    n = len(open_tiles)
    idx = np.flatnonzero(open_tiles)
    nb = idx[:, None] + np.array([-width, -1, 1, width])  # [K, 4]
    ok = (nb >= 0) & (nb < n)
    ok[ok] = open_tiles[nb[ok]]
    indptr = np.zeros(n + 1, np.int32)
    indptr[idx + 1] = ok.sum(1)
    np.cumsum(indptr, out=indptr)
    # (float64 weights: the searches' own type, which they would otherwise copy it to)
    return csr_matrix((np.ones(int(indptr[-1])), nb[ok].astype(np.int32), indptr), shape=(n, n))


def distance_rows(graph: csr_matrix, open_tiles: np.ndarray, targets: np.ndarray
                  ) -> np.ndarray:
    """Rows [len(targets), N] int16 of path distances from each target tile (`FAR` when
    unreachable; a target that is not open reaches nothing, itself included)."""
    targets = np.asarray(targets)
    rows = np.full((len(targets), len(open_tiles)), FAR, np.int16)
    searched = open_tiles[targets]  # the others reach nothing: no search
    if searched.any():
        d = dijkstra(graph, indices=targets[searched], unweighted=True)
        rows[searched] = np.minimum(d, FAR, out=d)  # (every real distance is below FAR)
    return rows


# a grid's rows are written in place as levels come: they are made and grown as ordinary
# tensors also when the engine runs in inference mode (a rollout, the vector envs), so any
# later caller, in inference mode or not, may still add to them
_ordinary_tensors = torch.inference_mode(False)


class _Grid:
    """The rows of every level seen in one padded grid shape, on one device."""

    @_ordinary_tensors
    def __init__(self, n: int, device: torch.device):
        if n >= FAR:
            raise ValueError(f"a padded grid of {n} tiles is too large for opponent paths "
                             f"(at most {FAR - 1})")
        self.n, self.device = n, device
        self.digests = torch.zeros(0, dtype=torch.long, device=device)  # sorted
        self.slot_of = torch.zeros(0, dtype=torch.long, device=device)  # same order
        self.open: list[tuple[np.ndarray, int]] = []  # per slot: open tiles, width
        self._graphs: dict[int, csr_matrix] = {}  # per slot, made when first searched
        # where the row of (slot, target) starts in `rows` flattened (row index * n; -1:
        # not computed yet) [L, N]
        self.start_of = torch.zeros(0, self.n, dtype=torch.long, device=device)
        self.rows = torch.full((1, self.n), FAR, dtype=torch.int16, device=device)  # 0: FAR
        self.used = 1
        # the last batch's digests, its slots and the `need` masks all of whose rows are known
        self._last: tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]] | None = None
        self.whole_only = True  # every level's rows were filled whole (none lazily)
        self._starts: dict[tuple[int, ...], torch.Tensor] = {}  # `level_start`'s, last batch
        # the row starts of the last batch's latest targets (`known`), at most `KEPT`
        self._known: OrderedDict[tuple[int, int], tuple] = OrderedDict()

    @property
    def nbytes(self) -> int:
        return self.rows.numel() * 2 + self.start_of.numel() * 8

    def slots(self, tasks: Tasks) -> torch.Tensor:
        """Each level's slot [T] (new levels are added: a loop over those only)."""
        return self.lookup(tasks)[0]

    def lookup(self, tasks: Tasks) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Each level's slot [T], and the `need` masks of this batch whose rows are all known
        (a list to add to)."""
        digest = tasks["digest"]
        if self._last is not None and self._last[0] is digest:  # the same batch again
            return self._last[1], self._last[2]
        if len(self.digests):
            pos = torch.searchsorted(self.digests, digest).clamp(max=len(self.digests) - 1)
            known = self.digests[pos] == digest
        else:
            known = torch.zeros_like(digest, dtype=torch.bool)
        if not bool(known.all()):
            self._add(tasks, (~known).nonzero()[:, 0].tolist())
        slots = self.slot_of[torch.searchsorted(self.digests, digest)]
        self._last = (digest, slots, [])
        self._starts = {}
        self._known.clear()
        return slots, self._last[2]

    def level_start(self, shape: tuple[int, ...]) -> torch.Tensor:
        """Where each level of the last batch (`lookup`) starts in `start_of` flattened,
        as a contiguous tensor of `shape` ([T, ...]: an op costs less on it than on a
        broadcast view)."""
        if shape not in self._starts:
            slots = self._last[1]
            self._starts[shape] = (slots * self.n).view(len(slots), *[1] * (len(shape) - 1)
                                                        ).expand(shape).contiguous()
        return self._starts[shape]

    def known(self, target: torch.Tensor, need: torch.Tensor) -> torch.Tensor | None:
        """The row starts `keep` kept for these very (unchanged) `target` and `need` tensors
        of the last batch, else None."""
        got = self._known.get((id(target), id(need)))
        if (got is None or got[0] is not target or got[1] is not need
                or got[2] != (tensor_version(target), tensor_version(need))):
            return None
        self._known.move_to_end((id(target), id(need)))
        return got[3]

    def keep(self, target: torch.Tensor, need: torch.Tensor, start: torch.Tensor) -> None:
        """Keep `start`, the row starts of `target` where `need` (0 elsewhere), all of whose
        rows are known: a target asked for again (a guard's post) skips their lookup. The
        `KEPT` latest are kept (the others: the player's tiles, new at every step)."""
        self._known[(id(target), id(need))] = (
            target, need, (tensor_version(target), tensor_version(need)), start)
        while len(self._known) > KEPT:
            self._known.popitem(last=False)

    @_ordinary_tensors
    def _add(self, tasks: Tasks, new: list[int]) -> None:
        width = int(tasks["grid"][0, 1])
        blocked = (tasks["wall"] | tasks["hazard"]).cpu().numpy()
        added = {}
        for i in new:
            key = int(tasks["digest"][i])
            if key in added or bool((self.digests == key).any()):
                continue
            added[key] = len(self.open)
            self.open.append((~blocked[i], width))
        keys = torch.tensor(list(added), dtype=torch.long, device=self.device)
        slots = torch.tensor(list(added.values()), dtype=torch.long, device=self.device)
        digests, order = torch.sort(torch.cat([self.digests, keys]))
        self.digests, self.slot_of = digests, torch.cat([self.slot_of, slots])[order]
        grow = torch.full((len(added), self.n), -1, dtype=torch.long, device=self.device)
        self.start_of = torch.cat([self.start_of, grow])

    def graph(self, slot: int) -> tuple[csr_matrix, np.ndarray]:
        """The graph of level `slot` (made when first asked for) and its open tiles."""
        open_tiles, width = self.open[slot]
        if slot not in self._graphs:
            self._graphs[slot] = open_graph(open_tiles, width)
        return self._graphs[slot], open_tiles

    @_ordinary_tensors
    def fill(self, slots: torch.Tensor, targets: torch.Tensor) -> None:
        """Compute the rows of (slot, target) pairs [K] not yet known (a loop over levels)."""
        self._fill_pairs(torch.unique(torch.stack([slots, targets], 1).cpu(), dim=0).numpy())

    @_ordinary_tensors
    def fill_levels(self, slots: torch.Tensor) -> None:
        """Compute every row of the levels `slots` (distinct, ascending) [L]: what `fill` of
        each of their tiles computes, written in one block."""
        slots = slots.cpu().numpy()
        tiles = np.arange(self.n)
        new = np.concatenate([distance_rows(*self.graph(int(slot)), tiles) for slot in slots])
        first = self._reserve(len(new))
        self.rows[first:self.used] = torch.from_numpy(new).to(self.device)
        starts = torch.arange(first, self.used, device=self.device) * self.n
        self.start_of[torch.from_numpy(slots).to(self.device)] = starts.view(len(slots), self.n)

    def _reserve(self, add: int) -> int:
        """Room for `add` more rows; returns the first of them (`used` counts them)."""
        if self.used + add > len(self.rows):
            size = max(self.used + add, 2 * len(self.rows))
            grown = torch.full((size, self.n), FAR, dtype=torch.int16, device=self.device)
            grown[:self.used] = self.rows[:self.used]
            self.rows = grown
        self.used += add
        return self.used - add

    def _fill_pairs(self, pairs: np.ndarray) -> None:
        """`fill` of distinct (slot, target) pairs [K, 2], sorted."""
        for slot in np.unique(pairs[:, 0]):
            graph, open_tiles = self.graph(int(slot))
            tiles = pairs[pairs[:, 0] == slot, 1]
            new = torch.from_numpy(distance_rows(graph, open_tiles, tiles)).to(self.device)
            first = self._reserve(len(tiles))
            idx = torch.arange(first, self.used, device=self.device)
            self.rows[idx] = new
            self.start_of[int(slot), torch.from_numpy(tiles).to(self.device)] = idx * self.n

    @_ordinary_tensors
    def forget_rows(self) -> None:
        self.start_of.fill_(-1)
        self.rows = self.rows[:1].clone()
        self.used = 1
        self._last = None
        self._known.clear()


class PathCache:
    """Lazy opponent path distances of any levels (see the module docstring)."""

    def __init__(self, max_bytes: int = MAX_BYTES):
        self.max_bytes = max_bytes
        self._grids: dict[tuple[str, int, int], _Grid] = {}
        self._last: tuple[torch.Tensor, torch.device, _Grid] | None = None  # of `_grid`

    def __getstate__(self) -> dict:
        return {"max_bytes": self.max_bytes}  # a derived view: never pickled

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["max_bytes"])

    @property
    def nbytes(self) -> int:
        """Bytes held (rows and row indices, all grids)."""
        return sum(g.nbytes for g in self._grids.values())

    def clear(self) -> None:
        self._grids.clear()
        self._last = None

    def _grid(self, tasks: Tasks, device: torch.device) -> _Grid:
        """The rows of `tasks`' padded grid shape on `device` (created when first asked)."""
        last = self._last
        if last is not None and last[0] is tasks["grid"] and last[1] == device:
            return last[2]
        hh, ww = (int(x) for x in tasks["grid"][0])
        key = (str(device), hh, ww)
        grid = self._grids.get(key)
        if grid is None:
            grid = self._grids[key] = _Grid(hh * ww, device)
        self._last = (tasks["grid"], device, grid)
        return grid

    def distances(self, tasks: Tasks, target: torch.Tensor, tiles: torch.Tensor,
                  need: torch.Tensor) -> torch.Tensor:
        """Path distances [T, ...] (long) from `target` [T, E, M] to `tiles` [T, E, M, ...]
        where `need` (broadcast to [T, E, M]); elsewhere `FAR`. Rows first asked for are
        computed here: on grids of at most `WHOLE_TILES` tiles, every row of a level at
        once (while they fit in `max_bytes`), after which the same `need` tensor of the same
        batch skips the check for missing rows."""
        grid = self._grid(tasks, target.device)
        t = target.shape[0]
        level, ready = grid.lookup(tasks)
        start = grid.known(target, need)
        if start is None:
            at_target = grid.level_start(target.shape) + target
            start = grid.start_of.take(at_target)
            if not any(m is need for m in ready):  # its levels' rows may be missing
                wide = need.expand_as(target)
                missing = wide & (start < 0)
                if bool(missing.any()):
                    self._fill(grid, level.view(t, *[1] * (target.dim() - 1)).expand_as(target),
                               target, wide, missing)
                    start = grid.start_of.take(at_target)
                if grid.whole_only:
                    ready.append(need)
            start = start * need  # 0: the FAR row (a product by the flags: no scalar tensor)
            if any(m is need for m in ready):
                grid.keep(target, need, start)
        extra = tiles.dim() - start.dim()
        return grid.rows.take(start.view(*start.shape, *[1] * extra) + tiles).long()

    def _fill(self, grid: _Grid, slots: torch.Tensor, target: torch.Tensor, need: torch.Tensor,
              missing: torch.Tensor) -> None:
        """Compute the `missing` rows: the whole levels where the grid is small and they fit,
        else those rows only (and when those do not fit either, start over)."""
        held = sum(g.used * g.n * 2 for g in self._grids.values())
        levels = torch.unique(slots[missing])
        if grid.n <= WHOLE_TILES and held + len(levels) * grid.n ** 2 * 2 <= self.max_bytes:
            grid.fill_levels(levels)
            return
        grid.whole_only = False
        if held + int(missing.sum()) * grid.n * 2 > self.max_bytes:
            for g in self._grids.values():  # start over; keep what this call needs
                g.forget_rows()
            missing = need
        grid.fill(slots[missing], target[missing])


def level_distances(tasks: Tasks, index: int, targets: np.ndarray | list[int]) -> np.ndarray:
    """Rows [len(targets), N] of path distances in level `index` of `tasks` (int16, `FAR`
    when unreachable), computed afresh: what `PathCache` answers, for tests and tools."""
    width = int(tasks["grid"][0, 1])
    open_tiles = ~(tasks["wall"][index] | tasks["hazard"][index]).cpu().numpy()
    return distance_rows(open_graph(open_tiles, width), open_tiles, np.asarray(targets))
