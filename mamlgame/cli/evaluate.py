"""`mamlgame eval`: returns after 0..K inner steps on held-out tasks, for a checkpoint (and
how episodes end, for families that say)."""

from __future__ import annotations

import click

from mamlgame import cpu
from mamlgame.checkpoint import load_agent
from mamlgame.cli.options import PathText, output_file, step_list, write_output
from mamlgame.config import MAX_LOOKAHEAD, MAX_THREADS, SEED_MAX
from mamlgame.evaluate import evaluate, format_table, plot_report, random_init_agent, write_json

DEFAULT_TASKS = 40  # tasks `eval` takes from a split unless --tasks says otherwise


@click.command("eval")
@click.argument("checkpoint", metavar="CHECKPOINT|AGENT")
@click.option("--pack", default=None, help="Evaluate on another pack of the same family.")
@click.option("--split", type=click.Choice(["test", "valid", "train"]), default="test",
              show_default=True, help="valid: held-out levels from the training distribution.")
@click.option("--tasks", "n_tasks", type=click.IntRange(1), default=None,
              help=f"Tasks of the split [default: {DEFAULT_TASKS}, or all of a smaller split].")
@click.option("--steps", default="0,1,2,3", show_default=True, help="Inner steps to report.")
@click.option("--episodes", type=click.IntRange(1), default=None,
              help="Episodes per task and step [default: the checkpoint's].")
@click.option("--seed", type=click.IntRange(0, SEED_MAX), default=0, show_default=True)
@click.option("--baselines", is_flag=True,
              help="Add rows for random init (and --pretrained) and, for families that have "
                   "one (game), the planner that knows each level: the ceiling.")
@click.option("--pretrained", type=PathText(dir_okay=False), default=None,
              help="A `--algo pretrain` checkpoint for the baseline row.")
@click.option("--lookahead", type=click.IntRange(0, MAX_LOOKAHEAD), default=None,
              metavar="STEPS",
              help="Game agents: before each move, try every action followed by the policy's "
                   "own continuations for STEPS steps (the level's rules, the goal hidden, "
                   "random walkers redrawn), favour those that the goal belief says reach "
                   "the goal and shun those that get caught or hit a hazard, and past "
                   "opponents plan a way to the tile the belief is sure of; "
                   "0: sample the policy [default: the checkpoint's, the game recipe's 6].")
@click.option("--threads", type=click.IntRange(1, MAX_THREADS), default=1, show_default=True)
@click.option("--json", "json_path", type=PathText(dir_okay=False), default=None)
@click.option("--plot", "plot_path", type=PathText(dir_okay=False), default=None,
              help="PNG chart: per-task before/after and the adaptation curve.")
def eval_cmd(checkpoint: str, pack: str | None, split: str, n_tasks: int | None, steps: str,
             episodes: int | None, seed: int, baselines: bool, pretrained: str | None,
             lookahead: int | None, threads: int, json_path: str | None, plot_path: str | None
             ) -> None:
    """Returns after 0..K inner steps on held-out tasks, for CHECKPOINT."""
    cpu.configure(threads)
    steps_k = step_list(steps)
    if json_path:  # before the work: an output that cannot be written is a one-line error
        output_file(json_path, "--json")
    if plot_path:
        output_file(plot_path, "--plot", (".png",))
    agent = load_agent(checkpoint, pack)
    if n_tasks is None:  # the default takes a smaller split whole, without a warning
        n_tasks = min(DEFAULT_TASKS, len(agent.pack.pool(split)))
    extra = {}
    if baselines or pretrained:
        extra["random init"] = random_init_agent(agent)
        if pretrained:
            extra["pretrain"] = load_agent(pretrained, agent.pack)  # evaluated on the same pack
    report = evaluate(agent, agent.pack, split, n_tasks, steps_k, episodes, seed, extra,
                      planner=baselines, lookahead=lookahead)
    click.echo(format_table(report))
    if json_path:
        write_output(lambda p: write_json(report, p), json_path, "--json")
        click.echo(f"json: {json_path}")
    if plot_path:
        write_output(lambda p: plot_report(report, p), plot_path, "--plot")
        click.echo(f"plot: {plot_path}")


COMMANDS = [eval_cmd]
