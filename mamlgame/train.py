"""The meta-training loop, top to bottom: sample tasks -> rollout -> adapt -> rollout ->
meta-update -> log -> checkpoint.

In a distributed run (torchrun, or `mamlgame train --nproc N`) every process runs this loop:
all draw the same tasks, each computes the meta-loss of its share (`mamlgame.shard`), one
all-reduce sums gradients and metrics, and all take the same optimiser step; process 0
writes metrics and checkpoints. Same seed -> the same parameters as one process.

Faults: SIGINT/SIGTERM finish the current iteration, write a checkpoint and raise
`Interrupted` (a second signal, or an iteration still running STOP_GRACE_SECONDS after the
first, stops at once with the last checkpoint kept); checkpoints hold every RNG state, so a run
resumed after SIGKILL ends where an uninterrupted one does; a non-finite loss or
meta-gradient skips the update, MAX_BAD_STEPS in a row stop the run.

Time budget (`time_limit`): the run stops after the first iteration that ends past the budget
(`iterations` is then a cap; 0: none) and writes its checkpoint; the annealed outer learning
rate follows the fraction of the budget used. The wall time spent is saved in every
checkpoint, so a resumed run continues the same budget; processes agree on it through the
all-reduce (their mean), so they stop together and use the same learning rate.

The bookkeeping around the loop has its own modules: `mamlgame.run_dir` (the run directory,
its lock and `metrics.jsonl`), `mamlgame.resume` (the checkpoint and settings a resumed run
continues with) and `mamlgame.progress` (the progress display).
"""

from __future__ import annotations

import itertools
import math
import signal
import time
import warnings
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch

from mamlgame import cpu, distributed
from mamlgame.checkpoint import Checkpoint, checkpoint_state, save_checkpoint
from mamlgame.config import TrainConfig, with_recipe
from mamlgame.errors import MamlgameError, TrainingError
from mamlgame.families import family_spec, make_family
from mamlgame.memory import check_training
from mamlgame.meta import MetaLearner, MetaStep, meta_step
from mamlgame.packs import LevelPack, Tasks, load_pack
from mamlgame.policy import MLPPolicy, Params, params_of, policy_for
from mamlgame.progress import SetupProgress, budget_note, progress_bar, setup_note, tick
from mamlgame.resume import budget_reached, read_resume_checkpoint, resume_config, resume_note
from mamlgame.run_dir import MetricsLog, claim_out_dir
from mamlgame.shard import Shard
from mamlgame.tensorboard_log import require_tensorboard

MAX_BAD_STEPS = 3  # consecutive non-finite updates before the run stops
STOP_GRACE_SECONDS = 30.0  # after a stop signal, how long the current iteration may still run
METRICS = ("return_before", "return_after", "success_before", "success_after")


class Interrupted(MamlgameError):
    """Training was interrupted (Ctrl-C / SIGTERM); a checkpoint was written."""


class _StopFlag:
    """Set by the first SIGINT/SIGTERM, which also arms a SIGALRM timer: a second signal,
    or the timer (the iteration still running after STOP_GRACE_SECONDS), raises
    KeyboardInterrupt at once."""

    def __init__(self) -> None:
        self.set = False

    def __call__(self, signum: int, _frame) -> None:
        if self.set:
            raise KeyboardInterrupt
        self.set = True
        if hasattr(signal, "setitimer"):
            signal.setitimer(signal.ITIMER_REAL, STOP_GRACE_SECONDS)

    def expired(self, signum: int, _frame) -> None:
        raise KeyboardInterrupt


@contextmanager
def _catch_signals(flag: _StopFlag) -> Iterator[None]:
    alarm = getattr(signal, "SIGALRM", None)  # not on Windows
    try:
        old = {s: signal.signal(s, flag) for s in (signal.SIGINT, signal.SIGTERM)}
        if alarm is not None:
            old[alarm] = signal.signal(alarm, flag.expired)
    except ValueError:  # not the main thread: leave signals alone
        old = {}
    try:
        yield
    finally:
        if alarm in old:
            signal.setitimer(signal.ITIMER_REAL, 0)  # disarm the grace timer
        for s, h in old.items():
            signal.signal(s, h)


def check_split(meta_batch: int, processes: int) -> None:
    """A clear error when the meta-batch cannot give every process a task."""
    if meta_batch < processes:
        raise MamlgameError(f"--meta-batch {meta_batch} is smaller than the number of "
                            f"processes ({processes}): every process needs a task")


