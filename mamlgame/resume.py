"""Resuming a run: the checkpoint it continues from, the settings it continues with (the
saved ones; another pack or algorithm is refused), and the line it starts with.

A resumed run takes its config from the checkpoint; only `RUNTIME_KEYS` may change, and the
budget (`BUDGET_KEYS`: iterations, time limit) and the TensorBoard log only when the caller
gives them (`KEPT_KEYS`), so that a plain `--resume` finishes the budget the run began with,
logging as it did.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection
from dataclasses import fields, replace
from pathlib import Path

from mamlgame import distributed
from mamlgame.checkpoint import Checkpoint, load_newest_good
from mamlgame.config import BUDGET_KEYS, TrainConfig, format_duration
from mamlgame.errors import CheckpointError, MamlgameError
from mamlgame.packs import load_pack
from mamlgame.progress import plural

# settings a resumed run may change; KEPT_KEYS a resume keeps from the run unless given
RUNTIME_KEYS = ("iterations", "time_limit", "device", "threads", "tensorboard")
KEPT_KEYS = BUDGET_KEYS | {"tensorboard"}


def read_resume_checkpoint(ckpt_path: Path, ctx: distributed.Context) -> Checkpoint:
    """Process 0 reads the newest good checkpoint (warning about each one skipped) and hands
    it to the others; every process raises the same `CheckpointError` when none reads."""
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


def resume_config(ck: Checkpoint, cfg: TrainConfig, given: Collection[str] | None = None
                  ) -> tuple[TrainConfig, str | None]:
    """The config a resumed run continues with: the saved one, with `RUNTIME_KEYS` taken from
    `cfg` (`KEPT_KEYS` only when in `given`: a plain resume keeps the run's budget), and one
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
                                   if k not in KEPT_KEYS or given is None or k in given})
    message = None
    if notes:
        message = ("--resume continues the run with its saved settings (only --iterations, "
                   f"--time-limit, --device, --threads and --tensorboard may change); ignoring "
                   f"{'; '.join(notes)}")
    return config, message


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


def _option(name: str, value: object) -> str:
    if isinstance(value, tuple):
        value = ",".join(map(str, value))
    return f"--{name.replace('_', '-')} {value}"


def budget_reached(ck: Checkpoint, cfg: TrainConfig) -> bool:
    """Whether a resumed run has nothing left to do (its iterations or time limit spent)."""
    if cfg.time_limit > 0 and ck.elapsed >= cfg.time_limit:
        return True
    return 0 < cfg.iterations <= ck.iteration


def resume_note(ck: Checkpoint, cfg: TrainConfig) -> str:
    """The line a resumed run starts with: where it starts, or that it is already done."""
    name = ck.pack().name
    if 0 < cfg.iterations <= ck.iteration:
        return (f"--resume: {name} has already run {plural(ck.iteration, 'iteration')} "
                f"(--iterations {cfg.iterations}); nothing to do (raise --iterations to "
                "continue)")
    if cfg.time_limit > 0:
        left = max(cfg.time_limit - ck.elapsed, 0.0)
        line = (f"--resume: iteration {ck.iteration}, {format_duration(ck.elapsed)} of the "
                f"time limit {format_duration(cfg.time_limit)} spent, "
                f"{format_duration(left)} left (pack {name})")
        if left <= 0:
            line += "; nothing to do (raise --time-limit to continue)"
        return line
    return f"resuming {name} at iteration {ck.iteration} of {cfg.iterations}"
