"""`mamlgame bench`: seconds per meta-iteration on the paper's 2D-navigation workload."""

from __future__ import annotations

import click

from mamlgame import cpu
from mamlgame.bench import run_bench
from mamlgame.cli.options import algo_list, output_file, write_output
from mamlgame.evaluate import write_json


@click.command()
@click.option("--algos", default="maml,fomaml", show_default=True)
@click.option("--iterations", type=click.IntRange(1), default=5, show_default=True)
@click.option("--threads", type=click.IntRange(1), default=1, show_default=True)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None)
def bench(algos: str, iterations: int, threads: int, device: str, json_path: str | None) -> None:
    """Seconds per meta-iteration on the paper's 2D-navigation workload."""
    names = algo_list(algos)
    if json_path:
        output_file(json_path, "--json")
    cpu.configure(threads)
    report = run_bench(names, iterations, device)
    for algo, s in report["seconds_per_iteration"].items():
        click.echo(f"{algo:<10} {s:.3f} s/iteration")
    if json_path:
        write_output(lambda p: write_json(report, p), json_path, "--json")
        click.echo(f"json: {json_path}")


COMMANDS = [bench]
