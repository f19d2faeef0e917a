"""`mamlgame compare`: train several algorithms with one budget, compare cost and adaptation."""

from __future__ import annotations

from pathlib import Path

import click

from mamlgame import cpu
from mamlgame.cli.options import algo_list
from mamlgame.compare import compare as run_compare
from mamlgame.compare import format_comparison
from mamlgame.config import TrainConfig
from mamlgame.packs import load_pack

DEFAULTS = TrainConfig()


@click.command()
@click.argument("pack", required=False, default=DEFAULTS.pack)
@click.option("--algos", default="maml,fomaml,reptile,metasgd", show_default=True)
@click.option("--iterations", type=click.IntRange(1), default=50, show_default=True)
@click.option("--meta-batch", type=click.IntRange(1), default=DEFAULTS.meta_batch,
              show_default=True)
@click.option("--episodes", type=click.IntRange(1), default=DEFAULTS.episodes,
              show_default=True)
@click.option("--inner-lr", type=float, default=DEFAULTS.inner_lr, show_default=True)
@click.option("--outer-lr", type=float, default=DEFAULTS.outer_lr, show_default=True)
@click.option("--horizon", type=click.IntRange(0), default=0)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--eval-tasks", type=click.IntRange(1), default=40, show_default=True)
@click.option("--out", type=click.Path(file_okay=False), default="runs/compare",
              show_default=True)
@click.option("--quiet", is_flag=True)
def compare(pack: str, algos: str, out: str, eval_tasks: int, quiet: bool, **options) -> None:
    """Train each algorithm with the same seed and budget; table + chart of cost and
    adaptation."""
    names = algo_list(algos)
    lp = load_pack(pack)
    base = TrainConfig(pack=str(lp.path), **options)
    cpu.configure(base.threads)
    result = run_compare(base, names, out, eval_tasks, progress=not quiet)
    click.echo(format_comparison(result))
    click.echo(f"files: {Path(out) / 'compare.json'} {Path(out) / 'compare.md'} "
               f"{Path(out) / 'compare.png'}")


COMMANDS = [compare]
