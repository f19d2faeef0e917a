"""Game packs: shipped packs, reproducible and disjoint splits, reachable generated levels,
`[generate.test]` overrides, and located errors for malformed packs."""

import re

import numpy as np
import pytest
import torch

from mamlgame.errors import PackError
from mamlgame.families.game.generate import draw_level
from mamlgame.families.game.levels import check_reachable, distances_from, player_graph
from mamlgame.packs import load_pack, parse_pack

GAME_PACKS = ["arena", "chasers", "speedway", "platformer", "mixed"]


@pytest.fixture(scope="module")
def packs():
    return {name: load_pack(name) for name in GAME_PACKS}


@pytest.mark.parametrize("name", GAME_PACKS)
def test_shipped_pack_has_hand_designed_test_levels_and_disjoint_splits(packs, name):
    pack = packs[name]
    train, test = pack.pool("train"), pack.pool("test")
    assert pack.test_levels and test.ids[:len(pack.test_levels)] == pack.test_levels
    assert not set(train["digest"].tolist()) & set(test["digest"].tolist())
    assert len(set(train["digest"].tolist())) > 0.9 * len(train)  # levels differ
    for tasks in (train, test):  # no opponent starts on the player's tile
        on_start = (tasks["opp_pos"] == tasks["start"][:, None]) & tasks["opp_mask"]
        assert not on_start.any()


@pytest.mark.parametrize("name", GAME_PACKS)
def test_every_generated_level_is_reachable(packs, name):
    pack = packs[name]
    for split, gen in (("train", pack.generate), ("test", pack.generate_test)):
        pool = pack.pool(split)
        n_hand = len(pack.split_levels(split))
        for i in range(0, len(pool) - n_hand, 7):  # every 7th level: keeps the test fast
            want = pool["digest"][n_hand + i].item()
            spec, attempt = draw_level(gen, pack._seed(split), i, f"{split}-{i}")
            while spec.digest() != want and gen["winnable"]:  # redrawn: lost, and so on
                spec, attempt = draw_level(gen, pack._seed(split), i, f"{split}-{i}",
                                           first=attempt + 1)
            assert spec.digest() == want  # from (pack, split, i)
            check_reachable(spec)
            graph = player_graph(spec)
            s = spec.start[0] * graph.width + spec.start[1]
            assert graph.tile_min(np.where(distances_from(graph, s) < 0, 10**9,
                                           distances_from(graph, s)))[
                spec.goal[0] * graph.width + spec.goal[1]] < 10**9


def test_levels_are_reproducible_across_loads(packs):
    again = load_pack("mixed")
    a, b = packs["mixed"].pool("test"), again.pool("test")
    assert a.ids == b.ids
    assert all(torch.equal(a[k], b[k]) for k in a.params)


def test_goal_distance_follows_the_pack(packs):
    pack = packs["arena"]
    pool = pack.pool("train")
    n_hand = len(pack.split_levels("train"))
    start_d = pool["potential"].gather(1, pool["start"][:, None])[n_hand:, 0]
    assert ((start_d >= 2) & (start_d <= 10)).float().mean() > 0.95


def test_test_split_overrides(packs):
    pack = packs["speedway"]
    test = pack.pool("test")
    n_hand = len(pack.test_levels)
    assert test["speed"][n_hand:].min() >= 1.25 and test["speed"][n_hand:].max() <= 1.5
    assert pack.pool("train")["speed"].max() <= 1.25
    plat = packs["platformer"].pool("test")
    assert plat["jump"][len(packs["platformer"].test_levels):].min() >= 3


def test_generated_modes_and_opponents_follow_the_pack(packs):
    mixed = packs["mixed"].pool("train")
    frac = mixed["platformer"].float().mean()
    assert 0.15 < frac < 0.45
    counts = mixed["opp_mask"].sum(1)
    assert counts.min() == 0 and counts.max() == 2
    assert not packs["arena"].pool("train")["opp_mask"].any()


HEAD = '[pack]\nname = "t"\nfamily = "game"\n[split]\ntrain = 3\ntest = 2\n'
LEVEL = '[[level]]\nname = "a"\nmap = """\n#####\n#S.G#\n#####\n"""\n'


