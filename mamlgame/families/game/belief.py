"""The goal belief: what a game policy needs to act on a guess of where the hidden goal is.

With `position = "graph"` the policy holds, per level, a belief over the goal's tile (logits
[T, N] over the padded grid's tiles, 0 on open tiles at a new level) and moves down the
expected path distance to the goal under that belief (the game's policy head,
`mamlgame.families.game.head.GoalBelief`). The inner step (`--algo cavia`) adapts the
belief alone: its policy gradient raises the tiles whose distance falls where the level's
shaped rewards rose, so one step moves the agent "towards where the goal is", also from tiles
its episodes never visited.

The head gets the level's movement graph as per-task inputs (`belief_inputs`), merged into
its params by `mamlgame.policy.with_task_inputs`; they are data, never meta-learned:
- `belief` [T, N]: the belief's logits (0 on open tiles, `CLOSED` on walls and hazards);
- `succ` [T, S, A]: the successor of every movement state (rise * N + tile) under each action,
  by the engine's own rule (`player_submove`, one sub-move);
- `width` [T]: the padded grid's width (tile = row * width + col); `state_scale` [T]: the
  divisor of the observed movement state (`engine.state_scale`);
- the distance tables (`mamlgame.families.game.distances`): on maps of at most `CELLS` padded
  tiles `goal_dist` [T, N, S], path steps from every state to every tile (`FAR` if
  unreachable); on bigger ones the two-scale tables `cell_dist`, `cell_of`, `local_dist`
  (`expected_distance`), which grow linearly with the area.

Beside the belief, `graph_logits` adds a learned danger term: for each action, the observed
opponents' distances (Manhattan, in tiles) from the tile that action leads to, weighted per
distance 0, 1, 2, ... by a meta-learned vector (`DANGER_INIT` at the start).
"""

from __future__ import annotations

import functools

import torch

from mamlgame.families.game.distances import FAR, cell_tables, dense_tables
from mamlgame.families.game.engine import state_scale
from mamlgame.families.game.rules import rise_levels, successor_table
from mamlgame.packs import Tasks

CLOSED = -30.0  # belief logit of a tile that cannot hold the goal (wall, hazard)
DANGER_INIT = (-8.0, -4.0, -1.0, 0.0)  # logits for an opponent 0, 1, 2, 3 tiles from the move
CELLS = 400  # a level of more padded tiles (past about 18 x 18) gets the two-scale field
# what `belief_inputs` gives per task: the belief, the graph, and either the dense table
# (`goal_dist`) or the two-scale one (`cell_dist`, `cell_of`, `local_dist`)
INPUTS = ("belief", "succ", "width", "state_scale", "goal_dist", "cell_dist", "cell_of",
          "local_dist")


def successors(tasks: Tasks, levels: int) -> torch.Tensor:
    """succ [T, S, A] with S = `levels` * N: the state after one sub-move of each action
    (`rules.successor_table`, the engine's own)."""
    return successor_table(tasks, levels).transpose(1, 2)


def belief_inputs(tasks: Tasks) -> dict[str, torch.Tensor]:
    """The per-task policy inputs of a goal-belief policy (see the module docstring)."""
    # (contiguous: the passes read its rows [T * S, A]; `successors` is a transposed view)
    succ = successors(tasks, rise_levels(tasks)).contiguous()
    closed = tasks["wall"] | tasks["hazard"]
    inputs = {"belief": torch.where(closed, CLOSED, 0.0).float(), "succ": succ,
              "width": tasks["grid"][:, 1].clone(),
              "state_scale": torch.full((len(tasks),), state_scale(tasks))}
    if closed.shape[1] <= CELLS:
        return {**inputs, "goal_dist": dense_tables(closed, succ)}
    height, width = (int(x) for x in tasks["grid"][0])
    return {**inputs, **cell_tables(closed, succ, height, width, CELLS)}


