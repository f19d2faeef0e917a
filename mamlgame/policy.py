"""Gaussian and categorical MLP policies, used functionally with a params dict.

Params may carry a leading task dimension (per-task adapted params, shape [T, ...]); the
forward pass then applies each task's weights to that task's observations [T, ...].
`torch.func.functional_call(policy, params, (obs,))` works; `log_prob` and `sample` call the
same pure function, `policy.apply_params(params, obs)`, directly.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from mamlgame.config import TrainConfig
from mamlgame.errors import TrainingError
from mamlgame.families import TaskFamily
from mamlgame.families.game.belief import DANGER_INIT, graph_logits
from mamlgame.packs import Tasks
from mamlgame.shard import Shard

Params = dict[str, torch.Tensor]
TASK_INPUTS = ("belief", "succ", "goal_dist", "width")  # per-task inputs, never meta-learned
ACTIVATIONS = {"relu": F.relu, "tanh": torch.tanh}
# Rows per task from which the loss passes (thousands of rows, vs. tens per rollout step) use a
# product plus an in-place bias add: `baddbmm` first copies the broadcast bias into its output,
# ~20% slower on the [20, 2000, 100] activations (benchmarks/iteration_costs.py).
_LOSS_ROWS = 1024


class _NarrowLinear(torch.autograd.Function):
    """x w^T + b per task for a layer with fewer outputs than inputs (the action head).

    torch's backward computes this layer's weight gradient as (x^T g)^T, a product with a
    2-column output that runs ~5x slower than the equal g^T x; this backward uses the latter.
    It is made of differentiable products, so MAML's second-order pass goes through it."""

    @staticmethod
    def forward(ctx, x, w, b):  # noqa: D102
        ctx.save_for_backward(x, w)
        return torch.bmm(x, w.transpose(1, 2)).add_(b.unsqueeze(1))

    @staticmethod
    def backward(ctx, g):  # noqa: D102
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        return (torch.bmm(g, w) if need_x else None,
                torch.bmm(g.transpose(1, 2), x) if need_w else None,
                g.sum(1) if need_b else None)


