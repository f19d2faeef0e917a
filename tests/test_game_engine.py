"""The game engine, checked by hand on tiny maps: moves, speeds, gravity and jumps, opponent
behaviours, events and rewards; determinism; the batched engine equals a loop of levels."""

import pytest
import torch
from game_util import one_level, rc, run, tile

from mamlgame.families.game.engine import Game
from mamlgame.families.game.paths import FAR, PathCache, level_distances
from mamlgame.packs import load_pack

STAY, LEFT, RIGHT, UP, DOWN = 0, 1, 2, 3, 4       # topdown
JUMP, JUMP_LEFT, JUMP_RIGHT = 3, 4, 5             # platformer

ROOM = """
#######
#S....#
#.....#
#....G#
#######
"""


def positions(tasks, states):
    return [rc(tasks, s["pos"][0, 0]) for s in states]


def test_topdown_moves_and_walls():
    game, tasks = one_level(ROOM)
    states, _, _ = run(game, tasks, [RIGHT, DOWN, LEFT, LEFT, UP, UP, 5])
    assert positions(tasks, states) == [(1, 1), (1, 2), (2, 2), (2, 1), (2, 1), (1, 1), (1, 1),
                                        (1, 1)]


def test_speed_half_moves_every_other_step():
    game, tasks = one_level(ROOM, "player_speed = 0.5")
    states, _, _ = run(game, tasks, [RIGHT] * 6)
    cols = [c for _, c in positions(tasks, states)]
    assert cols == [1, 1, 2, 2, 3, 3, 4]


def test_speed_one_and_a_half_moves_one_then_two():
    game, tasks = one_level("""
##########
#S.......#
#.......G#
##########
""", "player_speed = 1.5")
    states, _, _ = run(game, tasks, [RIGHT] * 4)
    cols = [c for _, c in positions(tasks, states)]
    assert cols == [1, 2, 4, 5, 7]


def test_fast_player_reaches_a_goal_it_passes_through():
    game, tasks = one_level("#####\n#SG.#\n#####", "player_speed = 2.0")
    _, rewards, dones = run(game, tasks, [RIGHT])
    assert dones[0].item()
    assert rewards[0].item() == pytest.approx(10.0 - 0.05 + 1.0)


PLATFORM = """
#########
#.......#
#.......#
#.......#
#.S....G#
#########
"""


def test_gravity_pulls_one_tile_per_step():
    game, tasks = one_level("""
#######
#S....#
#.....#
#.....#
#....G#
#######
""", 'mode = "platformer"')
    states, _, _ = run(game, tasks, [STAY] * 5)
    assert [r for r, _ in positions(tasks, states)] == [1, 2, 3, 4, 4, 4]


@pytest.mark.parametrize("height", [1, 2, 3])
def test_jump_rises_jump_height_tiles_then_falls(height):
    game, tasks = one_level(PLATFORM, f'mode = "platformer"\njump_height = {height}')
    states, _, _ = run(game, tasks, [JUMP] + [STAY] * (2 * height + 1))
    rows = [r for r, _ in positions(tasks, states)]
    assert min(rows) == 4 - height
    assert rows[:height + 1] == list(range(4, 4 - height - 1, -1))
    assert rows[-1] == 4  # back on the ground
    # no jumping in mid-air: a second jump at the top does not go higher
    states, _, _ = run(game, tasks, [JUMP] * (2 * height + 2))
    assert min(r for r, _ in positions(tasks, states)) == 4 - height


def test_jump_stops_at_a_ceiling_and_moves_sideways_in_the_air():
    game, tasks = one_level("""
#######
#..####
#.....#
#S...G#
#######
""", 'mode = "platformer"\njump_height = 3')
    states, _, _ = run(game, tasks, [JUMP_RIGHT, RIGHT, STAY, STAY, STAY])
    # up-right, up (right is a wall), bump the ceiling (the jump ends), fall, land
    assert positions(tasks, states) == [(3, 1), (2, 2), (1, 2), (1, 2), (2, 2), (3, 2)]


