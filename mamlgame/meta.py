"""Meta-learners as pure functions of (params, tasks): MAML, FOMAML, Reptile, Meta-SGD, CAVIA
(the inner step adapts only the policy's context inputs) and the multi-task `pretrain`
baseline.

The MAML-RL objective is F(theta) = E_{D ~ pi_theta}[ J(theta'(theta, D)) ], with inner episodes
D drawn from pi_theta, theta' = theta - alpha * g(theta, D), g the gradient of the inner
surrogate, and J(phi) = E_{pi_phi}[sum_t r_t]. Its gradient has two parts:

    grad F = E[ dJ/dtheta' * dtheta'/dtheta |_D ]  +  E[ J(theta') * grad log p_theta(D) ].

Estimators (`estimator=`):
- `dice`: unbiased, also with the default baselines and normalisation. The first part
  differentiates through the plain surrogate's gradient (with D fixed that is the exact
  dtheta'/dtheta); the second is DiCE's magic box over both stages: each outer return carries
  the log-probabilities S_in of its task's inner episodes, i.e.
  (R_tau - b_tau) * (S_in - stop(S_in)), with a baseline b_tau that never sees task tau's
  episodes (still unbiased): a kernel ridge regression of the returns of the batch's other
  tasks and of the last batches on task parameters (`mamlgame.score_baseline`). Every
  linear feature baseline is fitted leave-one-episode-out (an episode's own return never
  enters its baseline), and the outer advantages are divided by `adv_scale`, a scale carried
  over from earlier iterations (fixed before the batch is drawn, so it multiplies the
  gradient by a positive constant) instead of the batch's own statistics. The inner step may
  use the batch's statistics: it is part of the objective's definition, theta'(theta, D).
- `lvc`: ProMP's low-variance curvature: the inner surrogate uses per-step magic boxes
  pi/stop(pi) (adds the E[grad log pi grad log pi^T A] curvature), no inner score term. Biased.
- `naive`: the surrogate differentiated twice, as published PyTorch MAML-RL code does. Biased.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple

import torch

from mamlgame.config import (  # defined there; re-exported
    ALGOS,
    ESTIMATORS,
    GAINLESS_ALGOS,
    SHIFTLESS_ALGOS,
    default_inner_steps,
)
from mamlgame.families import TaskFamily, family_spec
from mamlgame.packs import Tasks
from mamlgame.policy import (
    MLPPolicy,
    Params,
    expand_params,
    is_batched,
    log_prob,
    with_task_inputs,
)
from mamlgame.returns import advantage_std, advantages
from mamlgame.rollout import Episodes, rollout
from mamlgame.score_baseline import ScoreBaseline
from mamlgame.shard import Shard

if TYPE_CHECKING:
    from mamlgame.config import TrainConfig
ADV_SCALE_DECAY = 0.9  # the unbiased estimator's carried advantage scale: an EMA over batches
STD_FLOOR = 1e-3  # the inner steps' std shifts (`inner_std_decay`, `learn_std_shift`) stop here
# `learn_std_shift`'s c is this times the parameter Adam updates: c moves up to this many times
# the outer learning rate per iteration (at 1 it lagged behind its optimum; issue 20)
STD_SHIFT_RATE = 2.0
# `learn_inner_lr`'s log factor g is this times the parameter Adam updates: over a recipe's
# run (400 annealed iterations at 1e-3) the factor e^g can move up to about 25x either way
LR_GAIN_RATE = 16.0


def magic_box(x: torch.Tensor) -> torch.Tensor:
    """DiCE's magic box: value 1, gradient x's gradient."""
    return torch.exp(x - x.detach())


class Adaptation(NamedTuple):
    """Result of the inner loop: per-task params [T, ...], the episodes sampled at each inner
    step (episodes[k] from the step-k params), and S_in, the summed log-probabilities of the
    inner episodes under the params that drew them [T] (carries the graph to theta); and what
    the steps' std shifts added to log_std in all (`learn_std_shift`, `inner_std_decay`; 0:
    none)."""

    params: Params
    episodes: list[Episodes]
    score: torch.Tensor
    std_shift: torch.Tensor | float = 0.0


class MetaLearner:
    """One meta-learning algorithm over a policy and a task family.

    `adapt` runs the inner loop; `meta_loss` returns a scalar whose gradient w.r.t. the shared
    params (and `inner_lrs` for Meta-SGD, `first_std_shift` with `learn_std_shift`,
    `inner_lr_gain` with `learn_inner_lr`: all of `meta_parameters`) is the algorithm's
    meta-gradient.
    """

    def __init__(self, policy: MLPPolicy, family: TaskFamily, algo: str = "maml",
                 inner_lr: float = 0.1, inner_steps: int = 0, episodes: int = 20,
                 estimator: str = "lvc", first_order: bool = False, gamma: float = 0.99,
                 baseline: bool = True, normalize: bool = True, gae_lambda: float = 1.0,
                 inner_gamma: float | None = None, inner_lr_decay: float = 1.0,
                 inner_std_decay: float = 1.0, learn_std_shift: bool = False,
                 learn_inner_lr: bool = False, inner_rewards: str = "all"):
        if algo not in ALGOS:
            raise ValueError(f"unknown algo {algo!r} (expected one of {', '.join(ALGOS)})")
        if estimator not in ESTIMATORS:
            raise ValueError(f"unknown estimator {estimator!r} (expected {', '.join(ESTIMATORS)})")
        self.policy, self.family, self.algo = policy, family, algo
        self.inner_lr, self.episodes = inner_lr, episodes
        # step k (from 0) takes inner_lr * inner_lr_decay**k: later steps start nearer the
        # task's optimum, where the first step's size overshoots (issue 20)
        self.inner_lr_decay = inner_lr_decay
        # every inner step after the first also multiplies a Gaussian policy's std by
        # inner_std_decay: once a step has shown the task, the adapted policy explores less
        # (issue 20); a fixed shift of log_std, the same in training and eval (none for a
        # discrete policy, nor below STD_FLOOR); one step is unchanged
        if not 0 < inner_std_decay <= 1:
            raise ValueError(f"inner_std_decay must be in (0, 1], got {inner_std_decay}")
        self.inner_std_decay = inner_std_decay
        self.log_std_shift = 0.0 if policy.discrete else math.log(inner_std_decay)
        # `learn_std_shift`: a meta-learned constant c added to log_std at the first inner
        # step (from 0, one for all action dims): how much less the adapted policy explores;
        # the parameter is c / STD_SHIFT_RATE (`first_shift()` gives c)
        self.first_std_shift: torch.Tensor | None = None
        if learn_std_shift:
            if policy.discrete:
                raise ValueError("learn_std_shift: a discrete policy has no std to shift")
            if algo in SHIFTLESS_ALGOS:
                raise ValueError(f"learn_std_shift: {algo} learns no shift (no meta-gradient "
                                 "reaches it)")
            self.first_std_shift = torch.zeros_like(policy.log_std[:1]).requires_grad_()
        # `learn_inner_lr`: a meta-learned log factor g on every inner step's size (from 0:
        # the step --inner-lr sets): how far one step moves; the parameter is g / LR_GAIN_RATE
        self.inner_lr_gain: torch.Tensor | None = None
        if learn_inner_lr:
            if algo in GAINLESS_ALGOS:
                raise ValueError(f"learn_inner_lr: {algo} learns no step-size factor (no "
                                 "meta-gradient reaches it, or it learns its own step sizes)")
            device = next(policy.parameters()).device
            self.inner_lr_gain = torch.zeros((), device=device).requires_grad_()
        self.inner_steps = default_inner_steps(algo, inner_steps)
        self.estimator, self.gamma = estimator, gamma
        # the inner step's discount (None: gamma); a short one credits each step's own reward
        self.inner_gamma = gamma if inner_gamma is None or inner_gamma < 0 else inner_gamma
        # `inner_rewards = "goal"`: the inner step reads the rewards that say where the goal
        # is alone (`FamilySpec.goal_rewards`)
        self.goal_rewards = None
        if inner_rewards == "goal":
            self.goal_rewards = family_spec(family.name).goal_rewards
            if self.goal_rewards is None:
                raise ValueError(f"inner_rewards goal: the {family.name} family has no goal "
                                 "rewards (expected all)")
        elif inner_rewards != "all":
            raise ValueError(f"unknown inner_rewards {inner_rewards!r} (expected all or goal)")
        self.baseline, self.normalize, self.gae_lambda = baseline, normalize, gae_lambda
        self.first_order = first_order or algo in ("fomaml", "reptile", "pretrain")
        # Meta-SGD: a learned inner step size per parameter entry
        self.inner_lrs: Params | None = None
        # dice: the outer advantages' scale carried over from earlier batches (None: not yet)
        self.adv_scale: float | None = None
        # dice: its score term's baseline, which remembers earlier batches' returns
        self.score_baseline = ScoreBaseline()
        if algo == "metasgd":
            self.inner_lrs = {k: torch.full_like(v, inner_lr).requires_grad_()
                              for k, v in policy.named_parameters()}

    @staticmethod
    def from_config(policy: MLPPolicy, family: TaskFamily, cfg: TrainConfig,
                    **overrides: Any) -> MetaLearner:
        """The learner a training config describes: the one place a `TrainConfig` maps to
        constructor arguments. `overrides` replace some of them (e.g. `episodes=` to
        evaluate with more episodes per step)."""
        kw = dict(algo=cfg.algo, inner_lr=cfg.inner_lr, inner_steps=cfg.inner_steps,
                  episodes=cfg.episodes, estimator=cfg.estimator, gamma=cfg.gamma,
                  baseline=cfg.baseline, normalize=cfg.normalize, gae_lambda=cfg.gae_lambda,
                  inner_gamma=cfg.inner_gamma, inner_lr_decay=cfg.inner_lr_decay,
                  inner_std_decay=cfg.inner_std_decay, learn_std_shift=cfg.learn_std_shift,
                  learn_inner_lr=cfg.learn_inner_lr, inner_rewards=cfg.inner_rewards)
        return MetaLearner(policy, family, **{**kw, **overrides})

    def state_dict(self) -> dict[str, Any]:
        """What the learner carries between iterations besides the policy's params: Meta-SGD's
        step sizes, the learned first-step std shift, the learned step-size log factor,
        dice's advantage scale and its score baseline's memory."""
        shift, gain = self.first_shift(), self.lr_gain()
        return {"inner_lrs": None if self.inner_lrs is None else
                {k: v.detach().cpu().clone() for k, v in self.inner_lrs.items()},
                "first_std_shift": None if shift is None else shift.detach().cpu().clone(),
                "inner_lr_gain": None if gain is None else gain.detach().cpu().clone(),
                "adv_scale": self.adv_scale, "score_baseline": self.score_baseline.state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict()` (step sizes, std shift and step-size factor only where this
        learner learns them; a state without them leaves their initial values)."""
        with torch.no_grad():
            if self.inner_lrs is not None and state.get("inner_lrs") is not None:
                for k, v in self.inner_lrs.items():
                    v.copy_(state["inner_lrs"][k])
            if self.first_std_shift is not None and state.get("first_std_shift") is not None:
                self.first_std_shift.copy_(state["first_std_shift"] / STD_SHIFT_RATE)
            if self.inner_lr_gain is not None and state.get("inner_lr_gain") is not None:
                self.inner_lr_gain.copy_(state["inner_lr_gain"] / LR_GAIN_RATE)
        self.adv_scale = state.get("adv_scale")
        self.score_baseline.load(state.get("score_baseline"))

    def first_shift(self) -> torch.Tensor | None:
        """c, the learned shift of log_std at the first inner step (None: not learned)."""
        return None if self.first_std_shift is None else STD_SHIFT_RATE * self.first_std_shift

    def lr_gain(self) -> torch.Tensor | None:
        """g, the learned log factor on the inner step sizes (None: not learned)."""
        return None if self.inner_lr_gain is None else LR_GAIN_RATE * self.inner_lr_gain

    def meta_parameters(self, params: Params) -> list[torch.Tensor]:
        """Everything the outer optimiser updates (not what a head starts afresh at every
        level, nor its per-task inputs)."""
        fixed = self.policy.per_level + self.policy.task_inputs
        return ([v for k, v in params.items() if k not in fixed]
                + list((self.inner_lrs or {}).values())
                + ([] if self.first_std_shift is None else [self.first_std_shift])
                + ([] if self.inner_lr_gain is None else [self.inner_lr_gain]))

    def adapts(self) -> str:
        """What the inner step changes, in words (eval's row labels): with cavia the
        per-level part of the policy's head, named by the head's kind (`goal belief`), or
        else its context inputs; with the other algorithms every weight; and the learned
        step-size factor (`step size x3.05`) and first-step std shift (`std x0.49 at step
        1`) where there are."""
        head = self.policy.head
        if self.algo != "cavia":
            what = "all weights" + (", learned step sizes" if self.algo == "metasgd" else "")
        elif head is not None and self.policy.per_level:
            what = head.kind.rpartition(".")[2].replace("_", " ")
        else:
            what = "context inputs"
        gain, shift = self.lr_gain(), self.first_shift()
        if gain is not None:
            what += f", step size x{float(gain.detach().exp()):.2f}"
        return what + ("" if shift is None else
                       f", std x{float(shift.detach().exp()):.2f} at step 1")

    @property
    def unbiased(self) -> bool:
        """Whether the meta-gradient is the unbiased one (`dice`, second order)."""
        return self.estimator == "dice" and not self.first_order

    def _advantages(self, ep: Episodes, inner: bool = False
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        return advantages(ep, self.inner_gamma if inner else self.gamma, self.baseline,
                          self.normalize, self.gae_lambda,
                          leave_one_out=self.unbiased and self.baseline)

    def _outer_advantages(self, ad: Adaptation, out: Episodes, shard: Shard | None
                          ) -> tuple[torch.Tensor, torch.Tensor]:
        """The outer episodes' advantages and the per-task scale they were divided by. The
        unbiased estimator divides by `adv_scale`, carried over from earlier batches (the
        first batch starts it from its inner episodes), then updates it with this batch's
        advantages for the next one (an EMA over the whole batch)."""
        if not (self.unbiased and self.normalize):
            return self._advantages(out)

        def raw(ep: Episodes) -> torch.Tensor:
            return advantages(ep, self.gamma, self.baseline, False, self.gae_lambda,
                              leave_one_out=self.baseline)[0]

        def batch_std(adv: torch.Tensor, ep: Episodes) -> float:
            std = advantage_std(adv, ep.mask)
            return float((std if shard is None else shard.gather(std)).mean()) + 1e-8

        if self.adv_scale is None:
            first = ad.episodes[-1]
            self.adv_scale = batch_std(raw(first), first)
        used, adv = self.adv_scale, raw(out)
        self.adv_scale = ADV_SCALE_DECAY * used + (1 - ADV_SCALE_DECAY) * batch_std(adv, out)
        return adv / used, torch.full((adv.shape[0], 1, 1), used, dtype=adv.dtype)

    # ---- inner loop -------------------------------------------------------------------
    def inner_loss(self, params: Params, ep: Episodes, adv: torch.Tensor,
                   create_graph: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Policy-gradient surrogate per task [T] (mean over valid steps) and log pi [T, E, H]."""
        logp = log_prob(self.policy, params, ep.obs, ep.actions, ep.mask)
        term = magic_box(logp) if (self.estimator == "lvc" and create_graph) else logp
        n = ep.mask.sum((1, 2)).clamp(min=1)
        return -(term * adv).sum((1, 2)) / n, logp

    def adapt(self, params: Params, tasks: Tasks, generator: torch.Generator | None = None,
              steps: int | None = None, create_graph: bool = False,
              first_episodes: Episodes | None = None, shard: Shard | None = None,
              first_step: int = 0) -> Adaptation:
        """Take `steps` inner policy-gradient steps per task, vectorised over tasks.

        With `create_graph`, the result is differentiable w.r.t. `params` to second order.
        `shard`: `tasks` are this process's share of a split meta-batch (see `rollout`).
        `first_step`: the index of the first step taken (`params` already took that many),
        which sets its step size and std shift (the viewer steps one at a time).
        """
        steps = self.inner_steps if steps is None else steps
        if not any(v.requires_grad for v in params.values()):
            params = {k: v.detach().requires_grad_() for k, v in params.items()}
        params = with_task_inputs(self.policy, tasks, params)
        p, adapted = self._per_task(params, len(tasks))
        episodes, score, std_shift = [], torch.zeros(len(tasks)), 0.0
        for k in range(first_step, first_step + steps):
            ep = first_episodes if (k == first_step and first_episodes is not None) else rollout(
                self.family, tasks, self.policy, p, self.episodes, generator, shard=shard)
            read = ep if self.goal_rewards is None else ep._replace(
                rewards=self.goal_rewards(self.family, ep.rewards, ep.mask, ep.end))
            adv, _ = self._advantages(read, inner=True)
            loss, logp = self.inner_loss(p, ep, adv, create_graph)
            grads = torch.autograd.grad(loss.sum(), [p[n] for n in adapted],
                                        create_graph=create_graph)
            p = {**p, **{name: p[name] - self.step_size(name, k) * g
                         for name, g in zip(adapted, grads, strict=True)}}
            p, shift = self.shrink_std(p, k)
            std_shift = std_shift + shift
            score = score + (logp * ep.mask).sum((1, 2))
            episodes.append(ep)
        return Adaptation(p, episodes, score, std_shift)

    def shrink_std(self, params: Params, k: int) -> tuple[Params, torch.Tensor | float]:
        """`params` after inner step `k` (from 0) with the step's std shift applied, and what
        it added to log_std: the learned c (`first_shift()`) at k = 0 (its gradient reaches
        c), the constant log(inner_std_decay) for k >= 1 (its gradient is the identity);
        never taking the std below STD_FLOOR."""
        shift: torch.Tensor | float | None = (self.first_shift() if k == 0
                                               else self.log_std_shift or None)
        if shift is None:
            return params, 0.0
        ls = params["log_std"]
        room = torch.clamp(math.log(STD_FLOOR) - ls.detach(), max=0.0)
        shift = torch.clamp(room, min=shift)
        return {**params, "log_std": ls + shift}, shift

    def step_size(self, name: str, k: int) -> float | torch.Tensor:
        """The step size of parameter `name` at inner step `k` (from 0): Meta-SGD's learned one
        or `inner_lr` (times the learned factor e^g with `learn_inner_lr`), times
        `inner_lr_decay**k`."""
        gain = self.lr_gain()
        lr = (self.inner_lrs or {}).get(name, self.inner_lr if gain is None
                                        else self.inner_lr * gain.exp())
        return lr if k == 0 or self.inner_lr_decay == 1.0 else lr * self.inner_lr_decay ** k

    def _per_task(self, params: Params, n: int) -> tuple[Params, list[str]]:
        """The params the inner loop starts from, per task where it adapts them, and the names
        it adapts: every parameter, or (cavia) only the per-level part of the policy's head
        where it has one, else the context, the rest staying shared."""
        inputs = self.policy.task_inputs
        if self.algo == "cavia":
            keys = list(self.policy.per_level) or ["context"]
            if keys[0] not in params:
                raise ValueError("cavia adapts the policy's context: make the policy with "
                                 "context > 0 (or a family head)")
            shared = dict(self.policy.named_parameters())
            per_task = {k: params[k] if k in inputs or params[k].dim() > shared[k].dim()
                        else params[k].expand(n, *params[k].shape) for k in keys}
            # a head's input comes as data: the inner step differentiates with respect to it
            per_task = {k: v if v.requires_grad else v.detach().requires_grad_()
                        for k, v in per_task.items()}
            return {**params, **per_task}, keys
        p = params if is_batched(self.policy, params) else expand_params(params, n, inputs)
        return p, [k for k in p if k not in inputs]

    # ---- outer objective --------------------------------------------------------------
    def meta_loss(self, params: Params, tasks: Tasks, generator: torch.Generator | None = None,
                  shard: Shard | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """The meta-loss for one batch of tasks and a dict of metrics for logging.

        With `shard`, `tasks` are this process's share of a meta-batch split over processes:
        random draws and the dice baseline then see the whole batch (see `mamlgame.shard`).
        """
        if self.algo == "pretrain":
            return self._pretrain_loss(params, tasks, generator, shard)
        second_order = not self.first_order
        detached = {k: v.detach() for k, v in params.items()} if self.algo == "reptile" else params
        ad = self.adapt(detached, tasks, generator, create_graph=second_order, shard=shard)
        after = rollout(self.family, tasks, self.policy, ad.params, self.episodes, generator,
                        shard=shard)
        if self.algo == "reptile":
            # gradient (theta - mean_tau theta'_tau): Reptile's update direction for Adam,
            # less the inner steps' std shrink (not something to move theta by)
            shift = torch.as_tensor(ad.std_shift)
            shrunk = {"log_std": shift.mean(0) if shift.dim() > 1 else shift}
            loss = sum((params[k] * (params[k] - v.mean(0) + shrunk.get(k, 0.0)).detach()).sum()
                       for k, v in ad.params.items())
        else:
            loss = -self._outer_objective(ad, after, tasks, shard).mean()
        return loss, self._metrics(ad.episodes[0], after)

    def _outer_objective(self, ad: Adaptation, out: Episodes, tasks: Tasks,
                         shard: Shard | None = None) -> torch.Tensor:
        adv, scale = self._outer_advantages(ad, out, shard)
        logp = log_prob(self.policy, ad.params, out.obs, out.actions, out.mask)
        n = out.mask.sum((1, 2)).clamp(min=1)
        obj = (logp * adv).sum((1, 2))
        if self.unbiased:
            ret = out.total_reward.mean(1)  # R_tau
            # the baseline sees the whole meta-batch, also when it is split over processes
            base = (self.score_baseline(ret, tasks) if shard is None
                    else shard.rows(self.score_baseline(shard.gather(ret), shard.batch())))
            coef = out.obs.shape[1] * (ret - base) / scale.reshape(-1)
            obj = obj + coef.detach() * (ad.score - ad.score.detach())
        return obj / n

    def _pretrain_loss(self, params: Params, tasks: Tasks, generator: torch.Generator | None,
                       shard: Shard | None = None):
        ep = rollout(self.family, tasks, self.policy, params, self.episodes, generator,
                     shard=shard)
        adv, _ = self._advantages(ep)
        bound = with_task_inputs(self.policy, tasks, params)
        loss, _ = self.inner_loss(bound, ep, adv)
        # for logging only: the return after one inner step from the same episodes
        ad = self.adapt({k: v.detach() for k, v in params.items()}, tasks, generator, steps=1,
                        first_episodes=ep, shard=shard)
        after = rollout(self.family, tasks, self.policy, ad.params, self.episodes, generator,
                        shard=shard)
        return loss.mean(), self._metrics(ep, after)

    @staticmethod
    def _metrics(before: Episodes, after: Episodes) -> dict[str, float]:
        return {"return_before": before.total_reward.mean().item(),
                "return_after": after.total_reward.mean().item(),
                "success_before": before.success.float().mean().item(),
                "success_after": after.success.float().mean().item()}


class MAML(MetaLearner):
    """MAML (second order unless `first_order=True`); see `MetaLearner`."""

    def __init__(self, policy: MLPPolicy, family: TaskFamily, inner_lr: float = 0.1,
                 inner_steps: int = 1, first_order: bool = False, **kwargs: Any):
        super().__init__(policy, family, "fomaml" if first_order else "maml", inner_lr,
                         inner_steps, first_order=first_order, **kwargs)


class MetaStep(NamedTuple):
    """One meta-gradient of this process's share of a meta-batch (see `meta_step`)."""

    loss: torch.Tensor  # the share's meta-loss (mean over its tasks)
    metrics: dict[str, float]  # the share's metrics (means over its tasks)
    weight: float  # the share's fraction of the meta-batch (1 in a single process)


def meta_step(learner: MetaLearner, params: Params, tasks: Tasks,
              generator: torch.Generator | None, shard: Shard | None = None) -> MetaStep:
    """The meta-gradient of one meta-batch `tasks`, in the `.grad` of the meta-parameters.

    Takes this process's share of `tasks` (all of them without `shard`), its meta-loss, and
    backpropagates it scaled by the share's weight into fresh gradients: summed over the
    processes (`distributed.all_reduce_step`) they are the gradient of the whole batch's mean.
    Train, bench and the distributed test all take their step through here.
    """
    for p in learner.meta_parameters(params):
        p.grad = None  # what optimizer.zero_grad() does
    local = shard.local(tasks) if shard is not None else tasks
    loss, metrics = learner.meta_loss(params, local, generator, shard)
    weight = shard.size / shard.total if shard is not None else 1.0
    (loss * weight).backward()
    return MetaStep(loss, metrics, weight)