# ---- setup ---------------------------------------------------------------------------------
@dataclass
class _Run:
    """What the loop works on, set up fresh or from a checkpoint."""

    config: TrainConfig  # as given (saved in checkpoints)
    cfg: TrainConfig  # resolved: what the loop reads
    pack: LevelPack
    pool: Tasks
    policy: MLPPolicy
    learner: MetaLearner
    params: Params
    meta_params: list[torch.Tensor]
    optimizer: torch.optim.Adam
    gen: torch.Generator
    start: int
    spent: float  # wall-clock seconds spent before this session (from the checkpoint)


@dataclass
class _Clock:
    """This process's view of the run's wall time: what earlier sessions spent plus the time
    since this session began (its setup included)."""

    before: float = 0.0
    start: float = field(default_factory=time.perf_counter)

    def session(self) -> float:
        """Seconds since this session began."""
        return time.perf_counter() - self.start

    def spent(self) -> float:
        return self.before + self.session()


def _setup(config: TrainConfig, ck: Checkpoint | None, device: torch.device,
           step: Callable[[str], None]) -> _Run:
    """Pack, family, policy, learner, optimiser and generator for `config`, restored from
    `ck` when resuming; `step` is told each step (`progress.SetupProgress`)."""
    pack = load_pack(config.pack) if ck is None else ck.pack()
    cfg = config.resolved(pack)
    check_training(cfg, pack, device)
    step(f"generating the {pack.n_train} train levels of {pack.name}")
    pool = pack.pool("train").to(device)
    step("building the policy")
    family = make_family(pack, cfg.horizon)
    policy = policy_for(family, cfg).to(device)
    learner = MetaLearner.from_config(policy, family, cfg)
    params = params_of(policy)
    meta_params = learner.meta_parameters(params)
    optimizer = torch.optim.Adam(meta_params, lr=cfg.outer_lr)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    if ck is not None:
        ck.restore(policy, learner, optimizer, gen)
    return _Run(config, cfg, pack, pool, policy, learner, params,
                meta_params, optimizer, gen, 0 if ck is None else ck.iteration,
                0.0 if ck is None else ck.elapsed)


def _save(run: _Run, path: Path, iteration: int, ctx: distributed.Context,
          spent: float) -> None:
    """Process 0 writes the checkpoint after `iteration` meta-iterations, `spent` seconds
    into the run."""
    if ctx.is_main:
        try:
            save_checkpoint(path, checkpoint_state(
                run.params, run.learner.state_dict(), run.optimizer, iteration, run.gen,
                run.config, run.policy, run.pack, ctx.world, spent),
                keep=run.cfg.keep_checkpoints)
        except OSError as e:  # disk full, read-only file system, ...: the old file stays
            kept = f"{path} is kept" if path.exists() else "no checkpoint was written"
            raise TrainingError(f"{path}: cannot write the checkpoint of iteration {iteration} "
                                f"({e.strerror or e}); the previous {kept}") from None


# ---- one iteration's pieces ----------------------------------------------------------------
def outer_lr_at(cfg: TrainConfig, it: int, spent: float = 0.0) -> float:
    """The outer learning rate of iteration `it`, begun `spent` seconds into the run: with
    `anneal_lr` a linear decay to 0 over the iterations, or with a time limit over the
    budget (over the iterations when they are the tighter bound: the larger fraction used)."""
    if not cfg.anneal_lr:
        return cfg.outer_lr
    if cfg.time_limit <= 0:
        return cfg.outer_lr * (1.0 - it / cfg.iterations)
    used = min(spent / cfg.time_limit, 1.0)
    if cfg.iterations:
        used = max(used, it / cfg.iterations)
    return cfg.outer_lr * (1.0 - used)


def _anneal(optimizer: torch.optim.Optimizer, cfg: TrainConfig, it: int, spent: float) -> None:
    """Set the outer learning rate of iteration `it` (see `outer_lr_at`)."""
    if cfg.anneal_lr:
        for group in optimizer.param_groups:
            group["lr"] = outer_lr_at(cfg, it, spent)


