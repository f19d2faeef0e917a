"""`mamlgame bench`: seconds per meta-iteration on the paper's 2D-navigation workload, or on
any pack with the settings `mamlgame train PACK` uses."""

from __future__ import annotations

import click

from mamlgame import cpu
from mamlgame.bench import PAPER_PACK, RECIPE, run_bench
from mamlgame.cli.options import PathText, algo_list, comma_items, output_file, write_output
from mamlgame.config import ALGOS, MAX_ITERATIONS, MAX_THREADS
from mamlgame.evaluate import write_json
from mamlgame.packs import load_pack


@click.command()
@click.option("--pack", default=PAPER_PACK, show_default=True,
              help="a shipped pack's name or a pack file: time `mamlgame train PACK`'s settings")
@click.option("--algos", default=None,
              help="comma-separated algos, or 'recipe' (the pack's own); default: maml,fomaml "
                   "on navigation, recipe on other packs")
@click.option("--iterations", type=click.IntRange(1, MAX_ITERATIONS), default=5, show_default=True)
@click.option("--warmup", type=click.IntRange(0, MAX_ITERATIONS), default=2, show_default=True,
              help="iterations run before timing (0: time a fresh run's first ones)")
@click.option("--threads", type=click.IntRange(1, MAX_THREADS), default=1, show_default=True)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--json", "json_path", type=PathText(dir_okay=False), default=None)
def bench(pack: str, algos: str | None, iterations: int, warmup: int, threads: int,
          device: str, json_path: str | None) -> None:
    """Seconds per meta-iteration (median) on the paper's 2D-navigation workload, or on PACK."""
    if algos is None:
        algos = "maml,fomaml" if pack == PAPER_PACK else RECIPE
    names = comma_items(algos, "--algos", "maml,fomaml")
    if RECIPE in names:
        algo_list(",".join(a for a in names if a != RECIPE) or ALGOS[0])  # checks the others
    else:
        names = algo_list(algos)
    load_pack(pack)  # a missing or malformed pack: one error line before the work
    if json_path:
        output_file(json_path, "--json")
    cpu.configure(threads)
    report = run_bench(names, iterations, device, pack, warmup)
    for algo, s in report["seconds_per_iteration"].items():
        click.echo(f"{algo:<16} {s:.3f} s/iteration")
    if json_path:
        write_output(lambda p: write_json(report, p), json_path, "--json")
        click.echo(f"json: {json_path}")


COMMANDS = [bench]