def expected_distance(inputs: dict[str, torch.Tensor], *states: torch.Tensor
                      ) -> list[torch.Tensor]:
    """F(s) [T, K] at each tensor of movement states [T, K] (long): the expected path
    distance to the goal under softmax(belief), differentiable with respect to the belief.

    Dense (`goal_dist`): exact, softmax(belief) @ goal_dist. Two-scale (`cell_dist`): the
    belief summed per cell times the distance to the cell's representative tile, corrected
    to the exact distance for the tiles within `local_dist`'s radius of s:
    F(s) = sum_c P(c) d(s, rep c) + sum_{g near s} p(g) (d(s, g) - d(s, rep cell(g)))."""
    if "goal_dist" in inputs:
        field = _dense_field(inputs["belief"], inputs["goal_dist"])  # [T, S]
        return [field.gather(1, x) for x in states]
    p = torch.softmax(inputs["belief"], -1)  # [T, N]
    cell_dist, cell_of, local = inputs["cell_dist"], inputs["cell_of"], inputs["local_dist"]
    sizes = [x.shape[1] for x in states]
    t = states[0].shape[0]
    s, n = cell_dist.shape[1], p.shape[1]
    mass = torch.zeros(t, cell_dist.shape[2], dtype=p.dtype).scatter_add(1, cell_of, p)
    # each distinct (level, state) once: a rollout's states repeat across steps and episodes
    key, inverse = torch.unique(torch.arange(t)[:, None] * s + torch.cat(states, 1),
                                return_inverse=True)
    level, state = key // s, key % s
    to_rep = cell_dist[level, state].to(p.dtype)  # [U, C]
    # every level's cell masses at once: no [U, C] copy of the masses for autograd to keep
    far = (to_rep @ mass.T).gather(1, level.unsqueeze(-1)).squeeze(-1)
    side = int(round(local.shape[2] ** 0.5))
    r = side // 2
    span = torch.arange(-r, r + 1)
    width = inputs["width"][level].unsqueeze(-1)  # [U, 1]
    offsets = (span[:, None] * width.unsqueeze(-1) + span).reshape(len(key), -1)  # [U, W²]
    tiles = ((state % n).unsqueeze(-1) + offsets).clamp(0, n - 1)
    exact = local[level, state]  # [U, W²], 255 past the radius
    known = exact < 255
    p_near = p[level.unsqueeze(-1), tiles]
    rep_near = to_rep.gather(1, cell_of[level.unsqueeze(-1), tiles])
    near = (p_near * torch.where(known, exact.to(p.dtype) - rep_near, 0.0)).sum(-1)
    return list((far + near)[inverse].split(sizes, 1))


_LAST_FIELD: list = []  # (belief, goal_dist, belief's version, field) of the last rollout
_LAST_TABLE: list = []  # (field, scale, scale's version, succ, table, move rows, move cols)


class _KnownField(torch.autograd.Function):
    """softmax(belief) @ goal_dist whose value is known (`_dense_field`'s last, a rollout's
    with the same belief): the value as it is, the gradient as `torch.bmm`'s backward gives
    it (itself a product, so a second derivative goes through it as through bmm's)."""

    @staticmethod
    def forward(ctx, p, goal_dist, value):  # noqa: D102
        ctx.save_for_backward(goal_dist)
        return value.clone()  # (an ordinary tensor, also of a value made in inference mode)

    @staticmethod
    def backward(ctx, g):  # noqa: D102
        goal_dist, = ctx.saved_tensors
        return torch.bmm(g.unsqueeze(1), goal_dist.transpose(1, 2)).squeeze(1), None, None


def _dense_field(belief: torch.Tensor, goal_dist: torch.Tensor) -> torch.Tensor:
    """softmax(belief) @ goal_dist [T, S]. The last one is reused while belief and table are
    unchanged: without autograd (a rollout, where every step asks with the same belief) as it
    is; with autograd (the loss pass over a rollout's episodes, with the belief that drew
    them) with its graph attached (`_KnownField`: the same floats as the product's)."""
    last = _LAST_FIELD[0] if _LAST_FIELD else None
    known = (last is not None and last[0] is belief and last[1] is goal_dist
             and last[2] == belief._version)
    if torch.is_grad_enabled():
        if known and belief.requires_grad and not goal_dist.requires_grad:
            return _KnownField.apply(torch.softmax(belief, -1), goal_dist, last[3])
        return torch.bmm(torch.softmax(belief, -1).unsqueeze(1), goal_dist).squeeze(1)
    if known:
        return last[3]
    field = torch.bmm(torch.softmax(belief, -1).unsqueeze(1), goal_dist).squeeze(1)
    _LAST_FIELD[:] = [(belief, goal_dist, belief._version, field)]
    return field


