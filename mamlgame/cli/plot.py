"""`mamlgame plot`: training curves of one or more runs from their `metrics.jsonl`."""

from __future__ import annotations

import math

import click

from mamlgame.cli.options import PathText, output_file, write_output
from mamlgame.plot import plot_runs, read_run, run_names


def _last(values) -> str:
    finite = [v for v in values if math.isfinite(v)]
    return f"{finite[-1]:+.2f}" if finite else "n/a"


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, metavar="RUN_DIR...")
@click.option("--out", type=PathText(dir_okay=False), default="training.png",
              show_default=True, help="PNG file to write.")
@click.option("--smooth", "window", type=click.IntRange(1, 100_000), default=1,
              show_default=True, help="Draw trailing means over this many iterations.")
def plot(run_dirs: tuple[str, ...], out: str, window: int) -> None:
    """Training curves of each RUN_DIR (a `train --out` folder): return and success rate
    before and after adaptation against meta-iteration and wall time, all runs on one chart
    (the legend names each run by its folder)."""
    output_file(out, "--out", (".png",))  # before reading: a one-line error, not a traceback
    runs = [read_run(d, name) for d, name in zip(run_dirs, run_names(list(run_dirs)),
                                                  strict=True)]
    write_output(lambda p: plot_runs(runs, p, window), out, "--out")
    for r in runs:
        click.echo(f"{r.name}: {len(r.iteration)} iterations in {r.wall[-1]:.1f} s, last "
                   f"return before {_last(r.values['return_before'])} after "
                   f"{_last(r.values['return_after'])}")
    click.echo(f"plot: {out}")


COMMANDS = [plot]
