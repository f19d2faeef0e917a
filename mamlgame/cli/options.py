"""Option parsing shared by several commands, and the click options derived from
`TrainConfig`'s field descriptions (`mamlgame.config.setting`)."""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click

from mamlgame.config import (
    ALGOS,
    MAX_INNER_STEPS,
    SETTINGS,
    Setting,
    format_duration,
    parse_duration,
)
from mamlgame.errors import MamlgameError

F = TypeVar("F", bound=Callable[..., Any])


def comma_items(value: str, param_hint: str, example: str) -> list[str]:
    """The entries of a comma-separated option (`maml,fomaml`), stripped: a usage error for
    an empty entry (`maml,,fomaml`, a trailing comma) or one given twice, which would
    otherwise be dropped or run twice without a word."""
    items = [v.strip() for v in value.split(",")]
    if not all(items):
        raise click.BadParameter(f"expected a comma-separated list like {example}, got "
                                 f"{value!r} (an empty entry)", param_hint=param_hint)
    twice = next((v for i, v in enumerate(items) if v in items[:i]), None)
    if twice is not None:
        raise click.BadParameter(f"{twice} is given twice in {value!r}", param_hint=param_hint)
    return items


def algo_list(value: str, param_hint: str = "--algos") -> list[str]:
    """Comma-separated algorithm names, each one of `ALGOS` (at least one, each once)."""
    names = comma_items(value, param_hint, "maml,fomaml")
    unknown = [a for a in names if a not in ALGOS]
    if unknown:
        raise click.BadParameter(f"unknown algo(s) {', '.join(unknown)}; "
                                 f"choose from {', '.join(ALGOS)}", param_hint=param_hint)
    return names


def step_list(value: str, param_hint: str = "--steps") -> list[int]:
    """Comma-separated numbers of inner steps (`0,1,2`): at least one, each once, each in
    0..`MAX_INNER_STEPS`."""
    try:  # nothing at all: the message below, which says what is expected
        steps = [int(v) for v in comma_items(value, param_hint, "0,1,2")] if value.strip() \
            else []
    except ValueError:
        steps = []
    if not steps or min(steps) < 0 or max(steps) > MAX_INNER_STEPS:
        raise click.BadParameter(f"expected integers from 0 to {MAX_INNER_STEPS} like 0,1,2, "
                                 f"got {value!r}", param_hint=param_hint)
    if len(set(steps)) < len(steps):  # `0,00`: the same number written twice
        raise click.BadParameter(f"a number of steps is given twice in {value!r}",
                                 param_hint=param_hint)
    return steps


class Sizes(click.ParamType):
    """Comma-separated positive layer sizes (`100,100`) as a tuple of ints."""

    name = "sizes"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value
        try:
            sizes = tuple(int(h) for h in str(value).split(","))
        except ValueError:  # not a number, or an empty entry (`100,,100`)
            sizes = (0,)
        if not sizes or any(h < 1 for h in sizes):
            self.fail(f"expected sizes like 100,100, got {value!r}", param, ctx)
        return sizes


class PathText(click.Path):
    """A file or folder path option: `click.Path` that refuses an empty (or blank) value, which
    would otherwise read as "not given" and quietly fall back to the default."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail(f"expected a path, got {value!r}", param, ctx)
        return super().convert(value, param, ctx)


class Duration(click.ParamType):
    """A wall-clock duration (`90s`, `20m`, `1.5h` or seconds) as float seconds. A bad value
    is a one-line `error: --time-limit: ...` (a `MamlgameError`)."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> float:
        try:
            return parse_duration(value)
        except ValueError as e:
            flag = param.opts[0] if param is not None and param.opts else "duration"
            raise MamlgameError(f"{flag}: {e}") from None


class FiniteFloat(click.FloatRange):
    """A float option that must be finite (`nan` and `inf` are errors), within bounds."""

    name = "float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> float:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"expected a finite number, got {value!r}", param, ctx)
        return super().convert(number, param, ctx)


def _number_type(s: Setting) -> click.ParamType:
    if s.kind == "int":
        if s.lo is None and s.hi is None:
            return click.INT
        return click.IntRange(s.lo, s.hi)
    return FiniteFloat(s.lo, s.hi, min_open=s.lo_open)


