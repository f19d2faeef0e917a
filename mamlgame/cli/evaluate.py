"""`mamlgame eval | compare | bench`."""

from __future__ import annotations

from pathlib import Path

import click

from mamlgame.config import TrainConfig
from mamlgame.meta import ALGOS

DEFAULTS = TrainConfig()


def _int_list(value: str, name: str) -> list[int]:
    try:
        out = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        out = []
    if not out or min(out) < 0:
        raise click.BadParameter(f"expected non-negative integers like 0,1,2, got {value!r}",
                                 param_hint=name)
    return out


@click.command("eval")
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.option("--pack", default=None, help="Evaluate on another pack of the same family.")
@click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True)
@click.option("--tasks", "n_tasks", type=click.IntRange(1), default=40, show_default=True)
@click.option("--steps", default="0,1,2,3", show_default=True, help="Inner steps to report.")
@click.option("--episodes", type=click.IntRange(1), default=None,
              help="Episodes per task and step [default: the checkpoint's].")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--baselines", is_flag=True, help="Add rows for random init (and --pretrained).")
@click.option("--pretrained", type=click.Path(dir_okay=False), default=None,
              help="A `--algo pretrain` checkpoint for the baseline row.")
@click.option("--threads", type=click.IntRange(1), default=1, show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None)
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None)
def eval_cmd(checkpoint: str, pack: str | None, split: str, n_tasks: int, steps: str,
             episodes: int | None, seed: int, baselines: bool, pretrained: str | None,
             threads: int, json_path: str | None, plot_path: str | None) -> None:
    """Returns after 0..K inner steps on held-out tasks, for CHECKPOINT."""
    from mamlgame import cpu  # noqa: PLC0415
    from mamlgame.checkpoint import load_agent  # noqa: PLC0415
    from mamlgame.evaluate import (  # noqa: PLC0415
        evaluate,
        format_table,
        plot_report,
        random_init_agent,
        write_json,
    )

    cpu.configure(threads)
    step_list = _int_list(steps, "--steps")
    agent = load_agent(checkpoint, pack)
    extra = {}
    if baselines or pretrained:
        extra["random init"] = random_init_agent(agent)
        if pretrained:
            extra["pretrain"] = load_agent(pretrained, pack or agent.pack.path)
    report = evaluate(agent, agent.pack, split, n_tasks, step_list, episodes, seed, extra)
    click.echo(format_table(report))
    if json_path:
        write_json(report, json_path)
        click.echo(f"json: {json_path}")
    if plot_path:
        plot_report(report, plot_path)
        click.echo(f"plot: {plot_path}")


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
    from mamlgame.compare import compare as run_compare  # noqa: PLC0415
    from mamlgame.compare import format_comparison  # noqa: PLC0415
    from mamlgame.packs import load_pack  # noqa: PLC0415

    names = [a.strip() for a in algos.split(",") if a.strip()]
    unknown = [a for a in names if a not in ALGOS]
    if unknown or not names:
        raise click.BadParameter(f"unknown algo(s) {', '.join(unknown) or '(none)'}; "
                                 f"choose from {', '.join(ALGOS)}", param_hint="--algos")
    lp = load_pack(pack)
    base = TrainConfig(pack=str(lp.path), **options)
    result = run_compare(base, names, out, eval_tasks, progress=not quiet)
    click.echo(format_comparison(result))
    click.echo(f"files: {Path(out) / 'compare.json'} {Path(out) / 'compare.md'} "
               f"{Path(out) / 'compare.png'}")


@click.command()
@click.option("--algos", default="maml,fomaml", show_default=True)
@click.option("--iterations", type=click.IntRange(1), default=5, show_default=True)
@click.option("--threads", type=click.IntRange(1), default=1, show_default=True)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None)
def bench(algos: str, iterations: int, threads: int, device: str, json_path: str | None) -> None:
    """Seconds per meta-iteration on the paper's 2D-navigation workload."""
    from mamlgame.bench import run_bench  # noqa: PLC0415
    from mamlgame.evaluate import write_json  # noqa: PLC0415

    names = [a.strip() for a in algos.split(",") if a.strip()]
    if not names or any(a not in ALGOS for a in names):
        raise click.BadParameter(f"choose from {', '.join(ALGOS)}", param_hint="--algos")
    report = run_bench(names, iterations, threads, device)
    for algo, s in report["seconds_per_iteration"].items():
        click.echo(f"{algo:<10} {s:.3f} s/iteration")
    if json_path:
        write_json(report, json_path)
        click.echo(f"json: {json_path}")


COMMANDS = [eval_cmd, compare, bench]
