"""The opponent behaviour table: a behaviour registered at runtime is one entry, and every
part of the game reads it (pack keys, generator spawns, engine moves, what opponents
observe, drawing, caption, the Gymnasium and PettingZoo checkers); the shipped four keep
their codes."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from game_util import one_level, rc, run
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test

from mamlgame.envs import ENV_ID, GameParallelEnv
from mamlgame.errors import PackError
from mamlgame.families.game import opponents
from mamlgame.families.game.draw import OPPONENT, draw_game, draw_game_decorated, tile_center
from mamlgame.families.game.engine import Game
from mamlgame.families.game.levels import BEHAVIOURS
from mamlgame.families.game.opponents import TABLE, Behaviour, Move, near_goal
from mamlgame.families.game.paths import level_distances
from mamlgame.families.game.scene import game_caption
from mamlgame.packs import parse_pack

STILL = (90, 200, 255)
COWARD = (250, 230, 60)


def still(ctx: opponents.Context) -> Move:
    """Never moves."""
    return Move(torch.zeros_like(ctx.opp))


def coward(ctx: opponents.Context) -> Move:
    """The open move that most lengthens the path distance to the player (ties: first)."""
    dist = ctx.distances(ctx.player, ctx.cand)
    return Move(torch.where(ctx.free, dist, -1).argmax(-1))


@pytest.fixture
def toys():
    """Two behaviours added for the test and removed after it, whatever happens."""
    added = [opponents.register(Behaviour("still", "never moves", still, STILL,
                                          spawn=near_goal(1))),
             opponents.register(Behaviour("coward", "runs away from the player", coward,
                                          COWARD, needs_paths=True))]
    try:
        yield added
    finally:
        for b in added:
            opponents.unregister(b.name)


PACK = """
[pack]
name = "toys"
family = "game"
horizon = 30
seed = 3
[split]
train = 6
test = 2
test_levels = ["hall"]
[generate]
size = [8, 10]
opponents = [1, 3]
opponent_behaviour = { still = 1, coward = 1, chase = 1 }
goal_distance = [3, 8]
[[level]]
name = "hall"
map = \"\"\"
#########
#S.....O#
#.......#
#O.....G#
#########
\"\"\"
opponents = [{ behaviour = "coward", speed = 1.0 }, { behaviour = "still", speed = 1.0 }]
"""


def test_the_shipped_behaviours_keep_their_codes_and_fields():
    assert tuple(BEHAVIOURS) == ("chase", "patrol", "random", "guard")
    assert [b.needs_paths for b in TABLE.values()] == [True, False, False, True]
    assert all(b.sprite_name == b.name for b in TABLE.values())
    game, _ = one_level("#####\n#S.G#\n#####")
    assert game.opponent_obs_dim == 5 + 4 + 25


def test_a_registered_behaviour_is_one_entry_everywhere(toys):
    assert tuple(BEHAVIOURS)[-2:] == ("still", "coward") and "still" in BEHAVIOURS
    pack = parse_pack(PACK, "toys.toml")
    train = pack.pool("train")
    codes = {b: i for i, b in enumerate(BEHAVIOURS)}
    used = set(train["opp_beh"][train["opp_mask"]].tolist())
    assert {codes["still"], codes["coward"]} <= used

    # the generator's spawn rule: still opponents next to the goal (where there is room)
    w = int(train["grid"][0, 1])
    near = [abs(int(p) // w - int(g) // w) + abs(int(p) % w - int(g) % w) <= 1
            for b, p, m, g in zip(train["opp_beh"].flatten(), train["opp_pos"].flatten(),
                                  train["opp_mask"].flatten(),
                                  train["goal"].repeat_interleave(train["opp_pos"].shape[1]),
                                  strict=True) if m and int(b) == codes["still"]]
    assert near and all(near)

    # the engine: still never moves, the coward never lets the (staying) player come nearer
    game, tasks = Game(pack), pack.pool("test").select([0])
    states, _, _ = run(game, tasks, [0] * 8)
    assert all(int(s["opp"][0, 0, 1]) == int(tasks["opp_pos"][0, 1]) for s in states)
    player = int(states[0]["pos"][0, 0])
    d = [int(level_distances(tasks, 0, [player])[0, int(s["opp"][0, 0, 0])]) for s in states]
    assert d[1] > d[0] and all(b >= a for a, b in zip(d, d[1:], strict=False))

    # what opponents observe: one code per behaviour of the table
    assert game.opponent_obs_dim == 5 + 6 + 25
    view = game.observe_opponents_view(tasks, states[-1])[0, 0]
    assert view[1, 5 + codes["still"]] == 1 and view[1, 5:11].sum() == 1
    assert view[0, 5 + codes["coward"]] == 1

    # drawing and caption
    img = draw_game(tasks, None, tile=10)
    assert tuple(img[tile_center(3, 1, 10)]) == STILL == OPPONENT["still"]
    assert tuple(img[tile_center(1, 7, 10)]) == COWARD
    fancy = draw_game_decorated(tasks, None, tile=20)  # no sprite file: a disc of its colour
    assert tuple(fancy[tile_center(3, 1, 20)]) == STILL
    assert "coward 1" in game_caption(tasks) and "still 1" in game_caption(tasks)


def test_a_registered_behaviour_passes_the_ecosystem_checkers(toys):
    pack = parse_pack(PACK, "toys.toml")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env = gym.make(ENV_ID, pack=pack, render_mode="rgb_array")
        check_env(env.unwrapped)
        env.close()
    penv = GameParallelEnv(pack)
    assert penv.observation_space("opponent_0").shape == (5 + 6 + 25,)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "No agents present but not all possible_agents")
        warnings.filterwarnings("ignore", "Agents have different observation space sizes")
        warnings.filterwarnings("ignore", "Observations are different shapes")
        parallel_api_test(penv, num_cycles=60)
    obs, _ = GameParallelEnv(pack, level="hall", split="test").reset(seed=0)
    assert obs["opponent_1"].shape == (5 + 6 + 25,) and np.isfinite(obs["opponent_1"]).all()


def test_a_removed_behaviour_is_no_longer_a_pack_key(toys):
    opponents.unregister("coward")
    try:
        with pytest.raises(PackError, match=r"toys.toml:14: generate.opponent_behaviour: "
                           r"expected a table of weights \{ chase = w, patrol = w, random = w, "
                           r"guard = w, still = w \}"):
            parse_pack(PACK, "toys.toml")
        with pytest.raises(PackError, match=r'toys.toml:\d+: level\[0\].opponents: expected a '
                           r'list of tables \{ behaviour = "chase" \| "patrol" \| "random" \| '
                           r'"guard" \| "still", '):
            parse_pack(PACK.replace("coward = 1, ", ""), "toys.toml")
    finally:
        opponents.register(toys[1])
    with pytest.raises(ValueError, match="already registered"):
        opponents.register(toys[1])


def test_a_behaviour_reading_paths_must_say_so(toys):
    opponents.unregister("coward")
    opponents.register(Behaviour("coward", "runs away", coward, COWARD))  # needs_paths unset
    try:
        game, tasks = one_level("#######\n#S..O.#\n#....G#\n#######",
                                'opponents = [{ behaviour = "coward", speed = 1.0 }]')
        with pytest.raises(RuntimeError, match="needs_paths=True"):
            run(game, tasks, [0])
    finally:
        opponents.unregister("coward")
        opponents.register(toys[1])
    game, tasks = one_level("#######\n#S..O.#\n#....G#\n#######",
                            'opponents = [{ behaviour = "coward", speed = 1.0 }]')
    states, _, _ = run(game, tasks, [0, 0, 0])
    # from (1, 4): down and right both lead 4 steps from the player (1, 1): the first wins;
    # in the far corner every move leads nearer: it stays
    assert [rc(tasks, s["opp"][0, 0, 0]) for s in states] == [(1, 4), (2, 4), (2, 5), (2, 5)]
