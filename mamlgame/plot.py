"""Charts: matplotlib with the Agg backend (`pyplot`, `save_png`), and the training curves of
run directories (`read_run`, `plot_runs`): return and success rate before and after
adaptation against meta-iteration and cumulative wall time, several runs on one chart."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mamlgame.checkpoint import atomic_write_bytes
from mamlgame.config import MAX_ITERATIONS
from mamlgame.errors import MamlgameError

METRICS_FILE = "metrics.jsonl"
REQUIRED = ("iteration", "seconds", "return_before", "return_after")
SUCCESS = ("success_before", "success_after")
CURVES = (("return", "mean return"), ("success", "success rate"))  # (key prefix, axis label)


def pyplot() -> Any:
    """`matplotlib.pyplot` on the Agg backend (imported lazily: heavy, and only charts need
    it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig: Any, path: str | Path) -> None:
    """Write `fig` as a PNG atomically, then close it."""
    try:
        atomic_write_bytes(Path(path), lambda f: fig.savefig(f, format="png", dpi=100))
    finally:
        pyplot().close(fig)


@dataclass(frozen=True)
class RunCurves:
    """One run's metrics: `values[key]` per logged iteration (NaN where not finite)."""

    name: str
    iteration: np.ndarray  # [n] meta-iteration
    wall: np.ndarray  # [n] cumulative seconds of training
    values: dict[str, np.ndarray]  # return_before, return_after (+ success_* when logged)


def _number(row: dict[str, Any], key: str, where: str) -> float:
    """`row[key]` as a float; a curve's null (not finite when logged) is NaN."""
    if key not in row:
        raise MamlgameError(f"{where}: missing key {key!r}")
    value = row[key]
    if value is None and key not in REQUIRED[:2]:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MamlgameError(f"{where}: {key}: expected a number, got {json.dumps(value)}")
    if key == "iteration" and not (isinstance(value, int) and 0 <= value <= MAX_ITERATIONS):
        raise MamlgameError(f"{where}: iteration: expected an integer from 0 to "
                            f"{MAX_ITERATIONS}, got {_shown(value)}")
    if isinstance(value, int) and abs(value) > sys.float_info.max:
        raise MamlgameError(f"{where}: {key}: expected a number a float can hold, got "
                            f"{_shown(value)}")
    return float(value)


def _shown(value: int | float) -> str:
    """A number for an error line: an integer of hundreds of digits by its length."""
    text = str(value)
    return f"an integer of {len(text.lstrip('-'))} digits" if len(text) > 30 else text


def _rows(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of `path`, one per line; a last line cut short without its newline
    (a run writing it now) is left out."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise MamlgameError(f"{path}: cannot read ({getattr(e, 'strerror', None) or e})"
                            ) from None
    lines = text.split("\n")
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            if n == len(lines):  # the unfinished last line of a running training
                break
            raise MamlgameError(f"{path}:{n}: not a JSON object (a metrics.jsonl line per "
                                "meta-iteration)") from None
        if not isinstance(row, dict):
            raise MamlgameError(f"{path}:{n}: expected a JSON object, got {type(row).__name__}")
        rows.append(row)
    if not rows:
        raise MamlgameError(f"{path}: no metrics yet (the run has not logged an iteration)")
    return rows


def read_run(run_dir: str | Path, name: str | None = None) -> RunCurves:
    """The curves of the run in `run_dir` (its `metrics.jsonl`); a missing directory or file,
    or a malformed line, is a one-line `MamlgameError` naming it."""
    folder = Path(run_dir)
    if not folder.is_dir():
        raise MamlgameError(f"{folder}: no such run directory")
    path = folder / METRICS_FILE
    if not path.is_file():
        raise MamlgameError(f"{path}: missing (is {folder} a training run's --out?)")
    rows = _rows(path)
    keys = REQUIRED + (SUCCESS if all(k in rows[0] for k in SUCCESS) else ())
    table = np.array([[_number(r, k, f"{path}:{n}") for k in keys]
                      for n, r in enumerate(rows, 1)], np.float64).reshape(-1, len(keys))
    if not np.isfinite(table[:, :2]).all() or (table[:, 1] < 0).any():
        raise MamlgameError(f"{path}: expected finite iterations and seconds >= 0")
    return RunCurves(name or folder.resolve().name, table[:, 0], np.cumsum(table[:, 1]),
                     {k: table[:, i] for i, k in enumerate(keys) if i >= 2})


