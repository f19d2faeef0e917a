"""The checkpoint format: one file of tensors and plain data, written atomically and loaded
with `torch.load(weights_only=True)` (no arbitrary pickles).

This module owns the keys: `checkpoint_state` builds the dict that training saves, and
`Checkpoint.from_state` reads it back as a typed view (a missing key is a `CheckpointError`).
The meta-learner's own state (`MetaLearner.state_dict()`: Meta-SGD's step sizes, the learned
first-step std shift and step-size factor, dice's advantage scale and score-baseline memory)
is saved as top-level keys beside the checkpoint's own (`OWN_KEYS`), and read back whole as
`Checkpoint.learner_state`, which `MetaLearner.load_state_dict` restores.
"""

from __future__ import annotations

import errno
import hashlib
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mamlgame.config import SETTINGS, Setting, TrainConfig
from mamlgame.errors import CheckpointError, MamlgameError
from mamlgame.families import TaskFamily, family_spec, make_family
from mamlgame.meta import MetaLearner
from mamlgame.packs import LevelPack, load_pack, parse_pack
from mamlgame.policy import MLPPolicy, Params

FORMAT = "mamlgame-checkpoint-1"
# what every checkpoint holds besides "format" ("family" and "world_size" are informative;
# "elapsed", the wall time spent, is 0 in older checkpoints)
REQUIRED = ("params", "optimizer", "iteration", "rng", "config", "policy", "pack_text",
            "pack_path")
# the checkpoint's own keys; every other top-level key is the learner's state ("inner_lrs":
# None unless Meta-SGD, "first_std_shift": None unless learn_std_shift, "inner_lr_gain":
# None unless learn_inner_lr, "adv_scale", "score_baseline"; absent in older checkpoints)
OWN_KEYS = frozenset((*REQUIRED, "format", "family", "world_size", "elapsed", "checksum"))


def atomic_write_bytes(path: Path, write) -> None:
    """Write via `write(file)` to a temp file in the same folder, fsync, rename over `path`,
    then fsync the folder: a crash leaves either the old file or the new one. A path that
    holds something other than a regular file (a device such as /dev/full, a fifo) is an
    `OSError`: renaming over it would replace it."""
    path = Path(path)
    if path.exists() and not path.is_file():
        raise OSError(errno.EEXIST, "exists and is not a regular file", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        _chmod_like_open(fd, path)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _umask() -> int:
    """The process's umask (from /proc on Linux: reading it there changes nothing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _chmod_like_open(fd: int, path: Path) -> None:
    """Give `mkstemp`'s file (mode 0600) the mode `open(path, "w")` would: the existing
    file's mode, else 0666 less the umask (0644 with the usual umask 022)."""
    if not hasattr(os, "fchmod"):  # pragma: no cover - Windows
        return
    try:
        mode = path.stat().st_mode & 0o7777
    except OSError:
        mode = 0o666 & ~_umask()
    os.fchmod(fd, mode)


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


def checkpoint_state(params: Params, learner_state: dict[str, Any],
                     optimizer: torch.optim.Optimizer, iteration: int,
                     generator: torch.Generator, config: TrainConfig, policy: MLPPolicy,
                     pack: LevelPack, world_size: int = 1, elapsed: float = 0.0
                     ) -> dict[str, Any]:
    """The dict a checkpoint holds after `iteration` meta-iterations: policy params as CPU
    copies, the meta-learner's state (`MetaLearner.state_dict()`, e.g. Meta-SGD's step sizes
    and what the unbiased estimator carries over batches), optimiser state, the task
    generator's state, the run's config as given (its sentinels are resolved against the pack
    it is used with), the policy's constructor arguments, the pack's text and the wall time
    spent so far (seconds, what `--time-limit` counts against)."""
    clash = OWN_KEYS & learner_state.keys()
    if clash:
        raise ValueError(f"learner state keys {sorted(clash)} are the checkpoint's own")
    return {"params": {k: v.detach().cpu().clone() for k, v in params.items()},
            "optimizer": optimizer.state_dict(), "iteration": int(iteration),
            "rng": {"tasks": generator.get_state()}, "config": config.to_dict(),
            "policy": policy.config(), "family": pack.family, "pack_text": pack.text,
            "pack_path": str(pack.path), "world_size": world_size, "elapsed": float(elapsed),
            **learner_state}


def save_checkpoint(path: Path, state: dict[str, Any], keep: int = 0) -> None:
    """Atomically save a `checkpoint_state` dict (adds the format tag) to `path`; with
    `keep` > 0 also as a numbered sibling for `state["iteration"]`, keeping the newest `keep`
    of those."""
    path = Path(path)
    payload = {"format": FORMAT, **state}
    payload["checksum"] = checksum(payload)
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
    saved = state.get("checksum")  # older checkpoints have none
    if saved is not None and saved != checksum(state):
        raise CheckpointError(f"{path}: corrupt checkpoint (its contents do not match the "
                              "checksum written with them: the file was damaged or altered)")
    return state


def checksum(state: dict[str, Any]) -> str:
    """SHA-256 of a checkpoint's contents (every tensor's bytes, shape and dtype and every
    plain value, by key path; the checksum entry itself left out), to catch damaged files."""
    digest = hashlib.sha256()

    def walk(value: Any, where: str) -> None:
        if isinstance(value, dict):
            for k in sorted(value, key=repr):
                if not (where == "" and k == "checksum"):
                    walk(value[k], f"{where}/{k!r}")
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                walk(v, f"{where}/{i}")
        elif isinstance(value, torch.Tensor):
            t = value.detach().cpu().contiguous()
            digest.update(f"{where}:{t.dtype}:{tuple(t.shape)}".encode())
            digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        else:
            digest.update(f"{where}={value!r}".encode())

    walk(state, "")
    return digest.hexdigest()


def _check_tensors(value: Any, key: str, source: str | Path) -> None:
    """`value` is a dict of finite float32 tensors (policy params, Meta-SGD step sizes)."""
    if not isinstance(value, dict) or not value or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items()):
        raise CheckpointError(f"{source}: checkpoint has a bad {key!r} (expected a dict of "
                              "named tensors)")
    for name, t in value.items():
        if t.dtype != torch.float32:
            raise CheckpointError(f"{source}: checkpoint {key}[{name!r}] is {t.dtype}, "
                                  "expected torch.float32")
        if not torch.isfinite(t).all():
            raise CheckpointError(f"{source}: checkpoint {key}[{name!r}] holds non-finite "
                                  "values (nan or inf): the run diverged or the file was "
                                  "altered")