def _all_reduce(step: MetaStep, meta_params: list[torch.Tensor], stop: bool, spent: float,
                ctx: distributed.Context, device: torch.device
                ) -> tuple[float, dict[str, float], bool, float]:
    """Sum gradients, loss, metrics and stop requests over the processes in one all-reduce
    (a no-op in one process); returns the batch's loss, metrics, whether any process was
    asked to stop, and the mean over processes of the wall time `spent` (one value for all)."""
    extra = torch.tensor([step.loss.item(), *(step.metrics[k] for k in METRICS), 0.0, 0.0],
                         dtype=torch.float64)
    extra[:-2] *= step.weight
    extra[-2] = float(stop)
    extra[-1] = spent / ctx.world
    if ctx.distributed:
        extra = distributed.all_reduce_step(meta_params, extra.to(device)).cpu()
    loss, *values, stops, mean_spent = extra.tolist()
    return (loss, {**step.metrics, **dict(zip(METRICS, values, strict=True))}, stops > 0,
            mean_spent)


def _update(optimizer: torch.optim.Optimizer, finite: bool, bad: int, it: int,
            ctx: distributed.Context) -> int:
    """The meta-update, or skip it when the loss or gradient is not finite; returns how
    many updates in a row were skipped."""
    if finite:
        optimizer.step()
        return 0
    if ctx.is_main:
        warnings.warn(f"iteration {it}: non-finite loss or meta-gradient; update skipped",
                      stacklevel=1)
    return bad + 1


def _stop_if_diverged(bad: int, it: int, ckpt_path: Path) -> None:
    if bad >= MAX_BAD_STEPS:
        last = ("no checkpoint was written" if not ckpt_path.exists()
                else f"the last good checkpoint is {ckpt_path}")
        raise TrainingError(f"{bad} non-finite losses or meta-gradients in a row at iteration "
                            f"{it}; stopped ({last}). Check the rewards; try a lower "
                            "--outer-lr or --inner-lr")


# ---- the loop ------------------------------------------------------------------------------
def train(cfg: TrainConfig, out_dir: str | Path, resume: bool = False,
          progress: bool = True, given: Collection[str] | None = None,
          echo: Callable[[str], None] | None = None, overwrite: bool = False) -> Path:
    """Meta-train per `cfg`, writing `out_dir/metrics.jsonl` and `out_dir/checkpoint.pt`
    (and with `cfg.tensorboard` the same metrics as TensorBoard scalars in
    `out_dir/tensorboard`).

    Returns the checkpoint path. A fresh run refuses a non-empty `out_dir` unless
    `overwrite` (which deletes the old run's checkpoints and metrics first); the directory is
    locked while the run writes it (a second run on it is an error). `resume` continues from
    the newest good checkpoint in `out_dir` (same config, same RNG state: the result equals
    an uninterrupted run); it refuses another pack or algorithm and warns about other
    settings that differ from the saved run (those in `given`, the fields the caller set on
    purpose; None: all of them). With `cfg.time_limit` the run stops after the iteration that
    spends the budget (see the module docstring); `echo` (process 0 only) receives a line on
    where a resumed run starts, on its budget, and at the end. `cfg` is used as given (no
    recipe) and process-wide settings are the caller's: `run` is what `mamlgame train` (and
    `mamlgame.train`) runs.
    """
    clock = _Clock()  # the budget counts this session's setup too
    ctx = distributed.context()
    device = distributed.resolve_device(cfg.device, ctx.local_rank, ctx.local_world)
    check_split(cfg.meta_batch, ctx.world)
    distributed.init(ctx, device)
    lock = None
    clean = False
    try:
        out = Path(out_dir)
        lock = claim_out_dir(out, resume, overwrite, ctx)
        ck = read_resume_checkpoint(out / "checkpoint.pt", ctx) if resume else None
        if ck is not None:
            cfg, message = resume_config(ck, cfg, given)
            if message and ctx.is_main:
                warnings.warn(message, stacklevel=2)
            check_split(cfg.meta_batch, ctx.world)
            clock.before = ck.elapsed
        _check_budget(cfg)
        if cfg.tensorboard:
            require_tensorboard()  # before the setup: one line, not a late traceback
        say = echo if ctx.is_main else None
        done = ck is not None and budget_reached(ck, cfg)
        run = None
        if not done:  # (a checkpoint that does not fit: an error)
            with SetupProgress(progress and ctx.is_main) as setup:
                run = _setup(cfg, ck, device, setup.step)
        if ck is not None and say is not None:
            say(resume_note(ck, cfg))
        if run is None:
            clean = True
            return out / "checkpoint.pt"
        path = _train(run, out, resume, progress, ctx, device, clock, say)
        clean = True
        return path
    finally:
        if lock is not None:
            lock.release()
        distributed.shutdown(clean)


