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
"""

from __future__ import annotations

import itertools
import json
import math
import os
import signal
import sys
import time
import warnings
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import torch
from tqdm import tqdm

from mamlgame import distributed
from mamlgame.checkpoint import (
    Checkpoint,
    atomic_write_bytes,
    checkpoint_state,
    load_newest_good,
    numbered_checkpoints,
    save_checkpoint,
)
from mamlgame.config import BUDGET_KEYS, TrainConfig, format_duration
from mamlgame.errors import CheckpointError, MamlgameError, TrainingError
from mamlgame.families import make_family
from mamlgame.meta import MetaLearner, MetaStep, meta_step
from mamlgame.packs import LevelPack, Tasks, load_pack
from mamlgame.policy import MLPPolicy, Params, params_of, policy_for
from mamlgame.shard import Shard

try:  # POSIX: an advisory lock that the OS drops when the process dies (SIGKILL included)
    import fcntl
except ImportError:  # pragma: no cover - Windows: no run-directory lock
    fcntl = None  # type: ignore[assignment]

MAX_BAD_STEPS = 3  # consecutive non-finite updates before the run stops
STOP_GRACE_SECONDS = 30.0  # after a stop signal, how long the current iteration may still run
METRICS = ("return_before", "return_after", "success_before", "success_after")
# settings a resumed run may change; BUDGET_KEYS a resume keeps from the run unless given
RUNTIME_KEYS = ("iterations", "time_limit", "device", "threads")


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


class _MetricsLog:
    """Process 0's `metrics.jsonl`: one JSON line per meta-iteration. A fresh run starts a
    fresh file; a resumed one keeps the lines of the iterations before `start`."""

    def __init__(self, path: Path, start: int, resume: bool):
        self.path = path
        try:
            if resume:
                _keep_metrics_before(path, start)
            else:
                path.unlink(missing_ok=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.file = path.open("a")
        except OSError as e:
            raise self._error(e) from None

    def _error(self, e: OSError) -> TrainingError:
        return TrainingError(f"{self.path}: cannot write the metrics ({e.strerror or e})")

    def write(self, iteration: int, seconds: float, loss: float, grad_norm: float,
              metrics: dict[str, float], skipped: bool, world_size: int) -> None:
        row = {"iteration": iteration, "seconds": round(seconds, 4), "loss": _finite(loss),
               "grad_norm": _finite(grad_norm),
               **{k: _finite(float(v)) for k, v in metrics.items()},
               "skipped": skipped, "world_size": world_size}
        try:
            self.file.write(json.dumps(row) + "\n")
            self.file.flush()
        except OSError as e:
            raise self._error(e) from None

    def close(self) -> None:
        self.file.close()


def _keep_metrics_before(path: Path, upto: int) -> None:
    """Keep metric lines of iterations < upto (drop lines logged after the checkpoint and any
    line cut short by a crash)."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line).get("iteration", upto) < upto:
                keep.append(line)
        except (json.JSONDecodeError, AttributeError):
            continue
    text = "".join(ln + "\n" for ln in keep)
    atomic_write_bytes(path, lambda f: f.write(text.encode()))


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def check_split(meta_batch: int, processes: int) -> None:
    """A clear error when the meta-batch cannot give every process a task."""
    if meta_batch < processes:
        raise MamlgameError(f"--meta-batch {meta_batch} is smaller than the number of "
                            f"processes ({processes}): every process needs a task")


# ---- the run directory: refuse to mix runs, one `train` at a time --------------------------
LOCK_NAME = ".lock"  # held (flock) by the process writing the run; left in place afterwards


def run_files(out: Path) -> list[Path]:
    """The files of a run in `out`: checkpoint.pt, its numbered siblings and metrics.jsonl."""
    out = Path(out)
    ckpt = out / "checkpoint.pt"
    return [p for p in (ckpt, out / "metrics.jsonl") if p.exists()] + numbered_checkpoints(ckpt)


