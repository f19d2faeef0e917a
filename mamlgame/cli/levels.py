"""`mamlgame levels ...`: list, show, validate, check, preview and create level packs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from PIL import Image
from tqdm import tqdm

from mamlgame import cpu
from mamlgame.cli.group import OneLineGroup
from mamlgame.cli.options import FiniteFloat, PathText, output_file, write_output
from mamlgame.config import MAX_THREADS, SEED_MAX, format_duration
from mamlgame.errors import MamlgameError, PackError
from mamlgame.evaluate import check_levels
from mamlgame.families import family_spec
from mamlgame.packs import Dist, LevelPack, load_pack, shipped_packs
from mamlgame.viewer.levels import LEVEL_HELP, LevelList


@click.group(cls=OneLineGroup)
def levels() -> None:
    """Inspect, validate and create level packs."""


@levels.command("list")
def list_packs() -> None:
    """List the shipped level packs and the folder they live in."""
    folder = None
    for name in shipped_packs():
        pack = load_pack(name)
        folder = Path(pack.path).resolve().parent
        click.echo(f"{name:<12} {pack.family:<10} {pack.description}")
    click.echo(f"shipped packs in {folder} (copy one to start your own)")


def _fmt(value: Any) -> str:
    """A parsed pack value written back in pack syntax."""
    if isinstance(value, Dist):
        if value.kind == "const":
            return f"{value.lo:g}"
        if value.kind in ("uniform", "int"):
            return f"[{value.lo:g}, {value.hi:g}]"
        if len(value.choices) == 1:
            return f'"{value.choices[0]}"'
        return "{ " + ", ".join(f"{c} = {w:g}" for c, w in
                                zip(value.choices, value.weights, strict=True)) + " }"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, str):
        return f'"{value}"'
    return f"{value:g}" if isinstance(value, float) else str(value)


@levels.command()
@click.argument("pack_spec", metavar="PACK")
def show(pack_spec: str) -> None:
    """Summarise a pack: family, splits, generate settings, training recipe and
    hand-designed levels."""
    pack = load_pack(pack_spec)
    out = [f"pack:     {pack.name} ({pack.path})", f"family:   {pack.family}",
           f"about:    {pack.description}", f"horizon:  {pack.horizon}   seed: {pack.seed}"]
    counts = {"train": pack.n_train, "valid": pack.n_valid, "test": pack.n_test}
    for split in pack.splits:
        n = counts[split]
        hand = [lv["name"] for lv in pack.split_levels(split)]
        extra = f" + {len(hand)} hand-designed ({', '.join(hand)})" if hand else ""
        out.append(f"{split + ':':<9} {n} generated{extra}")
    out.append("[generate]")
    out += [f"  {k} = {_fmt(v)}" for k, v in pack.generate.items()]
    overrides = {k: v for k, v in pack.generate_test.items() if pack.generate.get(k) != v}
    if overrides:
        out.append("[generate.test]")
        out += [f"  {k} = {_fmt(v)}" for k, v in overrides.items()]
    if pack.reward:
        out.append("[reward]")
        out += [f"  {k} = {_fmt(v)}" for k, v in pack.reward.items()]
    if pack.train:
        out.append("[train]  (the recipe `mamlgame train` uses, the family's unless the pack "
                   "gives a key; the command line overrides it)")
        out += [f"  {k} = " + (f'"{format_duration(v)}"' if k == "time_limit" else _fmt(v))
                for k, v in pack.train.items()]
    if pack.levels:
        out.append("levels:")
        describe = family_spec(pack.family).describe_level
        for level in pack.levels:
            out += describe(level, "test" if level["name"] in pack.test_levels else "train")
    click.echo("\n".join(out))


@levels.command()
@click.argument("packs", nargs=-1, required=True)
def validate(packs: tuple[str, ...]) -> None:
    """Check packs: every key, value and level; generate every split."""
    failed = 0
    for spec in packs:
        try:
            pack = load_pack(spec)
            sizes = {split: len(pack.pool(split)) for split in pack.splits}
        except PackError as e:
            click.echo(f"error: {e}", err=True)
            failed += 1
            continue
        counts = " / ".join(f"{n} {split}" for split, n in sizes.items())
        click.echo(f"ok: {pack.path} ({pack.family}, {counts} tasks)")
    if failed:
        raise click.exceptions.Exit(1)


@levels.command()
@click.argument("pack_spec", metavar="PACK")
@click.option("--split", type=click.Choice(["train", "valid", "test"]), default=None,
              help="The split to check [default: every split of the pack].")
@click.option("--episodes", type=click.IntRange(1, 1000), default=8, show_default=True,
              help="Episodes per level (levels with random walkers play each; the others "
                   "play the same every time).")
@click.option("--min-success", type=FiniteFloat(0.0, 1.0), default=0.5,
              show_default=True, help="List levels the planner wins less often than this.")
@click.option("--seed", type=click.IntRange(0, SEED_MAX), default=0, show_default=True)
@click.option("--threads", type=click.IntRange(1, MAX_THREADS), default=1, show_default=True)
@click.option("--json", "json_path", type=PathText(dir_okay=False), default=None,
              help="Write the findings and every level's success to this JSON file.")
def check(pack_spec: str, split: str | None, episodes: int, min_success: float, seed: int,
          threads: int, json_path: str | None) -> None:
    """List the levels a perfect player cannot win or wins rarely, with why.

    A planner that knows each level (its hidden goal, its opponents' rules) plays it with
    the engine's own rules; the exit status is 0 whatever it finds."""
    cpu.configure(threads)
    if json_path:
        output_file(json_path, "--json")
    pack = load_pack(pack_spec)
    splits = [split] if split else list(pack.splits)
    if split and split not in pack.splits:
        raise MamlgameError(f"{pack.path}: no {split} split (this pack has "
                            f"{', '.join(pack.splits)})")
    reports = []
    for name in splits:
        size = len(pack.pool(name))
        with tqdm(total=size, desc=f"check {pack.name}/{name}", unit="level",
                  disable=not _terminal(), leave=False) as bar:
            report = check_levels(pack, name, episodes, seed, min_success, bar.update)
        reports.append(report)
        click.echo(_check_text(report))
    if json_path:
        payload = {"pack": pack.name, "path": str(pack.path), "episodes": episodes,
                   "min_success": min_success, "seed": seed,
                   "splits": {r["split"]: r for r in reports}}
        write_output(lambda p: p.write_text(json.dumps(payload, indent=2)), json_path,
                     "--json")
        click.echo(f"json: {json_path}")


def _terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _check_text(report: dict[str, Any]) -> str:
    """`levels check` for one split: a line per finding, then the summary line."""
    n, eps = report["levels"], report["episodes"]
    lines = [f"{report['pack']} / {report['split']}: {n} levels, {eps} episodes each"]
    findings = report["findings"]
    if findings:
        width = max(len(f["level"]) for f in findings)
        for f in findings:
            lines.append(f"  {f['level']:<{width}}  {f['won']:>3}/{eps} won  "
                         f"{f['reason'] or '-'}")
    fine = n - report["unwinnable"] - report["rare"]
    steps = report["mean_steps"]
    lines.append(
        f"{report['pack']}/{report['split']}: {report['unwinnable']} of {n} levels a perfect "
        f"player cannot win, {report['rare']} it wins rarely (< {100 * report['min_success']:g}"
        f"% of episodes), {fine} fine; planner success {100 * report['success']:.1f}%"
        + (f", {steps:.1f} steps to the goal" if steps is not None else "")
        + f" ({report['seconds']:.1f} s)")
    return "\n".join(lines)


def find_level(pack: LevelPack, level: str | None, split: str | None) -> tuple[str, int]:
    """(split, index into that split's pool) of a level given by name, id or index, as
    `mamlgame play --level` reads it (`mamlgame.viewer.levels.LevelList`)."""
    levels = LevelList(pack, split)
    index = levels.resolve(level)
    return levels.split, index


@levels.command()
@click.argument("pack_spec", metavar="PACK")
@click.option("--level", "level", default=None, help=LEVEL_HELP)
@click.option("--split", type=click.Choice(["train", "valid", "test"]), default=None,
              help="Split to take the level from (default: where the name is, else train).")
@click.option("--out", "out", type=PathText(dir_okay=False), required=True,
              help="PNG file to write.")
@click.option("--tile", type=click.IntRange(4, 128), default=24,
              help="Pixels per tile (game packs; other families scale with it).")
def preview(pack_spec: str, level: str | None, split: str | None, out: str, tile: int) -> None:
    """Draw a level (or task) of a pack as it starts to a PNG file (game levels with a legend
    of their colours below)."""
    output_file(out, "--out", (".png",))
    pack = load_pack(pack_spec)
    split, index = find_level(pack, level, split)
    tasks = pack.pool(split).select([index])
    img = family_spec(pack.family).preview_image(tasks, tile)
    write_output(lambda p: Image.fromarray(img).save(p, format="PNG"), out, "--out")
    click.echo(f"{out}: {tasks.ids[0]} (index {index} of the {split} split, "
               f"{img.shape[1]}x{img.shape[0]} px)")


_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789")
STARTER = '''\
# A starter level pack for the game family. Every key has a default; delete what you
# do not need. Check it with `mamlgame levels validate {path}` and look at a level with
# `mamlgame levels preview {path} --level my-first-level --out level.png`.
[pack]
name = "{name}"                  # unique id: lowercase letters, digits and -
family = "game"
description = "My levels."
horizon = 60                     # steps per episode
seed = 1                         # makes every generated level reproducible

[split]
train = 200                      # procedurally generated training levels
valid = 0                        # held-out levels of the training distribution (--split valid)
test = 20                        # generated test levels (never equal to a training level)
test_levels = ["my-first-level"] # hand-designed levels held out for evaluation

[generate]
# a number is a constant; [lo, hi] is uniform (integers if both are integers);
# a table of weights {{ a = 0.5, b = 0.5 }} is a categorical choice.
mode = "topdown"                 # topdown | platformer (or weights to mix them)
size = [9, 12]                   # [lo, hi]: height and width each drawn from 9..12 tiles,
                                 # outer walls included, 5..64 (a number: square maps of
                                 # that size; hand-designed maps below may be up to 128)
layout = {{ open = 0.5, rooms = 0.3, maze = 0.2 }}   # platformer: platforms, gaps
goal_distance = [3, 10]          # path distance (steps) from start to goal
player_speed = [0.75, 1.0]       # tiles per step (fractions accumulate; platformer <= 1)
jump_height = 3                  # platformer: tiles a jump rises
opponents = [0, 2]               # how many
opponent_speed = [0.25, 0.75]
opponent_behaviour = {{ chase = 0.5, patrol = 0.3, random = 0.2 }}   # weights over:
{behaviours}
guard_radius = 3                 # guards chase a player this near their post
hazards = 0                      # extra hazard tiles
winnable = true                  # redraw a level no player can win (a fast chaser or a
                                 # guard on the only way): the planner checks each one
observe_goal = false             # the goal is hidden unless this is true
view = 2                         # radius of the tile patch the agent sees
observe_opponents = 2            # nearest opponents in the observation

[generate.test]                  # overrides for the test split (out-of-distribution tests)
player_speed = [1.0, 1.25]

[reward]
goal = 10.0
caught = -10.0
hazard = -5.0
step = -0.05
shaping = 0.5                    # shaping * (d_prev - d_now), d = path distance to the goal

# Optional: the recipe `mamlgame train` uses for this pack. Game packs start from the game
# family's measured recipe (cavia adapting a goal belief, 400 iterations; `mamlgame levels
# show` prints it); keys here replace it key by key, and the command line overrides both.
# Any `mamlgame train` option may appear (with _ for -; not device, threads or checkpointing).
# [train]
# time_limit = "20m"             # stop after 20 minutes (90s, 1.5h or seconds also work)
# iterations = 2000              # with time_limit: at most this many
# hidden = [100, 100]            # policy hidden layer sizes
# inner_lr = 1000                # the inner step size (the goal belief takes large steps)
# learn_inner_lr = true          # meta-learn a factor on it (false: the step stays 1000)

# Hand-designed levels. Legend: # wall, . floor, S start, G goal, O opponent, ^ hazard.
[[level]]
name = "my-first-level"
map = """
#########
#S....G.#
#.#####.#
#...O...#
#########
"""
opponents = [{{ behaviour = "patrol", speed = 1.0 }}]   # one entry per O, in reading order
'''


def behaviour_lines() -> str:
    """The starter's list of opponent behaviours, one comment line each (from the game's
    behaviour table)."""
    from mamlgame.families.game.opponents import TABLE

    return "\n".join(f"#   {b.name}: {b.doc}" for b in TABLE.values())


@levels.command()
@click.argument("path", type=PathText(dir_okay=False))
def new(path: str) -> None:
    """Write a commented starter game pack to PATH (never overwrites)."""
    p = Path(path)
    if p.exists():
        raise MamlgameError(f"{p}: already exists (not overwriting; choose another name)")
    name = "".join(c if c in _NAME_CHARS else "-" for c in p.stem.lower()).strip("-") or "my-pack"
    try:
        p.write_text(STARTER.format(name=name, path=p, behaviours=behaviour_lines()),
                     encoding="utf-8")
    except OSError as e:
        raise MamlgameError(f"{p}: cannot write: {e}") from None
    click.echo(f"wrote {p}; next: mamlgame levels validate {p}")


COMMANDS = [levels]
