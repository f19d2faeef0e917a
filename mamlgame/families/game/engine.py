"""The tile game (family `game`), batched over [tasks, episodes]: topdown and platformer
levels, fractional speeds, scripted opponents, hazards, a hidden goal.

Action Space: Discrete(6), the same indices in both modes (`mamlgame.families.game.rules`):
0 stay, 1 left, 2 right, 3 up / jump, 4 down / jump-left, 5 stay / jump-right.

Step order: speeds give each mover 0..2 one-tile moves this step (fractions accumulate).
For each sub-move k = 0, 1: the player moves (if it has a k-th move), reaching the goal or a
hazard ends the episode; then the opponents move, each by its behaviour's entry in
`opponents.TABLE` (chase: along a shortest path to the player; patrol: back and forth,
turning at walls and platform edges; random; guard: chase when the player is within
`guard_radius` of its post, else return to it; path distances come from the lazy
`paths.PathCache` in `Game.paths`); an opponent on the player's tile, or swapping tiles with
it, ends the episode (`caught`).

Rewards: `step` every step, `shaping * (d_prev - d_now)` with d the path distance to the
goal (no shaping on the step onto a hazard), plus `goal`, `caught` or `hazard` on the step
that ends the episode. Termination: goal, caught, hazard; truncation at the horizon is the
caller's (the rollout or the Gymnasium adapter).

Observation (float, `obs_dim`): position (2), speed and its accumulator (2), platformer flag,
on-ground flag, rise / jump height, time / horizon (4); the tile patch of radius `view`
around the player (walls, hazards, and the goal with `observe_goal`); the nearest
`observe_opponents` opponents' relative (row, col) / 10 (within +-8) and a mask; with
`observe_goal` the goal's relative (row, col) / 10 (within +-8). The goal is not observed by
default. With `position = "onehot"`, one-hot codes of the map row and column follow the
first 8 features (`ONEHOT` each; larger maps share the last code): a first-layer weight per
row and per column, which one inner gradient step can move; `position = "tile"` adds the map
tile's index (row * `ONEHOT` + col, divided by `TILE_SCALE`) as one feature after the first
8: a tile table (`head.TileTable`, `--algo cavia`) reads its row at the player's tile;
`position = "graph"` (the default) adds instead the player's movement state (rise * N + tile
in the padded grid, divided by `state_scale(tasks)`: `TILE_SCALE`, times 10 on maps whose
states would pass `OBS_BOUND`), where a goal belief (`head.GoalBelief`, `--algo cavia`)
reads the level's path distances.

What `step` and `observe` derive from the levels alone (the padded width, walls with
hazards, the tile patch's offsets into a border-padded copy of the grid, which behaviours
are present, `state_scale`, and tables of the player's moves, of tabled opponents' moves and
of the player's own observed features per movement state) is computed once per `Tasks`
batch and reused while the same tensors come back unchanged (`constants.LevelConstants`);
results are those of computing it per call.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from mamlgame.families.base import FamilyBase, State
from mamlgame.families.game import constants
from mamlgame.families.game.constants import (
    OBS_BOUND,
    TILE_SCALE,
    LevelCache,
    LevelConstants,
    state_scale,  # noqa: F401  (re-exported: its users import it from here)
)
from mamlgame.families.game.opponents import TABLE, Context, codes, mix, toward
from mamlgame.families.game.paths import PathCache
from mamlgame.families.game.rules import MAX_MOVES, N_ACTIONS, at, rise_levels, speed_moves
from mamlgame.packs import LevelPack, Tasks

OUTCOMES = ("running", "goal", "caught", "hazard")
SCALE = 10.0
ONEHOT = 24  # row / column codes of `position = "onehot"` (the largest generated map)
OPPONENT_FEATURES = 5  # what an opponent observes before its behaviour code and wall patch
# the most entries of the observed opponents' table of tile pairs (`_pair_table`): padded
# grids up to 362 tiles (the shipped packs' 11x11 to 14x14), bigger ones do the arithmetic
PAIR_ENTRIES = 1 << 20
_M31 = 0x7FFFFFFF


def state_index(tasks: Tasks, state: State) -> torch.Tensor:
    """The movement state (rise * N + tile) of every player [T, E]."""
    return state["rise"] * tasks["wall"].shape[1] + state["pos"]


def _offset(tiles: torch.Tensor) -> torch.Tensor:
    """A relative offset in tiles as observed: / `SCALE`, within `OBS_BOUND` (80 tiles: past
    that, on the biggest maps, only the direction is seen)."""
    return (tiles / SCALE).clamp(-OBS_BOUND, OBS_BOUND)


class Game(FamilyBase):
    """Functional batched tile game; see the module docstring for the rules."""

    name = "game"
    discrete = True
    action_dim = N_ACTIONS

    def __init__(self, pack: LevelPack, horizon: int | None = None):
        super().__init__(pack, horizon)
        gen = pack.generate
        self.view = int(gen["view"])
        self.n_opponents = int(gen["observe_opponents"])
        self.observe_goal = bool(gen["observe_goal"])
        self.channels = 3 if self.observe_goal else 2
        self.position = gen["position"]
        codes = {"scaled": 0, "onehot": 2 * ONEHOT, "tile": 1, "graph": 1}[self.position]
        # where a tile table (`head.TileTable`) finds the player's tile or a goal belief
        # (`head.GoalBelief`) the movement state
        self.tile_feature = 8 if self.position == "tile" else None
        self.state_feature = 8 if self.position == "graph" else None
        self.n_tiles, self.tile_width, self.tile_scale = ONEHOT * ONEHOT, ONEHOT, TILE_SCALE
        # where the opponents' (row, col) offsets * 1 / `opponent_scale` and masks start
        self.opponent_feature = 8 + codes + self.channels * (2 * self.view + 1) ** 2
        self.opponent_scale = SCALE
        self.obs_dim = self.opponent_feature + 3 * self.n_opponents + 2 * self.observe_goal
        # chase / guard path distances, computed where needed (a derived view of the levels)
        self.paths = PathCache()
        self.levels = LevelCache()
        # the reward of a step that ends in each of `OUTCOMES` besides its step and shaping
        # terms: the goal, caught and hazard terms summed as the flags of that outcome give them
        flags = torch.eye(4)[:, 1:]
        cfg = self.reward_cfg
        self._ending_reward = (cfg["goal"] * flags[:, 0] + cfg["caught"] * flags[:, 1]
                               + cfg["hazard"] * flags[:, 2])

    def select(self, pool: Tasks, index: torch.Tensor) -> Tasks:
        """`pool.select(index)` for a caller that keeps drawing batches of levels from one
        `pool` (the vector envs): what the engine derives from the levels is indexed from
        `pool`'s, not recomputed."""
        tasks = Tasks({k: v.index_select(0, index) for k, v in pool.params.items()},
                      tuple(map(pool.ids.__getitem__, index.tolist())))
        self.levels.select(pool, tasks, index, self.view, self.observe_goal)
        return tasks

    # ---- reset ------------------------------------------------------------------------------
    def reset(self, tasks: Tasks, n_episodes: int, generator: torch.Generator | None) -> State:
        """Everyone on their spawn tile; a random 31-bit key per episode for `random`."""
        t, e, m = len(tasks), n_episodes, tasks["opp_pos"].shape[1]
        return {
            "pos": tasks["start"][:, None].expand(t, e).clone(),
            "rise": torch.zeros(t, e, dtype=torch.long),
            "acc": torch.zeros(t, e),
            "opp": tasks["opp_pos"][:, None].expand(t, e, m).clone(),
            "opp_acc": torch.zeros(t, e, m),
            "opp_dir": tasks["opp_dir"][:, None].expand(t, e, m).clone(),
            "rng": torch.randint(0, _M31, (t, e), generator=generator),
            "t": torch.zeros(t, e, dtype=torch.long),
            "success": torch.zeros(t, e, dtype=torch.bool),
            "outcome": torch.zeros(t, e, dtype=torch.long),
        }

    # ---- step -------------------------------------------------------------------------------
    def step(self, tasks: Tasks, state: State, action: torch.Tensor,
             opponent_action: torch.Tensor | None = None
             ) -> tuple[State, torch.Tensor, torch.Tensor]:
        """One step of every level and episode.

        `action` [T, E] long; `opponent_action` [T, E, M] long (0 stay, 1 up, 2 down, 3 left,
        4 right; -1 = scripted) drives opponents (the PettingZoo adapter).
        """
        t, e = action.shape
        lc = self.levels.get(tasks, self.view, self.observe_goal)
        opp, odir = state["opp"], state["opp_dir"]
        # the opponents' constants as [T, E, M] tensors (`LevelConstants.wide`)
        mask = lc.wide("mask", lc.mask, opp.shape)
        action = action if action.dtype == torch.long else action.long()
        moves, acc = speed_moves(state["acc"], lc.speed, lc.one_move)
        omoves, oacc = speed_moves(state["opp_acc"], lc.wide("opp_speed", lc.opp_speed, opp.shape),
                                   lc.one_move)
        rng = mix(state["rng"] + 1)
        n = lc.wall.shape[1]
        s0 = state["rise"] * n + state["pos"]  # the movement state
        player = lc.player(action)
        # how each step has ended so far (`OUTCOMES`' index; None: nobody's yet, as at the
        # first sub-move) and whether it has
        code = ended = None
        pos, s = state["pos"], s0
        for k in range(MAX_MOVES):
            if k and (lc.one_move or not ((moves > k).any() or (omoves > k).any())):
                break  # nobody has another move: the rest of the step changes nothing
            go = moves > k if ended is None else (moves > k) & ~ended
            prev = pos
            s = torch.where(go, player(s), s)
            pos = s % n
            ending = lc.ending.gather(1, pos)
            # (long: a product by the 0/1 flags is the `where`, one op and no scalar tensor)
            code = ending.mul_(go) if code is None else torch.where(go, ending, code)
            ended = code > 0

            if not lc.mine:
                continue  # no opponents: none moves or catches
            # (an absent opponent of speed 0 never moves: `mask` changes nothing there)
            ogo = (omoves > k) if lc.absent_still else (omoves > k) & mask
            ogo &= ~ended[..., None]
            here = pos.unsqueeze(-1).expand(opp.shape).contiguous()  # by opponent slot
            d, new_dir = self._scripted(tasks, lc, here, opp, odir, rng, k)
            if opponent_action is not None:
                d = torch.where(opponent_action >= 0, opponent_action.long(), d)
            new_opp = torch.where(ogo, self._destination(lc, opp, d), opp)
            odir = torch.where(ogo, new_dir, odir)
            touch = (new_opp == here) | ((opp == here) & (new_opp == prev[..., None]))
            c = ~ended & (mask & touch).any(-1)
            # (in place: `code` is this step's own tensor, read nowhere else)
            code, ended, opp = code.masked_fill_(c, 2), ended | c, new_opp

        rise = s // n
        pot = tasks["potential"]
        before = self.levels.potential(lc, state["rise"], state["pos"])
        if before is None:
            before = pot.gather(1, s0)
        after = pot.gather(1, s)
        self.levels.remember(lc, rise, pos, after)
        cfg = self.reward_cfg
        shaping = (before - after).masked_fill_(code == 3, 0.0)  # none onto a hazard
        # the goal's, caught's or hazard's reward: at most one a step, so the sum of the three
        # terms, zeros included, is the one term (signs of zeros too)
        if self._ending_reward.device != code.device:
            self._ending_reward = self._ending_reward.to(code.device)
        reward = cfg["step"] + cfg["shaping"] * shaping + self._ending_reward.take(code)
        new_state = {
            "pos": pos, "rise": rise, "acc": acc, "opp": opp, "opp_acc": oacc, "opp_dir": odir,
            "rng": rng, "t": state["t"] + 1, "success": state["success"] | (code == 1),
            "outcome": torch.where(state["outcome"] > 0, state["outcome"], code),
        }
        return new_state, reward if reward.dtype == torch.float32 else reward.float(), ended

    @staticmethod
    def _destination(lc: LevelConstants, opp: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        """Where moves `d` take opponents at `opp` [T, E, M]: the tile they lead to, unless it
        is a wall or hazard (then `opp`); read from a table per level where it fits."""
        table = lc.table("opponent destinations", _destinations)
        if table is None:
            nxt = opp + lc.off[d]
            return torch.where(at(lc.blocked, nxt), opp, nxt)
        flat, start, _ = table
        return flat.take(lc.wide("destination starts", start.view(-1, 1, 1), opp.shape)
                         + opp * 5 + d)

    def _scripted(self, tasks: Tasks, lc: LevelConstants, player: torch.Tensor,
                  opp: torch.Tensor, odir: torch.Tensor, rng: torch.Tensor, k: int
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """Scripted moves [T, E, M] of every opponent, by its behaviour's entry in
        `opponents.TABLE`, and the new patrol directions (`player` [T, E, M]: the player's
        tile, by opponent slot)."""
        t, e, m = opp.shape
        d, new_dir = torch.zeros_like(opp), odir
        if not lc.mine:
            return d, new_dir  # no opponents in these levels
        near = None  # (homes, the player, candidate tiles): for moves by the rule
        targets = None  # where the behaviours with a `target` walk to
        for i, behaviour in enumerate(TABLE.values()):
            if i not in lc.mine:
                continue  # no opponent of these levels behaves so
            mine = lc.wide(("mine", i), lc.mine[i], opp.shape)
            out = lc.tabled(behaviour, opp, odir) if behaviour.tabled else None
            if out is not None:
                d = torch.where(mine, out.move, d)
                new_dir = new_dir if out.direction is None else torch.where(
                    mine, out.direction, new_dir)
                continue
            if near is None:
                cand = opp[..., None] + lc.off                        # [T, E, M, 5]
                near = (lc.wide("home", lc.home, opp.shape), player, cand)
            ctx = Context(tasks, opp, *near, odir, rng, k, lc.width, lc.blocked, mine,
                          self._distances(tasks, mine) if behaviour.needs_paths
                          else _no_paths(behaviour.name), lc.modes)
            if behaviour.target is not None:
                target = behaviour.target(ctx)
                targets = target if targets is None else torch.where(mine, target, targets)
                continue
            out = behaviour.move(ctx)
            d = torch.where(mine, out.move, d)
            if out.direction is not None:
                new_dir = torch.where(mine, out.direction, new_dir)
        if targets is not None:  # one `toward` for every behaviour with a target
            walkers = lc.wide("walkers", lc.walkers(), opp.shape)
            ctx = Context(tasks, opp, *near, odir, rng, k, lc.width, lc.blocked,
                          walkers, self._distances(tasks, walkers), lc.modes)
            d = torch.where(ctx.mine, toward(ctx, targets), d)
        return d, new_dir

    def _distances(self, tasks: Tasks, mine: torch.Tensor
                   ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """`Context.distances` for the opponents `mine` [T, 1, M] (from the lazy `PathCache`,
        which knows this very tensor again once its levels' rows are all known)."""
        def distances(target: torch.Tensor, tiles: torch.Tensor) -> torch.Tensor:
            return self.paths.distances(tasks, target, tiles, mine)
        return distances

    # ---- observe ----------------------------------------------------------------------------
    def observe(self, tasks: Tasks, state: State) -> torch.Tensor:
        """Observation [T, E, obs_dim] (see the module docstring)."""
        pos = state["pos"]
        t, e = pos.shape
        lc = self.levels.get(tasks, self.view, self.observe_goal)
        ww = lc.width
        table = lc.table("observation", self._own_table)
        coords = _tile_coords(lc.wall.shape[1], ww, pos.device)
        if table is None:
            out = [self._own(lc, pos, pos // ww, pos % ww, state["rise"], state["acc"],
                             state["t"])]
            here = coords[pos]  # [T, E, 2] the player's (row, col)
            if self.n_opponents:
                out.append(self._opponents(lc, coords, here, state["opp"]))
            if self.observe_goal:
                out.append(_offset(coords[tasks["goal"]].view(t, 1, 2) - here))
            return torch.cat(out, -1)
        # the rows of the states' table (whole observations, the opponents' and the goal's
        # features 0), with what changes within a state written in
        flat, start, size = table
        d = self.obs_dim
        s = state_index(tasks, state)
        rows = lc.memo("observation rows", lambda c: start // d)  # each level's first
        obs = flat.view(-1, d).index_select(0, (rows + s).view(-1)).view(t, e, d)
        obs[..., 3] = state["acc"]
        obs[..., 7] = self._time(state["t"])
        # the table holds s / its scale at every state a player can occupy (its stand-in
        # rows are walls): written in only where these levels' scale is another
        if self.state_feature is not None and lc.table_scale != lc.state_scale:
            obs[..., self.state_feature] = s / lc.state_scale
        f = self.opponent_feature
        if self.n_opponents:
            slots = min(self.n_opponents, state["opp"].shape[2])  # (the rest stay 0: padding)
            into = obs[..., f:f + 3 * slots].view(t, e, slots, 3)
            pairs = _pair_table(lc.wall.shape[1], ww, pos.device)
            if pairs is None:
                into.copy_(self._opponents(lc, coords, coords[pos], state["opp"])
                           .view(t, e, -1, 3)[:, :, :slots])
            else:
                self._opponents_paired(lc, pairs, pos, state["opp"], into)
        if self.observe_goal:
            obs[..., d - 2:] = _offset(coords[tasks["goal"]].view(t, 1, 2) - coords[pos])
        return obs

    def _opponents(self, lc: LevelConstants, coords: torch.Tensor, here: torch.Tensor,
                   opp: torch.Tensor) -> torch.Tensor:
        """The observed opponents' features [T, E, 3 * observe_opponents] of players at
        (row, col) `here` [T, E, 2]: each opponent's (row, col) offset from the player; the
        nearest first (Manhattan; ties by slot), masked; (row, col) / 10 and the mask each."""
        t, e, m = opp.shape
        rel = coords[opp] - here.unsqueeze(2)  # [T, E, M, 2]
        gap = rel.abs()  # |dr| + |dc|: what a sum over the pair adds (0 + |dr| is |dr|)
        absent = lc.memo("opponent absent", lambda c: ~c.mask)
        dist = (gap[..., 0] + gap[..., 1]).masked_fill_(absent, float("inf"))
        seen = lc.memo("opponent mask", lambda c: c.mask.float().unsqueeze(-1))
        rel = torch.cat([_offset(rel) * seen, seen.expand(t, e, m, 1)], -1)  # [T, E, M, 3]
        rel = _nearest_first(rel, dist, self.n_opponents)
        pad = self.n_opponents - rel.shape[2]
        if pad > 0:
            rel = torch.cat([rel, torch.zeros(t, e, pad, 3)], 2)
        return rel.reshape(t, e, -1)

    def _opponents_paired(self, lc: LevelConstants, pairs: tuple[torch.Tensor, torch.Tensor],
                          pos: torch.Tensor, opp: torch.Tensor, into: torch.Tensor) -> None:
        """`_opponents`' features of the nearest opponents, written `into` [T, E, slots, 3],
        read from `_pair_table` (the same floats: the table holds `_opponents`' arithmetic
        for every pair of tiles, present and absent)."""
        feats, dist = pairs
        t, e, m = opp.shape
        n = lc.wall.shape[1]
        # an absent opponent's rows are the table's second half
        absent = lc.wide("opponent absent pairs",
                         lc.memo("opponent absent pairs", lambda c: (~c.mask).long() * (n * n)),
                         opp.shape)
        idx = (pos * n).unsqueeze(-1) + (opp + absent)  # [T, E, M]
        rel = feats.index_select(0, idx.view(-1)).view(t, e, m, 3)
        gap = dist.take(idx)
        if m == 2 and into.shape[2] == 2:  # `_nearest_first`'s swap, written in place
            swap = (gap[..., 1] < gap[..., 0])[..., None, None]
            torch.where(swap, rel.flip(2), rel, out=into)
        else:
            into.copy_(_nearest_first(rel, gap, into.shape[2]))

    def _own(self, lc: LevelConstants, pos: torch.Tensor, r: torch.Tensor, c: torch.Tensor,
             rise: torch.Tensor, acc: torch.Tensor, time: torch.Tensor, pad: int = 0
             ) -> torch.Tensor:
        """The observation up to the opponents' features [T, K, opponent_feature] of players
        at tiles `pos` (rows `r`, columns `c`) [T, K] with `rise`, accumulators `acc` and
        step counts `time`; with `pad` zeros after them."""
        t, e = pos.shape
        plat = lc.platformer.expand(t, e)
        grounded = plat & lc.wall.gather(1, pos + lc.width)
        rising = self._rising(lc, pos, rise)
        feats = [
            (r - 1) / lc.rows, (c - 1) / lc.cols, lc.speed.expand(t, e), acc,
            plat.float(), grounded.float(), rising[0][1], self._time(time),
        ]
        out = [torch.stack([f if f.dtype == torch.float32 else f.float() for f in feats], -1)]
        if self.position in ("onehot", "tile"):
            mr, mc = (r - 1).clamp(0, ONEHOT - 1), (c - 1).clamp(0, ONEHOT - 1)
            if self.position == "onehot":
                out += [torch.nn.functional.one_hot(x, ONEHOT).float() for x in (mr, mc)]
            else:
                out.append(((mr * ONEHOT + mc) / TILE_SCALE).float().unsqueeze(-1))
        elif self.position == "graph":
            out.append(rising[1][1].unsqueeze(-1))
        out.append(lc.patch(pos, r, self.channels))
        if pad:
            out.append(out[0].new_zeros(t, e, pad))
        return torch.cat(out, -1)

    def _rising(self, lc: LevelConstants, pos: torch.Tensor, rise: torch.Tensor
                ) -> list[tuple[int, torch.Tensor]]:
        """`_own`'s features that depend on the rise, as (column, values [T, K]) for players
        at tiles `pos` with `rise`: the rise / jump height and, with `position = "graph"`,
        the movement state."""
        out = [(6, rise / lc.jump)]
        if self.position == "graph":
            n = lc.wall.shape[1]
            out.append((self.state_feature, ((rise * n + pos) / lc.state_scale).float()))
        return out

    def _own_table(self, lc: LevelConstants) -> torch.Tensor | None:
        """`_own` at every movement state of each level, as whole observations [T, S * obs_dim]
        (the opponents' and the goal's features, the step count and the accumulator 0:
        `observe` writes them in), if it `fits` (tiles of the last row, walls, stand in for
        those above)."""
        (t, n), ww = lc.wall.shape, lc.width
        levels = rise_levels(lc.sources)
        if not lc.fits(levels * n * self.obs_dim):
            return None
        tiles = torch.arange(n, device=lc.wall.device).clamp(max=n - 1 - ww)
        pos = tiles.expand(t, -1)
        zero = torch.zeros(t, n, dtype=torch.long, device=pos.device)
        # the rows of the rise-0 states, once for every rise, where only the rise's own
        # columns (`_rising`) differ: written in
        table = self._own(lc, pos, pos // ww, pos % ww, zero, zero.float(), zero,
                          self.obs_dim - self.opponent_feature).repeat(1, levels, 1)
        if levels > 1:
            rise = torch.arange(levels, device=pos.device).repeat_interleave(n).expand(t, -1)
            for col, values in self._rising(lc, tiles.repeat(levels).expand(t, -1), rise):
                table[..., col] = values
        return table.reshape(t, -1)

    def _time(self, t: torch.Tensor) -> torch.Tensor:
        """The observed step count."""
        return (t / self.horizon).clamp(max=1.0)

    @property
    def opponent_obs_dim(self) -> int:
        """Size of an opponent's observation (`observe_opponents_view`): its features, one
        code per behaviour of `opponents.TABLE` and its wall patch."""
        return OPPONENT_FEATURES + len(TABLE) + (2 * self.view + 1) ** 2

    def observe_opponents_view(self, tasks: Tasks, state: State) -> torch.Tensor:
        """What each opponent sees [T, E, M, opponent_obs_dim] (the PettingZoo adapter):
        its position (2), the player's relative (row, col) / 10 (2), its speed (1), its
        behaviour's code (a one-hot over `opponents.TABLE`) and the wall patch of radius
        `view` around it."""
        opp = state["opp"]
        t, e, m = opp.shape
        lc = self.levels.get(tasks, self.view, self.observe_goal)
        ww = lc.width
        r, c = opp // ww, opp % ww
        dims = tasks["dims"].view(t, 1, 1, 2).float()
        pr, pc = (state["pos"] // ww)[..., None], (state["pos"] % ww)[..., None]
        beh = codes(opp.device)[tasks["opp_beh"]]
        feats = torch.stack([
            (r - 1) / (dims[..., 0] - 1).clamp(min=1), (c - 1) / (dims[..., 1] - 1).clamp(min=1),
            _offset(pr - r), _offset(pc - c),
            tasks["opp_speed"][:, None, :].expand(t, e, m),
        ], -1).float()
        walls = lc.patch(opp, r, 1)
        return torch.cat([feats, beh[:, None].expand(t, e, m, -1), walls], -1)


def _destinations(lc: LevelConstants) -> torch.Tensor | None:
    """`Game._destination` from every tile o by every move d of each level [T, N * 5], at
    o * 5 + d, if it `fits` (a move off the grid, from its border walls, stays)."""
    t, n = lc.blocked.shape
    if not lc.fits(5 * n):
        return None
    tiles = torch.arange(n, device=lc.blocked.device)
    nxt = tiles.unsqueeze(-1) + lc.off.to(tiles.device)  # [N, 5]
    inside = (nxt >= 0) & (nxt < n)
    nxt = torch.where(inside, nxt, tiles.unsqueeze(-1))
    blocked = lc.blocked[:, nxt.view(-1)].view(t, n, 5)
    return torch.where(blocked, tiles.unsqueeze(-1), nxt).view(t, -1)


def _nearest_first(feats: torch.Tensor, dist: torch.Tensor, n: int) -> torch.Tensor:
    """The first `n` slots of `feats` [T, E, M, F] in the order of a stable ascending sort of
    `dist` [T, E, M]; two slots by one comparison (swapped where the second is strictly
    nearer, as the stable sort orders them) instead of a sort and a gather."""
    if feats.shape[2] == 2:
        swap = (dist[..., 1] < dist[..., 0])[..., None, None]
        return torch.where(swap, feats.flip(2), feats)[:, :, :n]
    order = torch.sort(dist, dim=-1, stable=True).indices[..., :n]
    return feats.gather(2, order.unsqueeze(-1).expand(-1, -1, -1, feats.shape[-1]))


def _pair_table(n: int, width: int, device: torch.device
                ) -> tuple[torch.Tensor, torch.Tensor] | None:
    """`Game._opponents`' arithmetic for an opponent at every tile o seen from a player at
    every tile p of a padded grid of `n` tiles, `width` wide, at row p * n + o: its features
    [2 * n * n, 3] ((row, col) offset / 10 and the mask) and its distance [2 * n * n]
    (Manhattan), for a present opponent, then (rows n * n on) for an absent one (features
    times 0, distance inf); None past `PAIR_ENTRIES` (or `TABLE_ENTRIES`) entries."""
    if 8 * n * n > min(PAIR_ENTRIES, constants.TABLE_ENTRIES):
        return None
    return _pairs(n, width, device)


@functools.cache
def _pairs(n: int, width: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """`_pair_table`'s tables (kept: ordinary tensors, wherever first asked for)."""
    with torch.inference_mode(False):
        coords = _tile_coords(n, width, device).clone()
        rel = coords.unsqueeze(0) - coords.unsqueeze(1)  # [p, o, 2]: o's (row, col) - p's
        gap = rel.abs()
        dist = gap[..., 0] + gap[..., 1]
        feats = []
        for seen in (1.0, 0.0):
            mask = torch.full((n, n, 1), seen, device=device)
            feats.append(torch.cat([_offset(rel) * mask, mask], -1).view(n * n, 3))
        far = torch.full_like(dist, float("inf"))
        return torch.cat(feats), torch.cat([dist, far]).view(-1)


@functools.cache
def _tile_coords(n: int, width: int, device: torch.device) -> torch.Tensor:
    """The (row, col) of each of the `n` tiles of a padded grid `width` wide [n, 2] (float:
    their differences are the observed offsets before scaling)."""
    tiles = torch.arange(n, device=device)
    return torch.stack([tiles // width, tiles % width], -1).float()


def _no_paths(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def distances(target: torch.Tensor, tiles: torch.Tensor) -> torch.Tensor:
        raise RuntimeError(f"opponent behaviour {name!r} reads path distances: register it "
                           "with needs_paths=True")
    return distances
