"""TensorBoard scalars beside `metrics.jsonl` (`train --tensorboard`): every number of each
metrics record, in `OUT/tensorboard`, at step `iteration`, under a namespaced tag (`tag`:
`meta/return_after`, `train/loss`, `time/seconds`).

The folder is a view of `metrics.jsonl`: a fresh run starts it afresh, and a resumed run
rewrites it from `metrics.jsonl` (already cut back to the checkpoint's iteration) before it
appends, so that no step appears twice whichever reader opens it, and a run that turns
`--tensorboard` on at a resume gets its earlier iterations too.

The `tensorboard` package is optional (`pip install mamlgame[tensorboard]`):
`require_tensorboard` says so in one line before any work.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

from mamlgame.errors import MamlgameError, TrainingError

DIR_NAME = "tensorboard"  # inside the run directory
EVENTS = "events.out.tfevents.*"  # TensorBoard's event files
INSTALL = "pip install 'mamlgame[tensorboard]'"
STEP = "iteration"  # the metrics field that is the step, not a scalar
# the namespace of the metrics fields that are not the learner's (those go under "meta")
NAMESPACES = {"seconds": "time", "loss": "train", "grad_norm": "train", "skipped": "train",
              "world_size": "run"}


def tag(field: str) -> str:
    """The TensorBoard tag of a `metrics.jsonl` field: `time/seconds`, `meta/return_after`."""
    return f"{NAMESPACES.get(field, 'meta')}/{field}"


def scalars(row: dict[str, Any]) -> dict[str, float]:
    """The scalars of one metrics record by tag: every number but the step (booleans as 0
    or 1; a null, a non-finite value, left out)."""
    return {tag(k): float(v) for k, v in row.items()
            if k != STEP and isinstance(v, (int, float))}


def require_tensorboard() -> None:
    """A one-line `MamlgameError` when the optional `tensorboard` package cannot be imported."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401 (imports tensorboard)
    except ImportError:
        raise MamlgameError(f"--tensorboard needs the tensorboard package: {INSTALL}") from None


class TensorBoardLog:
    """Process 0's TensorBoard scalars of a run: `folder` started afresh, then with `resume`
    the records of `metrics` (the run's `metrics.jsonl`) written again."""

    def __init__(self, folder: Path, metrics: Path, resume: bool):
        require_tensorboard()
        from torch.utils.tensorboard import SummaryWriter

        self.folder = folder
        try:
            for old in folder.glob(EVENTS):
                old.unlink()
            self.writer = SummaryWriter(str(folder))
        except OSError as e:
            raise self._error(e) from None
        if resume and metrics.exists():
            self._replay(metrics)

    def _error(self, e: OSError) -> TrainingError:
        return TrainingError(f"{self.folder}: cannot write the TensorBoard log "
                             f"({e.strerror or e})")

    def _replay(self, metrics: Path) -> None:
        """Write the records of `metrics` again, their wall times laid back from now by their
        `seconds` (TensorBoard's relative time axis then shows training time)."""
        rows = [json.loads(line) for line in metrics.read_text().splitlines() if line]
        seconds = [float(r.get("seconds") or 0.0) for r in rows]
        start = time.time() - sum(seconds)
        for row, ended in zip(rows, itertools.accumulate(seconds), strict=True):
            self.write(row, start + ended, flush=False)
        self.writer.flush()

    def write(self, row: dict[str, Any], walltime: float | None = None,
              flush: bool = True) -> None:
        """Add one metrics record's scalars at its iteration (and flush: a live view)."""
        for name, value in scalars(row).items():
            self.writer.add_scalar(name, value, row[STEP], walltime=walltime)
        if flush:
            self.writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        self.writer.close()


def event_files(out: Path) -> list[Path]:
    """The TensorBoard event files of the run in `out`."""
    return sorted((Path(out) / DIR_NAME).glob(EVENTS))