def run_names(run_dirs: list[str]) -> list[str]:
    """Legend names: each directory's name, or the path as given where names repeat."""
    names = [Path(d).resolve().name for d in run_dirs]
    return [n if names.count(n) == 1 else d for n, d in zip(names, run_dirs, strict=True)]


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over the last `window` values (NaNs skipped; NaN where all are)."""
    if window <= 1:
        return values
    ok = np.isfinite(values)
    sums = np.concatenate([[0.0], np.cumsum(np.where(ok, values, 0.0))])
    counts = np.concatenate([[0], np.cumsum(ok)])
    lo = np.maximum(np.arange(1, len(values) + 1) - window, 0)
    n = counts[1:] - counts[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (sums[1:] - sums[lo]) / n, np.nan)


def plot_runs(runs: list[RunCurves], path: str | Path, window: int = 1) -> None:
    """PNG: a row per curve (return; success rate when every run logged it), against
    iteration (left) and cumulative wall time (right); a colour per run, dashed before
    adaptation, solid after; `window` > 1 draws trailing means."""
    from matplotlib.lines import Line2D

    plt = pyplot()
    curves = [c for c in CURVES if all(f"{c[0]}_before" in r.values for r in runs)]
    fig, axes = plt.subplots(len(curves), 2, figsize=(11, 3.6 * len(curves) + 0.6),
                             squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for (key, label), row in zip(curves, axes, strict=True):
        for i, run in enumerate(runs):
            for when, style in (("before", "--"), ("after", "-")):
                y = smooth(run.values[f"{key}_{when}"], window)
                for ax, x in zip(row, (run.iteration, run.wall), strict=True):
                    ax.plot(x, y, style, color=colours[i % len(colours)], lw=1.4)
        for ax, xlabel in zip(row, ("meta-iteration", "wall time (s)"), strict=True):
            ax.set_xlabel(xlabel)
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
    mean = f" (trailing mean of {window})" if window > 1 else ""
    axes[0, 0].set_title(f"against meta-iteration{mean}")
    axes[0, 1].set_title(f"against wall time{mean}")
    handles = [Line2D([], [], color=colours[i % len(colours)], lw=2, label=r.name)
               for i, r in enumerate(runs)]
    handles += [Line2D([], [], color="0.3", ls="--", label="before adaptation"),
                Line2D([], [], color="0.3", ls="-", label="after adaptation")]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 4), frameon=False)
    fig.tight_layout(rect=(0, 0.04 + 0.03 * (len(handles) // 5), 1, 1))
    save_png(fig, path)


# ---- interval estimates and performance profiles (`mamlgame compare`) ---------------------
def interval_panel(ax: Any, names: list[str], estimates: list[tuple[float, float, float]],
                   colors: dict[str, Any], title: str) -> None:
    """rliable's interval-estimate panel: a horizontal bar per name spanning its confidence
    interval (`(value, lo, hi)`), a tick at the point estimate; the first name on top."""
    for i, (name, (value, lo, hi)) in enumerate(zip(names, estimates, strict=True)):
        y = len(names) - 1 - i
        ax.barh(y, hi - lo, left=lo, height=0.6, color=colors[name], alpha=0.75)
        ax.vlines(value, y - 0.3, y + 0.3, color="black", lw=1.6)
    ax.set_yticks(range(len(names)), names[::-1])
    ax.use_sticky_edges = False  # a margin even where a bar starts at 0
    ax.margins(x=0.08)
    ax.set_title(title, fontsize=9)
    ax.grid(axis="x", alpha=0.3)


def profile_panel(ax: Any, taus: np.ndarray, bands: dict[str, tuple[np.ndarray, ...]],
                  colors: dict[str, Any], label: str) -> None:
    """A performance profile per name: the fraction of scores above each threshold `taus`,
    with its interval band (`bands[name] = (profile, lo, hi)`)."""
    for name, (profile, lo, hi) in bands.items():
        ax.plot(taus, profile, color=colors[name], lw=1.6, label=name)
        ax.fill_between(taus, lo, hi, color=colors[name], alpha=0.2, lw=0)
    ax.set_xlabel(f"{label} τ")
    ax.set_ylabel("fraction > τ")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("performance profile", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
