"""`mamlgame train`: meta-train a policy on a level pack."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from mamlgame import distributed
from mamlgame.cli.options import PathText, config_options, option_text, recipe_text
from mamlgame.cli.recipe_help import RecipeHelpCommand
from mamlgame.config import GAINLESS_ALGOS, SHIFTLESS_ALGOS, TrainConfig, with_recipe
from mamlgame.errors import MamlgameError
from mamlgame.families import family_spec, make_family
from mamlgame.memory import check_training
from mamlgame.packs import LevelPack, load_pack
from mamlgame.run_dir import check_out_dir
from mamlgame.tensorboard_log import DIR_NAME as TB_DIR
from mamlgame.tensorboard_log import event_files, require_tensorboard
from mamlgame.train import Interrupted, check_split
from mamlgame.train import run as run_training

DEFAULTS = TrainConfig()
CONFIG_FIELDS = frozenset(f.name for f in fields(TrainConfig))


@click.command(cls=RecipeHelpCommand)
@click.argument("pack", required=False, default=DEFAULTS.pack)
@config_options()
@click.option("--nproc", type=click.IntRange(1), default=1, show_default=True,
              help="Local processes sharing each meta-batch (see docs/distributed.md).")
@click.option("--out", type=PathText(file_okay=False), default=None,
              help="Output folder [default: runs/PACKNAME-ALGO].")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its checkpoint.")
@click.option("--overwrite", is_flag=True,
              help="Replace the run in --out (deletes its checkpoints and metrics).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def train(ctx: click.Context, pack: str, out: str | None, resume: bool, overwrite: bool,
          quiet: bool, nproc: int, **options: Any) -> None:
    """Meta-train on PACK (a path or shipped pack name; default: mixed).

    Options the command line does not give come from the pack's [train] recipe, if it has
    one, else from the defaults below (a given --iterations or --time-limit replaces both
    of the recipe's; `mamlgame train PACK --help` shows PACK's). With --time-limit,
    --iterations (if given) is an upper bound.

    --tensorboard also writes the metrics as TensorBoard scalars into OUT/tensorboard
    (`tensorboard --logdir OUT`).

    With --nproc N, N local processes share each meta-batch (same results as one process);
    across machines, start it with torchrun (docs/distributed.md).

    A non-empty --out is refused unless --resume or --overwrite; one run at a time writes a
    directory. --resume continues the run in --out with its saved settings: another PACK or
    --algo is an error, other changed options are ignored with a warning (only --iterations,
    --time-limit, --device, --threads and --tensorboard may change).
    """
    lp = load_pack(pack)  # fail early with a located error
    if options["tensorboard"]:
        require_tensorboard()  # a missing optional package: one line, before any work
    given = _given(ctx)
    cfg = TrainConfig(pack=str(lp.path), **options)
    cfg, recipe = (cfg, {}) if resume else with_recipe(cfg, lp.train, given)
    # a clear error before any process starts
    device = distributed.resolve_device(cfg.device, local_procs=nproc)
    if not resume:
        check_std_shift(cfg, lp, given)
        check_lr_gain(cfg, lp, given)
        check_inner_rewards(cfg, lp, given)
        check_lookahead(cfg, lp, given)
        check_training(cfg, lp, device)
    out_dir = Path(out or f"runs/{lp.name}-{cfg.algo}")
    if nproc > 1:
        check_split(cfg.meta_batch, nproc)
        if not overwrite:
            check_out_dir(out_dir, resume)  # (process 0 checks again, holding the lock)
        if distributed.context().distributed:
            raise MamlgameError("--nproc: already running under torchrun; drop --nproc")
        ctx.exit(distributed.launch(_argv(ctx), nproc))
    main = distributed.context().is_main
    if main and not (overwrite or resume):
        check_out_dir(out_dir, resume)  # its error alone, before any note (checked again later)
    if main and recipe:
        click.echo(_recipe_note(lp, recipe))
    try:
        ckpt = run_training(cfg, out_dir, resume=resume, progress=not quiet,
                            given=given & CONFIG_FIELDS, echo=click.echo, overwrite=overwrite)
    except Interrupted as e:
        if main:
            click.echo(f"error: {e}", err=True)
        ctx.exit(130)
    except MamlgameError:
        if main:
            raise
        ctx.exit(1)  # process 0 reports it
    if main:
        click.echo(f"checkpoint: {ckpt}\nmetrics:    {out_dir / 'metrics.jsonl'}")
        if event_files(out_dir):
            click.echo(f"tensorboard: {out_dir / TB_DIR} (tensorboard --logdir {out_dir})")


def check_std_shift(cfg: TrainConfig, lp: LevelPack, given: set[str]) -> None:
    """A one-line error for a learned std shift that cannot be learned: with an algo that
    learns none (given together; a recipe's value is dropped for it) or a discrete policy."""
    if not cfg.learn_std_shift:
        return
    where = ("--learn-std-shift" if "learn_std_shift" in given
             else f"{Path(lp.path).name} [train] learn_std_shift")
    if cfg.algo in SHIFTLESS_ALGOS:
        raise MamlgameError(f"{where}: --algo {cfg.algo} learns no std shift (no "
                            "meta-gradient reaches it); drop one of them")
    if make_family(lp, cfg.resolved(lp).horizon).discrete:
        raise MamlgameError(f"{where}: the {lp.family} family's policy has discrete actions, "
                            "no std to shift")


def check_inner_rewards(cfg: TrainConfig, lp: LevelPack, given: set[str]) -> None:
    """A one-line error for `inner_rewards = "goal"` on a family whose rewards do not say
    where a goal is (`FamilySpec.goal_rewards`)."""
    if cfg.inner_rewards == "goal" and family_spec(lp.family).goal_rewards is None:
        where = ("--inner-rewards" if "inner_rewards" in given
                 else f"{Path(lp.path).name} [train] inner_rewards")
        raise MamlgameError(f"{where}: the {lp.family} family's rewards do not say where a "
                            "goal is (only game packs' do); use all")


def check_lr_gain(cfg: TrainConfig, lp: LevelPack, given: set[str]) -> None:
    """A one-line error for a learned step-size factor an algo cannot learn (given together;
    a recipe's value is dropped for it)."""
    if cfg.learn_inner_lr and cfg.algo in GAINLESS_ALGOS:
        where = ("--learn-inner-lr" if "learn_inner_lr" in given
                 else f"{Path(lp.path).name} [train] learn_inner_lr")
        why = ("learns its own step sizes" if cfg.algo == "metasgd"
               else "learns no step-size factor (no meta-gradient reaches it)")
        raise MamlgameError(f"{where}: --algo {cfg.algo} {why}; drop one of them")


def check_lookahead(cfg: TrainConfig, lp: LevelPack, given: set[str]) -> None:
    """A one-line error for an act-time lookahead on a family that has none."""
    if cfg.lookahead and family_spec(lp.family).lookahead is None:
        where = ("--lookahead" if "lookahead" in given
                 else f"{Path(lp.path).name} [train] lookahead")
        raise MamlgameError(f"{where}: the {lp.family} family has no act-time search (the "
                            "game has)")


def _recipe_note(lp: LevelPack, recipe: dict[str, Any]) -> str:
    """Which recipe values the run uses, and where each came from: the pack's own [train],
    or its family's defaults (`recipe from mixed.toml: ...; from the game family: ...`)."""
    own = {k: v for k, v in recipe.items() if k in lp.train_own}
    family = {k: v for k, v in recipe.items() if k not in lp.train_own}
    parts = ([f"from {Path(lp.path).name}: {recipe_text(own)}"] if own else []) + (
        [f"from the {lp.family} family's defaults: {recipe_text(family)}"] if family else [])
    return "recipe " + "; ".join(parts)


def _given(ctx: click.Context) -> set[str]:
    """The parameters set on the command line (or the environment), not left at defaults."""
    return {name for name in ctx.params
            if ctx.get_parameter_source(name) not in (None, ParameterSource.DEFAULT)}


def _argv(ctx: click.Context) -> list[str]:
    """The options given to this invocation, without --nproc (for the worker processes:
    they see what was given, so that --resume compares the same options)."""
    args: list[str] = []
    given = _given(ctx)
    for p in ctx.command.params:
        value = ctx.params[p.name]
        if p.name == "nproc" or p.name not in given or value is None:
            continue
        if isinstance(p, click.Argument):
            args.append(str(value))
        elif isinstance(p, click.Option) and p.is_flag:
            if p.secondary_opts:
                args.append(p.opts[0] if value else p.secondary_opts[0])
            elif value:
                args.append(p.opts[0])
        else:
            args += [p.opts[0], option_text(value)]
    return args


COMMANDS = [train]
