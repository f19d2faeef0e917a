"""`mamlgame levels ...`: list, show and validate level packs."""

from __future__ import annotations

import click

from mamlgame.errors import PackError
from mamlgame.packs import load_pack, shipped_packs


@click.group()
def levels() -> None:
    """Inspect, validate and create level packs."""


@levels.command("list")
def list_packs() -> None:
    """List the shipped level packs."""
    for name in shipped_packs():
        pack = load_pack(name)
        click.echo(f"{name:<12} {pack.family:<10} {pack.description}")


@levels.command()
@click.argument("packs", nargs=-1, required=True)
def validate(packs: tuple[str, ...]) -> None:
    """Check packs: every key, value and level; generate both splits."""
    failed = 0
    for spec in packs:
        try:
            pack = load_pack(spec)
            n_train, n_test = len(pack.pool("train")), len(pack.pool("test"))
        except PackError as e:
            click.echo(f"error: {e}", err=True)
            failed += 1
            continue
        click.echo(f"ok: {pack.path} ({pack.family}, {n_train} train / {n_test} test tasks)")
    if failed:
        raise click.exceptions.Exit(1)


COMMANDS = [levels]
