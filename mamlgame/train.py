"""The meta-training loop, top to bottom: sample tasks -> rollout -> adapt -> rollout ->
meta-update -> log -> checkpoint.

In a distributed run (torchrun, or `mamlgame train --nproc N`) every process runs this loop:
all draw the same tasks, each computes the meta-loss of its share (`mamlgame.shard`), one
all-reduce sums gradients and metrics, and all take the same optimiser step; process 0
writes metrics and checkpoints. Same seed -> the same parameters as one process.

Faults: SIGINT/SIGTERM finish the current iteration, write a checkpoint and raise
`Interrupted` (a second signal stops at once); checkpoints hold every RNG state, so a run
resumed after SIGKILL ends where an uninterrupted one does; a non-finite loss or
meta-gradient skips the update, MAX_BAD_STEPS in a row stop the run.
"""

from __future__ import annotations

import json
import math
import signal
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from tqdm import tqdm

from mamlgame import cpu, distributed, shard
from mamlgame.checkpoint import atomic_write_bytes, load_newest_good, save_checkpoint
from mamlgame.config import TrainConfig
from mamlgame.errors import CheckpointError, MamlgameError, TrainingError
from mamlgame.meta import MetaLearner
from mamlgame.packs import load_pack
from mamlgame.policy import make_policy, params_of
from mamlgame.tasks import make_family

MAX_BAD_STEPS = 3  # consecutive non-finite updates before the run stops
METRICS = ("return_before", "return_after", "success_before", "success_after")
RUNTIME_KEYS = ("iterations", "device", "threads")  # settings a resumed run may change


class Interrupted(MamlgameError):
    """Training was interrupted (Ctrl-C / SIGTERM); a checkpoint was written."""


class _StopFlag:
    """Set by the first SIGINT/SIGTERM; a second one raises KeyboardInterrupt at once."""

    def __init__(self) -> None:
        self.set = False

    def __call__(self, signum: int, _frame) -> None:
        if self.set:
            raise KeyboardInterrupt
        self.set = True


