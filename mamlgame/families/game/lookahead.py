"""Act-time lookahead for a game agent (`mamlgame eval --lookahead DEPTH`): before each move
the agent tries every action, each followed by `SAMPLES` continuations of its own policy for
DEPTH - 1 more steps, played with the engine's rules, and scores each continuation by its
own goal belief: W, the chance that it reaches the goal before it is lost, and L, the chance
that it is caught or steps on a hazard first. Each action's logit moves by `WEIGHT` times
its continuations' mean W - L; then the agent samples (or takes the best) as usual.

Under the belief b over the goal's tile (the policy head's adapted `belief`; none: b = 0),
given that the goal is on no tile the player has stood on this episode (the chooser
remembers them from step to step, per stream of episodes: a walked tile is not the goal), a
continuation that first stands on the tiles x1, x2, ... (each counted once) before it is
lost has W = b(x1) + b(x2) + ..., and L = 1 - W if it is lost (a catch on a tile that may be
the goal may be a win: the engine lets the player reach the goal before an opponent can
catch it), else 0. So a level whose goal an opponent guards can be won once the belief knows
where the goal is, and an action that leads towards likely goal tiles is preferred, while
where to go beyond DEPTH steps stays the policy's. (Tiles are read after each step: a player
faster than one tile per step may cross one unread.)

What the simulation knows is what the player sees: the map, every opponent's tile,
behaviour, speed, heading and pace (its speed accumulator: when it next moves). It does not
know the goal: the simulated levels have none (reaching the goal ends nothing; W reads the
belief, never the level's goal). Random walkers are redrawn: every continuation gets a
fresh random key, never the episode's own.

Where the belief holds at least `PLAN_MIN` of its mass (walked tiles left out) on a tile, on
a level with opponents, and some sampled continuation is lost (an opponent in the way), the
chooser also plans: the level's planner (`planner.search`, the engine's step over every
joint state of player and opponents) looks for a way within `PLAN_DEPTH` steps to each of
`CANDIDATES` tiles that hold that much and at least `NEAR_TOP` of the top one's mass (the
most mass per path step from the player first), and the episode takes the way with the most
belief mass per step: of equally likely tiles the nearest one it can reach; a top tile
behind an opponent that no way gets past gives way to the next; a way that is caught on its
tile if the goal is not there (the engine lets the goal come first) counts its mass squared,
as it wins only where the goal is. It follows that way move by move until it walks onto the
tile (no goal there: the episode acts and plans afresh). The opponents it plans against move
by their rules alone, so the way plays out as planned. That finds the timing a patrol or a
chaser asks for, which a few sampled continuations rarely do, and keeps it: a way that waits
for a patrol to pass is followed through the wait (an earlier version only raised the way's
first move, and lost the timing to its policy's continuations on the next step; another
planned to the top tile alone, and dodged a chaser for the whole episode where that tile lay
behind it and an equally likely one, the goal, a step away). The planner is told the
believed tiles, never the goal; levels with random walkers are not planned (their moves are
not known ahead). On maps past the dense distance tables (`belief.CELLS`) the distances to a
believed tile, which the planner keeps its nearest states by, come from one search of the
level when first asked.

The policy itself is unchanged (training never uses the lookahead): it is a different way to
act with the same adapted params, as search over a learned policy. It costs DEPTH policy
and engine steps on `6 * SAMPLES` times the episodes, per step, and searches of up to
`PLAN_BEAM` joint states a step, `PLAN_DEPTH` steps deep, for each tile an episode plans to.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch

from mamlgame.errors import MamlgameError
from mamlgame.families.base import State
from mamlgame.families.game import planner
from mamlgame.families.game.constants import LevelCache
from mamlgame.families.game.distances import tile_distances
from mamlgame.families.game.engine import Game
from mamlgame.families.game.rules import N_ACTIONS
from mamlgame.packs import Tasks

Logits = Callable[[torch.Tensor], torch.Tensor]  # obs [T, K, D] -> the policy's logits

SAMPLES = 4      # continuations per action
WEIGHT = 20.0    # logit change of an action whose every continuation wins (+) or is lost (-)
STREAMS = 16     # episode streams whose walked tiles are remembered at once
PLAN_MIN = 0.1   # belief mass on a tile (walked ones left out) that makes it plan there
CANDIDATES = 4   # tiles it may plan to at once (the most mass per path step first)
NEAR_TOP = 0.5   # ... each with at least this share of the top tile's mass
PLAN_DEPTH = 32  # steps the planner looks ahead
PLAN_BEAM = 128  # joint states it keeps a step
SEARCHED = 256   # distance rows to a believed tile kept (maps past the dense tables)
_M31 = 0x7FFFFFFF


class Lookahead:
    """The game's act-time chooser (`FamilyBase.chooser`): actions [T, E] for a rollout."""

    def __init__(self, game: Game, depth: int, samples: int = SAMPLES, weight: float = WEIGHT):
        if depth < 1:
            raise MamlgameError(f"lookahead: expected at least 1 step, got {depth}")
        self.depth, self.samples, self.weight = depth, samples, weight
        # its own engine: the simulated levels' constants must not evict the real ones
        self.sim = copy.copy(game)
        self.sim.levels = LevelCache()
        # and the planner's: its levels' goals are the believed tiles
        self.planning = copy.copy(game)
        self.planning.levels = LevelCache()
        self._blind: tuple[Tasks, Tasks] | None = None
        # the walked tiles of each stream of episodes, by its generator (a rollout's; each
        # viewer episode's): two episodes stepped in turn keep theirs apart
        self._walked: dict[int, torch.Tensor] = {}
        self._ways: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # (moves, their tile)
        self._searched: dict[tuple[int, int], torch.Tensor] = {}  # `potential`'s, big maps

    def blind(self, tasks: Tasks) -> Tasks:
        """`tasks` without their goals (tile 0, a border wall: never reached)."""
        if self._blind is None or self._blind[0] is not tasks:
            self._blind = (tasks, Tasks({**tasks.params,
                                         "goal": torch.zeros_like(tasks["goal"])}, tasks.ids))
        return self._blind[1]

    def outlook(self, tasks: Tasks, state: State, logits: Logits, draw: Logits,
                generator: torch.Generator | None, belief: torch.Tensor | None,
                walked: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(W, L) [T, E, A]: each action's continuations' mean chance of reaching the goal
        before being lost, and of being lost first, within `depth` steps, under softmax(
        `belief`) [T, N] (None: no goal is ever believed reached) given that the goal is on
        none of the tiles `walked` [T, E, N] (None: the player's own); `draw` turns logits
        into actions."""
        t, e = state["pos"].shape
        a, s = N_ACTIONS, self.samples
        blind = self.blind(tasks)
        sim = {k: v.repeat_interleave(a * s, 1) for k, v in state.items()}
        sim["rng"] = torch.randint(0, _M31, sim["rng"].shape, generator=generator)
        first = torch.arange(a).repeat_interleave(s).repeat(e).expand(t, -1)
        seen = [sim["pos"]]
        if belief is None:
            p = torch.zeros(t, e, tasks["wall"].shape[1])
        else:
            if walked is None:
                walked = self.walked(state, belief.shape[-1], remember=False)
            p = goal_mass(belief, walked)
        lost = torch.zeros(t, e * a * s, dtype=torch.bool)
        won = torch.zeros(t, e * a * s)
        lose = torch.zeros(t, e * a * s)
        for j in range(self.depth):
            act = first if j == 0 else draw(logits(self.sim.observe(blind, sim)))
            sim, _, ended = self.sim.step(blind, sim, act)
            pos = sim["pos"]
            new = ~lost
            for x in seen:
                new = new & (pos != x)
            seen.append(pos)
            here = p.gather(2, pos.view(t, e, a * s)).view(t, -1)
            won = won + torch.where(new, here, 0.0)
            lose = torch.where(ended & ~lost, (1 - won).clamp_min(0), lose)
            lost |= ended
        return (won.clamp(max=1).view(t, e, a, s).mean(-1),
                lose.view(t, e, a, s).mean(-1))

    def ways(self, tasks: Tasks, state: State, head: dict[str, torch.Tensor],
             walked: torch.Tensor, where: torch.Tensor | None = None
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The planner's ways to the belief's likely tiles, on levels with opponents but no
        random walkers, in the running episodes `where` [T, E] (None: all): of the tiles
        with at least `PLAN_MIN` of the belief's mass left off the tiles `walked` [T, E, N]
        and `NEAR_TOP` of its top tile's, the `CANDIDATES` with the most mass per path step
        (`steps_to`) are each searched for, and an episode takes the way found with the most
        mass per step. Returns (rows [R], eps [R], the ways' moves [R, S] from this step
        on, -1 past their end, the tile each leads to [R]) for the episodes where one was
        found; R may be 0."""
        none = torch.zeros(0, dtype=torch.long)
        mass = goal_mass(head["belief"], walked)  # [T, E, N]
        likely = (mass >= PLAN_MIN) & (mass >= NEAR_TOP * mass.amax(-1, keepdim=True))
        near = torch.where(likely, mass / (1 + self.steps_to(head, state)), -1.0)
        rank, tiles = near.topk(CANDIDATES, -1)  # [T, E, K]
        share = mass.gather(2, tiles)
        plans = tasks["opp_mask"].any(1) & ~planner.keyed(tasks)
        ask = (rank >= 0) & ((state["outcome"] == 0) & plans[:, None]
                             & (True if where is None else where))[..., None]
        rows, eps, k = ask.nonzero(as_tuple=True)
        if not len(rows):
            return none, none, none[:, None], none
        goal = tiles[rows, eps, k]
        sub = tasks.select(rows)
        sub = Tasks({**sub.params, "goal": goal,
                     "potential": self.potential(tasks, head, rows, goal)}, sub.ids)
        found, way, _, steps = planner.search(
            self.planning, sub, {k_: v[rows, eps][:, None] for k_, v in state.items()},
            beam=PLAN_BEAM, depth=PLAN_DEPTH)
        # each episode's best way: the most belief mass per step, that of a way lost on
        # its tile if the goal is not there (caught as it arrives) squared; of equal ones,
        # the higher ranked
        p = share[rows, eps, k]
        value = torch.where(self.lost_on_the_way(tasks, state, rows, eps, way, steps), p * p, p)
        score = torch.where(found, value / steps.clamp_min(1), -1.0)
        episode = rows * walked.shape[1] + eps
        best = torch.full((int(episode.max()) + 1,), -1.0).scatter_reduce(
            0, episode, score, "amax")
        pick = ((score > 0) & (score == best[episode])).nonzero()[:, 0]
        key = episode[pick]  # (nonzero's order: an episode's candidates side by side)
        first = torch.ones_like(key, dtype=torch.bool)
        first[1:] = key[1:] != key[:-1]
        pick = pick[first]
        way = torch.where(torch.arange(way.shape[1]) < steps[pick, None], way[pick], -1)
        return rows[pick], eps[pick], way, goal[pick]

    def lost_on_the_way(self, tasks: Tasks, state: State, rows: torch.Tensor,
                        eps: torch.Tensor, way: torch.Tensor, steps: torch.Tensor
                        ) -> torch.Tensor:
        """[R]: whether the episodes (`rows`, `eps`) would be caught (or step on a hazard)
        within the first `steps` [R] moves of `way` [R, S] on their levels without a goal."""
        lost = torch.zeros(len(rows), dtype=torch.bool)
        if not len(rows):
            return lost
        sub = self.blind(tasks).select(rows)
        sim = {k: v[rows, eps][:, None] for k, v in state.items()}
        for j in range(int(steps.max())):
            sim, _, ended = self.sim.step(sub, sim, way[:, j:j + 1])
            lost |= ended[:, 0] & (j < steps)
        return lost

    @staticmethod
    def steps_to(head: dict[str, torch.Tensor], state: State) -> torch.Tensor:
        """[T, E, N]: the path steps from each episode's movement state to every tile by
        the dense distance table, opponents ignored; 0 past it (big maps)."""
        t, e = state["pos"].shape
        if "goal_dist" not in head:
            return torch.zeros(t, e, head["belief"].shape[1])
        at = state["rise"] * head["belief"].shape[1] + state["pos"]  # [T, E]
        table = head["goal_dist"]  # [T, N, S]
        return table.gather(2, at[:, None].expand(-1, table.shape[1], -1)).transpose(1, 2).float()

    def potential(self, tasks: Tasks, head: dict[str, torch.Tensor], rows: torch.Tensor,
                  tiles: torch.Tensor) -> torch.Tensor:
        """[R, S]: the path steps from every movement state of the levels `rows` to the tile
        each believes in (`tiles` [R]), what the planner keeps its nearest states by. The
        dense field's table holds them; past it (big maps: the two-scale field) one search
        per level and tile, kept for the next steps (`SEARCHED` of them)."""
        if "goal_dist" in head:
            return head["goal_dist"][rows, tiles].float()
        closed = (tasks["wall"] | tasks["hazard"])[rows].numpy()
        succ = head["succ"][rows].numpy()
        out = []
        for i, (level, tile) in enumerate(zip(tasks["digest"][rows].tolist(), tiles.tolist())):
            key = (level, tile)
            if key not in self._searched:
                d = tile_distances(closed[i], succ[i], np.array([tile]))[0]
                reach = np.isfinite(d)
                d[~reach] = d[reach].max(initial=0) + 1
                _remember(self._searched, key, torch.from_numpy(d).float(), SEARCHED)
            out.append(self._searched[key])
        return torch.stack(out)

    def following(self, state: State, walked: torch.Tensor, stream: torch.Generator | None
                  ) -> torch.Tensor:
        """[T, E]: this step's move of the way each running episode of `stream` follows to
        a tile it believes in and has not walked yet (`walked` [T, E, N]); -1 where it
        follows none (none found yet, a new episode, or it walked that tile)."""
        t = state["t"].long()
        mem = self._ways.get(id(stream))
        if mem is None or mem[0].shape[:2] != t.shape:
            return torch.full_like(t, -1)
        moves, aim = mem
        moves[t == 0] = -1  # a new episode
        last = moves.shape[2] - 1  # a rollout past the game's horizon plans nothing more
        move = torch.where(t <= last, moves.gather(2, t.clamp(max=last)[..., None])[..., 0], -1)
        open_aim = ~walked.gather(2, aim.clamp_min(0)[..., None])[..., 0]
        return torch.where((aim >= 0) & open_aim & (state["outcome"] == 0), move, -1)

    def follow(self, state: State, stream: torch.Generator | None, rows: torch.Tensor,
               eps: torch.Tensor, way: torch.Tensor, aim: torch.Tensor) -> None:
        """Remember that the episodes (`rows`, `eps`) of `stream` follow `way` [R, S] from
        this step on, to the tile `aim` [R]."""
        t = state["t"].long()
        h = self.sim.horizon
        mem = self._ways.pop(id(stream), None)
        if mem is None or mem[0].shape[:2] != t.shape:
            mem = (torch.full((*t.shape, 2 * h), -1), torch.full(t.shape, -1))
        moves, goal = mem
        moves[rows, eps] = -1
        width = min(way.shape[1], h)
        cols = t[rows, eps][:, None] + torch.arange(width)
        moves[rows[:, None], eps[:, None], cols] = way[:, :width]
        goal[rows, eps] = aim
        _remember(self._ways, id(stream), mem)

    def walked(self, state: State, tiles: int, stream: torch.Generator | None = None,
               remember: bool = True) -> torch.Tensor:
        """[T, E, N] bool: the tiles each episode of `stream` (the generator that draws its
        actions) has stood on, its present one included, as far as this chooser has seen
        it (an episode at step 0 starts afresh); with `remember`, kept for the next call."""
        pos, key = state["pos"], id(stream)
        w = self._walked.pop(key, None)
        if not remember or w is None or w.shape != (*pos.shape, tiles):
            w = torch.zeros(*pos.shape, tiles, dtype=torch.bool)
        w = (w & (state["t"] > 0)[..., None]).scatter(2, pos[..., None], True)
        if remember:
            _remember(self._walked, key, w)
        return w

    def __call__(self, tasks: Tasks, state: State, obs: torch.Tensor, logits: Logits,
                 draw: Logits, generator: torch.Generator | None, deterministic: bool,
                 head: dict[str, torch.Tensor]) -> torch.Tensor:
        with torch.no_grad():
            belief = head.get("belief")
            walked = (None if belief is None
                      else self.walked(state, belief.shape[-1], generator))
            won, lost = self.outlook(tasks, state, logits, draw, generator, belief, walked)
            out = logits(obs) + self.weight * (won - lost)
            choice = out.argmax(-1) if deterministic else draw(out)
            if walked is None:
                return choice
            # an episode follows a way it found to a likely tile; one that follows none
            # looks for one where some continuation is lost (an opponent in the way)
            way = self.following(state, walked, generator)
            rows, eps, found, aim = self.ways(tasks, state, head, walked,
                                              (lost.amax(-1) > 0) & (way < 0))
            if len(rows):
                self.follow(state, generator, rows, eps, found, aim)
                way[rows, eps] = found[:, 0]
            return torch.where(way >= 0, way, choice)


def goal_mass(belief: torch.Tensor, walked: torch.Tensor) -> torch.Tensor:
    """[T, E, N]: softmax(`belief`) [T, N] given that the goal is on none of the tiles
    `walked` [T, E, N]."""
    p = torch.softmax(belief.float(), -1)[:, None] * ~walked
    return p / p.sum(-1, keepdim=True).clamp_min(1e-6)


def _remember(store: dict, key: object, value: object, limit: int = STREAMS) -> None:
    """Keep `value` under `key` (a stream of episodes), the most recent last, at most
    `limit` of them."""
    store[key] = value
    while len(store) > limit:
        del store[next(iter(store))]