def run(cfg: TrainConfig, out_dir: str | Path, resume: bool = False, progress: bool = True,
        given: Collection[str] | None = None, echo: Callable[[str], None] | None = None,
        overwrite: bool = False) -> Path:
    """What `mamlgame train` runs (exported as `mamlgame.train`): a fresh run takes the
    pack's `[train]` recipe for the settings not in `given` (None: those left at their
    defaults; `config.with_recipe`), the process's torch threads and allocator settings come
    from `cfg.threads` (`mamlgame.cpu.configure`), then `train`. Returns the checkpoint's
    path."""
    if not resume:
        cfg, _ = with_recipe(cfg, load_pack(cfg.pack).train, given)
    cpu.configure(cfg.threads)
    return train(cfg, out_dir, resume, progress, given, echo, overwrite)


def _check_budget(cfg: TrainConfig) -> None:
    if cfg.iterations < 1 and cfg.time_limit <= 0:
        raise MamlgameError(f"iterations = {cfg.iterations}: training needs at least one "
                            "iteration (0 means no cap only with a time limit)")


def _iterations(start: int, cfg: TrainConfig) -> Iterable[int]:
    """The iteration numbers the loop may run (without a cap: until the time limit)."""
    return range(start, cfg.iterations) if cfg.iterations else itertools.count(start)


def _train(run: _Run, out: Path, resume: bool, progress: bool, ctx: distributed.Context,
           device: torch.device, clock: _Clock, say: Callable[[str], None] | None) -> Path:
    cfg, ckpt_path = run.cfg, out / "checkpoint.pt"
    log = (MetricsLog(out / "metrics.jsonl", run.start, resume, cfg.tensorboard)
           if ctx.is_main else None)
    setup = clock.session()  # this session's setup, on the budget too
    note = setup_note(cfg, setup, clock.before + setup)
    if note and say is not None:
        say(note)
    bar = progress_bar(cfg, run.pack.name, run.start, clock.before + setup,
                       progress and ctx.is_main)
    # `spent`: the run's wall time as all processes agree on it (after each all-reduce)
    bad, done, stop, spent = 0, run.start, _StopFlag(), run.spent
    try:  # tensors the rollout and families create go to `device`
        with _catch_signals(stop), distributed.default_device(device):
            for it in _iterations(run.start, cfg):
                if 0 < cfg.time_limit <= spent:
                    break
                t0 = time.perf_counter()
                _anneal(run.optimizer, cfg, it, spent)
                idx = torch.randint(len(run.pool), (cfg.meta_batch,), generator=run.gen,
                                    device=device)
                tasks = run.pool.select(idx)
                part = Shard.of(ctx.rank, ctx.world, tasks) if ctx.distributed else None
                step = meta_step(run.learner, run.params, tasks, run.gen, part)
                loss, m, stops, spent = _all_reduce(step, run.meta_params, stop.set,
                                                    clock.spent(), ctx, device)
                grad_norm = torch.nn.utils.clip_grad_norm_(run.meta_params, math.inf).item()
                finite = math.isfinite(loss) and math.isfinite(grad_norm)
                bad = _update(run.optimizer, finite, bad, it, ctx)
                done = it + 1
                if log is not None:
                    log.write(it, time.perf_counter() - t0, loss, grad_norm, m, not finite,
                              ctx.world)
                tick(bar, cfg, done, spent, m, family_spec(run.pack.family).has_success)
                _stop_if_diverged(bad, it, ckpt_path)
                if stops:
                    _save(run, ckpt_path, done, ctx, spent)
                    raise Interrupted(f"interrupted after iteration {done}; checkpoint saved "
                                      f"to {ckpt_path} (continue with --resume)")
                if (done % cfg.checkpoint_every == 0 or done == cfg.iterations
                        or 0 < cfg.time_limit <= spent):
                    _save(run, ckpt_path, done, ctx, spent)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted during iteration {done} (second signal, or the "
                          f"iteration did not end within {STOP_GRACE_SECONDS:g}s); the last "
                          f"checkpoint in {out} is kept (continue with --resume)") from None
    finally:
        bar.close()
        if log is not None:
            log.close()
    if not ckpt_path.exists():
        _save(run, ckpt_path, done, ctx, spent)
    if say is not None and cfg.time_limit > 0:
        say(budget_note(cfg, run.start, done, spent, setup))
    return ckpt_path