def _moves(inputs: dict[str, torch.Tensor], flat: torch.Tensor, nxt: torch.Tensor
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """The (row, col) displacement (int32) of each action's tile `nxt` [T, K, A] from `flat`'s
    [T, K]."""
    t, n = nxt.shape[0], inputs["belief"].shape[1]
    width = inputs["width"].view(t, 1, 1).int()
    # (in int32: exact on grid indices, half the memory of int64 on [T, S, A] tables)
    tile, here = nxt.int() % n, (flat.int() % n).unsqueeze(-1)
    return tile // width - here // width, tile % width - here % width


def _state_table(inputs: dict[str, torch.Tensor], scale: torch.Tensor) -> torch.Tensor | None:
    """A rollout's logits per movement state and action [T, S, A], computed once per belief
    and scale: every step then gathers its rows. None with autograd or the two-scale field."""
    if torch.is_grad_enabled() or "goal_dist" not in inputs:
        return None
    field = _dense_field(inputs["belief"], inputs["goal_dist"])
    succ = inputs["succ"]
    last = _LAST_TABLE[0] if _LAST_TABLE else None
    if (last and last[0] is field and last[1] is scale and last[2] == scale._version
            and last[3] is succ):
        return last[4]
    t, s, a = succ.shape
    here, there = field, field.gather(1, succ.reshape(t, -1)).reshape(t, s, a)
    sc = scale.reshape(t, 1, 1) if scale.dim() else scale
    table = sc * (here.unsqueeze(-1) - there)
    _LAST_TABLE[:] = [(field, scale, scale._version, succ, table)]
    return table


def _move_codes(inputs: dict[str, torch.Tensor], k: int) -> torch.Tensor:
    """Each action's move from each movement state [T, S, A] as the code (dr + 1) * 3 +
    (dc + 1) of its (row, col) displacement, within +-1 (a sub-move's; a wall state's, which
    stands for any, is clamped there), plus where the offsets of `_near_lookup(k)` start,
    (k + 1) * `_offset_strides(k)`' sum. The last ones are reused for the same `succ` and k."""
    succ = inputs["succ"]
    last = _LAST_CODES[0] if _LAST_CODES else None
    if last and last[0] is succ and last[1] == k:
        return last[2]
    t, s, _ = succ.shape
    rows, cols = _moves(inputs, torch.arange(s, device=succ.device).expand(t, s), succ)
    code = (rows.clamp(-1, 1) + 1) * 3 + (cols.clamp(-1, 1) + 1) + (2 * k + 4) * 9 * (k + 1)
    # (contiguous: read as rows [T * S, A] too, also where succ is a transposed view)
    code = code.to(torch.long, memory_format=torch.contiguous_format)
    _LAST_CODES[:] = [(succ, k, code)]
    return code


def _offset_strides(k: int) -> tuple[int, int]:
    """The steps of `_near_lookup(k)`'s index for one tile of row and column offset."""
    return (2 * k + 3) * 9, 9


@functools.cache
def _near_lookup(k: int, device: torch.device) -> torch.Tensor:
    """min(|i - dr| + |j - dc|, k) for every observed opponent offset (i, j), each within
    +-(k + 1) tiles (a farther one is k away from every move as well), and every move code
    [(2k + 3)², 9] flattened."""
    span = torch.arange(-(k + 1), k + 2, device=device)
    code = torch.arange(9, device=device)
    dr, dc = code // 3 - 1, code % 3 - 1
    far = (span[:, None, None] - dr).abs() + (span[None, :, None] - dc).abs()
    return far.clamp(max=k).reshape(-1)


def _danger_lookup(danger: torch.Tensor) -> torch.Tensor:
    """`danger` (0 at k) at `_near_lookup(k)`: a rollout's danger per offset and move; the
    last one is reused while `danger` is unchanged."""
    last = _LAST_DANGER[0] if _LAST_DANGER else None
    if last and last[0] is danger and last[1] == danger._version:
        return last[2]
    near = _near_lookup(danger.shape[0], danger.device)
    lookup = torch.cat([danger, danger.new_zeros(1)])[near]
    _LAST_DANGER[:] = [(danger, danger._version, lookup)]
    return lookup


_LAST_CODES: list = []  # (succ, k, `_move_codes`' codes)
_LAST_DANGER: list = []  # (danger, its version, `_danger_lookup`'s table)


def graph_logits(inputs: dict[str, torch.Tensor], state: torch.Tensor, scale: torch.Tensor,
                 opponents: torch.Tensor | None = None, danger: torch.Tensor | None = None
                 ) -> torch.Tensor:
    """Logits [T, K, A] at movement states `state` [T, K] (long):
    scale * (F(s) - F(succ(s, a))), F the expected path distance to the goal under the
    belief (`expected_distance`), plus `danger[d]` for each observed opponent d tiles from
    the tile that action leads to. `opponents` [T, K, M, 3]: (row, col) offsets from the
    player in tiles and a mask; `scale` is a scalar or per task [T]."""
    succ = inputs["succ"]  # [T, S, A]
    t, s, a = succ.shape
    flat = state.clamp(0, s - 1)
    rows = flat.unsqueeze(-1).expand(-1, -1, a)
    cached = _state_table(inputs, scale)
    if cached is not None:  # a rollout: the rows of the states' table
        out = cached.gather(1, rows)
    else:
        nxt = succ.gather(1, rows)  # [T, K, A]
        here, there = expected_distance(inputs, flat, nxt.reshape(t, -1))
        there = there.reshape(nxt.shape)
        sc = scale.reshape(t, 1, 1) if scale.dim() else scale
        out = sc * (here.unsqueeze(-1) - there)
    if opponents is None or danger is None:
        return out
    # each opponent's distance d (at most k) from the tile each action leads to, read from
    # `_near_lookup` at its offset and the action's move; danger[d] at d < k, 0 further
    k = danger.shape[-1]
    at = _danger_index(opponents, _move_codes(inputs, k).gather(1, rows).unsqueeze(2), k)
    if danger.dim() == 1:
        penalty = _shared_penalty(danger, at, cached is not None)
    else:
        near = _near_lookup(k, at.device).take(at)  # [T, K, M, A]
        padded = torch.cat([danger, danger.new_zeros(*danger.shape[:-1], 1)], -1)
        if padded.dim() == 2:  # per task [T, k + 1]
            penalty = padded.gather(1, near.reshape(t, -1)).reshape(near.shape)
        else:
            penalty = padded.take(near)  # (as padded[near], without advanced indexing)
    penalty = penalty * opponents[..., 2:3]  # [T, K, M, A]
    return out + _sum_slots(penalty)


def graph_logits_at(inputs: dict[str, torch.Tensor], task: torch.Tensor, state: torch.Tensor,
                    scale: torch.Tensor, opponents: torch.Tensor | None = None,
                    danger: torch.Tensor | None = None) -> torch.Tensor:
    """`graph_logits` at rows [L, A]: row i of level `task[i]` at movement state `state[i]`
    (long [L]), its opponents [L, M, 3]; the dense field only (`goal_dist`). The same floats
    as `graph_logits` gives at those rows: each entry is read or made as there, per row."""
    succ = inputs["succ"]  # [T, S, A]
    t, s, a = succ.shape
    at_state = task * s + state.clamp(0, s - 1)  # [L] into the [T * S] states
    cached = _state_table(inputs, scale)
    if cached is not None:  # a rollout: the rows of the states' table
        out = cached.reshape(t * s, a).index_select(0, at_state)
    else:
        nxt = succ.reshape(t * s, a).index_select(0, at_state)  # [L, A]
        field = _dense_field(inputs["belief"], inputs["goal_dist"]).reshape(-1)  # [T * S]
        here = field.index_select(0, at_state)
        there = field.take((task * s).unsqueeze(-1) + nxt)
        sc = scale.index_select(0, task).unsqueeze(-1) if scale.dim() else scale
        out = sc * (here.unsqueeze(-1) - there)
    if opponents is None or danger is None:
        return out
    k = danger.shape[-1]
    codes = _move_codes(inputs, k).reshape(t * s, a).index_select(0, at_state)
    if cached is not None and danger.dim() == 1:
        # a rollout, slot by slot: each slot's danger read from the lookup at its offset and
        # the actions' moves, masked, and summed in the slots' order (the same floats as
        # the [L, M, A] index below: two smaller ops a slot instead of one broadcast)
        lookup, base = _danger_lookup(danger), _danger_base(opponents, k)
        total = None
        for i in range(base.shape[1]):
            slot = lookup.take(codes + base[:, i:i + 1]) * opponents[:, i, 2:3]
            total = slot + 0.0 if total is None else total + slot
        return out + total
    at = _danger_index(opponents, codes.unsqueeze(1), k)  # [L, M, A]
    if danger.dim() == 1:
        penalty = _shared_penalty(danger, at, cached is not None)
    else:  # per task [T, k + 1]
        padded = torch.cat([danger, danger.new_zeros(*danger.shape[:-1], 1)], -1)
        near = _near_lookup(k, at.device).take(at)  # [L, M, A]
        penalty = padded.reshape(-1).take(task.view(-1, 1, 1) * (k + 1) + near)
    penalty = penalty * opponents[..., 2:3]  # [L, M, A]
    total = penalty[:, 0] + 0.0  # the slots' sum as `_sum_slots` adds it
    for i in range(1, penalty.shape[1]):
        total = total + penalty[:, i]
    return out + total


def _danger_index(opponents: torch.Tensor, codes: torch.Tensor, k: int) -> torch.Tensor:
    """Where each opponent sits from the tile each action leads to (`codes`, the actions'
    move codes, broadcast over the opponent slots): the index into `_near_lookup`'s table."""
    return _danger_base(opponents, k).unsqueeze(-1) + codes


def _danger_base(opponents: torch.Tensor, k: int) -> torch.Tensor:
    """Each opponent's offset (`opponents[..., :2]`, clamped to k + 1) as its part of the
    index into `_near_lookup`'s table [..., M] (long)."""
    o = opponents[..., :2].clamp(-(k + 1), k + 1).long()
    row_step, col_step = _offset_strides(k)
    return o[..., 0] * row_step + o[..., 1] * col_step


def _shared_penalty(danger: torch.Tensor, at: torch.Tensor, rollout: bool) -> torch.Tensor:
    """danger[d] (0 at d = k) at the indices `at` of one shared danger [k]: a rollout reads
    the danger's own lookup; a loss pass makes the same lookup with autograd (one take)."""
    if rollout:
        return _danger_lookup(danger).take(at)
    near = _near_lookup(danger.shape[-1], at.device)
    near = near.clone() if near.is_inference() else near  # (saved for backward)
    return torch.cat([danger, danger.new_zeros(1)]).take(near).take(at)


def _sum_slots(x: torch.Tensor) -> torch.Tensor:
    """x.sum(2) of x [T, K, M, A] as a chain of adds over the M slots, in the order the sum
    adds them, from +0 (the same float, zeros' signs included), without a reduction op."""
    total = x[:, :, 0] + 0.0
    for i in range(1, x.shape[2]):
        total = total + x[:, :, i]
    return total


__all__ = ["CELLS", "CLOSED", "DANGER_INIT", "FAR", "INPUTS", "belief_inputs",
           "expected_distance", "graph_logits", "graph_logits_at", "rise_levels", "successors"]
