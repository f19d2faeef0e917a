"""A planner that knows the level: the hidden goal and the opponents' rules. It gives each
level's ceiling (the `planner` row of `mamlgame eval --baselines`) and tells a designer
which levels a perfect player cannot win (`mamlgame levels check`, with `notes`).

It plans with the engine's own `step` (one implementation of every rule), all levels and
branches as one batch of the engine (the branches are its episode dimension):

- Levels whose opponents never read the random key (`KEYED`: all but `random`) play the same
  every episode. `search` finds their fastest win from the start: a breadth-first search
  over time from every joint state (the player's movement state, the opponents' tiles)
  reached alive, each kept once per step. While it keeps every state (up to `BEAM` per
  step; past that, those nearest the goal) it is exhaustive: a level it finds no win for
  cannot be won within the horizon. Such a level is played once, and its result counts for
  every episode.
- Levels with random walkers are played episode by episode: at each step every action is
  tried, followed by each of a few continuations (walk down the path distance to the goal,
  at once or after waiting `WAITS` steps; or follow `search`'s plan for the level without
  its random walkers, searched again, `REPLAN` steps deep, when the player leaves it) for
  `DEPTH` steps, in `SAMPLES` worlds with fresh random keys (never the episode's own:
  random walkers are the random process they are); it takes the action whose best
  continuation ends best on average (the goal soonest; else alive and nearest the goal;
  caught or on a hazard worst, the later the better). This is a strong player, not a proof.
"""

from __future__ import annotations

import torch

from mamlgame.families.base import State
from mamlgame.families.game.engine import OUTCOMES, Game
from mamlgame.families.game.opponents import TABLE
from mamlgame.families.game.outcomes import AS_FAST
from mamlgame.families.game.rules import MAX_MOVES, N_ACTIONS, at, player_submove, speed_moves
from mamlgame.families.spec import Plays
from mamlgame.packs import Tasks

DEPTH = 12           # steps a branch looks ahead (levels with random walkers)
SAMPLES = 4          # worlds (random keys) per branch
WAITS = (0, 2, 5, 10)  # continuations: stay this many steps, then walk to the goal
BEAM = 2048          # joint states the search keeps per step and level
QUICK_BEAM = 32      # `unwinnable`'s first, narrow search
REPLAN = 3 * DEPTH   # how far a search again from mid-episode looks
KEYED = ("random",)  # behaviours whose moves read the episode's random key
WIN, LOSS = 1e4, -1e4
_M31 = 0x7FFFFFFF
GOAL, CAUGHT, HAZARD = (OUTCOMES.index(x) for x in ("goal", "caught", "hazard"))


def greedy(tasks: Tasks, state: State) -> torch.Tensor:
    """The action [R, B] that walks down the path distance to the goal (`potential`, per
    movement state) this step, by the engine's player rules, ignoring opponents (ties: the
    lowest action index)."""
    r, b = state["pos"].shape
    n, width = tasks["wall"].shape[1], int(tasks["grid"][0, 1])
    acts = torch.arange(N_ACTIONS).expand(r, b, N_ACTIONS)
    pos = state["pos"][..., None].expand(r, b, N_ACTIONS)
    rise = state["rise"][..., None].expand(r, b, N_ACTIONS)
    moves, _ = speed_moves(state["acc"], tasks["speed"].view(r, 1))
    goal = tasks["goal"].view(r, 1, 1)
    won = torch.zeros(r, b, N_ACTIONS, dtype=torch.bool)
    dead = won.clone()
    for k in range(MAX_MOVES):
        go = (moves[..., None] > k) & ~won & ~dead
        p, q = player_submove(tasks["wall"], width, pos, rise, acts,
                              tasks["platformer"].view(r, 1, 1), tasks["jump"].view(r, 1, 1))
        pos, rise = torch.where(go, p, pos), torch.where(go, q, rise)
        won = won | (go & (pos == goal))
        dead = dead | (go & at(tasks["hazard"], pos) & ~won)
    cost = at(tasks["potential"], rise * n + pos)
    cost = torch.where(won, -1.0, torch.where(dead, float("inf"), cost))
    return cost.argmin(-1)