def check_out_dir(out: Path, resume: bool = False, overwrite: bool = False) -> None:
    """Refuse to start a fresh run in a non-empty `out` (DESIGN.md "CLI"): `resume` continues
    the run there, `overwrite` deletes its run files (checkpoints, numbered checkpoints,
    metrics) first and leaves any other file alone."""
    out = Path(out)
    if resume and overwrite:
        raise MamlgameError("--resume and --overwrite: choose one (continue the run in --out, "
                            "or replace it)")
    if resume or not out.exists():
        return
    if not out.is_dir():
        raise MamlgameError(f"--out {out}: exists and is not a directory")
    if overwrite:
        for p in run_files(out):
            p.unlink(missing_ok=True)
        return
    found = sorted(p.name for p in out.iterdir() if p.name != LOCK_NAME)
    if found:
        shown = ", ".join(found[:4]) + (f" and {len(found) - 4} more" if len(found) > 4 else "")
        what = "holds a run" if run_files(out) else "is not empty"
        raise MamlgameError(f"--out {out}: {what} ({shown}); continue it with --resume, "
                            "replace it with --overwrite (deletes its checkpoints and "
                            "metrics), or choose another --out")


class RunLock:
    """An exclusive lock on a run directory (`out/.lock`), so that two `train` runs never
    write one directory; creating it is also the first check that `out` is writable."""

    def __init__(self, out: Path):
        self.path, self.fd = Path(out) / LOCK_NAME, None

    def acquire(self) -> RunLock:
        out = self.path.parent
        if out.exists() and not out.is_dir():
            raise MamlgameError(f"--out {out}: exists and is not a directory")
        try:
            out.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:
            raise MamlgameError(f"--out {out}: cannot write the run directory here "
                                f"({e.strerror or e})") from None
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise MamlgameError(f"--out {out}: another `mamlgame train` is writing this "
                                    f"run (it holds {self.path}); wait for it to end, or "
                                    "choose another --out") from None
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the flock
            self.fd = None


def _claim_out_dir(out: Path, resume: bool, overwrite: bool,
                   ctx: distributed.Context) -> RunLock | None:
    """Process 0 locks `out` and checks it (`check_out_dir`); every process raises the same
    error, so that none waits for another that has stopped."""
    lock, error = None, ""
    if ctx.is_main:
        try:
            lock = RunLock(out).acquire()
            check_out_dir(out, resume, overwrite)
        except MamlgameError as e:
            if lock is not None:
                lock.release()
            lock, error = None, str(e)
    error = distributed.broadcast(error, ctx)
    if error:
        raise MamlgameError(error)
    return lock


# ---- resume: the saved run, and what the caller asked for ---------------------------------
def _option(name: str, value: object) -> str:
    if isinstance(value, tuple):
        value = ",".join(map(str, value))
    return f"--{name.replace('_', '-')} {value}"


def _pack_change(ck: Checkpoint, spec: str) -> str | None:
    """Refuse another pack than the run's; a note when the same pack's file has changed."""
    saved, asked = ck.pack(), load_pack(spec)
    if asked.name != saved.name:
        raise MamlgameError(f"--resume: this run trained on pack {saved.name!r}, not "
                            f"{asked.name!r}; drop PACK to continue it, or train into "
                            "another --out")
    if asked.text != saved.text:
        return f"PACK {spec} (changed since the run began: the checkpoint's copy is used)"
    return None


def resume_config(ck: Checkpoint, cfg: TrainConfig, given: Collection[str] | None = None
                  ) -> tuple[TrainConfig, str | None]:
    """The config a resumed run continues with: the saved one, with `RUNTIME_KEYS` taken from
    `cfg` (`BUDGET_KEYS` only when in `given`: a plain resume keeps the run's budget), and one
    line naming every other setting in `cfg` that differs from the saved run (ignored), or
    None. Only the fields in `given` are compared (None: all of them).

    Raises `MamlgameError` when `cfg` asks for another pack or algorithm than the run's."""
    names = [f.name for f in fields(TrainConfig)]
    compared = [k for k in names if given is None or k in given]
    if "algo" in compared and cfg.algo != ck.config.algo:
        raise MamlgameError(f"--resume: this run trained with --algo {ck.config.algo}, not "
                            f"{cfg.algo}; drop --algo to continue it, or train into another "
                            "--out")
    notes = [_pack_change(ck, cfg.pack)] if "pack" in compared else []
    pack = ck.pack()
    saved, new = ck.config.resolved(pack), cfg.resolved(pack)
    notes += [f"{_option(k, getattr(cfg, k))} (the run's: {_option(k, getattr(saved, k))})"
              for k in compared if k not in ("pack", "algo", *RUNTIME_KEYS)
              and getattr(new, k) != getattr(saved, k)]
    notes = [n for n in notes if n]
    config = replace(ck.config, **{k: getattr(cfg, k) for k in RUNTIME_KEYS
                                   if k not in BUDGET_KEYS or given is None or k in given})
    message = None
    if notes:
        message = ("--resume continues the run with its saved settings (only --iterations, "
                   f"--time-limit, --device and --threads may change); ignoring "
                   f"{'; '.join(notes)}")
    return config, message


