"""Option parsing shared by several commands."""

from __future__ import annotations

import click

from mamlgame.meta import ALGOS


def algo_list(value: str, param_hint: str = "--algos") -> list[str]:
    """Comma-separated algorithm names, each one of `ALGOS` (at least one)."""
    names = [a.strip() for a in value.split(",") if a.strip()]
    unknown = [a for a in names if a not in ALGOS]
    if unknown or not names:
        raise click.BadParameter(f"unknown algo(s) {', '.join(unknown) or '(none)'}; "
                                 f"choose from {', '.join(ALGOS)}", param_hint=param_hint)
    return names
