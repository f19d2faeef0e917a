"""The checkpoint format: one file of tensors and plain data, written atomically and loaded
with `torch.load(weights_only=True)` (no arbitrary pickles)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mamlgame.config import TrainConfig
from mamlgame.errors import CheckpointError
from mamlgame.packs import LevelPack, load_pack, parse_pack
from mamlgame.policy import MLPPolicy, Params
from mamlgame.tasks import TaskFamily, make_family

FORMAT = "mamlgame-checkpoint-1"


def atomic_write_bytes(path: Path, write) -> None:
    """Write via `write(file)` to a temp file in the same folder, fsync, rename over `path`,
    then fsync the folder: a crash leaves either the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (best effort: not every platform allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def numbered_path(path: Path, iteration: int) -> Path:
    """The numbered sibling of `path` kept for `iteration` (checkpoint-000010.pt)."""
    path = Path(path)
    return path.with_name(f"{path.stem}-{iteration:06d}{path.suffix}")


def numbered_checkpoints(path: Path) -> list[Path]:
    """The numbered siblings of `path`, newest (highest iteration) first."""
    path = Path(path)
    found = []
    for p in path.parent.glob(f"{path.stem}-*{path.suffix}"):
        tag = p.name[len(path.stem) + 1:len(p.name) - len(path.suffix)]
        if tag.isdigit():
            found.append((int(tag), p))
    return [p for _, p in sorted(found, reverse=True)]


def save_checkpoint(path: Path, state: dict[str, Any], keep: int = 0) -> None:
    """Atomically save a checkpoint dict (adds the format tag) to `path`; with `keep` > 0 also
    as a numbered sibling for `state["iteration"]`, keeping the newest `keep` of those."""
    path = Path(path)
    payload = {"format": FORMAT, **state}
    atomic_write_bytes(path, lambda f: torch.save(payload, f))
    if keep > 0:
        atomic_write_bytes(numbered_path(path, int(state["iteration"])),
                           lambda f: torch.save(payload, f))
        for old in numbered_checkpoints(path)[keep:]:
            old.unlink(missing_ok=True)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint; a missing, truncated or foreign file raises `CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # torch raises many types (and long advice) for corrupt files
        raise CheckpointError(f"{path}: corrupt or unreadable checkpoint (truncated, not a "
                              "torch file, or holding objects other than tensors)") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a mamlgame checkpoint")
    return state


def load_newest_good(path: str | Path) -> tuple[dict[str, Any], Path, list[str]]:
    """Load `path`, or else the newest numbered sibling that loads; returns the state, the file
    it came from and one message per file skipped. None loading raises `CheckpointError`."""
    path = Path(path)
    skipped: list[str] = []
    for candidate in [path, *numbered_checkpoints(path)]:
        if candidate == path and not path.exists():
            continue
        try:
            return load_checkpoint(candidate), candidate, skipped
        except CheckpointError as e:
            skipped.append(str(e))
    if not skipped:
        raise CheckpointError(f"{path}: no such checkpoint (nothing to resume)")
    raise CheckpointError("no good checkpoint to resume: " + "; ".join(skipped))


@dataclass
class Agent:
    """A trained policy ready to evaluate or watch: policy module, params and settings."""

    policy: MLPPolicy
    params: Params
    inner_lrs: Params | None
    config: TrainConfig
    pack: LevelPack
    family: TaskFamily
    iteration: int

    def learner(self, episodes: int | None = None, **overrides: Any):
        """The meta-learner configured as in training (for adapting to new tasks)."""
        from mamlgame.meta import MetaLearner  # noqa: PLC0415

        c = self.config
        kw = dict(algo=c.algo, inner_lr=c.inner_lr, inner_steps=c.inner_steps,
                  episodes=episodes or c.episodes, estimator=c.estimator, gamma=c.gamma,
                  baseline=c.baseline, normalize=c.normalize, gae_lambda=c.gae_lambda)
        kw.update(overrides)
        learner = MetaLearner(self.policy, self.family, **kw)
        if self.inner_lrs is not None and kw["algo"] == "metasgd":
            learner.inner_lrs = {k: v.clone() for k, v in self.inner_lrs.items()}
        return learner


def load_agent(path: str | Path, pack: str | Path | None = None) -> Agent:
    """Load a checkpoint's policy; `pack` overrides the pack stored inside it."""
    state = load_checkpoint(path)
    try:
        config = TrainConfig.from_dict(state["config"])
        policy = MLPPolicy(**{**state["policy"], "hidden": tuple(state["policy"]["hidden"])})
        params = {k: v.clone() for k, v in state["params"].items()}
        policy.load_state_dict(params)
    except (KeyError, TypeError, RuntimeError) as e:
        raise CheckpointError(f"{path}: checkpoint is incomplete ({e})") from None
    lp = load_pack(pack) if pack else parse_pack(state["pack_text"], state["pack_path"])
    family = make_family(lp, config.horizon or None)
    if (family.obs_dim, family.action_dim, family.discrete) != (
            policy.obs_dim, policy.action_dim, policy.discrete):
        raise CheckpointError(
            f"{path}: the policy (obs {policy.obs_dim}, actions {policy.action_dim}) does not fit "
            f"pack {lp.path} ({lp.family}: obs {family.obs_dim}, actions {family.action_dim})")
    return Agent(policy, params, state.get("inner_lrs"), config, lp, family,
                 int(state["iteration"]))
