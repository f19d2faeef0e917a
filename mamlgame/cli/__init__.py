"""The `mamlgame` command line: train, eval, compare, bench, play, levels.

Every command reports bad input as one line `error: ...` on stderr and exits non-zero, and
each warning as one line `warning: ...`.
"""

from __future__ import annotations

import sys
import warnings

import click

from mamlgame.cli import bench, compare, evaluate, levels, play, train
from mamlgame.errors import MamlgameError


def _one_line(message, category, filename, lineno, file=None, line=None) -> None:
    click.echo(f"warning: {message}", err=True)


class _Group(click.Group):
    """A click group that turns mamlgame errors and warnings into one-line messages."""

    def invoke(self, ctx: click.Context):
        with warnings.catch_warnings():
            warnings.showwarning = _one_line
            try:
                return super().invoke(ctx)
            except MamlgameError as e:
                click.echo(f"error: {e}", err=True)
                ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mamlgame")
def cli() -> None:
    """Meta-learn agents (MAML for RL) that adapt in one gradient step to unseen levels."""


for _module in (train, evaluate, compare, bench, levels, play):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="mamlgame")


if __name__ == "__main__":
    main()
    sys.exit(0)
