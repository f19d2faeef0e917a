"""The `mamlgame` command line: train, eval, compare, bench, play, levels.

Every command reports bad input as one line `error: ...` on stderr and exits non-zero.
"""

from __future__ import annotations

import sys

import click

from mamlgame.errors import MamlgameError


class _Group(click.Group):
    """A click group that turns mamlgame errors into one-line messages."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MamlgameError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mamlgame")
def cli() -> None:
    """Meta-learn agents (MAML for RL) that adapt in one gradient step to unseen levels."""


def _register() -> None:
    from mamlgame.cli import evaluate, levels, play, train  # noqa: PLC0415

    for module in (train, evaluate, levels, play):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="mamlgame")


if __name__ == "__main__":
    main()
    sys.exit(0)
