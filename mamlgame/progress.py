"""What a training run shows while it runs: lines while a slow setup runs (`SetupProgress`),
a tqdm bar on a terminal, else one plain line per tenth of the run (log files and CI get no
carriage-return flood), and the end-of-run line of a time-limited run.

The bar counts iterations done of `iterations`, or with a time limit the seconds spent of the
budget (the iteration number then goes into the bar's postfix).
"""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType

from tqdm import tqdm

from mamlgame.config import TrainConfig, format_duration

SETUP_QUIET_SECONDS = 3.0  # a setup quicker than this shows nothing
SETUP_EVERY_SECONDS = 15.0  # after that, a line this often


class SetupProgress:
    """Lines on stderr while a run sets up (the pack's levels generated, the policy built):
    nothing for a quick setup; past `SETUP_QUIET_SECONDS` the current step, then a line
    every `SETUP_EVERY_SECONDS`, and at the end how long it took. A background thread
    prints them; the setup names its steps with `step`."""

    def __init__(self, enabled: bool):
        self.enabled, self.current = enabled, "setting up"
        self.start = time.perf_counter()
        self.shown = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def step(self, text: str) -> None:
        """Name the step the setup is at (`generating 1000 train levels of arena`)."""
        self.current = text

    def seconds(self) -> float:
        """Seconds since the setup began."""
        return time.perf_counter() - self.start

    def _watch(self) -> None:
        wait = SETUP_QUIET_SECONDS
        while not self._stop.wait(wait):
            self._line(f"setup: {self.current}... ({format_duration(self.seconds())})")
            wait = SETUP_EVERY_SECONDS

    def _line(self, text: str) -> None:
        self.shown = True
        print(text, file=sys.stderr, flush=True)

    def __enter__(self) -> SetupProgress:
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self.shown and kind is None:
            self._line(f"setup: done in {format_duration(self.seconds())}")


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


def setup_note(cfg: TrainConfig, setup: float, spent: float) -> str | None:
    """The line of a time-limited run whose setup (`setup` seconds) left nothing of the
    budget (`spent` seconds of it used): one iteration still runs, for a checkpoint."""
    if not 0 < cfg.time_limit <= spent:
        return None
    return (f"setup: took {format_duration(setup)}, the whole time limit "
            f"{format_duration(cfg.time_limit)}; one iteration runs anyway, for a checkpoint")


def budget_note(cfg: TrainConfig, start: int, done: int, spent: float,
                setup: float = 0.0) -> str:
    """The end-of-run line of a time-limited run that began this session at iteration
    `start`: iterations run in the budget (and the setup's share, `setup` seconds, when it
    was long enough to show)."""
    line = (f"time limit {format_duration(cfg.time_limit)}: {plural(done, 'iteration')} in "
            f"{format_duration(spent)}")
    if start:
        line += f" ({done - start} in this session)"
    if setup >= SETUP_QUIET_SECONDS:
        line += f", setup {format_duration(setup)} of it"
    if spent < cfg.time_limit:
        line += (f"; stopped at --iterations {cfg.iterations} with "
                 f"{format_duration(cfg.time_limit - spent)} left")
    return line