def _branches(game: Game, tasks: Tasks, state: State, left: int, generator: torch.Generator,
              plan: torch.Tensor, has_plan: torch.Tensor) -> torch.Tensor:
    """The lookahead's action [R] for every row (a level's episode, state [R, 1]); `plan`
    [R, >= DEPTH] is one more continuation, from its first action, where `has_plan` [R]."""
    r, a, c, s = len(tasks), N_ACTIONS, len(WAITS) + 1, SAMPLES
    b = a * c * s
    sim = {k: v.expand(r, b, *v.shape[2:]).clone() for k, v in state.items()}
    keys = torch.randint(0, _M31, (r, 1, 1, s), generator=generator)
    sim["rng"] = keys.expand(r, a, c, s).reshape(r, b)

    def grid(x: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
        return x.view(dims).expand(r, a, c, s).reshape(r, b)

    first = grid(torch.arange(a), (1, a, 1, 1))
    cont = grid(torch.arange(c), (1, 1, c, 1))
    wait = torch.tensor([*WAITS, 0])[cont]
    follows = cont == len(WAITS)
    score = torch.zeros(r, b)
    done = torch.zeros(r, b, dtype=torch.bool)
    for j in range(min(DEPTH, left)):
        action = first if j == 0 else torch.where(j <= wait, 0, greedy(tasks, sim))
        action = torch.where(follows, plan[:, j:j + 1], action)
        sim, _, ended = game.step(tasks, sim, action)
        new = ended & ~done
        code = sim["outcome"]
        score = torch.where(new & (code == GOAL), WIN - j, score)
        score = torch.where(new & (code != GOAL), LOSS + j, score)
        done = done | ended
        if bool(done.all()):
            break
    n = tasks["wall"].shape[1]
    near = -at(tasks["potential"], sim["rise"] * n + sim["pos"])
    score = torch.where(done, score, near)
    # the plan's branches count only for its own first action
    usable = ~follows | (has_plan[:, None] & (first == plan[:, :1]))
    score = torch.where(usable, score, 2 * LOSS).view(r, a, c, s)
    return score.mean(-1).amax(-1).argmax(-1)


def _gather(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """x[r, idx[r, j], ...] for x [R, B, ...] and idx [R, K]."""
    return x.gather(1, idx.view(*idx.shape, *[1] * (x.dim() - 2)).expand(
        *idx.shape, *x.shape[2:]))


def _joint_key(tasks: Tasks, state: State) -> torch.Tensor:
    """A key [R, B] of the joint state of every branch: the player's movement state times
    2^31 plus a 31-bit hash of the opponents' tiles (the rest of a deterministic level's
    state is the same for every branch at a given step)."""
    move = state["rise"] * tasks["wall"].shape[1] + state["pos"]
    h = torch.zeros_like(move)
    for j in range(state["opp"].shape[2]):
        h = (h * 1000003 + state["opp"][..., j] + 1) % (1 << 31)
    return move * (1 << 31) + h


def search(game: Game, tasks: Tasks, state: State, beam: int = BEAM, depth: int | None = None
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The fastest win of each row of deterministic levels (state [R, 1]): a breadth-first
    search over time with the engine's step from every joint state (player, opponents)
    reached alive, each once per step; past `beam` of them, those nearest the goal.
    Returns (found [R] bool, actions [R, steps left] long, exhaustive [R] bool: the search
    never dropped a state, so a level it found no win for has none, steps [R] long: the
    win's length, 0 where none). With `depth`, it looks no further than that many steps."""
    r = len(tasks)
    left = game.horizon - int(state["t"].max())
    steps = left if depth is None else min(left, depth)
    found = torch.zeros(r, dtype=torch.bool)
    exhaustive = torch.ones(r, dtype=torch.bool)
    plan = torch.zeros(r, max(left, 0), dtype=torch.long)
    length = torch.zeros(r, dtype=torch.long)
    rows, front = torch.arange(r), dict(state)
    valid = torch.ones(r, 1, dtype=torch.bool)
    trail: list[tuple[torch.Tensor, torch.Tensor]] = []  # per step: rows, expansion index
    n_act = N_ACTIONS
    for _ in range(steps):
        k = valid.shape[1]
        ex = {key: v.repeat_interleave(n_act, 1) for key, v in front.items()}
        act = torch.arange(n_act).repeat(k).expand(len(rows), k * n_act)
        ex, _, ended = game.step(tasks, ex, act)
        ok = valid.repeat_interleave(n_act, 1)
        win = ok & (ex["outcome"] == GOAL)
        alive = ok & ~ended
        won = win.any(1)
        if bool(won.any()):
            found[rows[won]] = True
            length[rows[won]] = len(trail) + 1
            plan[rows[won]] = _backtrack(trail, rows[won], win.float().argmax(1)[won],
                                         plan.shape[1])
        keep = ~won & alive.any(1)
        if not bool(keep.any()):
            break
        key = torch.where(alive, _joint_key(tasks, ex), 1 << 62)
        order = key.argsort(1)
        skey = key.gather(1, order)
        new = (skey != torch.cat([torch.full_like(skey[:, :1], -1), skey[:, :-1]], 1)) & (
            skey < 1 << 62)
        count = new.sum(1)
        exhaustive[rows[count > beam]] = False
        near = at(tasks["potential"], torch.where(new, skey >> 31, 0))
        width = min(int(count.max()), beam)
        pick = torch.where(new, near, float("inf")).argsort(dim=1, stable=True)[:, :width]
        idx = order.gather(1, pick)[keep]
        valid = new.gather(1, pick)[keep]
        front = {key_: _gather(v[keep], idx) for key_, v in ex.items()}
        rows = rows[keep]
        trail.append((rows, idx.int()))
        tasks = tasks.select(keep.nonzero()[:, 0])
    if steps < left:
        exhaustive[:] = False
    return found, plan, exhaustive, length


def _backtrack(trail: list[tuple[torch.Tensor, torch.Tensor]], rows: torch.Tensor,
               last: torch.Tensor, length: int) -> torch.Tensor:
    """The actions [len(rows), length] that led to expansion index `last` of the newest step
    (`trail[d]`: the rows alive after step d and, per kept state, its expansion index:
    action = index % N_ACTIONS, parent = index // N_ACTIONS in the step before)."""
    depth = len(trail)
    out = torch.zeros(len(rows), length, dtype=torch.long)
    out[:, depth] = last % N_ACTIONS
    slot = last // N_ACTIONS
    for d in range(depth - 1, -1, -1):
        kept_rows, index = trail[d]
        e = index[torch.searchsorted(kept_rows, rows), slot].long()
        out[:, d] = e % N_ACTIONS
        slot = e // N_ACTIONS
    return out


def _play_rows(game: Game, tasks: Tasks, state: State, generator: torch.Generator,
               found: torch.Tensor, plan: torch.Tensor, replan: Tasks | None
               ) -> dict[str, torch.Tensor]:
    """Play rows (state [R, 1]) to the end; per row: return, end code, steps, and which
    opponents were nearest when it was caught [R, M]. Without `replan` (deterministic
    levels) a row follows its plan (actions [R, horizon]) where the search `found` one, else
    it looks ahead. With `replan` (the levels without their random walkers, [R]) every row
    looks ahead, its plan one of the continuations, searched again when it leaves it."""
    r, m = len(tasks), tasks["opp_pos"].shape[1]
    out = {"total_reward": torch.zeros(r), "end": torch.zeros(r, dtype=torch.long),
           "steps": torch.zeros(r, dtype=torch.long),
           "catchers": torch.zeros(r, m, dtype=torch.bool)}
    alive = torch.arange(r)
    width, horizon = int(tasks["grid"][0, 1]), game.horizon
    plan = torch.cat([plan, torch.zeros(r, DEPTH, dtype=torch.long)], 1)
    for t in range(horizon):
        if not len(alive):
            break
        has = found[alive]
        if replan is None and bool(has.all()):
            action = plan[alive, t]
        else:
            action = _branches(game, tasks, state, horizon - t, generator,
                               plan[alive, t:t + DEPTH], has)
            if replan is None:
                action = torch.where(has, plan[alive, t], action)
        left = has & (action != plan[alive, t])
        prev = state["pos"]
        state, reward, ended = game.step(tasks, state, action[:, None])
        out["total_reward"][alive] += reward[:, 0]
        out["steps"][alive] += 1
        out["end"][alive] = state["outcome"][:, 0]
        out["catchers"][alive] = _nearest(tasks, state, prev, width) & (
            state["outcome"] == CAUGHT)
        redo = (left & ~ended[:, 0]).nonzero()[:, 0]
        if replan is not None and len(redo) and t + 1 < horizon:
            rows = alive[redo]
            sub = {k: v[redo] for k, v in state.items()}
            again, actions, *_ = search(game, replan.select(rows), sub, depth=REPLAN)
            found[rows] = again
            plan[rows, t + 1:t + 1 + actions.shape[1]] = actions
        keep = ~ended[:, 0]
        if not bool(keep.all()):
            alive, tasks = alive[keep], tasks.select(keep.nonzero()[:, 0])
            state = {k: v[keep] for k, v in state.items()}
    return out


def _nearest(tasks: Tasks, state: State, prev: torch.Tensor, width: int) -> torch.Tensor:
    """The opponents [R, M] nearest (Manhattan) to the player's tile before or after a step."""
    opp, mask = state["opp"][:, 0], tasks["opp_mask"]

    def dist(tile: torch.Tensor) -> torch.Tensor:
        return ((opp // width - tile // width).abs() + (opp % width - tile % width).abs())

    d = torch.minimum(dist(state["pos"][:, :1]), dist(prev[:, :1]))
    d = torch.where(mask, d, 1 << 30)
    return mask & (d == d.min(1, keepdim=True).values)


def unwinnable(game: Game, tasks: Tasks) -> torch.Tensor:
    """Levels [T] that no player can win within the horizon, proved by an exhaustive
    `search` of each level without its random walkers (they only add danger: opponents
    never block one another); False where the search is not exhaustive."""
    calm = without(tasks, KEYED)
    state = game.reset(calm, 1, torch.Generator())
    # most levels are won by walking straight to the goal: search only the others
    walk, alive = dict(state), torch.ones(len(tasks), 1, dtype=torch.bool)
    for _ in range(game.horizon):
        walk, _, done = game.step(calm, walk, greedy(calm, walk))
        alive &= ~done
        if not bool(alive.any()):
            break
    rest = (walk["outcome"][:, 0] != GOAL).nonzero()[:, 0]  # the first ending counts
    out = torch.zeros(len(tasks), dtype=torch.bool)
    # a narrow search decides most of the rest (a win it finds is one; one that never drops
    # a state is exhaustive), the full one the others
    for beam in (QUICK_BEAM, BEAM):
        if not len(rest):
            break
        found, _, exhaustive, _ = search(game, calm.select(rest),
                                      {k: v[rest] for k, v in state.items()}, beam)
        out[rest] = ~found & exhaustive
        rest = rest[~found & ~exhaustive]
    return out


def keyed(tasks: Tasks) -> torch.Tensor:
    """Levels [T] with an opponent whose moves read the random key (`KEYED`)."""
    codes = torch.tensor([i for i, name in enumerate(TABLE) if name in KEYED])
    return (torch.isin(tasks["opp_beh"], codes) & tasks["opp_mask"]).any(1)


def without(tasks: Tasks, behaviours: tuple[str, ...]) -> Tasks:
    """The levels without their opponents of `behaviours`."""
    codes = torch.tensor([i for i, name in enumerate(TABLE) if name in behaviours])
    params = dict(tasks.params)
    params["opp_mask"] = tasks["opp_mask"] & ~torch.isin(tasks["opp_beh"], codes)
    return Tasks(params, tasks.ids)


def play(game: Game, tasks: Tasks, n_episodes: int, generator: torch.Generator | None = None
         ) -> Plays:
    """Play `n_episodes` of every level with the planner: `Plays` [T, E] and a note per
    level on why it lost where it did (`notes`). `generator` draws the episodes' random keys
    as `Game.reset` does for a rollout (the same seed: the same random walkers), then the
    planner's worlds."""
    t = len(tasks)
    state0 = game.reset(tasks, n_episodes, generator)
    worlds = torch.Generator().manual_seed(
        int(torch.randint(0, _M31, (1,), generator=generator)))
    rand = keyed(tasks)
    det, ran = (~rand).nonzero()[:, 0], rand.nonzero()[:, 0]
    result: dict[str, torch.Tensor] = {}
    searched = torch.zeros(t, 2, dtype=torch.bool)  # found, exhaustive (no random walkers)
    first = {k: v[:, :1] for k, v in state0.items()}
    if len(det):  # the same every episode: search, then play once
        sub, state = tasks.select(det), {k: v[det] for k, v in first.items()}
        found, plan, exhaustive, _ = search(game, sub, state)
        searched[det] = torch.stack([found, exhaustive], 1)
        rows = _play_rows(game, sub, state, worlds, found, plan, None)
        for k, v in rows.items():
            full = result.setdefault(k, torch.zeros(t, n_episodes, *v.shape[1:], dtype=v.dtype))
            full[det] = v[:, None].expand(len(det), n_episodes, *v.shape[1:])
    if len(ran):  # a plan without the random walkers (once per level), then each episode
        calm = without(tasks.select(ran), KEYED)
        found, plan, exhaustive, _ = search(game, calm, {k: v[ran] for k, v in first.items()})
        searched[ran] = torch.stack([found, exhaustive], 1)
        lv = ran.repeat_interleave(n_episodes)
        ep = torch.arange(n_episodes).repeat(len(ran))
        rows = _play_rows(game, tasks.select(lv), {k: v[lv, ep][:, None]
                                                   for k, v in state0.items()}, worlds,
                          found.repeat_interleave(n_episodes),
                          plan.repeat_interleave(n_episodes, 0),
                          calm.select(torch.arange(len(ran)).repeat_interleave(n_episodes)))
        for k, v in rows.items():
            full = result.setdefault(k, torch.zeros(t, n_episodes, *v.shape[1:], dtype=v.dtype))
            full[lv, ep] = v
    end = result["end"]
    return Plays(result["total_reward"], end == GOAL, end, result["steps"],
                 notes(game, tasks, end, result["catchers"], searched))


# ---- why a level is lost ----------------------------------------------------------------
def notes(game: Game, tasks: Tasks, end: torch.Tensor, catchers: torch.Tensor,
          searched: torch.Tensor) -> tuple[str, ...]:
    """One line per level on why the planner lost where it did ('' where it never lost).
    A level the search proved lost without its random walkers (`searched` [T, 2]: found,
    exhaustive) is lost with them too: it is searched again with each of its other
    opponents alone and with none, to name what blocks it. Others say how their episodes
    ended."""
    lost_levels = (end != GOAL).any(1)
    proven = lost_levels & ~searched[:, 0] & searched[:, 1]
    blockers = _blockers(game, tasks, proven.nonzero()[:, 0].tolist())
    out = []
    for i in range(len(tasks)):
        if not bool(lost_levels[i]):
            out.append("")
        elif i in blockers:
            out.append(blockers[i])
        else:
            note = _ends(tasks, i, end[i], catchers[i])
            dropped = not bool(searched[i, 0] | searched[i, 1])
            out.append(f"no win found (the search kept {BEAM} states a step): {note}"
                       if dropped else note)
    return tuple(out)


def _blockers(game: Game, tasks: Tasks, levels: list[int]) -> dict[int, str]:
    """For levels the search proved lost: what blocks the way to the goal, by searching
    each with no opponents and with each opponent alone (random walkers left out)."""
    if not levels:
        return {}
    tasks = without(tasks, KEYED)
    m = tasks["opp_mask"].shape[1]
    variants = [(i, j) for i in levels for j in [-1, *range(m)] if j < 0 or
                bool(tasks["opp_mask"][i, j])]
    sub = tasks.select([i for i, _ in variants])
    only = torch.tensor([j for _, j in variants])
    params = dict(sub.params)
    params["opp_mask"] = sub["opp_mask"] & (torch.arange(m) == only[:, None])
    sub = Tasks(params, sub.ids)
    state = game.reset(sub, 1, torch.Generator().manual_seed(0))
    found = search(game, sub, state)[0]
    won = {v: bool(f) for v, f in zip(variants, found, strict=True)}
    out = {}
    for i in levels:
        speed = float(tasks["speed"][i])
        if not won[(i, -1)]:
            moves = float(at(tasks["potential"], tasks["start"][i:i + 1, None])[0, 0])
            out[i] = (f"the goal is {moves:g} moves away at speed {speed:.2g}: out of reach "
                      f"in {game.horizon} steps" if moves / max(speed, 1e-9) > game.horizon
                      else f"no way to the goal in {game.horizon} steps")
            continue
        alone = [j for (k, j), w in won.items() if k == i and j >= 0 and not w]
        if not alone:
            names = ", ".join(_opponent(tasks, i, j)[0] for j in range(m)
                              if bool(tasks["opp_mask"][i, j]))
            out[i] = f"its opponents together cut off every way to the goal ({names})"
            continue
        out[i] = _blocks(tasks, i, alone[0]) + (
            f" (and {len(alone) - 1} more opponent{'s' if len(alone) > 2 else ''} would alone)"
            if len(alone) > 1 else "")
    return out


def _opponent(tasks: Tasks, i: int, j: int) -> tuple[str, float, str]:
    """(behaviour, speed, pace against the player) of opponent `j` of level `i`."""
    name = list(TABLE)[int(tasks["opp_beh"][i, j])]
    speed, player = float(tasks["opp_speed"][i, j]), float(tasks["speed"][i])
    pace = ("faster than" if speed > player * AS_FAST else
            "slower than" if speed * AS_FAST < player else "as fast as")
    return name, speed, pace


def _blocks(tasks: Tasks, i: int, j: int) -> str:
    """Opponent `j` alone makes level `i` unwinnable: how, in one line."""
    name, speed, pace = _opponent(tasks, i, j)
    vs = f"{speed:.2g} vs {float(tasks['speed'][i]):.2g}"
    if name == "guard":
        return (f"goal unreachable without passing a guard's post (radius "
                f"{int(tasks['guard_radius'][i])}; the guard is {pace} the player, {vs})")
    if name == "chase":
        return f"a chaser {pace} the player ({vs}) cuts off every way to the goal"
    return f"{_article(name)} ({vs}) blocks every way to the goal in time"


def _article(name: str) -> str:
    """'a chaser', 'a patrol', ... for a behaviour's name."""
    return {"chase": "a chaser", "patrol": "a patrol", "random": "a random walker",
            "guard": "a guard"}.get(name, f"a {name} opponent")


def _ends(tasks: Tasks, i: int, end: torch.Tensor, catchers: torch.Tensor) -> str:
    """How level `i`'s lost episodes ended (end codes [E], catchers [E, M]), in one line."""
    n = len(end)
    caught, hazard = int((end == CAUGHT).sum()), int((end == HAZARD).sum())
    timeout = int((end == 0).sum())
    if caught >= max(hazard, timeout):
        slots = catchers.any(0).nonzero()[:, 0].tolist()
        if not slots:
            return f"caught in {caught}/{n} episodes"
        beh = [_opponent(tasks, i, j) for j in slots]
        name, speed, pace = max(beh, key=lambda b: b[1])
        who = _article(name)
        extra = f" {pace} the player ({speed:.2g} vs {float(tasks['speed'][i]):.2g})" \
            if name in ("chase", "guard") else ""
        return f"caught in {caught}/{n} episodes by {who}{extra}"
    if hazard >= timeout:
        return f"hits a hazard in {hazard}/{n} episodes"
    return f"out of time in {timeout}/{n} episodes"