def _resume_checkpoint(ckpt_path: Path, ctx: distributed.Context) -> Checkpoint:
    """Process 0 reads the newest good checkpoint and hands it to the others."""
    result: Checkpoint | str
    if ctx.is_main:
        try:
            ck, used, skipped = load_newest_good(ckpt_path)
            for msg in skipped:
                warnings.warn(f"skipping checkpoint: {msg}", stacklevel=1)
            if used != ckpt_path:
                warnings.warn(f"resuming from {used} (iteration {ck.iteration})", stacklevel=1)
            result = ck
        except CheckpointError as e:
            result = str(e)
    else:
        result = ""
    result = distributed.broadcast(result, ctx)
    if isinstance(result, str):
        raise CheckpointError(result)
    return result


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

    def spent(self) -> float:
        return self.before + (time.perf_counter() - self.start)


def _setup(config: TrainConfig, ck: Checkpoint | None, device: torch.device) -> _Run:
    """Pack, family, policy, learner, optimiser and generator for `config`, restored from
    `ck` when resuming."""
    pack = load_pack(config.pack) if ck is None else ck.pack()
    cfg = config.resolved(pack)
    family = make_family(pack, cfg.horizon)
    _check_memory(cfg, family.obs_dim, family.action_dim, device)
    policy = policy_for(family, cfg).to(device)
    learner = MetaLearner.from_config(policy, family, cfg)
    params = params_of(policy)
    meta_params = learner.meta_parameters(params)
    optimizer = torch.optim.Adam(meta_params, lr=cfg.outer_lr)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    if ck is not None:
        policy.load_state_dict(ck.params)
        if learner.inner_lrs is not None:
            with torch.no_grad():
                for k, v in learner.inner_lrs.items():
                    v.copy_(ck.inner_lrs[k])
        learner.adv_scale = ck.adv_scale
        learner.score_baseline.load(ck.score_baseline)
        optimizer.load_state_dict(ck.optimizer)
        gen.set_state(ck.rng["tasks"])
    return _Run(config, cfg, pack, pack.pool("train").to(device), policy, learner, params,
                meta_params, optimizer, gen, 0 if ck is None else ck.iteration,
                0.0 if ck is None else ck.elapsed)


def _memory_of(device: torch.device) -> int | None:
    """Bytes of memory on `device` (the machine's RAM for the CPU), None if unknown."""
    try:
        if device.type == "cuda":
            return int(torch.cuda.get_device_properties(device).total_memory)
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError, RuntimeError):
        return None


def rollout_bytes(cfg: TrainConfig, obs_dim: int, action_dim: int) -> int:
    """A lower estimate of the memory one meta-iteration holds (cfg resolved): per episode
    step, the observation, action, rewards and log-probabilities, and the hidden activations
    autograd keeps, for every rollout of the inner and outer loop, as float32."""
    per_step = obs_dim + action_dim + 8 + 2 * sum(cfg.hidden) + cfg.context
    rollouts = cfg.inner_steps + 1
    return 4 * cfg.meta_batch * cfg.episodes * cfg.horizon * per_step * rollouts