class MLPPolicy(nn.Module):
    """An MLP from observations to Gaussian means (with a state-independent log-std) or to
    categorical logits (`discrete=True`).

    `context` > 0 adds a context vector (param "context", zeros at init) as extra inputs of
    the first layer: CAVIA's task context, the only thing `--algo cavia` adapts. It enters as
    a per-task bias of the first layer, b + W_c c, so a context per task [T, C] works with
    shared weights.

    `tiles` > 0 (discrete actions) adds a tile table (param "table" [tiles, action_dim], zeros):
    the row of the tile whose index is observed at `obs[..., tile_feature] * tile_scale` is
    added to the logits. It is CAVIA's context for tile games: empty at a new level, written by
    the inner step, never meta-learned (see `MetaLearner.meta_parameters`). With
    `table_radius` r > 0 on a map `table_width` tiles wide (tile index = row * width + col),
    the logits add the rows of the (2r+1)² tiles around the player's, weighted by a
    meta-learned kernel (param "spread", 1 at the centre, 0 elsewhere at init): one inner step
    then also writes what it learned at a tile onto its unvisited neighbours.

    `belief` (discrete actions) adds a goal belief's logits: beta * (F(s) - F(succ(s, a))),
    F the expected path distance to the goal under the level's belief, s the movement state
    observed at `obs[..., state_feature] * tile_scale`, beta a meta-learned scale (param
    "belief_scale"), plus a meta-learned danger per distance of the `n_opponents` opponents
    observed from `obs[..., opponent_feature]` (param "danger"; see
    `mamlgame.families.game.belief.graph_logits`). The belief and the level's graph are
    per-task inputs (`with_task_inputs`), not parameters."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: tuple[int, ...] = (100, 100),
                 activation: str = "relu", discrete: bool = False, init_std: float = 1.0,
                 context: int = 0, tiles: int = 0, tile_feature: int = -1,
                 tile_scale: float = 1.0, table_radius: int = 0, table_width: int = 0,
                 belief: bool = False, state_feature: int = -1, opponent_feature: int = -1,
                 n_opponents: int = 0, opponent_scale: float = 1.0):
        super().__init__()
        sizes = (obs_dim + context, *hidden, action_dim)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.activation = activation
        self.discrete = discrete
        self.obs_dim, self.action_dim, self.hidden = obs_dim, action_dim, tuple(hidden)
        self.context_dim = context
        if not discrete:
            self.log_std = nn.Parameter(torch.full((action_dim,), math.log(init_std)))
        if context:
            self.context = nn.Parameter(torch.zeros(context))
        self.tiles, self.tile_feature, self.tile_scale = tiles, tile_feature, tile_scale
        if tiles:
            if not discrete or not 0 <= tile_feature < obs_dim:
                raise ValueError("a tile table needs discrete actions and a tile feature")
            self.table = nn.Parameter(torch.zeros(tiles, action_dim))
        self.table_radius, self.table_width = table_radius, table_width
        if table_radius:
            if not tiles or table_width < 1:
                raise ValueError("a table radius needs a tile table and the map width")
            side = 2 * table_radius + 1
            spread = torch.zeros(side * side)
            spread[side * side // 2] = 1.0
            self.spread = nn.Parameter(spread)
            span = torch.arange(-table_radius, table_radius + 1)
            self.register_buffer("offsets", (span[:, None] * table_width + span).reshape(-1),
                                 persistent=False)
        self.belief, self.state_feature = belief, state_feature
        if belief:
            if not discrete or not 0 <= state_feature < obs_dim:
                raise ValueError("a goal belief needs discrete actions and a state feature")
            self.belief_scale = nn.Parameter(torch.tensor(1.0))
        self.opponent_feature, self.n_opponents = opponent_feature, n_opponents
        self.opponent_scale = opponent_scale
        if belief and n_opponents:
            if not 0 <= opponent_feature <= obs_dim - 3 * n_opponents:
                raise ValueError("opponent features past the observation")
            self.danger = nn.Parameter(torch.tensor(DANGER_INIT))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Means or logits [..., action_dim] (also under `functional_call`)."""
        return self.apply_params(dict(self.named_parameters()), obs)

    def apply_params(self, params: Params, obs: torch.Tensor) -> torch.Tensor:
        """The forward pass as a pure function of a params dict, what `functional_call` does
        without its per-call module patching (this runs every rollout step). Batched weights
        [T, out, in] need obs [T, ...]."""
        act = ACTIVATIONS[self.activation]
        batched = params["layers.0.weight"].dim() == 3
        shape = obs.shape
        x = obs.reshape(shape[0], -1, shape[-1]) if batched else obs
        last = len(self.layers) - 1
        for i in range(last + 1):
            w, b = params[f"layers.{i}.weight"], params[f"layers.{i}.bias"]
            if i == 0 and self.context_dim:
                x = self._first_layer(params, x, batched)
            elif not batched:
                x = F.linear(x, w, b)
            elif x.shape[1] < _LOSS_ROWS:
                x = torch.baddbmm(b.unsqueeze(1), x, w.transpose(1, 2))
            elif w.shape[1] < w.shape[2] and torch.is_grad_enabled():
                x = _NarrowLinear.apply(x, w, b)
            else:
                x = torch.bmm(x, w.transpose(1, 2)).add_(b.unsqueeze(1))
            if i < last:
                x = act(x)
        out = x.reshape(*shape[:-1], x.shape[-1])
        if self.tiles:
            out = out + self._table_row(params, obs)
        return out + self._belief_logits(params, obs) if self.belief else out

    def _belief_logits(self, params: Params, obs: torch.Tensor) -> torch.Tensor:
        """The goal belief's and the danger's logits [..., A] for obs [T, ...]."""
        if "goal_dist" not in params:
            raise TrainingError("a goal-belief policy acts on a level's inputs: pass params "
                                "through mamlgame.policy.with_task_inputs")
        t = obs.shape[0]
        state = (obs[..., self.state_feature] * self.tile_scale).round().long()
        opponents = None
        if self.n_opponents:
            f, m = self.opponent_feature, self.n_opponents
            opponents = obs[..., f:f + 3 * m].reshape(t, -1, m, 3)
            opponents = torch.cat([(opponents[..., :2] * self.opponent_scale).round(),
                                   opponents[..., 2:]], -1)
        out = graph_logits(params, state.reshape(t, -1), params["belief_scale"], opponents,
                           params.get("danger"))
        return out.reshape(*state.shape, out.shape[-1])

    def _table_row(self, params: Params, obs: torch.Tensor) -> torch.Tensor:
        """The tile table's row at each observation's tile [..., action_dim]."""
        table = params["table"]  # [N, A], or per task [T, N, A]
        idx = (obs[..., self.tile_feature] * self.tile_scale).round().long()
        idx = idx.clamp(0, self.tiles - 1)
        if not self.table_radius:
            return self._rows(table, idx)
        near = idx.unsqueeze(-1) + self.offsets  # [..., K]
        inside = (near >= 0) & (near < self.tiles)
        rows = self._rows(table, near.clamp(0, self.tiles - 1))  # [..., K, A]
        weight = params["spread"] * inside  # [..., K]
        return (weight.unsqueeze(-1) * rows).sum(-2)

    @staticmethod
    def _rows(table: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """table[idx] [..., A] for a shared table [N, A] or per task [T, N, A] (idx [T, ...])."""
        if table.dim() == 2:
            return table[idx]
        flat = idx.reshape(idx.shape[0], -1, 1).expand(-1, -1, table.shape[-1])
        return table.gather(1, flat).reshape(*idx.shape, table.shape[-1])

    def _first_layer(self, params: Params, x: torch.Tensor, batched: bool) -> torch.Tensor:
        """W_x x + (b + W_c c): the context as a bias; c is [C] or per task [T, C] (with
        shared or per-task weights)."""
        w, b, c = params["layers.0.weight"], params["layers.0.bias"], params["context"]
        d = self.obs_dim
        w_x, w_c = w[..., :d], w[..., d:]
        if batched:  # w [T, h, d + C], c [T, C], x [T, N, d]
            bias = b + torch.bmm(w_c, c.unsqueeze(-1)).squeeze(-1)
            return torch.baddbmm(bias.unsqueeze(1), x, w_x.transpose(1, 2))
        bias = b + c @ w_c.T  # [h] or [T, h]
        if bias.dim() == 2:  # per-task context with shared weights: x [T, ..., d]
            bias = bias.reshape(bias.shape[0], *([1] * (x.dim() - 2)), bias.shape[1])
        return F.linear(x, w_x) + bias

    def config(self) -> dict:
        """Constructor arguments, for checkpoints."""
        return {"obs_dim": self.obs_dim, "action_dim": self.action_dim, "hidden": list(self.hidden),
                "activation": self.activation, "discrete": self.discrete,
                "context": self.context_dim, "tiles": self.tiles,
                "tile_feature": self.tile_feature, "tile_scale": self.tile_scale,
                "table_radius": self.table_radius, "table_width": self.table_width,
                "belief": self.belief, "state_feature": self.state_feature,
                "opponent_feature": self.opponent_feature, "n_opponents": self.n_opponents,
                "opponent_scale": self.opponent_scale}


@contextmanager
def seeded_init(seed: int) -> Iterator[None]:
    """Module initialisations inside draw from `seed` (the weights `torch.manual_seed(seed)`
    before them would give) and leave the global RNG as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        yield


def make_policy(family: TaskFamily, hidden: tuple[int, ...] = (100, 100), activation: str = "relu",
                init_std: float = 1.0, seed: int | None = None, context: int = 0,
                per_level: bool = False, table_radius: int = 0) -> MLPPolicy:
    """The policy for a task family: Gaussian for continuous actions, categorical for discrete
    (with `context` context inputs; with `per_level`, cavia's per-level part: a goal belief
    where the family observes a movement state, else a tile table where it observes a tile
    index, spread over `table_radius` neighbours; see `MLPPolicy`). With `seed`, its initial
    weights come from that seed (`seeded_init`); without, from the global RNG."""
    if seed is not None:
        with seeded_init(seed):
            return make_policy(family, hidden, activation, init_std, context=context,
                               per_level=per_level, table_radius=table_radius)
    state = getattr(family, "state_feature", None) if per_level else None
    if state is not None:
        if table_radius:
            raise TrainingError('--table-radius needs position = "tile" (a tile table), not '
                                '"graph" (a goal belief)')
        return MLPPolicy(family.obs_dim, family.action_dim, tuple(hidden), activation,
                         family.discrete, init_std, context, tile_scale=family.tile_scale,
                         belief=True, state_feature=state,
                         opponent_feature=family.opponent_feature,
                         n_opponents=family.n_opponents, opponent_scale=family.opponent_scale)
    feature = getattr(family, "tile_feature", None) if per_level else None
    if table_radius and feature is None:
        raise TrainingError("--table-radius needs --algo cavia on a game pack with "
                            'position = "tile" in [generate]')
    if feature is None:
        return MLPPolicy(family.obs_dim, family.action_dim, tuple(hidden), activation,
                         family.discrete, init_std, context)
    return MLPPolicy(family.obs_dim, family.action_dim, tuple(hidden), activation,
                     family.discrete, init_std, context, family.n_tiles, feature,
                     family.tile_scale, table_radius, getattr(family, "tile_width", 0))


def policy_for(family: TaskFamily, cfg: TrainConfig) -> MLPPolicy:
    """The initial policy a resolved training config asks for (cavia gets its per-level part:
    a goal belief where the family observes a movement state, a tile table where it observes
    a tile index)."""
    return make_policy(family, cfg.hidden, cfg.activation, cfg.init_std, seed=cfg.seed,
                       context=cfg.context, per_level=cfg.algo == "cavia",
                       table_radius=cfg.table_radius)


def with_task_inputs(policy: MLPPolicy, family: TaskFamily, tasks: Tasks,
                     params: Params) -> Params:
    """`params` plus the per-task inputs a goal-belief policy needs (the family's
    `policy_inputs`: the game's belief and movement graph with `position = "graph"`), unless
    the policy needs none or they are there already."""
    if not getattr(policy, "belief", False) or any(k in params for k in TASK_INPUTS):
        return params
    return {**params, **family.policy_inputs(tasks)}


def params_of(policy: nn.Module) -> Params:
    """The policy's parameters as a dict (the leaves the meta-optimiser updates)."""
    return dict(policy.named_parameters())


def is_batched(policy: MLPPolicy, params: Params) -> bool:
    """Whether params carry a leading task dimension."""
    return params["layers.0.weight"].dim() == 3


def _log_std(params: Params, obs: torch.Tensor, batched: bool) -> torch.Tensor:
    ls = params["log_std"]
    return ls.reshape(ls.shape[0], *([1] * (obs.dim() - 2)), ls.shape[-1]) if batched else ls


def log_prob(policy: MLPPolicy, params: Params, obs: torch.Tensor,
             actions: torch.Tensor) -> torch.Tensor:
    """log pi(a | s) with shape obs.shape[:-1] (summed over action dims)."""
    out = policy.apply_params(params, obs)
    if policy.discrete:
        return torch.log_softmax(out, -1).gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
    log_std = _log_std(params, obs, is_batched(policy, params))
    z = (actions - out) * torch.exp(-log_std)
    return (-0.5 * z.square() - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)


@torch.no_grad()
def sample(policy: MLPPolicy, params: Params, obs: torch.Tensor,
           generator: torch.Generator | None = None, deterministic: bool = False,
           shard: Shard | None = None) -> torch.Tensor:
    """Actions for `obs`: float [..., A] (Gaussian) or long [...] (categorical).

    With `shard`, `obs` [T_local, ...] are this process's share of a split meta-batch and the
    noise is drawn as the whole batch draws it (`Shard.randn`, `Shard.multinomial`)."""
    out = policy.apply_params(params, obs)
    if policy.discrete:
        if deterministic:
            return out.argmax(-1)
        probs = torch.softmax(out, -1)
        if shard is not None:
            return shard.multinomial(probs, generator)
        return torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1,
                                 generator=generator).reshape(probs.shape[:-1])
    if deterministic:
        return out
    std = torch.exp(_log_std(params, obs, is_batched(policy, params)))
    noise = (torch.randn(out.shape, generator=generator, dtype=out.dtype, device=out.device)
             if shard is None else shard.randn(out.shape, generator, out.dtype, out.device))
    return out + std * noise


def expand_params(params: Params, n: int) -> Params:
    """Shared params viewed as per-task params [n, ...] (gradients flow back to the shared);
    per-task inputs (`TASK_INPUTS`) are per task already."""
    return {k: v if k in TASK_INPUTS else v.unsqueeze(0).expand(n, *v.shape)
            for k, v in params.items()}
