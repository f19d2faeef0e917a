"""`mamlgame play`: play a level pack, watch an agent adapt, or play against it."""

from __future__ import annotations

import click

from mamlgame.cli.options import FiniteFloat
from mamlgame.config import SEED_MAX
from mamlgame.errors import MamlgameError
from mamlgame.viewer.levels import LEVEL_HELP


@click.command()
@click.argument("pack", required=False, default=None)
@click.option("--level", default=None, help=LEVEL_HELP)
@click.option("--split", type=click.Choice(["train", "valid", "test"]), default=None,
              help="Split to take the level from (default: where the name is, else train).")
@click.option("--agent", "checkpoint", type=click.Path(dir_okay=False), default=None,
              help="Checkpoint to watch: before | after adaptation, side by side.")
@click.option("--as", "role", type=click.Choice(["opponent"]), default=None,
              help="With --agent: you control an opponent, the adapted agent plays.")
@click.option("--record", type=click.Path(dir_okay=False), default=None,
              help="Save the frames to FILE.gif, or the last frame to FILE.png.")
@click.option("--headless", is_flag=True, help="No window (SDL dummy driver); needs --frames.")
@click.option("--frames", type=click.IntRange(1), default=None, help="Stop after N frames.")
@click.option("--speed", type=FiniteFloat(0.5, 240), default=None,
              help="Simulation steps per second [default: per family].")
@click.option("--seed", type=click.IntRange(0, SEED_MAX), default=0, show_default=True,
              help="Episode seed.")
@click.option("--episodes", type=click.IntRange(1), default=None,
              help="Episodes for each live inner step [default: the checkpoint's config].")
@click.option("--greedy/--sample", default=True, show_default=True,
              help="With --agent: the agent takes its most likely actions (greedy), so what "
                   "adaptation changed is what you see; --sample draws them from the policy "
                   "(G switches while watching).")
def play(pack: str | None, level: str | None, split: str | None, checkpoint: str | None,
         role: str | None, record: str | None, headless: bool, frames: int | None,
         speed: float | None, seed: int, episodes: int | None, greedy: bool) -> None:
    """Play PACK with the keyboard (default pack: mixed), or watch an agent with --agent.

    \b
    Play:  arrows/WASD move, space jumps, R restarts, N/P next/previous level, Esc quits.
    Watch: A adapts again, + another inner step, G greedy/sampled actions, space pauses,
    . one frame, up/down speed.
    """
    from mamlgame.viewer import record as rec_mod

    if headless and frames is None:
        raise MamlgameError("--headless needs --frames N (the number of frames to run)")
    if role and not checkpoint:
        raise MamlgameError("--as opponent needs --agent CHECKPOINT")
    recorder = rec_mod.Recorder(record) if record else None
    app = _make_app(pack, level, split, checkpoint, role, headless, speed, seed, episodes,
                    greedy)
    try:
        n = app.run(frames, recorder=recorder)
    finally:
        app.close()
    if recorder is not None:
        click.echo(f"recorded {len(recorder.frames)} frame(s) to {recorder.save()}")
    elif headless:
        click.echo(f"ran {n} frames")


def _make_app(pack, level, split, checkpoint, role, headless, speed, seed, episodes, greedy):
    from mamlgame.packs import load_pack

    if checkpoint is None:
        from mamlgame.viewer.play import PlayApp

        return PlayApp(load_pack(pack), level, headless, speed, seed, split=split)
    from mamlgame.checkpoint import load_agent

    agent = load_agent(checkpoint, pack)
    if role == "opponent":
        from mamlgame.viewer.versus import VersusApp

        return VersusApp(agent, level, headless, speed, seed, episodes=episodes, greedy=greedy,
                         split=split)
    from mamlgame.viewer.watch import WatchApp

    return WatchApp(agent, level, headless, speed, seed, episodes=episodes, greedy=greedy,
                    split=split)


COMMANDS = [play]