def _check_memory(cfg: TrainConfig, obs_dim: int, action_dim: int,
                  device: torch.device) -> None:
    """A clear error, before allocating, for a run that cannot fit in memory."""
    need, have = rollout_bytes(cfg, obs_dim, action_dim), _memory_of(device)
    if have is not None and need > have:
        raise MamlgameError(
            f"--meta-batch {cfg.meta_batch} x --episodes {cfg.episodes} x --horizon "
            f"{cfg.horizon} x {cfg.inner_steps + 1} rollouts (--inner-steps "
            f"{cfg.inner_steps} + 1) needs about {_gib(need)} of memory, more than the "
            f"{_gib(have)} of {device.type}; lower one of them")


def _gib(n: float) -> str:
    return f"{n / 2**30:.3g} GiB"


def _save(run: _Run, path: Path, iteration: int, ctx: distributed.Context,
          spent: float) -> None:
    """Process 0 writes the checkpoint after `iteration` meta-iterations, `spent` seconds
    into the run."""
    if ctx.is_main:
        try:
            save_checkpoint(path, checkpoint_state(
                run.params, run.learner.inner_lrs, run.optimizer, iteration, run.gen,
                run.config, run.policy, run.pack, ctx.world, spent, run.learner.adv_scale,
                run.learner.score_baseline.state()),
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
    """Meta-train per `cfg`, writing `out_dir/metrics.jsonl` and `out_dir/checkpoint.pt`.

    Returns the checkpoint path. A fresh run refuses a non-empty `out_dir` unless
    `overwrite` (which deletes the old run's checkpoints and metrics first); the directory is
    locked while the run writes it (a second run on it is an error). `resume` continues from
    the newest good checkpoint in `out_dir` (same config, same RNG state: the result equals
    an uninterrupted run); it refuses another pack or algorithm and warns about other
    settings that differ from the saved run (those in `given`, the fields the caller set on
    purpose; None: all of them). With `cfg.time_limit` the run stops after the iteration that
    spends the budget (see the module docstring); `echo` (process 0 only) receives a line on
    where a resumed run starts, on its budget, and at the end. Process-wide settings
    (threads, allocator) are the caller's: see `mamlgame.cpu`.
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
        lock = _claim_out_dir(out, resume, overwrite, ctx)
        ck = _resume_checkpoint(out / "checkpoint.pt", ctx) if resume else None
        if ck is not None:
            cfg, message = resume_config(ck, cfg, given)
            if message and ctx.is_main:
                warnings.warn(message, stacklevel=2)
            check_split(cfg.meta_batch, ctx.world)
            clock.before = ck.elapsed
        _check_budget(cfg)
        say = echo if ctx.is_main else None
        if ck is not None:
            if say is not None:
                say(_resume_note(ck, cfg))
            if _budget_reached(ck, cfg):
                clean = True
                return out / "checkpoint.pt"
        path = _train(_setup(cfg, ck, device), out, resume, progress, ctx, device, clock, say)
        clean = True
        return path
    finally:
        if lock is not None:
            lock.release()
        distributed.shutdown(clean)


def _budget_reached(ck: Checkpoint, cfg: TrainConfig) -> bool:
    """Whether a resumed run has nothing left to do (its iterations or time limit spent)."""
    if cfg.time_limit > 0 and ck.elapsed >= cfg.time_limit:
        return True
    return 0 < cfg.iterations <= ck.iteration


def _resume_note(ck: Checkpoint, cfg: TrainConfig) -> str:
    """The line a resumed run starts with: where it starts, or that it is already done."""
    name = ck.pack().name
    if 0 < cfg.iterations <= ck.iteration:
        return (f"--resume: {name} has already run {ck.iteration} iterations (--iterations "
                f"{cfg.iterations}); nothing to do (raise --iterations to continue)")
    if cfg.time_limit > 0:
        left = max(cfg.time_limit - ck.elapsed, 0.0)
        line = (f"--resume: iteration {ck.iteration}, {format_duration(ck.elapsed)} of the "
                f"time limit {format_duration(cfg.time_limit)} spent, "
                f"{format_duration(left)} left (pack {name})")
        if left <= 0:
            line += "; nothing to do (raise --time-limit to continue)"
        return line
    return f"resuming {name} at iteration {ck.iteration} of {cfg.iterations}"


def _check_budget(cfg: TrainConfig) -> None:
    if cfg.iterations < 1 and cfg.time_limit <= 0:
        raise MamlgameError(f"iterations = {cfg.iterations}: training needs at least one "
                            "iteration (0 means no cap only with a time limit)")


def _iterations(start: int, cfg: TrainConfig) -> Iterable[int]:
    """The iteration numbers the loop may run (without a cap: until the time limit)."""
    return range(start, cfg.iterations) if cfg.iterations else itertools.count(start)


class _LogProgress:
    """The progress bar's stand-in when stderr is not a terminal (a log file, CI): a plain
    line at each tenth of the total, not a carriage-return update per iteration."""

    STEPS = 10

    def __init__(self, total: float, initial: float, desc: str, unit: str):
        self.total, self.n, self.desc, self.unit = total, initial, desc, unit
        self.shown = self._tenth(initial)
        self.postfix: dict[str, object] = {}

    def _tenth(self, n: float) -> int:
        return int(self.STEPS * min(n, self.total) / self.total) if self.total > 0 else 0

    def update(self, n: float = 1) -> None:
        self.n += n

    def set_postfix(self, **kw: object) -> None:
        self.postfix = kw
        tenth = self._tenth(self.n)
        if tenth > self.shown:
            self.shown = tenth
            extra = ", ".join(f"{k} {v}" for k, v in self.postfix.items())
            print(f"{self.desc}: {self.n:.0f}/{self.total:.0f} {self.unit} "
                  f"({100 * tenth // self.STEPS}%){', ' + extra if extra else ''}",
                  file=sys.stderr, flush=True)

    def close(self) -> None:
        return None


def _progress_bar(run: _Run, enabled: bool) -> tqdm | _LogProgress:
    """Iterations done of `iterations`, or with a time limit seconds spent of the budget
    (a bar on a terminal, else a line per tenth: `_LogProgress`)."""
    cfg, desc = run.cfg, f"{run.cfg.algo} {run.pack.name}"
    if enabled and not _is_terminal(sys.stderr):
        if cfg.time_limit > 0:
            return _LogProgress(cfg.time_limit, min(run.spent, cfg.time_limit), desc,
                                "s of the time limit")
        return _LogProgress(cfg.iterations, run.start, desc, "iterations")
    if cfg.time_limit > 0:
        return tqdm(total=cfg.time_limit, initial=min(run.spent, cfg.time_limit),
                    disable=not enabled, desc=desc,
                    bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s of the time limit "
                               "[{elapsed}<{remaining}{postfix}]")
    return tqdm(total=cfg.iterations, initial=run.start, disable=not enabled, desc=desc,
                unit="it")


def _is_terminal(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def _tick(bar: tqdm | _LogProgress, cfg: TrainConfig, done: int, spent: float,
          m: dict[str, float]) -> None:
    if cfg.time_limit > 0:
        bar.update(min(spent, cfg.time_limit) - bar.n)
    else:
        bar.update(1)
    extra = {"it": done} if cfg.time_limit > 0 else {}
    bar.set_postfix(**extra, before=f"{m['return_before']:.2f}",
                    after=f"{m['return_after']:.2f}")


def _budget_note(run: _Run, done: int, spent: float) -> str:
    """The end-of-run line of a time-limited run: iterations run in the budget."""
    cfg = run.cfg
    line = (f"time limit {format_duration(cfg.time_limit)}: {done} iterations in "
            f"{format_duration(spent)}")
    if run.start:
        line += f" ({done - run.start} in this session)"
    if spent < cfg.time_limit:
        line += (f"; stopped at --iterations {cfg.iterations} with "
                 f"{format_duration(cfg.time_limit - spent)} left")
    return line


def _train(run: _Run, out: Path, resume: bool, progress: bool, ctx: distributed.Context,
           device: torch.device, clock: _Clock, say: Callable[[str], None] | None) -> Path:
    cfg, ckpt_path = run.cfg, out / "checkpoint.pt"
    log = _MetricsLog(out / "metrics.jsonl", run.start, resume) if ctx.is_main else None
    bar = _progress_bar(run, progress and ctx.is_main)
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
                _tick(bar, cfg, done, spent, m)
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
        say(_budget_note(run, done, spent))
    return ckpt_path