@pytest.mark.parametrize("text, marker, message", [
    (HEAD + "[generate]\nopponents = [3, 1]\n", "opponents =",
     "generate.opponents: expected a number or [lo, hi] of integers with 0 <= lo <= hi <= 8, "
     "got [3, 1]"),
    (HEAD + "[generate]\nsize = [3, 9]\n", "size =", "generate.size: expected"),
    (HEAD + '[generate]\nmode = "sideways"\n', "mode =", "generate.mode: expected"),
    (HEAD + '[generate]\nopponent_behaviour = { chase = 1, flee = 1 }\n', "behaviour =",
     "generate.opponent_behaviour: expected a table of weights"),
    (HEAD + '[generate]\nmode = "platformer"\nlayout = { maze = 1 }\n', "layout =",
     "generate.layout: mode platformer needs one of its layouts (platforms, gaps)"),
    (HEAD + '[generate]\nmode = "platformer"\nplayer_speed = [0.5, 1.5]\nlayout = "gaps"\n',
     "player_speed =", "generate.player_speed: platformer levels need speeds <= 1"),
    (HEAD + "[generate]\nteleport = 1\n", "teleport =", "generate.teleport: unknown key"),
    (HEAD + "[reward]\ngoal = \"lots\"\n", "goal =", "reward.goal: expected a number"),
    (HEAD + LEVEL.replace("S.G", "S.X"), "map =",
     "level[0].map: row 2, column 4: unknown tile 'X'"),
    (HEAD + LEVEL.replace("S.G", "SSG"), "map =", "level[0].map: expected exactly one 'S'"),
    (HEAD + LEVEL.replace("#S.G#", "#S#G#"), "map =", "level[0].map: the goal 'G' is not "
     "reachable from the start 'S'"),
    (HEAD + LEVEL.replace("#S.G#", "#S.G##"), "map =", "level[0].map: row 2 has 6 tiles, "
     "expected 5"),
    (HEAD + LEVEL.replace("S.G", "SOG") + 'opponents = [{ behaviour = "chase" }, {}]\n',
     "opponents =",
     "level[0].opponents: expected one entry per 'O' in the map (1), got 2"),
    (HEAD + LEVEL + 'opponents = [{ behaviour = "sleep" }]\n', "opponents =",
     'level[0].opponents: expected a list of tables { behaviour = "chase"'),
    (HEAD + LEVEL + 'mode = "platformer"\nplayer_speed = 1.5\n', "player_speed =",
     "level[0].player_speed: platformer levels need a player speed <= 1"),
    (HEAD + '[[level]]\nname = "a"\n', "[[level]]", "level[0].map: missing key 'map'"),
])
def test_errors_name_file_line_key_and_expected_form(text, marker, message):
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if marker in ln)
    where = f":{line}:"
    with pytest.raises(PackError) as e:
        pack = parse_pack(text, "x.toml")
        pack.pool("train")
    msg = str(e.value)
    assert msg.startswith("x.toml" + where), msg
    assert message in msg, msg


def test_observation_keys_cannot_change_in_the_test_split():
    """Refused when the pack is read (`validate` and `train` alike), not when a split is
    first built: a run trained on it could not be evaluated."""
    with pytest.raises(PackError, match=re.escape(
            "x.toml:10: generate.test.view: cannot be overridden")):
        parse_pack(HEAD + "[generate]\nview = 2\n[generate.test]\nview = 3\n", "x.toml")


def test_tiny_maps_and_crowds_still_generate():
    """A range that reaches past the map (a 5x5 map's paths are at most 8 steps): the
    farthest goal the map allows; 8 opponents and 20 hazards on 9 floor tiles."""
    pack = parse_pack(HEAD + "[generate]\nsize = 5\nopponents = 8\ngoal_distance = [8, 30]\n"
                      "layout = { open = 1, rooms = 1, maze = 1 }\nhazards = [0, 20]\n")
    pool = pack.pool("train")
    assert len(pool) == 3 and not ((pool["opp_pos"] == pool["start"][:, None])
                                   & pool["opp_mask"]).any()


@pytest.mark.parametrize("text, marker, message", [
    (HEAD + "[generate]\nsize = [9, 65]\n", "size =",
     "generate.size: expected a number or [lo, hi] of integers with 5 <= lo <= hi <= 64, "
     "got [9, 65]"),
    (HEAD + LEVEL.replace("#####\n#S.G#\n#####", "\n".join(["#S.G#"] + ["#...#"] * 128)),
     "map =", "level[0].map: expected at most 128 x 128 tiles, got 129 x 5"),
    (HEAD + LEVEL.replace("#####\n#S.G#\n#####", "#S" + "." * 126 + "G#"),
     "map =", "level[0].map: expected at most 128 x 128 tiles, got 1 x 130"),
])
def test_map_size_limits_are_located(text, marker, message):
    test_errors_name_file_line_key_and_expected_form(text, marker, message)


def test_the_largest_maps_load_and_step():
    """Generated maps up to 64 x 64 (chasers and guards included) and hand-drawn ones up to
    128 x 128: levels are prepared and stepped in about linear time and memory (the
    opponents' path distances are computed where needed)."""
    import time

    from mamlgame.families.game.engine import Game

    big = "\n".join(["#" * 128] + ["#S" + "." * 125 + "#"] + ["#" + "." * 126 + "#"] * 124
                    + ["#" + "." * 124 + "OG#", "#" * 128])
    text = (HEAD + "[generate]\nsize = 64\nopponents = [1, 3]\nhazards = [0, 40]\n"
            "opponent_behaviour = { chase = 1, guard = 1, patrol = 1 }\n"
            "layout = { open = 1, rooms = 1, maze = 1, platforms = 1, gaps = 1 }\n"
            'mode = { topdown = 1, platformer = 1 }\ngoal_distance = [10, 300]\n'
            + LEVEL.replace("#####\n#S.G#\n#####", big)
            + 'opponents = [{ behaviour = "chase", speed = 1.0 }]\n')
    start = time.perf_counter()
    pack = parse_pack(text, "big.toml")
    train, test = pack.pool("train"), pack.pool("test")
    assert time.perf_counter() - start < 20  # the dense all-pairs table took minutes
    assert tuple(train["dims"][0].tolist()) == (128, 128) and train["grid"][0, 0] == 130
    assert (test["dims"] == 64).all() and test["opp_mask"].any()
    game = Game(pack)
    for tasks in (train, test):
        g = torch.Generator().manual_seed(0)
        state = game.reset(tasks, 2, g)
        for _ in range(5):
            state, reward, _ = game.step(tasks, state, torch.randint(0, 6, (len(tasks), 2),
                                                                     generator=g))
        assert torch.isfinite(reward).all()
    assert game.paths.nbytes < 50 * 130 * 130 * 2 * len(train)  # rows, not all pairs
