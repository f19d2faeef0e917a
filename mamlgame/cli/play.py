"""`mamlgame play`: play a level pack, watch an agent adapt, or play against it."""

from __future__ import annotations

from pathlib import Path

import click

from mamlgame.cli.options import FiniteFloat, PathText, writable_dir
from mamlgame.config import MAX_LOOKAHEAD, SEED_MAX
from mamlgame.errors import MamlgameError
from mamlgame.viewer.levels import LEVEL_HELP


@click.command()
@click.argument("pack", required=False, default=None)
@click.option("--level", default=None, help=LEVEL_HELP)
@click.option("--split", type=click.Choice(["train", "valid", "test"]), default=None,
              help="Split to take the level from (default: where the name is, else train).")
@click.option("--agent", "checkpoint", default=None, metavar="NAME|CHECKPOINT",
              help="Agent to watch, before | after adaptation side by side: a checkpoint or "
                   "a shipped agent's name (arena, chasers, mixed, platformer, speedway).")
@click.option("--as", "role", type=click.Choice(["opponent"]), default=None,
              help="With --agent: you control an opponent, the adapted agent plays.")
@click.option("--record", type=PathText(dir_okay=False), default=None,
              help="Save the frames to FILE.mp4 (needs mamlgame[video]) or FILE.gif, or the "
                   "last frame to FILE.png.")
@click.option("--headless", is_flag=True,
              help="No window (SDL dummy driver); runs one episode unless --episodes or "
                   "--frames say otherwise.")
@click.option("--episodes", "n_episodes", type=click.IntRange(1), default=None, metavar="N",
              help="Stop after N episodes (watching: of both halves, once the agent has "
                   "adapted; the adaptation is not counted).")
@click.option("--frames", type=click.IntRange(1), default=None, metavar="N",
              help="Stop after N frames.")
@click.option("--speed", type=FiniteFloat(0.5, 240), default=None,
              help="Simulation steps per second [default: per family].")
@click.option("--seed", type=click.IntRange(0, SEED_MAX), default=0, show_default=True,
              help="Episode seed.")
@click.option("--inner-episodes", "episodes", type=click.IntRange(1), default=None,
              help="Episodes for each live inner step [default: the checkpoint's config].")
@click.option("--greedy/--sample", default=True, show_default=True,
              help="With --agent: the agent takes its most likely actions (greedy), so what "
                   "adaptation changed is what you see; --sample draws them from the policy "
                   "(G switches while watching).")
@click.option("--lookahead", type=click.IntRange(0, MAX_LOOKAHEAD), default=None,
              metavar="STEPS",
              help="With --agent: act with a lookahead this many steps deep (docs/game.md, "
                   "'Acting with a lookahead'); 0: the policy alone [default: the "
                   "checkpoint's].")
def play(pack: str | None, level: str | None, split: str | None, checkpoint: str | None,
         role: str | None, record: str | None, headless: bool, n_episodes: int | None,
         frames: int | None, speed: float | None, seed: int, episodes: int | None,
         greedy: bool, lookahead: int | None) -> None:
    """Play PACK with the keyboard (default pack: mixed), or watch an agent with --agent.

    \b
    Play:  arrows/WASD move, space jumps, R restarts, N/P next/previous level, Esc quits.
    Watch: A adapts again, + another inner step, G greedy/sampled actions, space pauses,
    . one frame, up/down speed.

    \b
    mamlgame play mixed --agent mixed                 # a shipped agent
    mamlgame play mixed --agent mixed --headless --record watch.mp4   # one episode
    """
    from mamlgame.viewer import record as rec_mod

    if role and not checkpoint:
        raise MamlgameError("--as opponent needs --agent CHECKPOINT")
    if lookahead is not None and not checkpoint:
        raise MamlgameError("--lookahead needs --agent CHECKPOINT")
    if headless and frames is None and n_episodes is None:
        n_episodes = 1
    recorder = rec_mod.Recorder(record) if record else None
    if record:  # before the session: a recording that cannot be saved is lost with it
        writable_dir(Path(record).parent, "--record", record)
    app = _make_app(pack, level, split, checkpoint, role, headless, speed, seed, episodes,
                    greedy, lookahead)
    if headless and frames is None and checkpoint is None:  # nobody plays: cap the run
        frames = app.frames_for(n_episodes)
    n = rec_mod.run_recorded(app, recorder, frames, n_episodes)
    ended = f", {app.episodes_done} episode(s) ended" if n_episodes else ""
    if recorder is not None:
        click.echo(f"recorded {recorder.count} frame(s){ended} to {recorder.path}")
    elif headless:
        click.echo(f"ran {n} frames{ended}")


def _make_app(pack, level, split, checkpoint, role, headless, speed, seed, episodes, greedy,
              lookahead=None):
    from mamlgame.packs import load_pack

    if checkpoint is None:
        from mamlgame.viewer.play import PlayApp

        return PlayApp(load_pack(pack), level, headless, speed, seed, split=split)
    from mamlgame.checkpoint import load_agent

    agent = load_agent(checkpoint, pack)
    if lookahead is not None:
        from mamlgame.checkpoint import act_with_lookahead

        act_with_lookahead(agent.family, agent.pack, lookahead)
    if episodes is not None:  # the live inner step's episodes, before allocating them
        _check_inner_episodes(agent, episodes)
    if role == "opponent":
        from mamlgame.viewer.versus import VersusApp

        return VersusApp(agent, level, headless, speed, seed, episodes=episodes, greedy=greedy,
                         split=split)
    from mamlgame.viewer.watch import WatchApp

    return WatchApp(agent, level, headless, speed, seed, episodes=episodes, greedy=greedy,
                    split=split)


def _check_inner_episodes(agent, episodes: int) -> None:
    """A one-line error for `--inner-episodes` whose rollouts cannot fit in memory."""
    import torch

    from mamlgame.memory import evaluation_bytes, gib, memory_of

    family = agent.family
    need = evaluation_bytes(agent.config, 1, episodes, 1, family.obs_dim, family.action_dim)
    have = memory_of(torch.device("cpu"))
    if have is not None and need > have:
        raise MamlgameError(f"--inner-episodes {episodes}: the live inner step's episodes "
                            f"need about {gib(need)} of memory, more than the {gib(have)} "
                            "of cpu; lower it")


COMMANDS = [play]
