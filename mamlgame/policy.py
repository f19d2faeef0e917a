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
from mamlgame.families import PolicyHead, TaskFamily, policy_head, rebuild_head
from mamlgame.packs import Tasks
from mamlgame.shard import Shard

Params = dict[str, torch.Tensor]
HEAD = "head."  # a family head's params and inputs are "head.<name>"
# applied in place, to a layer's fresh output (whose backward keeps its inputs, not it)
ACTIVATIONS = {"relu": torch.relu_, "tanh": torch.tanh_}
# Rows per task from which the loss passes (thousands of rows, vs. tens per rollout step) use a
# product plus an in-place bias add: `baddbmm` first copies the broadcast bias into its output,
# ~20% slower on the [20, 2000, 100] activations (benchmarks/iteration_costs.py).
_LOSS_ROWS = 1024
# Inputs up to which the first layer's product adds a shared bias itself: its sums over the
# inputs are then one block of the BLAS kernel, added to the bias once, as a separate add
# would (bit for bit on MKL; past ~300 inputs the kernel adds blocks into the bias instead)
_FUSED_BIAS_INPUTS = 256


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
    the first layer: CAVIA's task context, what `--algo cavia` adapts when the policy has no
    head. It enters as a per-task bias of the first layer, b + W_c c, so a context per task
    [T, C] works with shared weights.

    `head` (a family's `PolicyHead`, or its saved form {"kind": ..., "config": {...}}) adds
    its logits to the network's: the family's per-level part (the game's goal belief). Its
    params are `head.<name>`; its per-task inputs are bound by `with_task_inputs`."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: tuple[int, ...] = (100, 100),
                 activation: str = "relu", discrete: bool = False, init_std: float = 1.0,
                 context: int = 0, head: PolicyHead | dict | None = None):
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
        if isinstance(head, dict):
            head = rebuild_head(head["kind"], head["config"])
        self.head = head
        # the head's entries as the policy's params name them: what every task starts afresh
        # (the inner step of cavia adapts them; never meta-learned) and its per-task inputs
        self.per_level = tuple(HEAD + k for k in head.adapted) if head else ()
        self.task_inputs = tuple(HEAD + k for k in head.inputs) if head else ()

    @staticmethod
    def from_config(config: dict) -> MLPPolicy:
        """The policy a `config()` describes."""
        return MLPPolicy(**{**config, "hidden": tuple(config["hidden"])})

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Means or logits [..., action_dim] (also under `functional_call`)."""
        return self.apply_params(dict(self.named_parameters()), obs)

    def apply_params(self, params: Params, obs: torch.Tensor,
                     rows: torch.Tensor | None = None) -> torch.Tensor:
        """The forward pass as a pure function of a params dict, what `functional_call` does
        without its per-call module patching (this runs every rollout step). Batched weights
        [T, out, in] need obs [T, ...].

        `rows` (long, into obs flattened to [T * K, D], obs [T, ...]): the logits at these
        rows alone [len(rows), action_dim], the network run on them alone where shared
        weights allow it (the loss passes skip the steps after an episode ended); so does a
        head with `logits_at(p, obs, rows)` (the game's goal belief), any other sees every
        row."""
        act = ACTIVATIONS[self.activation]
        batched = params["layers.0.weight"].dim() == 3
        shape = obs.shape
        packed = rows is not None and not batched
        gathered = None  # obs at `rows`, where the network runs on them alone
        if packed:
            x = gathered = obs.reshape(-1, shape[-1]).index_select(0, rows)
        else:
            x = obs.reshape(shape[0], -1, shape[-1]) if batched else obs
        last = len(self.layers) - 1
        for i in range(last + 1):
            w, b = params[f"layers.{i}.weight"], params[f"layers.{i}.bias"]
            if i == 0 and self.context_dim:
                x = self._first_layer(params, x, batched, rows if packed else None, shape)
            elif not batched:
                x = _linear(x, w, b)
            elif x.shape[1] < _LOSS_ROWS:
                x = torch.baddbmm(b.unsqueeze(1), x, w.transpose(1, 2))
            elif w.shape[1] < w.shape[2] and torch.is_grad_enabled():
                x = _NarrowLinear.apply(x, w, b)
            else:
                x = torch.bmm(x, w.transpose(1, 2)).add_(b.unsqueeze(1))
            if i < last:
                x = act(x)
        out = x if packed else x.reshape(*shape[:-1], x.shape[-1])
        if rows is not None and not packed:
            out = out.reshape(-1, out.shape[-1]).index_select(0, rows)
        if self.head is None:
            return out
        if self.task_inputs and self.task_inputs[0] not in params:
            raise TrainingError("this policy's head acts on a level's inputs: pass params "
                                "through mamlgame.policy.with_task_inputs")
        n = len(HEAD)
        p = {k[n:]: v for k, v in params.items() if k.startswith(HEAD)}
        at = None if rows is None else getattr(self.head, "logits_at", None)
        if at is not None:  # a head that computes its logits at some rows alone
            return out + at(p, obs, rows, gathered)
        head = self.head.logits(p, obs)
        if rows is not None:
            head = head.reshape(-1, head.shape[-1]).index_select(0, rows)
        return out + head

    def _first_layer(self, params: Params, x: torch.Tensor, batched: bool,
                     rows: torch.Tensor | None = None, shape: torch.Size | None = None
                     ) -> torch.Tensor:
        """W_x x + (b + W_c c): the context as a bias; c is [C] or per task [T, C] (with
        shared or per-task weights); x [N, d] are the `rows` of obs of `shape` if given."""
        w, b, c = params["layers.0.weight"], params["layers.0.bias"], params["context"]
        d = self.obs_dim
        if batched:  # w [T, h, d + C], c [T, C], x [T, N, d]
            w_x, w_c = w[..., :d], w[..., d:]
            bias = b + torch.bmm(w_c, c.unsqueeze(-1)).squeeze(-1)
            return torch.baddbmm(bias.unsqueeze(1), x, w_x.transpose(1, 2))
        w_x, bias = _context_bias(w, b, c, d)  # bias [h] or [T, h]
        if bias.dim() == 2 and rows is not None:  # each row's task's bias
            bias = bias.index_select(0, rows // (shape[:-1].numel() // shape[0]))
        elif bias.dim() == 2:  # per-task context with shared weights: x [T, ..., d]
            bias = bias.reshape(bias.shape[0], *([1] * (x.dim() - 2)), bias.shape[1])
        elif d <= _FUSED_BIAS_INPUTS:  # a shared context: the product adds its bias
            return _linear(x, w_x, bias)
        return F.linear(x, w_x) + bias

    def config(self) -> dict:
        """Constructor arguments, for checkpoints (the head as its kind and config)."""
        head = None if self.head is None else {"kind": self.head.kind,
                                                 "config": self.head.config()}
        return {"obs_dim": self.obs_dim, "action_dim": self.action_dim, "hidden": list(self.hidden),
                "activation": self.activation, "discrete": self.discrete,
                "context": self.context_dim, "head": head}


def _linear(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """`F.linear(x, w, b)`; on a loss pass's rows [N, in] (N >= `_LOSS_ROWS`, at most
    `_FUSED_BIAS_INPUTS` inputs) as the product plus an in-place bias add, the same floats
    (the kernel's one block of sums added to the bias once) without first copying the bias
    into every row of the output."""
    if x.dim() != 2 or x.shape[0] < _LOSS_ROWS or w.shape[1] > _FUSED_BIAS_INPUTS:
        return F.linear(x, w, b)
    return torch.mm(x, w.t()).add_(b)


_LAST_BIAS: list = []  # (w, b, c, their versions, d, w_x, bias) of the last `_context_bias`


def _context_bias(w: torch.Tensor, b: torch.Tensor, c: torch.Tensor, d: int
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """The first layer's observation weights w[:, :d] and its bias with the context,
    b + c w[:, d:]^T (c [C] or per task [T, C]). Without autograd (a rollout, the same
    params every step) the last ones are reused while the params are unchanged."""
    cached = not (torch.is_grad_enabled() or w.is_inference() or b.is_inference()
                  or c.is_inference())
    key = (w, b, c, w._version, b._version, c._version, d) if cached else None
    last = _LAST_BIAS[0] if _LAST_BIAS else None
    if (key is not None and last is not None and all(x is y for x, y in zip(key[:3], last))
            and key[3:] == last[3:7]):
        return last[7], last[8]
    w_x, w_c = w[..., :d], w[..., d:]
    bias = b + c @ w_c.T
    _LAST_BIAS[:] = [] if key is None else [(*key, w_x, bias)]
    return w_x, bias


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
    (with `context` context inputs; with `per_level`, the family's per-level head where it
    has one, `FamilySpec.policy_head`, given `table_radius`). With `seed`, its initial
    weights come from that seed (`seeded_init`); without, from the global RNG."""
    if seed is not None:
        with seeded_init(seed):
            return make_policy(family, hidden, activation, init_std, context=context,
                               per_level=per_level, table_radius=table_radius)
    head = policy_head(family, table_radius) if per_level else None
    if table_radius and head is None:
        raise TrainingError("--table-radius needs --algo cavia and a family head that takes "
                            'it (the game\'s tile table: position = "tile" in [generate])')
    return MLPPolicy(family.obs_dim, family.action_dim, tuple(hidden), activation,
                     family.discrete, init_std, context, head)


def policy_for(family: TaskFamily, cfg: TrainConfig) -> MLPPolicy:
    """The initial policy a resolved training config asks for (cavia gets the family's
    per-level head where it has one)."""
    return make_policy(family, cfg.hidden, cfg.activation, cfg.init_std, seed=cfg.seed,
                       context=cfg.context, per_level=cfg.algo == "cavia",
                       table_radius=cfg.table_radius)


def with_task_inputs(policy: MLPPolicy, tasks: Tasks, params: Params) -> Params:
    """`params` plus the per-task inputs the policy's head reads from `tasks`
    (`PolicyHead.task_inputs`, as `head.<name>`), unless it needs none or they are there
    already: the one place a policy is bound to a batch of levels."""
    if not policy.task_inputs or policy.task_inputs[0] in params:
        return params
    return {**params, **{HEAD + k: v for k, v in policy.head.task_inputs(tasks).items()}}


def params_of(policy: nn.Module) -> Params:
    """The policy's parameters as a dict (the leaves the meta-optimiser updates)."""
    return dict(policy.named_parameters())


def is_batched(policy: MLPPolicy, params: Params) -> bool:
    """Whether params carry a leading task dimension."""
    return params["layers.0.weight"].dim() == 3


def _log_std(params: Params, obs: torch.Tensor, batched: bool) -> torch.Tensor:
    ls = params["log_std"]
    return ls.reshape(ls.shape[0], *([1] * (obs.dim() - 2)), ls.shape[-1]) if batched else ls


def log_prob(policy: MLPPolicy, params: Params, obs: torch.Tensor, actions: torch.Tensor,
             mask: torch.Tensor | None = None) -> torch.Tensor:
    """log pi(a | s) with shape obs.shape[:-1] (summed over action dims). With `mask`
    (obs.shape[:-1], 1 on steps taken), log pi times the mask, 0 where it is 0: where the
    network's weights are shared, those steps are skipped (a game's episodes often end well
    before the horizon)."""
    if (mask is None or is_batched(policy, params)
            or bool((m := mask.reshape(-1) != 0).all())):
        out = policy.apply_params(params, obs)
        logp = _log_prob(policy, params, obs, out, actions)
        return logp if mask is None else logp * mask
    rows = m.nonzero().squeeze(1)
    out = policy.apply_params(params, obs, rows)  # [L, A]
    a = actions.reshape(len(m), *actions.shape[obs.dim() - 1:]).index_select(0, rows)
    logp = _log_prob(policy, params, obs, out, a) * mask.reshape(-1).index_select(0, rows)
    return logp.new_zeros(len(m)).index_copy(0, rows, logp).reshape(mask.shape)


def _log_prob(policy: MLPPolicy, params: Params, obs: torch.Tensor, out: torch.Tensor,
              actions: torch.Tensor) -> torch.Tensor:
    """log pi(a | s) from the policy's output `out` (means or logits) [..., A] at obs (or
    at some of its rows, with shared params)."""
    if policy.discrete:
        return torch.log_softmax(out, -1).gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
    log_std = _log_std(params, obs, is_batched(policy, params))
    z = (actions - out) * torch.exp(-log_std)
    return (-0.5 * z.square() - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)


@torch.no_grad()
def sample(policy: MLPPolicy, params: Params, obs: torch.Tensor,
           generator: torch.Generator | None = None, deterministic: bool = False,
           shard: Shard | None = None, alive: torch.Tensor | None = None) -> torch.Tensor:
    """Actions for `obs`: float [..., A] (Gaussian) or long [...] (categorical).

    With `shard`, `obs` [T_local, ...] are this process's share of a split meta-batch and the
    noise is drawn as the whole batch draws it (`Shard.randn`, `Shard.whole`). `alive`
    (bool, obs.shape[:-1]): the rows whose actions matter (a rollout's running episodes);
    where weights are shared the network runs on those alone, the others act on output 0
    (their noise drawn all the same)."""
    rows = None
    if alive is not None and not is_batched(policy, params):
        live = alive.reshape(-1)
        rows = None if bool(live.all()) else live.nonzero().squeeze(1)
    if rows is None:
        out = policy.apply_params(params, obs)
    else:
        out = policy.apply_params(params, obs, rows)
        out = out.new_zeros(len(live), out.shape[-1]).index_copy_(0, rows, out)
        out = out.view(*obs.shape[:-1], out.shape[-1])
    if policy.discrete:
        if deterministic:
            return out.argmax(-1)
        if shard is not None:  # the others' rows uniform: the same draws, whatever they hold
            return shard.rows(_draw(shard.whole(out), generator))
        return _draw(out, generator)
    if deterministic:
        return out
    std = torch.exp(_log_std(params, obs, is_batched(policy, params)))
    noise = (torch.randn(out.shape, generator=generator, dtype=out.dtype, device=out.device)
             if shard is None else shard.randn(out.shape, generator, out.dtype, out.device))
    return out + std * noise


def _draw(logits: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One action per row of categorical `logits` [..., A] as torch.multinomial draws one
    sample of softmax(logits) (argmax p / q, q ~ Exp(1), the same generator calls), in log
    space: argmax(logits - log q), the same argmax without the softmax (the same actions but
    where two candidates tie to the last bits)."""
    q = torch.empty_like(logits).exponential_(1, generator=generator)
    return logits.sub(q.log_()).argmax(-1)


def draw_categorical(logits: torch.Tensor, generator: torch.Generator | None = None
                     ) -> torch.Tensor:
    """Actions [...] drawn from categorical `logits` [..., A], as `sample` draws them."""
    return _draw(logits, generator)


def expand_params(params: Params, n: int, keep: tuple[str, ...] = ()) -> Params:
    """Shared params viewed as per-task params [n, ...] (gradients flow back to the shared);
    the entries named in `keep` (a head's per-task inputs) are per task already."""
    return {k: v if k in keep else v.unsqueeze(0).expand(n, *v.shape)
            for k, v in params.items()}