def _check_entries(state: dict[str, Any], source: str | Path) -> None:
    """Types, dtypes and finiteness of a checkpoint's entries, before anything uses them."""
    kinds = {"iteration": int, "pack_text": str, "pack_path": str, "config": dict,
             "policy": dict, "optimizer": dict}
    for key, kind in kinds.items():
        value = state[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise CheckpointError(f"{source}: checkpoint has a bad {key!r} (expected "
                                  f"{kind.__name__}, got {type(value).__name__})")
    if state["iteration"] < 0:
        raise CheckpointError(f"{source}: checkpoint has a bad 'iteration' "
                              f"({state['iteration']})")
    rng = state["rng"]["tasks"]
    if not (isinstance(rng, torch.Tensor) and rng.dtype == torch.uint8):
        raise CheckpointError(f"{source}: checkpoint has a bad 'rng.tasks' (expected a "
                              "generator state)")
    _check_tensors(state["params"], "params", source)
    if state.get("inner_lrs") is not None:
        _check_tensors(state["inner_lrs"], "inner_lrs", source)
    for key, shape in (("first_std_shift", (1,)), ("inner_lr_gain", ())):
        x = state.get(key)
        if x is not None and not (isinstance(x, torch.Tensor) and x.shape == shape
                                  and x.dtype == torch.float32 and torch.isfinite(x).all()):
            raise CheckpointError(f"{source}: checkpoint has a bad {key!r} (expected one "
                                  "finite float32 number)")


@dataclass
class Checkpoint:
    """A checkpoint read back: what `checkpoint_state` wrote, typed."""

    params: Params
    learner_state: dict[str, Any]  # `MetaLearner.state_dict()` (Meta-SGD's step sizes, ...)
    optimizer: dict[str, Any]  # the optimiser's state_dict
    iteration: int  # meta-iterations done
    rng: dict[str, torch.Tensor]  # generator states: "tasks" drives task sampling and rollouts
    config: TrainConfig  # as given to `train` (sentinels kept)
    policy_config: dict[str, Any]  # MLPPolicy constructor arguments
    pack_text: str
    pack_path: str
    world_size: int = 1  # processes that wrote it
    elapsed: float = 0.0  # wall-clock seconds the run has spent (its time budget's use)
    source: str = "<checkpoint>"  # the file it was read from, for error messages

    @staticmethod
    def from_state(state: dict[str, Any], source: str | Path = "<checkpoint>") -> Checkpoint:
        """The typed view of a checkpoint dict; a missing or malformed entry raises
        `CheckpointError` naming `source` and the key."""
        missing = [k for k in REQUIRED if k not in state]
        if missing:
            raise CheckpointError(f"{source}: checkpoint is incomplete (missing "
                                  f"{', '.join(map(repr, missing))})")
        if not isinstance(state["rng"], dict) or "tasks" not in state["rng"]:
            raise CheckpointError(f"{source}: checkpoint is incomplete (missing 'rng.tasks')")
        _check_entries(state, source)
        try:
            config = TrainConfig.from_dict(state["config"])
        except (TypeError, AttributeError, ValueError) as e:
            raise CheckpointError(f"{source}: checkpoint has a bad config ({e})") from None
        _check_config(config, source)
        learner_state = {k: v for k, v in state.items() if k not in OWN_KEYS}
        return Checkpoint(state["params"], learner_state, state["optimizer"],
                          int(state["iteration"]), state["rng"], config, state["policy"],
                          state["pack_text"], state["pack_path"], int(state.get("world_size", 1)),
                          float(state.get("elapsed", 0.0)), str(source))

    def pack(self) -> LevelPack:
        """The pack the run trained on, from the text saved inside the checkpoint."""
        return parse_pack(self.pack_text, self.pack_path)

    def make_policy(self, source: str | Path | None = None) -> MLPPolicy:
        """The policy module with the saved params loaded."""
        source = self.source if source is None else source
        try:
            config, params = self.policy_config, self.params
            upgrade = family_spec(self.pack().family).upgrade_policy
            if "head" not in config and upgrade is not None:  # saved before policy heads
                config, params = upgrade(config, params)
            policy = MLPPolicy.from_config(config)
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise CheckpointError(f"{source}: checkpoint has a bad policy config ({e})") from None
        load_params(policy, params, source)
        return policy

    def restore(self, policy: MLPPolicy, learner: MetaLearner, optimizer: torch.optim.Optimizer,
                generator: torch.Generator) -> None:
        """Put the saved run's state into a freshly set-up run (`--resume`); a part that does
        not fit what the config sets up is one `CheckpointError` naming it."""
        load_params(policy, self.params, self.source)
        parts = (("the learner's state", lambda: learner.load_state_dict(self.learner_state)),
                 ("the optimizer's state", lambda: optimizer.load_state_dict(self.optimizer)),
                 ("the generator's state (rng.tasks)",
                  lambda: generator.set_state(self.rng["tasks"])))
        for what, load in parts:
            try:
                load()
            except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as e:
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise CheckpointError(f"{self.source}: {what} does not fit the run it "
                                      f"resumes ({first})") from None


def load_params(policy: MLPPolicy, params: Params, source: str | Path) -> None:
    """`policy.load_state_dict(params)` after checking names and shapes: a checkpoint whose
    params do not fit the policy its config describes is one `CheckpointError`."""
    want = {k: tuple(v.shape) for k, v in policy.state_dict().items()}
    problems = [f"missing {k}" for k in want if k not in params]
    problems += [f"unexpected {k}" for k in params if k not in want]
    problems += [f"{k} is {tuple(params[k].shape)}, the policy's is {want[k]}"
                 for k in want if k in params and tuple(params[k].shape) != want[k]]
    if problems:
        more = f"; and {len(problems) - 1} more" if len(problems) > 1 else ""
        raise CheckpointError(f"{source}: checkpoint params do not fit its policy "
                              f"({problems[0]}{more})")
    policy.load_state_dict(params)


def _check_config(config: TrainConfig, source: str | Path) -> None:
    """Each saved setting of the kind and range its option allows (a sentinel such as
    `iterations` 0 with a time limit stays allowed: integers are checked for their type)."""
    for s in SETTINGS.values():
        value = getattr(config, s.name)
        if not _fits(s, value):
            raise CheckpointError(f"{source}: checkpoint has a bad config ({s.name} = "
                                  f"{value!r})")


def _fits(s: Setting, value: Any) -> bool:
    """Whether a saved `value` is one the setting `s` allows."""
    if s.choices:
        return value in s.choices
    if s.kind == "sizes":
        return bool(value) and all(isinstance(h, int) and h >= 1 for h in value)
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if s.kind == "int":
        return number and isinstance(value, int)
    if s.kind != "float":
        return True
    if not (number and math.isfinite(value)):
        return False
    above = s.lo is None or (value > s.lo if s.lo_open else value >= s.lo)
    return above and (s.hi is None or value <= s.hi)


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Load a checkpoint file as a typed `Checkpoint` (errors as in `load_checkpoint`)."""
    return Checkpoint.from_state(load_checkpoint(path), path)


def load_newest_good(path: str | Path) -> tuple[Checkpoint, Path, list[str]]:
    """Read `path`, or else the newest numbered sibling that reads; returns the checkpoint,
    the file it came from and one message per file skipped. None reading raises
    `CheckpointError`."""
    path = Path(path)
    skipped: list[str] = []
    for candidate in [path, *numbered_checkpoints(path)]:
        if candidate == path and not path.exists():
            continue
        try:
            return read_checkpoint(candidate), candidate, skipped
        except CheckpointError as e:
            skipped.append(str(e))
    if not skipped:
        raise CheckpointError(f"{path}: no such checkpoint (nothing to resume)")
    raise CheckpointError("no good checkpoint to resume: " + "; ".join(skipped))


@dataclass
class Agent:
    """A trained policy ready to evaluate or watch: policy module, params and settings
    (`config` resolved against `pack`)."""

    policy: MLPPolicy
    params: Params
    learner_state: dict[str, Any]  # `MetaLearner.state_dict()` as trained ({}: a fresh one)
    config: TrainConfig
    pack: LevelPack
    family: TaskFamily
    iteration: int

    def learner(self, episodes: int | None = None, **overrides: Any) -> MetaLearner:
        """The meta-learner configured and in the state it had in training (Meta-SGD's step
        sizes, ...), for adapting to new tasks; `overrides` replace config settings."""
        if episodes:
            overrides["episodes"] = episodes
        learner = MetaLearner.from_config(self.policy, self.family, self.config, **overrides)
        learner.load_state_dict(self.learner_state)
        return learner


def load_agent(path: str | Path, pack: str | Path | LevelPack | None = None) -> Agent:
    """Load a checkpoint's policy (a path or a shipped agent's name, `mamlgame.agents`);
    `pack` (a pack's path or name, or a loaded pack) overrides the pack stored inside it."""
    from mamlgame.agents import resolve  # here: `python -m mamlgame.agents` runs it as main

    path = resolve(path)
    ck = read_checkpoint(path)
    policy = ck.make_policy()
    params = {k: v.clone() for k, v in ck.params.items()}
    lp = pack if isinstance(pack, LevelPack) else \
        load_pack(pack) if pack is not None else ck.pack()
    config = ck.config.resolved(lp)
    family = make_family(lp, config.horizon)
    if (family.obs_dim, family.action_dim, family.discrete) != (
            policy.obs_dim, policy.action_dim, policy.discrete):
        raise CheckpointError(
            f"{path}: the policy (obs {policy.obs_dim}, actions {policy.action_dim}) does not fit "
            f"pack {lp.path} ({lp.family}: obs {family.obs_dim}, actions {family.action_dim})")
    act_with_lookahead(family, lp, config.lookahead)
    return Agent(policy, params, ck.learner_state, config, lp, family, ck.iteration)


def act_with_lookahead(family: TaskFamily, pack: LevelPack, depth: int) -> None:
    """Make `family`'s rollouts act with its act-time search `depth` steps deep
    (`FamilySpec.lookahead`; 0: sample the policy). A one-line error for a family that has
    none."""
    spec = family_spec(pack.family)
    if depth and spec.lookahead is None:
        raise MamlgameError(f"lookahead {depth}: the {pack.family} family has no act-time "
                            "search (the game has)")
    family.chooser = spec.lookahead(family, depth) if depth else None