@contextmanager
def _catch_signals(flag: _StopFlag) -> Iterator[None]:
    try:
        old = {s: signal.signal(s, flag) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: leave signals alone
        old = {}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


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


def _resume_state(ckpt_path: Path, ctx: distributed.Context) -> dict:
    """Process 0 loads the newest good checkpoint and hands it to the others."""
    result: dict | str
    if ctx.is_main:
        try:
            state, used, skipped = load_newest_good(ckpt_path)
            for msg in skipped:
                warnings.warn(f"skipping checkpoint: {msg}", stacklevel=1)
            if used != ckpt_path:
                warnings.warn(f"resuming from {used} (iteration {state['iteration']})",
                              stacklevel=1)
            result = state
        except CheckpointError as e:
            result = str(e)
    else:
        result = ""
    result = distributed.broadcast(result, ctx)
    if isinstance(result, str):
        raise CheckpointError(result)
    return result


def check_split(meta_batch: int, processes: int) -> None:
    """A clear error when the meta-batch cannot give every process a task."""
    if meta_batch < processes:
        raise MamlgameError(f"--meta-batch {meta_batch} is smaller than the number of "
                            f"processes ({processes}): every process needs a task")


def train(cfg: TrainConfig, out_dir: str | Path, resume: bool = False,
          progress: bool = True) -> Path:
    """Meta-train per `cfg`, writing `out_dir/metrics.jsonl` and `out_dir/checkpoint.pt`.

    Returns the checkpoint path. `resume` continues from the newest good checkpoint in
    `out_dir` (same config, same RNG state: the result equals an uninterrupted run).
    """
    ctx = distributed.context()
    device = distributed.resolve_device(cfg.device, ctx.local_rank, ctx.local_world)
    check_split(cfg.meta_batch, ctx.world)
    distributed.init(ctx, device)
    try:
        return _train(cfg, Path(out_dir), resume, progress, ctx, device)
    finally:
        distributed.shutdown()


def _train(cfg: TrainConfig, out: Path, resume: bool, progress: bool,
           ctx: distributed.Context, device: torch.device) -> Path:
    ckpt_path, metrics_path = out / "checkpoint.pt", out / "metrics.jsonl"
    start, state = 0, None
    if resume:
        state = _resume_state(ckpt_path, ctx)
        saved = TrainConfig.from_dict(state["config"])
        cfg = TrainConfig.from_dict({**saved.to_dict(),
                                     **{k: getattr(cfg, k) for k in RUNTIME_KEYS}})
        start = int(state["iteration"])
        check_split(cfg.meta_batch, ctx.world)
    cpu.configure(cfg.threads)

    # ---- setup: pack, family, policy, learner, optimiser, generator ----------------------------
    pack = load_pack(cfg.pack) if state is None else _pack_from_state(state)
    family = make_family(pack, cfg.horizon or None)
    torch.manual_seed(cfg.seed)
    policy = make_policy(family, cfg.hidden, cfg.activation, cfg.init_std).to(device)
    learner = MetaLearner(policy, family, cfg.algo, cfg.inner_lr, cfg.inner_steps, cfg.episodes,
                          cfg.estimator, gamma=cfg.gamma, baseline=cfg.baseline,
                          normalize=cfg.normalize, gae_lambda=cfg.gae_lambda)
    params = params_of(policy)
    meta_params = learner.meta_parameters(params)
    optimizer = torch.optim.Adam(meta_params, lr=cfg.outer_lr)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    if state is not None:
        policy.load_state_dict(state["params"])
        if learner.inner_lrs is not None:
            with torch.no_grad():
                for k, v in learner.inner_lrs.items():
                    v.copy_(state["inner_lrs"][k])
        optimizer.load_state_dict(state["optimizer"])
        gen.set_state(state["rng"]["tasks"])
        if "torch" in state["rng"]:
            torch.set_rng_state(state["rng"]["torch"])
        if ctx.is_main:
            _keep_metrics_before(metrics_path, start)
    elif ctx.is_main and metrics_path.exists():
        metrics_path.unlink()  # a fresh run in an old folder starts a fresh log

    def checkpoint(iteration: int) -> None:
        if not ctx.is_main:
            return
        save_checkpoint(ckpt_path, {
            "params": {k: v.detach().cpu().clone() for k, v in params.items()},
            "inner_lrs": ({k: v.detach().cpu().clone() for k, v in learner.inner_lrs.items()}
                          if learner.inner_lrs is not None else None),
            "optimizer": optimizer.state_dict(), "iteration": iteration,
            "rng": {"tasks": gen.get_state(), "torch": torch.get_rng_state()},
            "config": cfg.to_dict(), "policy": policy.config(), "family": pack.family,
            "pack_text": pack.text, "pack_path": pack.path, "world_size": ctx.world,
        }, keep=cfg.keep_checkpoints)

    pool = pack.pool("train").to(device)
    if ctx.is_main:
        out.mkdir(parents=True, exist_ok=True)
    bar = tqdm(range(start, cfg.iterations), initial=start, total=cfg.iterations,
               disable=not (progress and ctx.is_main), desc=f"{cfg.algo} {pack.name}", unit="it")
    log = metrics_path.open("a") if ctx.is_main else None
    bad, done, stop = 0, start, _StopFlag()
    try:
        # tensors the rollout and families create go to `device`
        with _catch_signals(stop), distributed.default_device(device):
            for it in bar:
                t0 = time.perf_counter()
                if cfg.anneal_lr:
                    for group in optimizer.param_groups:
                        group["lr"] = cfg.outer_lr * (1.0 - it / cfg.iterations)
                # ---- sample this iteration's tasks; this process takes its share ----------
                idx = torch.randint(len(pool), (cfg.meta_batch,), generator=gen, device=device)
                tasks = pool.select(idx)
                part = shard.Shard.of(ctx.rank, ctx.world, tasks) if ctx.distributed else None
                with shard.use(part):
                    local = part.local(tasks) if part else tasks
                    loss, m = learner.meta_loss(params, local, gen)
                    weight = part.size / part.total if part else 1.0
                    optimizer.zero_grad()
                    (loss * weight).backward()
                # ---- one all-reduce: gradients, loss, metrics, stop requests ---------------
                extra = torch.tensor([loss.item(), *(m[k] for k in METRICS), 0.0],
                                     dtype=torch.float64)
                extra[:-1] *= weight
                extra[-1] = float(stop.set)
                if ctx.distributed:
                    extra = distributed.all_reduce_step(meta_params, extra.to(device)).cpu()
                loss_value, *values, stops = extra.tolist()
                m = {**m, **dict(zip(METRICS, values, strict=True))}
                grad_norm = torch.nn.utils.clip_grad_norm_(meta_params, math.inf).item()
                finite = math.isfinite(loss_value) and math.isfinite(grad_norm)
                # ---- meta-update, or skip it when the loss or gradient is not finite -------
                if finite:
                    optimizer.step()
                    bad = 0
                else:
                    bad += 1
                    if ctx.is_main:
                        warnings.warn(f"iteration {it}: non-finite loss or meta-gradient; "
                                      "update skipped", stacklevel=1)
                # ---- log, checkpoint -------------------------------------------------------
                done = it + 1
                if log is not None:
                    row = {"iteration": it, "seconds": round(time.perf_counter() - t0, 4),
                           "loss": _finite(loss_value), "grad_norm": _finite(grad_norm),
                           **{k: _finite(float(v)) for k, v in m.items()},
                           "skipped": not finite, "world_size": ctx.world}
                    log.write(json.dumps(row) + "\n")
                    log.flush()
                bar.set_postfix(before=f"{m['return_before']:.2f}",
                                after=f"{m['return_after']:.2f}")
                if bad >= MAX_BAD_STEPS:
                    last = ("no checkpoint was written" if not ckpt_path.exists()
                            else f"the last good checkpoint is {ckpt_path}")
                    raise TrainingError(
                        f"{bad} non-finite losses or meta-gradients in a row at iteration {it}; "
                        f"stopped ({last}). Check the rewards; try a lower --outer-lr or "
                        f"--inner-lr")
                if stops > 0:
                    checkpoint(done)
                    raise Interrupted(f"interrupted after iteration {done}; checkpoint saved "
                                      f"to {ckpt_path} (continue with --resume)")
                if done % cfg.checkpoint_every == 0 or done == cfg.iterations:
                    checkpoint(done)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted during iteration {done} (second signal); the last "
                          f"checkpoint in {out} is kept (continue with --resume)") from None
    finally:
        bar.close()
        if log is not None:
            log.close()
    if not ckpt_path.exists():
        checkpoint(done)
    return ckpt_path


def _pack_from_state(state: dict):
    from mamlgame.packs import parse_pack  # noqa: PLC0415

    return parse_pack(state["pack_text"], state["pack_path"])