def test_platformer_walks_off_a_ledge_and_falls():
    game, tasks = one_level("""
#######
#S....#
###...#
#.....#
#....G#
#######
""", 'mode = "platformer"')
    states, _, _ = run(game, tasks, [RIGHT, RIGHT, STAY, STAY])
    assert positions(tasks, states) == [(1, 1), (1, 2), (1, 3), (2, 3), (3, 3)]


def path_distance(tasks, a, b):
    return int(level_distances(tasks, 0, [int(a)])[0, int(b)])


def test_chase_shortens_the_path_distance_and_catches():
    game, tasks = one_level("""
#########
#S..#...#
#.#.#.#.#
#.#...#O#
#G......#
#########
""", 'opponents = [{ behaviour = "chase", speed = 1.0 }]')
    states, rewards, dones = run(game, tasks, [STAY] * 12)
    d = [path_distance(tasks, s["pos"][0, 0], s["opp"][0, 0, 0]) for s in states]
    end = next(i for i, x in enumerate(dones) if x.item())
    assert all(d[i + 1] == d[i] - 1 for i in range(end))
    assert states[end + 1]["outcome"][0, 0].item() == 2  # caught
    assert rewards[end].item() == pytest.approx(-10.0 - 0.05)


def test_chase_at_half_speed_moves_every_other_step():
    game, tasks = one_level("""
##########
#S.......#
#.......O#
#.......G#
##########
""", 'opponents = [{ behaviour = "chase", speed = 0.5 }]')
    states, _, _ = run(game, tasks, [STAY] * 4)
    d = [path_distance(tasks, s["pos"][0, 0], s["opp"][0, 0, 0]) for s in states]
    assert d == [8, 8, 7, 7, 6]


def test_patrol_turns_at_walls():
    game, tasks = one_level("""
#######
#S....#
###.###
#O...G#
#######
""", 'opponents = [{ behaviour = "patrol", speed = 1.0 }]')
    states, _, _ = run(game, tasks, [STAY] * 10)
    cols = [rc(tasks, s["opp"][0, 0, 0])[1] for s in states]
    assert cols == [1, 2, 3, 4, 5, 4, 3, 2, 1, 2, 3]  # the goal tile is open: it walks over it


def test_patrol_turns_at_platform_edges():
    game, tasks = one_level("""
#########
#.......#
#..O....#
#..###..#
#S.....G#
#########
""", 'mode = "platformer"\nopponents = [{ behaviour = "patrol", speed = 1.0 }]')
    states, _, _ = run(game, tasks, [STAY] * 6)
    assert [rc(tasks, s["opp"][0, 0, 0]) for s in states] == [
        (2, 3), (2, 4), (2, 5), (2, 4), (2, 3), (2, 4), (2, 5)]


def test_guard_waits_then_chases_a_near_player_and_returns():
    game, tasks = one_level("""
##########
#S.......#
#........#
#.....O.G#
##########
""", 'opponents = [{ behaviour = "guard", speed = 1.0 }]\nguard_radius = 2')
    post = tasks["opp_pos"][0, 0].item()
    states, _, _ = run(game, tasks, [STAY] * 3)
    assert all(s["opp"][0, 0, 0].item() == post for s in states)  # player far: stays
    near = dict(states[-1])
    near["pos"] = torch.tensor([[tile(tasks, 2, 5)]])            # 2 steps from the post
    s, _, _ = game.step(tasks, near, torch.tensor([[STAY]]))
    d0 = path_distance(tasks, near["pos"][0, 0], post)
    assert path_distance(tasks, s["pos"][0, 0], s["opp"][0, 0, 0]) == d0 - 1
    far = dict(s)
    far["pos"] = torch.tensor([[tile(tasks, 1, 1)]])
    s2, _, _ = game.step(tasks, far, torch.tensor([[STAY]]))
    assert s2["opp"][0, 0, 0].item() == post                      # back to its post


