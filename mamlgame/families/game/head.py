"""The game's per-level policy heads: what `--algo cavia` adapts on a game level.

A head is the family's part of a policy (`mamlgame.families.base.PolicyHead`): the policy
adds its logits to the network's, the inner step adapts its `adapted` entries at each level,
and its `inputs` come from the level's data (`task_inputs`), never meta-learned.

- `GoalBelief` (`position = "graph"`, the default): a belief over the goal's tile per level;
  the policy walks down the expected path distance to the goal under it (see
  `mamlgame.families.game.belief`), plus a meta-learned danger per opponent distance.
- `TileTable` (`position = "tile"`): a row of logits per map tile, empty at a new level.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn

from mamlgame.errors import TrainingError
from mamlgame.families.base import TaskFamily
from mamlgame.families.game.belief import (
    DANGER_INIT,
    INPUTS,
    belief_inputs,
    graph_logits,
    graph_logits_at,
)
from mamlgame.families.game.engine import Game
from mamlgame.packs import Tasks

Params = dict[str, torch.Tensor]


@functools.cache
def _unscale(scale: float, slots: int, device: torch.device) -> torch.Tensor:
    """The factors [3 * slots] of the observed opponents' (row, col) and mask: `scale`,
    `scale`, 1 for each slot."""
    with torch.inference_mode(False):  # kept: an ordinary tensor wherever first asked for
        return torch.tensor([scale, scale, 1.0] * slots, device=device)


def _index(obs: torch.Tensor, feature: int, scale: float) -> torch.Tensor:
    """The integer index observed at `obs[..., feature] * scale` (long)."""
    return (obs[..., feature] * scale).round().long()


class GoalBelief(nn.Module):
    """scale * (F(s) - F(succ(s, a))) with F the expected path distance to the goal under the
    level's belief, plus a danger per distance of the `n_opponents` opponents observed from
    `obs[..., opponent_feature]` ((row, col) / `opponent_scale` and a mask each). The movement
    state s is observed at `obs[..., state_feature]` times the batch's `state_scale` input.

    Params: `belief_scale` (1 at init) and `danger` (`DANGER_INIT`, with opponents), both
    meta-learned. Inputs (`belief_inputs`): the belief, which the inner step adapts, and the
    level's movement graph."""

    kind = "game.goal_belief"
    adapted = ("belief",)
    inputs = INPUTS

    def __init__(self, state_feature: int, opponent_feature: int = -1, n_opponents: int = 0,
                 opponent_scale: float = 1.0):
        super().__init__()
        self.state_feature = state_feature
        self.opponent_feature, self.n_opponents = opponent_feature, n_opponents
        self.opponent_scale = opponent_scale
        self.belief_scale = nn.Parameter(torch.tensor(1.0))
        if n_opponents:
            self.danger = nn.Parameter(torch.tensor(DANGER_INIT))

    def task_inputs(self, tasks: Tasks) -> dict[str, torch.Tensor]:
        return belief_inputs(tasks)

    def logits(self, p: Params, obs: torch.Tensor) -> torch.Tensor:
        """The belief's and the danger's logits [..., A] for obs [T, ...]."""
        t = obs.shape[0]
        scale = p["state_scale"].reshape(t, *[1] * (obs.dim() - 2))
        state = (obs[..., self.state_feature] * scale).round().long()
        opponents = None
        if self.n_opponents:
            f, m = self.opponent_feature, self.n_opponents
            # (row, col) * opponent_scale and the mask * 1, rounded: one product of the
            # strided slice, all slots' entries a row (its result contiguous), one rounding
            opponents = obs[..., f:f + 3 * m] * _unscale(self.opponent_scale, m, obs.device)
            opponents = opponents.round_().view(t, -1, m, 3)
        out = graph_logits(p, state.reshape(t, -1), p["belief_scale"], opponents, p.get("danger"))
        return out.reshape(*state.shape, out.shape[-1])

    def logits_at(self, p: Params, obs: torch.Tensor, rows: torch.Tensor,
                  gathered: torch.Tensor | None = None) -> torch.Tensor:
        """`logits(p, obs)` at `rows` alone [len(rows), A] (long, into obs flattened to
        [T * K, D]; `gathered`: those rows of obs, if the caller has them): the same floats,
        computed on those rows (the policy's loss passes and rollouts skip the steps after an
        episode ended). On the two-scale field, at every row, then gathered."""
        if "goal_dist" not in p:
            out = self.logits(p, obs)
            return out.reshape(-1, out.shape[-1]).index_select(0, rows)
        t = obs.shape[0]
        task = rows // (obs.shape[:-1].numel() // t)  # each row's level
        x = obs.reshape(-1, obs.shape[-1]).index_select(0, rows) if gathered is None \
            else gathered  # [L, D]
        state = (x[:, self.state_feature] * p["state_scale"].index_select(0, task)
                 ).round().long()
        opponents = None
        if self.n_opponents:
            f, m = self.opponent_feature, self.n_opponents
            opponents = x[:, f:f + 3 * m] * _unscale(self.opponent_scale, m, obs.device)
            opponents = opponents.round_().view(-1, m, 3)
        return graph_logits_at(p, task, state, p["belief_scale"], opponents, p.get("danger"))

    def config(self) -> dict[str, Any]:
        return {"state_feature": self.state_feature, "opponent_feature": self.opponent_feature,
                "n_opponents": self.n_opponents, "opponent_scale": self.opponent_scale}


