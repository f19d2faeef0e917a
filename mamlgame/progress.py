"""What a training run shows while it runs: a tqdm bar on a terminal, else one plain line per
tenth of the run (log files and CI get no carriage-return flood), and the end-of-run line of a
time-limited run.

The bar counts iterations done of `iterations`, or with a time limit the seconds spent of the
budget (the iteration number then goes into the bar's postfix).
"""

from __future__ import annotations

import sys

from tqdm import tqdm

from mamlgame.config import TrainConfig, format_duration


class LogProgress:
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
        """Advance by `n` (shown at the next `set_postfix`, as tqdm's bar would be)."""
        self.n += n

    def set_postfix(self, **kw: object) -> None:
        """Set the postfix; print a line when a new tenth of the total is reached."""
        self.postfix = kw
        tenth = self._tenth(self.n)
        if tenth > self.shown:
            self.shown = tenth
            extra = ", ".join(f"{k} {v}" for k, v in self.postfix.items())
            print(f"{self.desc}: {self.n:.0f}/{self.total:.0f} {self.unit} "
                  f"({100 * tenth // self.STEPS}%){', ' + extra if extra else ''}",
                  file=sys.stderr, flush=True)

    def close(self) -> None:
        """Nothing to close (tqdm's interface)."""
        return None


def progress_bar(cfg: TrainConfig, pack_name: str, start: int, spent: float,
                 enabled: bool) -> tqdm | LogProgress:
    """The display of a run (`cfg` resolved) resuming at iteration `start`, `spent` seconds
    into its budget: iterations done of `iterations`, or with a time limit seconds spent of the
    budget (a bar on a terminal, else a line per tenth: `LogProgress`; nothing unless
    `enabled`)."""
    desc = f"{cfg.algo} {pack_name}"
    if enabled and not is_terminal(sys.stderr):
        if cfg.time_limit > 0:
            return LogProgress(cfg.time_limit, min(spent, cfg.time_limit), desc,
                               "s of the time limit")
        return LogProgress(cfg.iterations, start, desc, "iterations")
    if cfg.time_limit > 0:
        return tqdm(total=cfg.time_limit, initial=min(spent, cfg.time_limit),
                    disable=not enabled, desc=desc,
                    bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s of the time limit "
                               "[{elapsed}<{remaining}{postfix}]")
    return tqdm(total=cfg.iterations, initial=start, disable=not enabled, desc=desc, unit="it")


def is_terminal(stream: object) -> bool:
    """Whether `stream` is an open terminal."""
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def tick(bar: tqdm | LogProgress, cfg: TrainConfig, done: int, spent: float,
         metrics: dict[str, float], success: bool = False) -> None:
    """Advance the display after an iteration: `done` iterations, `spent` seconds; the
    returns before and after adaptation, with `success` the success rates too."""
    if cfg.time_limit > 0:
        bar.update(min(spent, cfg.time_limit) - bar.n)
    else:
        bar.update(1)
    extra = {"it": done} if cfg.time_limit > 0 else {}

    def shown(when: str) -> str:
        rate = f" ({100 * metrics[f'success_{when}']:.0f}%)" if success else ""
        return f"{metrics[f'return_{when}']:.2f}{rate}"

    bar.set_postfix(**extra, before=shown("before"), after=shown("after"))


def plural(n: int, word: str) -> str:
    """`1 iteration`, `2 iterations`."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def budget_note(cfg: TrainConfig, start: int, done: int, spent: float) -> str:
    """The end-of-run line of a time-limited run that began this session at iteration
    `start`: iterations run in the budget."""
    line = (f"time limit {format_duration(cfg.time_limit)}: {plural(done, 'iteration')} in "
            f"{format_duration(spent)}")
    if start:
        line += f" ({done - start} in this session)"
    if spent < cfg.time_limit:
        line += (f"; stopped at --iterations {cfg.iterations} with "
                 f"{format_duration(cfg.time_limit - spent)} left")
    return line
