"""`mamlgame train`: meta-train a policy on a level pack."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import click
from click.core import ParameterSource

from mamlgame import cpu, distributed
from mamlgame.config import TrainConfig
from mamlgame.errors import MamlgameError
from mamlgame.meta import ALGOS, ESTIMATORS
from mamlgame.packs import load_pack
from mamlgame.train import Interrupted, check_split
from mamlgame.train import train as run_training

DEFAULTS = TrainConfig()
CONFIG_FIELDS = frozenset(f.name for f in fields(TrainConfig))


@click.command()
@click.argument("pack", required=False, default=DEFAULTS.pack)
@click.option("--algo", type=click.Choice(ALGOS), default=DEFAULTS.algo, show_default=True)
@click.option("--estimator", type=click.Choice(ESTIMATORS), default=DEFAULTS.estimator,
              show_default=True, help="Second-order meta-gradient estimator.")
@click.option("--iterations", type=click.IntRange(1), default=DEFAULTS.iterations,
              show_default=True)
@click.option("--meta-batch", type=click.IntRange(1), default=DEFAULTS.meta_batch,
              show_default=True, help="Tasks per meta-iteration.")
@click.option("--episodes", type=click.IntRange(1), default=DEFAULTS.episodes,
              show_default=True, help="Episodes per task and inner step.")
@click.option("--inner-steps", type=click.IntRange(0), default=DEFAULTS.inner_steps,
              show_default=True, help="Inner policy-gradient steps K; 0: 3 for reptile, 1 else.")
@click.option("--inner-lr", type=float, default=DEFAULTS.inner_lr, show_default=True)
@click.option("--outer-lr", type=float, default=DEFAULTS.outer_lr, show_default=True)
@click.option("--anneal-lr/--no-anneal-lr", default=DEFAULTS.anneal_lr, show_default=True,
              help="Decay the outer learning rate linearly to 0.")
@click.option("--gamma", type=click.FloatRange(0, 1), default=DEFAULTS.gamma, show_default=True,
              help="Discount of the policy-gradient returns.")
@click.option("--gae-lambda", type=click.FloatRange(0, 1), default=DEFAULTS.gae_lambda,
              show_default=True, help="GAE lambda on the linear baseline (1: plain returns).")
@click.option("--hidden", default=",".join(map(str, DEFAULTS.hidden)), show_default=True,
              help="Hidden layer sizes, comma separated.")
@click.option("--activation", type=click.Choice(["relu", "tanh"]), default="relu",
              show_default=True)
@click.option("--init-std", type=click.FloatRange(min=1e-3), default=DEFAULTS.init_std,
              show_default=True, help="Initial std of the Gaussian policy.")
@click.option("--horizon", type=click.IntRange(0), default=0, help="0: the pack's horizon.")
@click.option("--seed", type=int, default=DEFAULTS.seed, show_default=True)
@click.option("--threads", type=click.IntRange(1), default=DEFAULTS.threads, show_default=True,
              help="Torch CPU threads.")
@click.option("--checkpoint-every", type=click.IntRange(1), default=DEFAULTS.checkpoint_every,
              show_default=True)
@click.option("--keep-checkpoints", type=click.IntRange(0), default=DEFAULTS.keep_checkpoints,
              show_default=True, help="Numbered checkpoints kept besides checkpoint.pt.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default=DEFAULTS.device,
              show_default=True, help="Where training runs (auto: cuda when available).")
@click.option("--nproc", type=click.IntRange(1), default=1, show_default=True,
              help="Local processes sharing each meta-batch (see docs/distributed.md).")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Output folder [default: runs/PACKNAME-ALGO].")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its checkpoint.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def train(ctx: click.Context, pack: str, out: str | None, resume: bool, quiet: bool,
          hidden: str, nproc: int, **options) -> None:
    """Meta-train on PACK (a path or shipped pack name; default: mixed).

    With --nproc N, N local processes share each meta-batch (same results as one process);
    across machines, start it with torchrun (docs/distributed.md). --resume continues the run
    in --out with its saved settings: another PACK or --algo is an error, other changed
    options are ignored with a warning (only --iterations, --device and --threads may change).
    """
    try:
        sizes = tuple(int(h) for h in hidden.split(",") if h.strip())
    except ValueError:
        raise click.BadParameter(f"expected sizes like 100,100, got {hidden!r}",
                                 param_hint="--hidden") from None
    lp = load_pack(pack)  # fail early with a located error
    cfg = TrainConfig(pack=str(lp.path), hidden=sizes, **options)
    # a clear error before any process starts
    distributed.resolve_device(cfg.device, local_procs=nproc)
    out_dir = Path(out or f"runs/{lp.name}-{cfg.algo}")
    if nproc > 1:
        check_split(cfg.meta_batch, nproc)
        if distributed.context().distributed:
            raise MamlgameError("--nproc: already running under torchrun; drop --nproc")
        ctx.exit(distributed.launch(_argv(ctx), nproc))
    main = distributed.context().is_main
    cpu.configure(cfg.threads)  # process-wide: set here, by the command, not by `train()`
    try:
        ckpt = run_training(cfg, out_dir, resume=resume, progress=not quiet,
                            given=_given(ctx) & CONFIG_FIELDS)
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
            args += [p.opts[0], str(value)]
    return args


COMMANDS = [train]
