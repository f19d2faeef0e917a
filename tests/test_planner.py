"""The planner that knows each level (`mamlgame.families.game.planner`): it wins every level
without opponents by a shortest path, its search plans play as found, random walkers are
a random process to it, and it says why a level is lost."""

import torch
from game_util import one_level

from mamlgame.families.game import planner
from mamlgame.families.game.engine import Game
from mamlgame.families.game.outcomes import end_outcomes, level_groups
from mamlgame.families.game.rules import at
from mamlgame.packs import parse_pack

SMALL = """
[pack]
name = "small"
family = "game"
horizon = 40
seed = 3
[split]
train = 8
test = 0
[generate]
mode = {{ topdown = 0.6, platformer = 0.4 }}
size = [7, 9]
layout = {{ open = 0.3, rooms = 0.2, maze = 0.2, platforms = 0.2, gaps = 0.1 }}
goal_distance = [3, 10]
player_speed = {speed}
jump_height = [2, 3]
hazards = [0, 2]
opponents = {opponents}
opponent_speed = [0.3, 0.8]
opponent_behaviour = {{ chase = 0.3, patrol = 0.3, random = 0.2, guard = 0.2 }}
"""


def small(speed: str = "1.0", opponents: str = "0"):
    pack = parse_pack(SMALL.format(speed=speed, opponents=opponents), "small.toml")
    return Game(pack), pack.pool("train")


def test_wins_every_level_without_opponents_by_a_shortest_path():
    game, tasks = small()
    plays = planner.play(game, tasks, 2, torch.Generator().manual_seed(0))
    assert plays.success.all() and all(note == "" for note in plays.notes)
    shortest = at(tasks["potential"], tasks["start"][:, None])[:, 0].long()
    assert torch.equal(plays.steps[:, 0], shortest)  # speed 1: a move a step
    assert (plays.end == 1).all() and torch.equal(plays.steps[:, 0], plays.steps[:, 1])
    game, tasks = small(speed="[0.5, 0.9]")  # fractional speeds: still every level
    assert planner.play(game, tasks, 1).success.all()


def test_deterministic_levels_play_their_plans_and_ignore_the_episode_keys():
    game, tasks = small(opponents="[1, 2]")
    calm = ~planner.keyed(tasks)
    assert calm.any() and (~calm).any()
    found, _, exhaustive, _ = planner.search(game, tasks, {
        k: v[:, :1] for k, v in game.reset(tasks, 1, None).items()})
    a = planner.play(game, tasks, 2, torch.Generator().manual_seed(1))
    b = planner.play(game, tasks, 2, torch.Generator().manual_seed(2))
    assert torch.equal(a.success[calm], b.success[calm])
    assert torch.equal(a.total_reward[calm], b.total_reward[calm])
    # a plan the search found wins; one it proved missing is a loss
    assert a.success[calm & found].all()
    assert not a.success[calm & ~found & exhaustive].any()


def test_reports_a_chaser_as_fast_as_the_player_in_a_corridor():
    game, tasks = one_level("#########\n#S..O..G#\n#########",
                            'opponents = [{ behaviour = "chase", speed = 1.0 }]')
    plays = planner.play(game, tasks, 2)
    assert not plays.success.any()
    assert "a chaser as fast as the player (1 vs 1)" in plays.notes[0]
    game, tasks = one_level("#########\n#S..O..G#\n#########",
                            'opponents = [{ behaviour = "chase", speed = 0.5 }]')
    assert not planner.play(game, tasks, 1).success.any()  # slower, but in the way
    # a patrol the player can wait out (it walks away along its own corridor)
    game, tasks = one_level("#########\n#S....G.#\n#.#####.#\n#...O...#\n#########",
                            'opponents = [{ behaviour = "patrol", speed = 1.0 }]')
    assert planner.play(game, tasks, 1).success.all()


def test_guards_and_the_horizon_in_the_notes():
    game, tasks = one_level("#######\n#S...G#\n#######",
                            'opponents = []', generate="")
    short = Game(game.pack, horizon=2)
    plays = planner.play(short, tasks, 1)
    assert not plays.success.any() and "out of reach in 2 steps" in plays.notes[0]
    game, tasks = one_level("#########\n#S....OG#\n#########",
                            'opponents = [{ behaviour = "guard", speed = 1.0 }]\n'
                            "guard_radius = 3")
    plays = planner.play(game, tasks, 1)
    assert not plays.success.any()
    assert plays.notes[0].startswith("goal unreachable without passing a guard's post")


def test_random_walkers_are_sampled_not_read():
    """Levels with random walkers play each episode; the planner never reads the episode's
    own key, so its worlds, not the walker's future, decide its moves."""
    game, tasks = one_level("#######\n#S....#\n#.....#\n#..O..#\n#....G#\n#######",
                            'opponents = [{ behaviour = "random", speed = 0.5 }]')
    assert planner.keyed(tasks).all()
    plays = planner.play(game, tasks, 6, torch.Generator().manual_seed(0))
    assert plays.success.float().mean() >= 0.5
    assert plays.end.shape == (1, 6)
    again = planner.play(game, tasks, 6, torch.Generator().manual_seed(0))
    assert torch.equal(plays.total_reward, again.total_reward)  # reproducible for a seed


def test_outcomes_cover_every_episode_and_groups_split_by_speed():
    game, tasks = small(opponents="[0, 2]")
    plays = planner.play(game, tasks, 2)
    masks = end_outcomes(tasks, plays.end)
    total = sum(m.long() for m in masks.values())
    assert (total == 1).all()
    groups = level_groups(tasks)
    assert torch.equal(groups["no_opponents"], ~groups["opponents"])
    speed = groups["player_faster"].long() + groups["player_as_fast"].long() \
        + groups["player_slower"].long()
    assert torch.equal(speed.bool(), groups["opponents"]) and speed.max() <= 1
    _, level = one_level("#######\n#S.O.G#\n#######",
                         'opponents = [{ behaviour = "chase", speed = 1.0 }]')
    assert bool(level_groups(level)["player_as_fast"][0])
