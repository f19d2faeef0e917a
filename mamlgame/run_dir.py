"""The run directory `train` writes: which files make a run, refusing to mix two runs in one
directory, one `train` at a time (an OS lock), and the `metrics.jsonl` log (cut back to the
checkpoint's iteration on resume).

A directory holds a run when it has `checkpoint.pt`, its numbered siblings
(`checkpoint-000010.pt`), `metrics.jsonl` or TensorBoard event files (`tensorboard/`);
`.lock` stays behind after a run and is no run.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from mamlgame import distributed
from mamlgame.checkpoint import atomic_write_bytes, numbered_checkpoints
from mamlgame.errors import MamlgameError, TrainingError
from mamlgame.tensorboard_log import DIR_NAME as TB_DIR
from mamlgame.tensorboard_log import TensorBoardLog, event_files

try:  # POSIX: an advisory lock that the OS drops when the process dies (SIGKILL included)
    import fcntl
except ImportError:  # pragma: no cover - Windows: no run-directory lock
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".lock"  # held (flock) by the process writing the run; left in place afterwards


# ---- refuse to mix runs, one `train` at a time ---------------------------------------------
def run_files(out: Path) -> list[Path]:
    """The files of a run in `out`: checkpoint.pt, its numbered siblings, metrics.jsonl and
    the TensorBoard event files."""
    out = Path(out)
    ckpt = out / "checkpoint.pt"
    return ([p for p in (ckpt, out / "metrics.jsonl") if p.exists()]
            + numbered_checkpoints(ckpt) + event_files(out))


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
        """Create `out` and take the lock; a clear `MamlgameError` when another run holds it
        or `out` cannot be written."""
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
        """Drop the lock (the file stays)."""
        if self.fd is not None:
            os.close(self.fd)  # closing drops the flock
            self.fd = None


def claim_out_dir(out: Path, resume: bool, overwrite: bool,
                  ctx: distributed.Context) -> RunLock | None:
    """Process 0 locks `out` and checks it (`check_out_dir`); every process raises the same
    error, so that none waits for another that has stopped. Returns process 0's lock (None
    on the other processes)."""
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


# ---- metrics.jsonl -------------------------------------------------------------------------
class MetricsLog:
    """Process 0's `metrics.jsonl`: one JSON line per meta-iteration. A fresh run starts a
    fresh file; a resumed one keeps the lines of the iterations before `start`. With
    `tensorboard`, every line also goes to the TensorBoard log in the same folder
    (`mamlgame.tensorboard_log`)."""

    def __init__(self, path: Path, start: int, resume: bool, tensorboard: bool = False):
        self.path = path
        try:
            if resume:
                keep_metrics_before(path, start)
            else:
                path.unlink(missing_ok=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.file = path.open("a")
        except OSError as e:
            raise self._error(e) from None
        self.board = TensorBoardLog(path.parent / TB_DIR, path, resume) if tensorboard else None

    def _error(self, e: OSError) -> TrainingError:
        return TrainingError(f"{self.path}: cannot write the metrics ({e.strerror or e})")

    def write(self, iteration: int, seconds: float, loss: float, grad_norm: float,
              metrics: dict[str, float], skipped: bool, world_size: int) -> None:
        """Append (and flush) the line of one meta-iteration; non-finite numbers as null."""
        row = {"iteration": iteration, "seconds": round(seconds, 4), "loss": _finite(loss),
               "grad_norm": _finite(grad_norm),
               **{k: _finite(float(v)) for k, v in metrics.items()},
               "skipped": skipped, "world_size": world_size}
        try:
            self.file.write(json.dumps(row) + "\n")
            self.file.flush()
        except OSError as e:
            raise self._error(e) from None
        if self.board is not None:
            self.board.write(row)

    def close(self) -> None:
        """Close the file (and the TensorBoard log)."""
        self.file.close()
        if self.board is not None:
            self.board.close()


def keep_metrics_before(path: Path, upto: int) -> None:
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
