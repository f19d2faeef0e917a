"""`OneLineGroup`: the click group of every mamlgame command group. Bad input is one line
`error: ...` on stderr with a non-zero exit (2 for click's usage errors, 1 for
`MamlgameError`s), and each warning is one line `warning: ...`."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

from mamlgame.errors import MamlgameError


def _one_line(message, category, filename, lineno, file=None, line=None) -> None:
    click.echo(f"warning: {message}", err=True)


class UsageLine(click.ClickException):
    """A click usage error shown as one line, `error: ... (see COMMAND --help)`, exit 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"error: {self.message}", err=True)


def usage_line(e: click.UsageError, command: str = "") -> str:
    """One line for a usage error: `--iterations: 0 is not in the range x>=1 (see mamlgame
    train --help)`; the option or argument first, where click knows which; `command` is the
    command path to point at when the error carries no context."""
    param, hint = getattr(e, "param", None), getattr(e, "param_hint", None)
    if isinstance(e, click.BadParameter) and not isinstance(e, click.MissingParameter) \
            and (hint or param):
        if not isinstance(hint, str):
            hint = "/".join(hint) if hint else (param.opts[0] if isinstance(param, click.Option)
                                                else param.human_readable_name)
        message = f"{hint}: {e.message}"
    else:
        message = e.format_message()
    message = " ".join(message.split()).rstrip(".")
    command = e.ctx.command_path if e.ctx else command
    return f"{message} (see {command} --help)" if command else message


_COMMAND = "mamlgame.command"  # ctx.meta key: the command being parsed
_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())  # a bare group: its help text


@contextmanager
def _one_line_usage(command: Callable[[], str]) -> Iterator[None]:
    """Usage errors inside as `UsageLine`s; `command()`: the path for errors without one."""
    try:
        yield
    except click.UsageError as e:
        if isinstance(e, _HELP):
            raise
        raise UsageLine(usage_line(e, command())) from None


class OneLineGroup(click.Group):
    """A click group that turns mamlgame errors, usage errors (its own and its commands')
    and warnings into one-line messages."""

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra) -> click.Context:
        path = " ".join(p for p in (parent.command_path if parent else "", info_name) if p)
        with _one_line_usage(lambda: path):
            return super().make_context(info_name, args, parent, **extra)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name, command, rest = super().resolve_command(ctx, args)
        ctx.meta[_COMMAND] = f"{ctx.command_path} {name}"  # the innermost (meta is shared)
        return name, command, rest

    def invoke(self, ctx: click.Context):
        with warnings.catch_warnings(), _one_line_usage(lambda: ctx.meta.get(_COMMAND, "")):
            warnings.showwarning = _one_line
            try:
                return super().invoke(ctx)
            except MamlgameError as e:
                click.echo(f"error: {e}", err=True)
                ctx.exit(1)
