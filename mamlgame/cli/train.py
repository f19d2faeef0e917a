"""`mamlgame train`: meta-train a policy on a level pack."""

from __future__ import annotations

from pathlib import Path

import click

from mamlgame.config import TrainConfig
from mamlgame.meta import ALGOS, ESTIMATORS
from mamlgame.packs import load_pack

DEFAULTS = TrainConfig()


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
@click.option("--inner-steps", type=click.IntRange(1), default=DEFAULTS.inner_steps,
              show_default=True)
@click.option("--inner-lr", type=float, default=DEFAULTS.inner_lr, show_default=True)
@click.option("--outer-lr", type=float, default=DEFAULTS.outer_lr, show_default=True)
@click.option("--anneal-lr/--no-anneal-lr", default=DEFAULTS.anneal_lr, show_default=True,
              help="Decay the outer learning rate linearly to 0.")
@click.option("--hidden", default=",".join(map(str, DEFAULTS.hidden)), show_default=True,
              help="Hidden layer sizes, comma separated.")
@click.option("--activation", type=click.Choice(["relu", "tanh"]), default="relu",
              show_default=True)
@click.option("--horizon", type=click.IntRange(0), default=0, help="0: the pack's horizon.")
@click.option("--seed", type=int, default=DEFAULTS.seed, show_default=True)
@click.option("--threads", type=click.IntRange(1), default=DEFAULTS.threads, show_default=True,
              help="Torch CPU threads.")
@click.option("--checkpoint-every", type=click.IntRange(1), default=DEFAULTS.checkpoint_every,
              show_default=True)
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Output folder [default: runs/PACKNAME-ALGO].")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its checkpoint.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train(pack: str, out: str | None, resume: bool, quiet: bool, hidden: str,
          **options) -> None:
    """Meta-train on PACK (a path or shipped pack name; default: mixed)."""
    from mamlgame.train import train as run_training  # noqa: PLC0415

    try:
        sizes = tuple(int(h) for h in hidden.split(",") if h.strip())
    except ValueError:
        raise click.BadParameter(f"expected sizes like 100,100, got {hidden!r}",
                                 param_hint="--hidden") from None
    lp = load_pack(pack)  # fail early with a located error
    cfg = TrainConfig(pack=str(lp.path), hidden=sizes, **options)
    out_dir = Path(out or f"runs/{lp.name}-{cfg.algo}")
    ckpt = run_training(cfg, out_dir, resume=resume, progress=not quiet)
    click.echo(f"checkpoint: {ckpt}\nmetrics:    {out_dir / 'metrics.jsonl'}")


COMMANDS = [train]
