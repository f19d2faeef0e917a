"""Memory estimates, checked before the work allocates: a clear error naming the settings to
lower instead of the allocator's. One place for the concept: a training run's rollouts and
parameters (`check_training`), an evaluation's rollouts (`check_evaluation`).

Every estimate is a lower bound (float32, what the run must hold at least), so a refused run
could never have fitted.
"""

from __future__ import annotations

import os
from dataclasses import replace

import torch

from mamlgame.config import TrainConfig
from mamlgame.errors import MamlgameError
from mamlgame.families import make_family
from mamlgame.packs import LevelPack

# algorithms whose training holds no per-task copy of the weights: cavia adapts only its
# context or head, pretrain does not adapt
_SHARED_WEIGHTS = ("cavia", "pretrain")


def memory_of(device: torch.device) -> int | None:
    """Bytes of memory on `device` (the machine's RAM for the CPU), None if unknown."""
    try:
        if device.type == "cuda":
            return int(torch.cuda.get_device_properties(device).total_memory)
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError, RuntimeError):
        return None


def gib(n: float) -> str:
    """`n` bytes as `1.5 GiB`."""
    return f"{n / 2**30:.3g} GiB"


def rollout_bytes(cfg: TrainConfig, obs_dim: int, action_dim: int) -> int:
    """A lower estimate of the memory one meta-iteration holds (cfg resolved): per episode
    step, the observation, action, rewards and log-probabilities, and the hidden activations
    autograd keeps, for every rollout of the inner and outer loop, as float32."""
    per_step = obs_dim + action_dim + 8 + 2 * sum(cfg.hidden) + cfg.context
    rollouts = cfg.inner_steps + 1
    return 4 * cfg.meta_batch * cfg.episodes * cfg.horizon * per_step * rollouts


def param_count(obs_dim: int, action_dim: int, hidden: tuple[int, ...], context: int = 0) -> int:
    """The parameters of the policy MLP (`mamlgame.policy.MLPPolicy`): its layers' weights
    and biases and the context (the log-std and a family head's few params left out)."""
    sizes = (obs_dim + context, *hidden, action_dim)
    return sum((a + 1) * b for a, b in zip(sizes, sizes[1:])) + context


def params_bytes(cfg: TrainConfig, obs_dim: int, action_dim: int) -> int:
    """A lower estimate of the parameters' memory in training (cfg resolved): the weights,
    their gradient and Adam's two moments, and, for the algorithms that adapt every weight,
    each task's adapted copy after each inner step."""
    copies = 4 + (0 if cfg.algo in _SHARED_WEIGHTS else cfg.meta_batch * cfg.inner_steps)
    return 4 * copies * param_count(obs_dim, action_dim, cfg.hidden, cfg.context)


def _hidden(cfg: TrainConfig) -> str:
    return ",".join(map(str, cfg.hidden))


def check_training(cfg: TrainConfig, pack: LevelPack, device: torch.device) -> None:
    """A clear error, before allocating, for a run of `cfg` on `pack` that cannot fit in the
    memory of `device`."""
    have = memory_of(device)
    if have is None:
        return
    cfg = cfg.resolved(pack)
    family = make_family(pack, cfg.horizon)
    obs_dim, action_dim = family.obs_dim, family.action_dim
    weights, rollouts = params_bytes(cfg, obs_dim, action_dim), rollout_bytes(cfg, obs_dim,
                                                                                 action_dim)
    if weights > have:
        n = param_count(obs_dim, action_dim, cfg.hidden, cfg.context)
        raise MamlgameError(
            f"--hidden {_hidden(cfg)}: the policy's {n:.3g} parameters need about "
            f"{gib(weights)} of memory in training (weights, gradients, optimizer state"
            + ("" if cfg.algo in _SHARED_WEIGHTS else
               f" and an adapted copy per task: --meta-batch {cfg.meta_batch}")
            + f"), more than the {gib(have)} of {device.type}; lower --hidden"
            + ("" if cfg.algo in _SHARED_WEIGHTS else " or --meta-batch"))
    if weights + rollouts > have:
        raise MamlgameError(
            f"--meta-batch {cfg.meta_batch} x --episodes {cfg.episodes} x --horizon "
            f"{cfg.horizon} x {cfg.inner_steps + 1} rollouts (--inner-steps "
            f"{cfg.inner_steps} + 1) with --hidden {_hidden(cfg)} needs about "
            f"{gib(weights + rollouts)} of memory, more than the {gib(have)} of "
            f"{device.type}; lower one of them")


def evaluation_bytes(cfg: TrainConfig, n_tasks: int, episodes: int, steps: int,
                     obs_dim: int, action_dim: int) -> int:
    """A lower estimate of the memory an evaluation holds (cfg resolved, the checkpoint's):
    the episodes of `steps` + 1 rollouts of `episodes` episodes on `n_tasks` tasks, the
    activations of one of them, and each task's adapted weights."""
    stored = rollout_bytes(replace(cfg, meta_batch=n_tasks, episodes=episodes,
                                   inner_steps=steps, hidden=(), context=0), obs_dim,
                           action_dim)
    active = 4 * n_tasks * episodes * cfg.horizon * (2 * sum(cfg.hidden) + cfg.context)
    per_task = 0 if cfg.algo == "cavia" else 2 * n_tasks * param_count(
        obs_dim, action_dim, cfg.hidden, cfg.context)
    return stored + active + 4 * per_task


def check_evaluation(cfg: TrainConfig, n_tasks: int, episodes: int, steps: int,
                     obs_dim: int, action_dim: int) -> None:
    """A clear error, before allocating, for an evaluation on the CPU that cannot fit in its
    memory (`evaluation_bytes`)."""
    need, have = (evaluation_bytes(cfg, n_tasks, episodes, steps, obs_dim, action_dim),
                  memory_of(torch.device("cpu")))
    if have is not None and need > have:
        raise MamlgameError(
            f"--tasks {n_tasks} x --episodes {episodes} x horizon {cfg.horizon} x "
            f"{steps + 1} rollouts (--steps up to {steps}) needs about {gib(need)} of "
            f"memory, more than the {gib(have)} of cpu; lower one of them")