class TileTable(nn.Module):
    """The row of the player's tile (observed at `obs[..., tile_feature] * tile_scale`) of a
    table [tiles, A], zeros at a new level and written by the inner step, never meta-learned.
    With `radius` r > 0 on a map `width` tiles wide, the rows of the (2r+1)² tiles around the
    player's, weighted by a meta-learned kernel (`spread`, 1 at the centre, 0 elsewhere at
    init): one inner step then also writes what it learned at a tile onto its neighbours."""

    kind = "game.tile_table"
    adapted = ("table",)
    inputs = ()

    def __init__(self, tiles: int, action_dim: int, tile_feature: int, tile_scale: float,
                 radius: int = 0, width: int = 0):
        super().__init__()
        self.tiles, self.action_dim = tiles, action_dim
        self.tile_feature, self.tile_scale = tile_feature, tile_scale
        self.radius, self.width = radius, width
        self.table = nn.Parameter(torch.zeros(tiles, action_dim))
        if radius:
            side = 2 * radius + 1
            spread = torch.zeros(side * side)
            spread[side * side // 2] = 1.0
            self.spread = nn.Parameter(spread)
            span = torch.arange(-radius, radius + 1)
            self.register_buffer("offsets", (span[:, None] * width + span).reshape(-1),
                                 persistent=False)

    def task_inputs(self, tasks: Tasks) -> dict[str, torch.Tensor]:
        return {}

    def logits(self, p: Params, obs: torch.Tensor) -> torch.Tensor:
        """The table's row at each observation's tile [..., A]."""
        table = p["table"]  # [N, A], or per task [T, N, A]
        idx = _index(obs, self.tile_feature, self.tile_scale).clamp(0, self.tiles - 1)
        if not self.radius:
            return _rows(table, idx)
        near = idx.unsqueeze(-1) + self.offsets  # [..., K]
        inside = (near >= 0) & (near < self.tiles)
        rows = _rows(table, near.clamp(0, self.tiles - 1))  # [..., K, A]
        weight = p["spread"] * inside  # [..., K]
        return (weight.unsqueeze(-1) * rows).sum(-2)

    def config(self) -> dict[str, Any]:
        return {"tiles": self.tiles, "action_dim": self.action_dim,
                "tile_feature": self.tile_feature, "tile_scale": self.tile_scale,
                "radius": self.radius, "width": self.width}


def _rows(table: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """table[idx] [..., A] for a shared table [N, A] or per task [T, N, A] (idx [T, ...])."""
    if table.dim() == 2:
        return table[idx]
    flat = idx.reshape(idx.shape[0], -1, 1).expand(-1, -1, table.shape[-1])
    return table.gather(1, flat).reshape(*idx.shape, table.shape[-1])


def game_head(family: TaskFamily, table_radius: int = 0) -> nn.Module | None:
    """The head `--algo cavia` trains on a game pack: a goal belief with `position =
    "graph"`, a tile table with `position = "tile"`, else none (cavia's context alone)."""
    assert isinstance(family, Game)
    if family.state_feature is not None:
        if table_radius:
            raise TrainingError('--table-radius needs position = "tile" (a tile table), not '
                                '"graph" (a goal belief)')
        return GoalBelief(family.state_feature, family.opponent_feature, family.n_opponents,
                          family.opponent_scale)
    if family.tile_feature is not None:
        return TileTable(family.n_tiles, family.action_dim, family.tile_feature,
                         family.tile_scale, table_radius, family.tile_width if table_radius else 0)
    if table_radius:
        raise TrainingError('--table-radius needs --algo cavia on a game pack with '
                            'position = "tile" in [generate]')
    return None


HEADS = (GoalBelief, TileTable)
_OLD_PARAMS = ("table", "spread", "belief_scale", "danger")


def upgrade_policy(config: dict[str, Any], params: Params) -> tuple[dict[str, Any], Params]:
    """A policy saved before the heads were modules (its head's settings among the policy's
    own, its params unprefixed), in today's form."""
    config = dict(config)
    belief, tiles = config.pop("belief", False), config.pop("tiles", 0)
    old = {k: config.pop(k) for k in ("tile_feature", "tile_scale", "table_radius",
                                      "table_width", "state_feature", "opponent_feature",
                                      "n_opponents", "opponent_scale") if k in config}
    if belief:
        config["head"] = {"kind": GoalBelief.kind, "config": {
            k: old[k] for k in ("state_feature", "opponent_feature", "n_opponents",
                                "opponent_scale")}}
    elif tiles:
        config["head"] = {"kind": TileTable.kind, "config": {
            "tiles": tiles, "action_dim": config["action_dim"],
            "tile_feature": old["tile_feature"], "tile_scale": old["tile_scale"],
            "radius": old["table_radius"], "width": old["table_width"]}}
    return config, {f"head.{k}" if k in _OLD_PARAMS else k: v for k, v in params.items()}

__all__ = ["HEADS", "GoalBelief", "TileTable", "game_head", "upgrade_policy"]