def test_random_opponents_are_seeded_and_stay_on_open_tiles():
    game, tasks = one_level("""
#########
#S......#
#.#.#.#.#
#...O..G#
#########
""", 'opponents = [{ behaviour = "random", speed = 1.0 }]')
    a, _, _ = run(game, tasks, [STAY] * 20, episodes=8)
    b, _, _ = run(game, tasks, [STAY] * 20, episodes=8)
    traj = torch.stack([s["opp"][0, :, 0] for s in a])
    assert torch.equal(traj, torch.stack([s["opp"][0, :, 0] for s in b]))
    assert not tasks["wall"][0][traj].any()
    assert len(set(traj[:, 0].tolist())) > 1                      # it moves
    assert not torch.equal(traj[:, 0], traj[:, 1])                # episodes differ


def test_opponent_action_override_drives_opponents():
    game, tasks = one_level(ROOM.replace("#.....#\n#....G", "#..O..#\n#....G"),
                            'opponents = [{ behaviour = "chase", speed = 1.0 }]')
    state = game.reset(tasks, 1, None)
    start = rc(tasks, state["opp"][0, 0, 0])
    s, _, _ = game.step(tasks, state, torch.tensor([[STAY]]), torch.tensor([[[4]]]))  # right
    assert rc(tasks, s["opp"][0, 0, 0]) == (start[0], start[1] + 1)
    s, _, _ = game.step(tasks, state, torch.tensor([[STAY]]), torch.tensor([[[-1]]]))  # script
    assert rc(tasks, s["opp"][0, 0, 0]) != (start[0], start[1] + 1)


def test_hazard_goal_and_rewards():
    game, tasks = one_level("#######\n#S^..G#\n#.....#\n#######")
    _, rewards, dones = run(game, tasks, [RIGHT])
    assert dones[0].item() and rewards[0].item() == pytest.approx(-5.0 - 0.05)
    states, rewards, dones = run(game, tasks, [DOWN, RIGHT, RIGHT, RIGHT, UP, RIGHT, STAY])
    # shaping: every step shortens the path distance (6, around the hazard) by one
    assert [r.item() for r in rewards[:5]] == pytest.approx([-0.05 + 1.0] * 5)
    assert not any(d.item() for d in dones[:5])
    assert rewards[5].item() == pytest.approx(10.0 - 0.05 + 1.0) and dones[5].item()
    assert states[6]["success"].item() and states[6]["outcome"].item() == 1
    assert states[7]["success"].item()  # sticky


def test_caught_when_swapping_tiles():
    game, tasks = one_level("#######\n#S.O.G#\n#######",
                            'opponents = [{ behaviour = "chase", speed = 1.0 }]')
    state = game.reset(tasks, 1, None)
    state["pos"] = torch.tensor([[tile(tasks, 1, 2)]])
    s, _, d = game.step(tasks, state, torch.tensor([[RIGHT]]), torch.tensor([[[3]]]))  # opp left
    assert rc(tasks, s["opp"][0, 0, 0]) == (1, 2) and rc(tasks, s["pos"][0, 0]) == (1, 3)
    assert d.item() and s["outcome"].item() == 2


def test_observation_hides_the_goal_unless_asked():
    a_game, a = one_level("#######\n#S...G#\n#######")
    _, b = one_level("#######\n#S..G.#\n#######")
    state = a_game.reset(a, 1, None)
    assert torch.equal(a_game.observe(a, state), a_game.observe(b, state))
    g_game, a2 = one_level("#######\n#S...G#\n#######", generate="observe_goal = true")
    _, b2 = one_level("#######\n#S..G.#\n#######", generate="observe_goal = true")
    obs = g_game.observe(a2, state)
    assert obs.shape[-1] == g_game.obs_dim == a_game.obs_dim + 25 + 2
    assert not torch.equal(obs, g_game.observe(b2, state))


