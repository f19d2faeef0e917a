"""The goal belief: what a game policy needs to act on a guess of where the hidden goal is.

With `position = "graph"` the policy holds, per level, a belief over the goal's tile (logits
[T, N] over the padded grid's tiles, 0 on open tiles at a new level) and moves down the
expected path distance to the goal under that belief (`MLPPolicy(belief=True)`). The inner
step (`--algo cavia`) adapts the belief alone: its policy gradient raises the tiles whose
distance falls where the level's shaped rewards rose, so one step moves the agent "towards
where the goal is", also from tiles its episodes never visited.

The policy gets the level's movement graph as per-task inputs (`belief_inputs`), merged into
its params by `mamlgame.policy.with_task_inputs` (the head: `mamlgame.families.game.head`);
they are data, never meta-learned:
- `belief` [T, N]: the belief's logits (0 on open tiles, `CLOSED` on walls and hazards);
- `succ` [T, S, A]: the successor of every movement state (rise * N + tile) under each action,
  by the engine's own rule (`player_submove`, one sub-move);
- `goal_dist` [T, N, S]: path steps from every state to every tile (`FAR` if unreachable);
- `width` [T]: the padded grid's width (tile = row * width + col).

Beside the belief, `graph_logits` adds a learned danger term: for each action, the observed
opponents' distances (Manhattan, in tiles) from the tile that action leads to, weighted per
distance 0, 1, 2, ... by a meta-learned vector (`DANGER_INIT` at the start).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from mamlgame.families.game.rules import N_ACTIONS, player_submove
from mamlgame.packs import Tasks

FAR = 128.0  # distance of unreachable tiles (and the cap of every distance)
CLOSED = -30.0  # belief logit of a tile that cannot hold the goal (wall, hazard)
DANGER_INIT = (-8.0, -4.0, -1.0, 0.0)  # logits for an opponent 0, 1, 2, 3 tiles from the move
_CACHE_LEVELS = 1024
INPUTS = ("belief", "succ", "goal_dist", "width")  # what `belief_inputs` gives, per task


def rise_levels(tasks: Tasks) -> int:
    """Rise states per tile in this batch (the highest jump + 1; 1 without platformer)."""
    plat = tasks["platformer"]
    return int(tasks["jump"][plat].max()) + 1 if bool(plat.any()) else 1


def successors(tasks: Tasks, levels: int) -> torch.Tensor:
    """succ [T, S, A] with S = `levels` * N: the state after one sub-move of each action."""
    wall = tasks["wall"]
    t, n = wall.shape
    width = int(tasks["grid"][0, 1])
    s, dev = levels * n, wall.device
    tiles = torch.arange(n, device=dev).repeat(levels)
    tiles = torch.where(wall[:, tiles], width + 1, tiles)  # a wall state: any in-range tile
    rise = torch.arange(levels, device=dev).repeat_interleave(n).expand(t, s)
    pos = tiles.repeat(1, N_ACTIONS)
    act = torch.arange(N_ACTIONS, device=dev).repeat_interleave(s).expand(t, -1)
    plat = tasks["platformer"].view(t, 1)
    p, r = player_submove(wall, width, pos, rise.repeat(1, N_ACTIONS), act, plat,
                          tasks["jump"].view(t, 1))
    return (r.clamp(max=levels - 1) * n + p).reshape(t, N_ACTIONS, s).transpose(1, 2)


def goal_distances(tasks: Tasks, succ: torch.Tensor) -> torch.Tensor:
    """goal_dist [T, N, S]: path steps from each state to each tile (any rise), `FAR` when
    unreachable; walls and hazards are never left. Cached per level layout."""
    blocked = (tasks["wall"] | tasks["hazard"]).cpu()
    nxt = succ.cpu()
    rows = [_level_distances(blocked[i].numpy().tobytes(), nxt[i].numpy().tobytes(),
                             nxt.shape[1], blocked.shape[1]) for i in range(len(tasks))]
    return torch.stack(rows).float().to(succ.device)


@lru_cache(maxsize=_CACHE_LEVELS)
def _level_distances(blocked: bytes, succ: bytes, s: int, n: int) -> torch.Tensor:
    """One level's [N, S] distances (uint8), by relaxation from every tile at once."""
    stuck = torch.from_numpy(np.frombuffer(blocked, bool).copy()).repeat(s // n)
    nxt = torch.from_numpy(np.frombuffer(succ, np.int64).copy()).reshape(s, N_ACTIONS)
    target = torch.arange(s)[None, :] % n == torch.arange(n)[:, None]  # [N, S]
    dist = torch.where(target, 0, int(FAR)).to(torch.int16)
    idx = nxt.reshape(-1)
    for _ in range(int(FAR)):
        step = dist[:, idx].reshape(n, s, N_ACTIONS).amin(-1) + 1
        new = torch.where(target | stuck, dist, torch.minimum(dist, step.clamp(max=int(FAR))))
        if torch.equal(new, dist):
            break
        dist = new
    return dist.to(torch.uint8)


def belief_inputs(tasks: Tasks) -> dict[str, torch.Tensor]:
    """The per-task policy inputs of a goal-belief policy (see the module docstring)."""
    succ = successors(tasks, rise_levels(tasks))
    closed = tasks["wall"] | tasks["hazard"]
    return {"belief": torch.where(closed, CLOSED, 0.0).float(),
            "succ": succ,
            "goal_dist": goal_distances(tasks, succ),
            "width": tasks["grid"][:, 1].clone()}


def graph_logits(inputs: dict[str, torch.Tensor], state: torch.Tensor, scale: torch.Tensor,
                 opponents: torch.Tensor | None = None, danger: torch.Tensor | None = None
                 ) -> torch.Tensor:
    """Logits [T, K, A] at movement states `state` [T, K] (long):
    scale * (F(s) - F(succ(s, a))), F = softmax(belief) @ goal_dist the expected path
    distance to the goal, plus `danger[d]` for each observed opponent d tiles from the tile
    that action leads to. `opponents` [T, K, M, 3]: (row, col) offsets from the player in
    tiles and a mask; `scale` is a scalar or per task [T]."""
    dist, succ = inputs["goal_dist"], inputs["succ"]  # [T, N, S], [T, S, A]
    t, s, a = succ.shape
    n = dist.shape[1]
    field = torch.bmm(torch.softmax(inputs["belief"], -1).unsqueeze(1), dist).squeeze(1)
    flat = state.clamp(0, s - 1)
    nxt = succ.gather(1, flat.unsqueeze(-1).expand(-1, -1, a))  # [T, K, A]
    there = field.gather(1, nxt.reshape(t, -1)).reshape(nxt.shape)
    scale = scale.reshape(t, 1, 1) if scale.dim() else scale
    out = scale * (field.gather(1, flat).unsqueeze(-1) - there)
    if opponents is None or danger is None:
        return out
    width = inputs["width"].view(t, 1, 1)
    tile, here = nxt % n, (flat % n).unsqueeze(-1)
    dr, dc = tile // width - here // width, tile % width - here % width  # the move [T, K, A]
    far = ((opponents[..., 0].unsqueeze(-1) - dr.unsqueeze(2)).abs()
           + (opponents[..., 1].unsqueeze(-1) - dc.unsqueeze(2)).abs())  # [T, K, M, A]
    k = danger.shape[-1]
    near = torch.nn.functional.one_hot(far.long().clamp(max=k), k + 1)[..., :k].to(out.dtype)
    if danger.dim() == 2:  # per task [T, k]
        danger = danger.reshape(t, 1, 1, 1, k)
    penalty = (near * danger).sum(-1) * opponents[..., 2:3]  # [T, K, M, A]
    return out + penalty.sum(2)


def state_index(tasks: Tasks, state: dict[str, torch.Tensor]) -> torch.Tensor:
    """The movement state (rise * N + tile) of every player [T, E]."""
    n = tasks["wall"].shape[1]
    return state["rise"] * n + state["pos"]


__all__ = ["CLOSED", "DANGER_INIT", "FAR", "INPUTS", "belief_inputs", "goal_distances", "graph_logits",
           "rise_levels", "state_index", "successors"]
