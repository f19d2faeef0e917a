"""The `mamlgame` command line: train, eval, compare, bench, plot, play, levels.

Every command reports bad input as one line `error: ...` on stderr and exits non-zero (2 for
a usage error: an unknown option, a bad value, a missing argument), and each warning as one
line `warning: ...`.
"""

from __future__ import annotations

import sys

import click

from mamlgame.cli import bench, compare, evaluate, levels, play, plot, train
from mamlgame.cli.group import OneLineGroup


@click.group(cls=OneLineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mamlgame")
def cli() -> None:
    """Meta-learn agents (MAML for RL) that adapt in one gradient step to unseen levels."""


for _module in (train, evaluate, compare, bench, plot, levels, play):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="mamlgame")


if __name__ == "__main__":
    main()
    sys.exit(0)