def test_onehot_position_codes_the_row_and_column():
    game, tasks = one_level("#######\n#S...G#\n#.....#\n#######", generate='position = "onehot"')
    plain, _ = one_level("#######\n#S...G#\n#.....#\n#######", generate='position = "scaled"')
    assert game.obs_dim == plain.obs_dim + 2 * 24
    states, _, _ = run(game, tasks, [4, 2, 2])  # down, then right twice: map (2, 3)
    obs = game.observe(tasks, states[-1])[0, 0]
    rows, cols = obs[8:32], obs[32:56]
    assert rows.sum() == cols.sum() == 1 and int(rows.argmax()) == 2 and int(cols.argmax()) == 3
    # the rest is the plain observation
    rest = plain.observe(tasks, states[-1])[0, 0]
    assert torch.equal(torch.cat([obs[:8], obs[56:]]), rest)
    tiles, _ = one_level("#######\n#S...G#\n#.....#\n#######", generate='position = "tile"')
    obs = tiles.observe(tasks, states[-1])[0, 0]
    assert tiles.obs_dim == plain.obs_dim + 1 and tiles.tile_feature == 8
    assert round(float(obs[8]) * 1000) == 2 * 24 + 3


@pytest.fixture(scope="module")
def mixed():
    pack = load_pack("mixed")
    return Game(pack), pack.tasks("train", 24, seed=3)


def test_batched_engine_equals_a_loop_of_single_levels(mixed):
    game, tasks = mixed
    g = torch.Generator().manual_seed(0)
    state = game.reset(tasks, 3, g)
    singles = [{k: v[i:i + 1] for k, v in state.items()} for i in range(len(tasks))]
    one = [tasks.select([i]) for i in range(len(tasks))]
    for _ in range(30):
        action = torch.randint(0, 6, (len(tasks), 3), generator=g)
        obs = game.observe(tasks, state)
        state, reward, done = game.step(tasks, state, action)
        for i in range(len(tasks)):
            assert torch.equal(game.observe(one[i], singles[i]), obs[i:i + 1])
            singles[i], r, d = game.step(one[i], singles[i], action[i:i + 1])
            assert torch.equal(r, reward[i:i + 1]) and torch.equal(d, done[i:i + 1])
            for k in state:
                assert torch.equal(singles[i][k], state[k][i:i + 1]), k


def test_same_seed_same_trajectories(mixed):
    game, tasks = mixed

    def trajectory(seed):
        g = torch.Generator().manual_seed(seed)
        state = game.reset(tasks, 4, g)
        out = []
        for _ in range(40):
            state, r, _ = game.step(tasks, state, torch.randint(0, 6, (len(tasks), 4),
                                                                generator=g))
            out.append(torch.cat([state["pos"].float(), state["opp"].flatten(1).float(), r], 1))
        return torch.stack(out)

    assert torch.equal(trajectory(1), trajectory(1))
    assert not torch.equal(trajectory(1), trajectory(2))


def test_path_distances_are_symmetric_and_far_for_walls(mixed):
    _, tasks = mixed
    has = tasks["opp_mask"].any(1) & (tasks["opp_beh"] == 0).any(1)
    i = int(torch.nonzero(has)[0])
    n = tasks["wall"].shape[1]
    p = torch.from_numpy(level_distances(tasks, i, range(n))).long()
    assert torch.equal(p, p.T)
    assert (p[tasks["wall"][i]] == FAR).all() and (p[:, tasks["wall"][i]] == FAR).all()
    assert (p.diagonal()[~(tasks["wall"][i] | tasks["hazard"][i])] == 0).all()


