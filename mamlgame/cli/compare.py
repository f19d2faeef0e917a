"""`mamlgame compare`: train several methods over several seeds with one budget; IQM,
stratified-bootstrap CIs and probabilities of improvement over seeds × held-out tasks."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from mamlgame import cpu
from mamlgame.cli.options import (
    FiniteFloat,
    PathText,
    algo_list,
    comma_items,
    config_options,
    recipe_text,
    step_list,
    writable_dir,
    write_output,
)
from mamlgame.compare import CompareSpec, check_compare_dir, format_comparison, methods_of
from mamlgame.compare import compare as run_compare
from mamlgame.config import ALGO_KEYS, ESTIMATORS, SEED_MAX, TrainConfig, pack_recipe
from mamlgame.packs import load_pack
from mamlgame.stats import REPS
from mamlgame.tensorboard_log import require_tensorboard

DEFAULTS = TrainConfig()
OPTIONS = ("iterations", "meta_batch", "episodes", "inner_steps", "inner_lr", "outer_lr",
           "hidden", "horizon", "seed", "threads", "tensorboard")


def estimator_list(value: str | None) -> list[str]:
    """Comma-separated estimators, each one of `ESTIMATORS` ([] when not given)."""
    if value is None:
        return []
    names = comma_items(value, "--estimators", "dice,lvc")
    unknown = [e for e in names if e not in ESTIMATORS]
    if unknown:
        raise click.BadParameter(f"unknown estimator(s) {', '.join(unknown)}; "
                                 f"choose from {', '.join(ESTIMATORS)}",
                                 param_hint="--estimators")
    return names


@click.command()
@click.argument("pack", required=False, default=DEFAULTS.pack)
@click.option("--algos", default="maml,fomaml,reptile,metasgd", show_default=True)
@click.option("--estimators", default=None,
              help="Meta-gradient estimators to compare too (dice,lvc,naive): one method per "
                   "algorithm and estimator.")
@click.option("--seeds", type=click.IntRange(1, 1000), default=1, show_default=True,
              help="Training seeds per method: --seed, --seed + 1, ...")
@click.option("--jobs", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Trainings at a time, each in its own process with --threads threads.")
@config_options(OPTIONS, defaults={"iterations": 50})
@click.option("--eval-tasks", type=click.IntRange(1), default=40, show_default=True,
              help="Held-out tasks every run is evaluated on (the first N of the test split).")
@click.option("--eval-episodes", type=click.IntRange(0), default=0, show_default=True,
              help="Episodes per inner step in the evaluation (0: --episodes).")
@click.option("--steps", default="0,1", show_default=True,
              help="Inner steps after which to report return (and success rate).")
@click.option("--reps", type=click.IntRange(100, 100_000), default=REPS, show_default=True,
              help="Bootstrap resamples of each confidence interval.")
@click.option("--target", type=FiniteFloat(), default=None,
              help="The return that solves a task, for the optimality gap [default: the best "
                   "return any run reached on the task].")
@click.option("--out", type=PathText(file_okay=False), default="runs/compare",
              show_default=True)
@click.option("--resume", is_flag=True,
              help="Continue the comparison in --out: finished runs are reused, interrupted "
                   "ones continue from their checkpoints.")
@click.option("--overwrite", is_flag=True,
              help="Replace an earlier comparison's runs in --out.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def compare(ctx: click.Context, pack: str, algos: str, estimators: str | None, seeds: int,
            jobs: int, out: str, eval_tasks: int, eval_episodes: int, steps: str, reps: int,
            target: float | None, resume: bool, overwrite: bool, quiet: bool,
            **options: Any) -> None:
    """Train each method (an algorithm of --algos, or each algorithm with each of
    --estimators) over --seeds training seeds with one budget, evaluate every run on the same
    held-out tasks, and report per method and number of inner steps the mean, median, IQM
    and optimality gap of the return (and success rate, where the family has one) over seeds
    × tasks, each with a 95% stratified-bootstrap CI, and the probability that each method
    improves on each other. Writes compare.json, compare.md and compare.png into --out
    (runs in --out/METHOD/seed-S; with --tensorboard each run's TensorBoard scalars in its
    tensorboard/ folder: `tensorboard --logdir OUT` shows one run per method and seed).

    The pack's [train] recipe applies (except its algo and time_limit: every method gets the
    same --iterations; and when the recipe names an algo, except the step sizes tuned for
    it); the options given here override it.
    """
    names = algo_list(algos)
    ests = estimator_list(estimators)
    eval_steps = step_list(steps)
    if options["seed"] + seeds - 1 > SEED_MAX:  # the seeds are --seed, --seed + 1, ...
        raise click.BadParameter(f"{options['seed']} with --seeds {seeds} would train seed "
                                 f"{options['seed'] + seeds - 1}, past {SEED_MAX}",
                                 param_hint="--seed")
    methods = methods_of(names, ests)
    if options["tensorboard"]:
        require_tensorboard()  # a missing optional package: one line, before any work
    lp = load_pack(pack)
    check_compare_dir(Path(out), [m.name for m in methods], resume, overwrite)
    writable_dir(out, "--out")  # before the training: a one-line error, not a traceback
    given = {k for k in options if ctx.get_parameter_source(k) is not ParameterSource.DEFAULT}
    # every method with the same budget; step sizes tuned for a recipe's algo are its own
    tuned = ALGO_KEYS if "algo" in lp.train else ()
    skip = ("algo", "time_limit", *tuned, *(("estimator",) if ests else ()))
    recipe = pack_recipe(lp.train, given, skip=skip)
    if recipe:
        click.echo(f"recipe from {Path(lp.path).name}: {recipe_text(recipe)}")
    base = TrainConfig(pack=str(lp.path), **{**options, **recipe})
    if jobs > 1 and jobs * base.threads > (os.cpu_count() or 1):
        warnings.warn(f"--jobs {jobs} × --threads {base.threads} threads on "
                      f"{os.cpu_count()} CPUs: the runs will slow each other", stacklevel=1)
    spec = CompareSpec(base, methods, seeds, eval_tasks, tuple(eval_steps), eval_episodes,
                       reps, target)
    cpu.configure(base.threads)
    result: dict[str, Any] = {}

    def run(folder: Path) -> None:
        result.update(run_compare(spec, folder, jobs, progress=not quiet, resume=resume,
                                  overwrite=overwrite, echo=click.echo))

    write_output(run, out, "--out")
    click.echo(format_comparison(result))
    click.echo(f"files: {Path(out) / 'compare.json'} {Path(out) / 'compare.md'} "
               f"{Path(out) / 'compare.png'}")


COMMANDS = [compare]
