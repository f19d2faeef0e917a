"""The meta-training loop, top to bottom: sample tasks -> rollout -> adapt -> rollout ->
meta-update -> log -> checkpoint."""

from __future__ import annotations

import json
import math
import time
import warnings
from pathlib import Path

import torch
from tqdm import tqdm

from mamlgame.checkpoint import load_checkpoint, save_checkpoint
from mamlgame.config import TrainConfig
from mamlgame.errors import MamlgameError, TrainingError
from mamlgame.meta import MetaLearner
from mamlgame.packs import load_pack
from mamlgame.policy import make_policy, params_of
from mamlgame.tasks import make_family

MAX_BAD_STEPS = 3  # consecutive non-finite updates before the run stops


class Interrupted(MamlgameError):
    """Training was interrupted (Ctrl-C / SIGTERM); a checkpoint was written."""


def _metrics_lines(path: Path, upto: int) -> None:
    """Keep only metric lines of iterations < upto (drop lines logged after the checkpoint)."""
    if not path.exists():
        return
    keep = [ln for ln in path.read_text().splitlines()
            if ln.strip() and json.loads(ln).get("iteration", 0) < upto]
    path.write_text("".join(ln + "\n" for ln in keep))


def train(cfg: TrainConfig, out_dir: str | Path, resume: bool = False,
          progress: bool = True) -> Path:
    """Meta-train per `cfg`, writing `out_dir/metrics.jsonl` and `out_dir/checkpoint.pt`.

    Returns the checkpoint path. `resume` continues from `out_dir/checkpoint.pt` (same config,
    same RNG state: the result equals an uninterrupted run).
    """
    out = Path(out_dir)
    ckpt_path, metrics_path = out / "checkpoint.pt", out / "metrics.jsonl"
    start = 0
    state = None
    if resume:
        state = load_checkpoint(ckpt_path)
        saved = TrainConfig.from_dict(state["config"])
        cfg = TrainConfig.from_dict({**saved.to_dict(), "iterations": cfg.iterations})
        start = int(state["iteration"])
    torch.set_num_threads(cfg.threads)

    pack = load_pack(cfg.pack) if state is None else _pack_from_state(state)
    family = make_family(pack, cfg.horizon or None)
    torch.manual_seed(cfg.seed)
    policy = make_policy(family, cfg.hidden, cfg.activation)
    learner = MetaLearner(policy, family, cfg.algo, cfg.inner_lr, cfg.inner_steps, cfg.episodes,
                          cfg.estimator, gamma=cfg.gamma, baseline=cfg.baseline,
                          normalize=cfg.normalize)
    params = params_of(policy)
    optimizer = torch.optim.Adam(learner.meta_parameters(params), lr=cfg.outer_lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    if state is not None:
        policy.load_state_dict(state["params"])
        if learner.inner_lrs is not None:
            with torch.no_grad():
                for k, v in learner.inner_lrs.items():
                    v.copy_(state["inner_lrs"][k])
        optimizer.load_state_dict(state["optimizer"])
        gen.set_state(state["rng"]["tasks"])
        _metrics_lines(metrics_path, start)
    elif metrics_path.exists():
        metrics_path.unlink()  # a fresh run in an old folder starts a fresh log

    def checkpoint(iteration: int) -> None:
        save_checkpoint(ckpt_path, {
            "params": {k: v.detach().clone() for k, v in params.items()},
            "inner_lrs": ({k: v.detach().clone() for k, v in learner.inner_lrs.items()}
                          if learner.inner_lrs is not None else None),
            "optimizer": optimizer.state_dict(), "iteration": iteration,
            "rng": {"tasks": gen.get_state()}, "config": cfg.to_dict(),
            "policy": policy.config(), "family": pack.family,
            "pack_text": pack.text, "pack_path": pack.path,
        })

    pool = pack.pool("train")
    out.mkdir(parents=True, exist_ok=True)
    bar = tqdm(range(start, cfg.iterations), initial=start, total=cfg.iterations,
               disable=not progress, desc=f"{cfg.algo} {pack.name}", unit="it")
    bad, done = 0, start
    try:
        with metrics_path.open("a") as log:
            for it in bar:
                t0 = time.perf_counter()
                if cfg.anneal_lr:
                    for group in optimizer.param_groups:
                        group["lr"] = cfg.outer_lr * (1.0 - it / cfg.iterations)
                tasks = pool.select(torch.randint(len(pool), (cfg.meta_batch,), generator=gen))
                loss, m = learner.meta_loss(params, tasks, gen)
                optimizer.zero_grad()
                loss.backward()
                grad_norm = torch.nn.utils.clip_grad_norm_(learner.meta_parameters(params),
                                                           math.inf).item()
                finite = math.isfinite(loss.item()) and math.isfinite(grad_norm)
                if finite:
                    optimizer.step()
                    bad = 0
                else:
                    bad += 1
                    warnings.warn(f"iteration {it}: non-finite loss or meta-gradient; "
                                  "update skipped", stacklevel=1)
                    if bad >= MAX_BAD_STEPS:
                        raise TrainingError(
                            f"{bad} non-finite updates in a row at iteration {it}; stopped. "
                            f"The last good checkpoint is {ckpt_path}")
                row = {"iteration": it, "seconds": round(time.perf_counter() - t0, 4),
                       "loss": loss.item(), "grad_norm": grad_norm, **m, "skipped": not finite}
                log.write(json.dumps(row) + "\n")
                log.flush()
                done = it + 1
                bar.set_postfix(before=f"{m['return_before']:.2f}",
                                after=f"{m['return_after']:.2f}")
                if done % cfg.checkpoint_every == 0 or done == cfg.iterations:
                    checkpoint(done)
    except KeyboardInterrupt:
        checkpoint(done)
        raise Interrupted(f"interrupted at iteration {done}; checkpoint saved to {ckpt_path} "
                          f"(continue with --resume)") from None
    finally:
        bar.close()
    if not ckpt_path.exists():
        checkpoint(done)
    return ckpt_path


def _pack_from_state(state: dict):
    from mamlgame.packs import parse_pack  # noqa: PLC0415

    return parse_pack(state["pack_text"], state["pack_path"])