def test_the_lazy_cache_answers_what_a_fresh_search_gives(mixed):
    """Rows are filled when first asked for, shared by batches of the same levels, and the
    same after the cache starts over (a budget of a few rows)."""
    _, tasks = mixed
    t, n = tasks["wall"].shape
    g = torch.Generator().manual_seed(0)
    target = torch.randint(0, n, (t, 3, 2), generator=g)
    tiles = torch.randint(0, n, (t, 3, 2, 5), generator=g)
    need = torch.rand(t, 3, 2, generator=g) < 0.7
    want = torch.full((t, 3, 2, 5), FAR, dtype=torch.long)
    for i in range(t):
        rows = torch.from_numpy(level_distances(tasks, i, target[i].flatten())).long()
        got = rows.gather(1, tiles[i].reshape(-1, 5)).view(3, 2, 5)
        want[i] = torch.where(need[i, ..., None], got, FAR)
    for cache in (PathCache(), PathCache(max_bytes=3 * n * 2)):
        assert torch.equal(cache.distances(tasks, target, tiles, need), want)
        assert torch.equal(cache.distances(tasks, target, tiles, need), want)  # cached
        half = tasks.select(list(range(t // 2, t)))
        assert torch.equal(cache.distances(half, target[t // 2:], tiles[t // 2:],
                                           need[t // 2:]), want[t // 2:])


def test_chase_distances_are_exact_past_255_steps():
    """A snake of corridors (a hand-drawn 5 x 128 map): the chaser 378 steps away walks to
    the player, one step closer per step (no cap on path distances)."""
    width = 128
    rows = ["S" + "." * (width - 1), "#" * (width - 1) + ".", "." * width,
            "." + "#" * (width - 1), "." * 120 + "O" + "." * 6 + "G"]
    game, tasks = one_level("\n".join(rows), 'opponents = [{ behaviour = "chase", speed = 1.0 }]')
    state = game.reset(tasks, 1, None)
    d0 = path_distance(tasks, state["pos"][0, 0], state["opp"][0, 0, 0])
    assert d0 == 127 + 2 + 127 + 2 + 120
    states, _, _ = run(game, tasks, [STAY] * 5)
    d = [path_distance(tasks, s["pos"][0, 0], s["opp"][0, 0, 0]) for s in states]
    assert d == [d0 - i for i in range(6)]


def test_a_cache_that_starts_over_changes_nothing(mixed):
    """The opponents' path rows are a derived view: an engine whose cache holds a few rows
    (and so starts over on most steps) plays exactly the same."""
    game, tasks = mixed
    small = Game(game.pack)
    small.paths = PathCache(max_bytes=4 * tasks["wall"].shape[1] * 2)

    def play(g):
        gen = torch.Generator().manual_seed(4)
        state = g.reset(tasks, 3, gen)
        out = []
        for _ in range(25):
            state, r, _ = g.step(tasks, state, torch.randint(0, 6, (len(tasks), 3),
                                                             generator=gen))
            out.append(torch.cat([state["opp"].flatten(1).float(), r], 1))
        return torch.stack(out)

    assert torch.equal(play(game), play(small))
    assert small.paths.nbytes < game.paths.nbytes


def test_invariants_under_random_play(mixed):
    game, tasks = mixed
    g = torch.Generator().manual_seed(5)
    state = game.reset(tasks, 4, g)
    blocked = tasks["wall"] | tasks["hazard"]
    mask = tasks["opp_mask"][:, None, :].expand_as(state["opp"])
    for _ in range(60):
        state, reward, done = game.step(tasks, state, torch.randint(0, 6, (len(tasks), 4),
                                                                    generator=g))
        obs = game.observe(tasks, state)
        assert not tasks["wall"].gather(1, state["pos"]).any()
        opp_blocked = blocked.gather(1, state["opp"].flatten(1)).view_as(state["opp"])
        assert not (opp_blocked & mask).any()
        assert torch.isfinite(reward).all() and obs.abs().max() <= 8.0
        assert ((state["acc"] >= 0) & (state["acc"] < 1)).all()
        assert torch.equal(state["success"], state["success"] | (state["outcome"] == 1))


def test_rollout_with_the_categorical_policy(mixed):
    from mamlgame.policy import make_policy, params_of
    from mamlgame.rollout import rollout

    game, tasks = mixed
    policy = make_policy(game)
    assert policy.discrete and policy.action_dim == 6 and policy.obs_dim == game.obs_dim
    eps = rollout(game, tasks.select(slice(0, 4)), policy, params_of(policy), 3,
                  torch.Generator().manual_seed(0))
    assert eps.obs.shape == (4, 3, game.horizon, game.obs_dim)
    assert eps.actions.dtype == torch.long and eps.success.dtype == torch.bool
