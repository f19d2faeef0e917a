"""Batched sampling: one rollout steps every task and episode together."""

from __future__ import annotations

from typing import NamedTuple

import torch

from mamlgame.families import State, TaskFamily
from mamlgame.packs import Tasks
from mamlgame.policy import HEAD, MLPPolicy, Params, draw_categorical, sample, with_task_inputs
from mamlgame.shard import Shard


class Episodes(NamedTuple):
    """Trajectories [T, E, H, ...]; `mask` is 1 for steps taken before the episode ended.
    `end` [T, E] long: how each episode ended, as the family's final state says in its
    "outcome" entry (the game: 0 running at the horizon, 1 goal, 2 caught, 3 hazard;
    zeros for families whose state has none): `FamilySpec.outcomes` reads it."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    mask: torch.Tensor
    success: torch.Tensor  # [T, E] bool: the episode reached its goal
    end: torch.Tensor | None = None

    @property
    def total_reward(self) -> torch.Tensor:
        """Undiscounted return of each episode [T, E]."""
        return (self.rewards * self.mask).sum(-1)


def _freeze(alive: torch.Tensor, new: State, old: State) -> State:
    """`new` where `alive`, `old` elsewhere (an ended episode keeps its state), entry by
    entry; `alive` is viewed once per rank of the entries (one op a step fewer per entry)."""
    views = {alive.dim(): alive}
    out = {}
    for k, v in new.items():
        a = views.get(v.dim())
        if a is None:
            a = views[v.dim()] = alive.view(*alive.shape, *([1] * (v.dim() - alive.dim())))
        out[k] = torch.where(a, v, old[k])
    return out


@torch.no_grad()
def act(family: TaskFamily, tasks: Tasks, state: State, obs: torch.Tensor, policy: MLPPolicy,
        params: Params, generator: torch.Generator | None = None, deterministic: bool = False,
        shard: Shard | None = None, alive: torch.Tensor | None = None) -> torch.Tensor:
    """The actions of `policy` with `params` (bound to `tasks`' inputs) at `obs`: sampled, or
    chosen by the family's act-time search where it has one (`FamilyBase.chooser`; not for a
    split meta-batch, `shard`). `alive` [T, E]: the episodes still running (`sample`)."""
    if family.chooser is None or shard is not None:
        return sample(policy, params, obs, generator, deterministic, shard, alive)
    head = {k[len(HEAD):]: v for k, v in params.items() if k.startswith(HEAD)}
    return family.chooser(tasks, state, obs, lambda o: policy.apply_params(params, o),
                          lambda z: draw_categorical(z, generator), generator, deterministic,
                          head)


@torch.no_grad()
def rollout(family: TaskFamily, tasks: Tasks, policy: MLPPolicy, params: Params, n_episodes: int,
            generator: torch.Generator | None = None, deterministic: bool = False,
            horizon: int | None = None, shard: Shard | None = None) -> Episodes:
    """Sample `n_episodes` per task with `params` (shared, or per task [T, ...]).

    Runs without an autograd graph; episodes that end keep a frozen state and zero mask.
    A family with a `chooser` (an act-time search) picks the actions instead of `sample`.
    With `shard`, `tasks` are this process's share of a meta-batch split over processes: it
    draws what the whole batch draws and steps as long as the longest share (a collective).
    """
    H = horizon or family.horizon
    params = with_task_inputs(policy, tasks, params)
    # the steps run in inference mode (no version counters or autograd metadata: less
    # overhead on each of a step's hundreds of small ops); what they return is stacked
    # outside it, into ordinary tensors the loss passes may save for backward
    with torch.inference_mode():
        state = (family.reset(tasks, n_episodes, generator) if shard is None
                 else shard.reset(family, tasks, n_episodes, generator))
        alive = torch.ones(len(tasks), n_episodes, dtype=torch.bool)
        obs_l, act_l, rew_l, alive_l = [], [], [], []
        steps, stop = 0, None  # stop: the step count every task of the meta-batch is done by
        while stop is None or steps < stop:
            obs = family.observe(tasks, state)
            action = act(family, tasks, state, obs, policy, params, generator, deterministic,
                         shard, alive)
            new_state, reward, done = family.step(tasks, state, action)
            obs_l.append(obs)
            act_l.append(action)
            rew_l.append(reward)
            alive_l.append(alive)  # rewards and mask are masked and converted once, at the end
            state = _freeze(alive, new_state, state)
            alive = alive & ~done
            steps += 1
            if stop is None and (steps == H or not alive.any()):
                # a split batch steps as far as its furthest share
                stop = steps if shard is None else shard.max_steps(steps)

    def stack(xs: list[torch.Tensor] | torch.Tensor) -> torch.Tensor:
        out = xs if isinstance(xs, torch.Tensor) else torch.stack(xs, 2)
        if steps < H:  # all episodes ended early: pad to the horizon with masked steps
            pad = torch.zeros(*out.shape[:2], H - steps, *out.shape[3:], dtype=out.dtype)
            out = torch.cat([out, pad], 2)
        return out

    end = state.get("outcome")
    end = torch.zeros(len(tasks), n_episodes, dtype=torch.long) if end is None else end.long()
    alive_all = torch.stack(alive_l, 2)
    return Episodes(stack(obs_l), stack(act_l), stack(torch.stack(rew_l, 2) * alive_all),
                    stack(alive_all.float()), _ordinary(family.success(tasks, state)),
                    _ordinary(end))


def _ordinary(x: torch.Tensor) -> torch.Tensor:
    """`x`, copied out of inference mode if it was made there (a state entry as it is)."""
    return x.clone() if x.is_inference() else x
