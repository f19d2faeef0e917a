"""`mamlgame compare`: train several algorithms with one budget, compare cost and adaptation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from mamlgame import cpu
from mamlgame.cli.options import (
    algo_list,
    config_options,
    pack_recipe,
    recipe_text,
    step_list,
    writable_dir,
    write_output,
)
from mamlgame.compare import check_compare_dir, format_comparison
from mamlgame.compare import compare as run_compare
from mamlgame.config import ALGO_KEYS, TrainConfig
from mamlgame.packs import load_pack

DEFAULTS = TrainConfig()
OPTIONS = ("iterations", "meta_batch", "episodes", "inner_lr", "outer_lr", "horizon", "seed")


@click.command()
@click.argument("pack", required=False, default=DEFAULTS.pack)
@click.option("--algos", default="maml,fomaml,reptile,metasgd", show_default=True)
@config_options(OPTIONS, defaults={"iterations": 50})
@click.option("--eval-tasks", type=click.IntRange(1), default=40, show_default=True)
@click.option("--steps", default="0,1", show_default=True,
              help="Inner steps after which to report return (and success rate).")
@click.option("--out", type=click.Path(file_okay=False), default="runs/compare",
              show_default=True)
@click.option("--overwrite", is_flag=True,
              help="Replace an earlier comparison's runs in --out.")
@click.option("--quiet", is_flag=True)
@click.pass_context
def compare(ctx: click.Context, pack: str, algos: str, out: str, eval_tasks: int, steps: str,
            overwrite: bool, quiet: bool, **options: Any) -> None:
    """Train each algorithm with the same seed and budget; table + chart of cost and
    adaptation (return, and success rate where the family has one, after each of --steps).
    The pack's [train] recipe applies (except its algo and time_limit: every algorithm gets
    the same --iterations; and when the recipe names an algo, except the step sizes tuned
    for it); the options given here override it."""
    names = algo_list(algos)
    eval_steps = step_list(steps)
    lp = load_pack(pack)
    check_compare_dir(Path(out), names, overwrite)
    writable_dir(out, "--out")  # before the training: a one-line error, not a traceback
    given = {k for k in options if ctx.get_parameter_source(k) is not ParameterSource.DEFAULT}
    # every algorithm with the same budget; step sizes tuned for a recipe's algo are its own
    tuned = ALGO_KEYS if "algo" in lp.train else ()
    recipe = pack_recipe(lp.train, given, skip=("algo", "time_limit", *tuned))
    if recipe:
        click.echo(f"recipe from {Path(lp.path).name}: {recipe_text(recipe)}")
    base = TrainConfig(pack=str(lp.path), **{**options, **recipe})
    cpu.configure(base.threads)
    result: dict[str, Any] = {}

    def run(folder: Path) -> None:
        result.update(run_compare(base, names, folder, eval_tasks, eval_steps,
                                  progress=not quiet, overwrite=overwrite))

    write_output(run, out, "--out")
    click.echo(format_comparison(result))
    click.echo(f"files: {Path(out) / 'compare.json'} {Path(out) / 'compare.md'} "
               f"{Path(out) / 'compare.png'}")


COMMANDS = [compare]