def cli_default(s: Setting, default: Any) -> Any:
    """A default as command-line text where its type converts it (shown as typed)."""
    if s.kind == "sizes":
        return ",".join(map(str, default))
    if s.kind == "duration":
        return format_duration(default) if default else "0"
    return default


def click_option(s: Setting, default: Any = None) -> Callable[[F], F]:
    """The click option of one setting: `--name-with-dashes` (`--x/--no-x` for booleans),
    its type and bounds, its default (`default`, else the field's) and its doc as help."""
    default = s.default if default is None else default
    kw: dict[str, Any] = dict(default=cli_default(s, default), show_default=True,
                              help=s.doc[:1].upper() + s.doc[1:] + ".")
    decls = [s.flag]
    if s.kind == "bool":
        decls = [f"{s.flag}/--no-{s.flag[2:]}"]
    elif s.choices:
        kw["type"] = click.Choice(s.choices)
    elif s.kind == "sizes":
        kw["type"] = Sizes()
    elif s.kind == "duration":
        kw["type"] = Duration()
    elif s.kind in ("int", "float"):
        kw["type"] = _number_type(s)
    else:
        kw["type"] = click.STRING
    return click.option(*decls, s.name, **kw)


def config_options(names: Iterable[str] | None = None,
                   defaults: dict[str, Any] | None = None) -> Callable[[F], F]:
    """A decorator adding the click options of `TrainConfig` settings: `names` (in that
    order; default: every setting marked as an option, in field order), with `defaults`
    replacing some of the fields' defaults."""
    chosen = [SETTINGS[n] for n in names] if names is not None else \
        [s for s in SETTINGS.values() if s.option]
    defaults = defaults or {}

    def decorate(f: F) -> F:
        for s in reversed(chosen):  # click lists options in decoration order, bottom up
            f = click_option(s, defaults.get(s.name))(f)
        return f

    return decorate


def option_text(value: Any) -> str:
    """An option's value written back as command-line text (`16,16` for sizes)."""
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


def recipe_text(values: dict[str, Any]) -> str:
    """Recipe values for a one-line note: `inner_lr 0.6, hidden 64,64, time_limit 20m`."""
    def one(k: str, v: Any) -> str:
        if SETTINGS[k].kind == "duration":
            return format_duration(v)
        if isinstance(v, bool):
            return "true" if v else "false"
        return option_text(v)
    return ", ".join(f"{k} {one(k, v)}" for k, v in values.items())




# ---- output files: checked before the work, written with a one-line error -----------------
def writable_dir(folder: str | Path, flag: str, shown: str | Path | None = None) -> Path:
    """`folder`, created if missing, after a probe file showed it can be written (read-only
    file systems, /proc and /sys, a file in the way...); else a one-line `MamlgameError`
    naming `flag` and `shown` (default: the folder)."""
    folder = Path(folder)
    shown = folder if shown is None else shown
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".mamlgame-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise MamlgameError(f"{flag} {shown}: cannot write there ({e.strerror or e})") from None
    return folder


def output_file(path: str | Path, flag: str, suffixes: tuple[str, ...] = ()) -> Path:
    """Check, before any work, that the output file `path` of option `flag` can be written
    (and ends in one of `suffixes`, when given): a one-line `MamlgameError` otherwise."""
    p = Path(path)
    if suffixes and p.suffix.lower() not in suffixes:
        raise MamlgameError(f"{flag} {p}: expected a {' or '.join(suffixes)} file name "
                            f"(it writes {suffixes[0][1:].upper()})")
    if p.is_dir():
        raise MamlgameError(f"{flag} {p}: is a directory (expected a file name)")
    if p.exists() and not p.is_file():  # a device or fifo: written files replace it
        raise MamlgameError(f"{flag} {p}: is not a regular file (a device or a fifo); name "
                            "a file")
    writable_dir(p.parent, flag, p)
    return p


def write_output(write: Callable[[Path], None], path: str | Path, flag: str) -> None:
    """`write(path)`, with an OS error (disk full, ...) as a one-line `MamlgameError`."""
    try:
        write(Path(path))
    except OSError as e:
        raise MamlgameError(f"{flag} {path}: cannot write ({e.strerror or e})") from None
