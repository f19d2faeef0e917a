"""The natively batched Gymnasium `VectorEnv` (`GameVectorEnv`) against one `GameEnv` per
sub-environment: the same observations, rewards, flags and infos, autoresets included, in
every autoreset mode; Gymnasium's own data checks; the engine key it seeds."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import data_equivalence
from gymnasium.utils.passive_env_checker import data_shares_objects
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from mamlgame.envs import ENV_ID, GameEnv, GameVectorEnv
from mamlgame.envs.batch import _level_scales, episode_key
from mamlgame.families.game.engine import Game
from mamlgame.packs import load_pack

GAME_PACKS = ["arena", "chasers", "speedway", "platformer", "mixed"]


@pytest.fixture(scope="module")
def packs():
    return {name: load_pack(name) for name in GAME_PACKS}


def _same_as_sync(vec, sync, steps, seed=3, reset_ended=False):
    """Reset both with `seed`, step both with the same random actions, compare everything."""
    assert data_equivalence(vec.reset(seed=seed), sync.reset(seed=seed), exact=True)
    rng = np.random.default_rng(seed)
    levels = set()
    for t in range(steps):
        actions = rng.integers(0, 6, vec.num_envs)
        got, want = vec.step(actions), sync.step(actions)
        assert data_equivalence(got, want, exact=True), f"step {t}: {got} != {want}"
        levels.update(got[4]["level"].tolist())
        ended = got[2] | got[3]
        if reset_ended and ended.any():
            opts = {"reset_mask": ended}
            assert data_equivalence(vec.reset(options=dict(opts)), sync.reset(options=opts),
                                    exact=True)
    return levels


@pytest.mark.parametrize("name", GAME_PACKS)
@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_vector_env_gives_what_sync_vector_env_over_game_envs_gives(packs, name, mode):
    pack = packs[name]
    vec = gym.make_vec(ENV_ID, num_envs=5, pack=pack, horizon=9, autoreset_mode=mode)
    assert isinstance(vec, GameVectorEnv) and vec.metadata["autoreset_mode"] == mode
    sync = SyncVectorEnv([lambda: GameEnv(pack, horizon=9) for _ in range(5)],
                        autoreset_mode=mode)
    levels = _same_as_sync(vec, sync, 60)
    assert len(levels) > 5  # every reset drew a level of its own


def test_disabled_autoreset_resets_what_the_mask_says(packs):
    pack = packs["mixed"]
    vec = GameVectorEnv(4, pack, horizon=7, autoreset_mode="Disabled")
    sync = SyncVectorEnv([lambda: GameEnv(pack, horizon=7) for _ in range(4)],
                         autoreset_mode=AutoresetMode.DISABLED)
    _same_as_sync(vec, sync, 40, reset_ended=True)
    vec.reset(seed=0)
    ended = np.zeros(4, bool)
    while not ended.any():  # by the horizon at the latest
        _, _, term, trunc, _ = vec.step(np.zeros(4, np.int64))
        ended = term | trunc
    with pytest.raises(RuntimeError, match="reset them"):
        vec.step(np.zeros(4, np.int64))
    with pytest.raises(ValueError, match="reset_mask"):
        vec.reset(options={"reset_mask": np.zeros(4, bool)})


def test_each_sub_env_is_a_single_env_with_its_seed_across_autoresets(packs):
    """The key property, by hand: sub-environment i is `GameEnv` reset with seed + i and
    stepped with column i of the actions; after an episode ends, the next step resets it
    (reward 0) and then the episode goes on with the env's own generator."""
    pack, n, seed = packs["mixed"], 6, 11
    vec = gym.make_vec(ENV_ID, num_envs=n, pack=pack, horizon=8)
    singles = [GameEnv(pack, horizon=8) for _ in range(n)]
    obs, info = vec.reset(seed=seed)
    for i, env in enumerate(singles):
        o, inf = env.reset(seed=seed + i)
        assert np.array_equal(obs[i], o) and info["level"][i] == inf["level"]
    ended = [False] * n
    rng = np.random.default_rng(0)
    episodes = 0
    for _ in range(50):
        actions = rng.integers(0, 6, n)
        obs, reward, term, trunc, info = vec.step(actions)
        for i, env in enumerate(singles):
            if ended[i]:
                o, inf = env.reset()
                r, te, tr = 0.0, False, False
                episodes += 1
            else:
                o, r, te, tr, inf = env.step(int(actions[i]))
            assert np.array_equal(obs[i], o) and obs[i].dtype == o.dtype
            assert (reward[i], term[i], trunc[i]) == (r, te, tr)
            assert (info["level"][i], info["outcome"][i], info["success"][i]) == (
                inf["level"], inf["outcome"], inf["success"])
            ended[i] = te or tr
    assert episodes >= n  # every sub-environment went through autoresets


def test_levels_whose_movement_state_scales_differ_observe_as_alone(tmp_path):
    """The engine divides the movement state by the batch's `state_scale`; a lone level may
    have a smaller one, and the vector env observes each level as its `GameEnv` does."""
    path = tmp_path / "scales.toml"
    path.write_text(_pack_of_two_scales())
    pack = load_pack(path)
    assert _level_scales(pack.pool("train"), True) is not None
    vec = GameVectorEnv(5, pack, horizon=6)
    sync = SyncVectorEnv([lambda: GameEnv(pack, horizon=6) for _ in range(5)])
    _same_as_sync(vec, sync, 30, seed=1)


def test_fixed_and_chosen_levels(packs):
    vec = gym.make_vec(ENV_ID, num_envs=3, pack=packs["chasers"], split="test",
                       level="corridor")
    _, info = vec.reset(seed=0)
    assert set(info["level"]) == {"corridor"}
    for _ in range(30):
        _, _, _, _, info = vec.step(np.full(3, 2))
        assert set(info["level"]) == {"corridor"}
    mixed = GameVectorEnv(3, packs["mixed"], split="test")
    _, info = mixed.reset(seed=0, options={"level": "corridor"})
    assert set(info["level"]) == {"corridor"}


def test_spaces_shapes_dtypes_and_fresh_data(packs):
    vec = gym.make_vec(ENV_ID, num_envs=4, pack=packs["arena"])
    assert vec.single_action_space == gym.spaces.Discrete(6)
    assert vec.action_space == gym.spaces.MultiDiscrete([6] * 4)
    assert vec.observation_space.shape == (4, *vec.single_observation_space.shape)
    vec.action_space.seed(0)
    calls = [vec.reset(seed=0)]
    for _ in range(3):
        obs, reward, term, trunc, info = vec.step(vec.action_space.sample())
        assert vec.observation_space.contains(obs)
        assert reward.dtype == np.float64 and reward.shape == (4,)
        assert term.dtype == trunc.dtype == np.bool_ and term.shape == trunc.shape == (4,)
        calls.append((obs, info))
    calls.append(vec.reset(seed=0))
    for a in range(len(calls)):
        for b in range(a + 1, len(calls)):
            assert not data_shares_objects(calls[a], calls[b])


def test_bad_actions_and_order_are_errors(packs):
    vec = GameVectorEnv(2, packs["arena"])
    with pytest.raises(RuntimeError, match="reset"):
        vec.step(np.zeros(2, np.int64))
    vec.reset(seed=0)
    for bad in (np.zeros(3, np.int64), np.zeros(2), np.array([0, 6])):
        with pytest.raises(ValueError, match="actions"):
            vec.step(bad)
    with pytest.raises(ValueError, match="render_mode"):
        GameVectorEnv(2, packs["arena"], render_mode="human")


def test_rgb_array_frames_are_the_single_envs_frames(packs):
    pack = packs["mixed"]
    vec = GameVectorEnv(3, pack, render_mode="rgb_array", tile=6)
    assert vec.render() is None
    vec.reset(seed=4)
    frames = vec.render()
    for i, frame in enumerate(frames):
        env = GameEnv(pack, render_mode="rgb_array", tile=6)
        env.reset(seed=4 + i)
        assert np.array_equal(frame, env.render())


@pytest.mark.parametrize("name", ["mixed", "chasers"])
def test_levels_selected_from_a_pool_step_as_a_fresh_batch(packs, name):
    """`Game.select` indexes the engine's per-level constants from the pool's; a batch drawn
    so steps and observes exactly as the same levels in a fresh `Game`."""
    pack, g = packs[name], torch.Generator().manual_seed(0)
    pool, drawn, fresh = pack.pool("train"), Game(pack), Game(pack)
    for trial in range(4):
        index = torch.randint(0, len(pool), (1 + 3 * trial,), generator=g)
        tasks = drawn.select(pool, index)
        alone = pool.select(index)
        assert tasks.ids == alone.ids
        a = drawn.reset(tasks, 2, torch.Generator().manual_seed(trial))
        b = fresh.reset(alone, 2, torch.Generator().manual_seed(trial))
        for _ in range(20):
            action = torch.randint(0, 6, (len(index), 2), generator=g)
            a, ra, da = drawn.step(tasks, a, action)
            b, rb, db = fresh.step(alone, b, action)
            assert torch.equal(ra, rb) and torch.equal(da, db)
            assert all(torch.equal(a[k], b[k]) for k in a)
            assert torch.equal(drawn.observe(tasks, a), fresh.observe(alone, b))
            assert torch.equal(drawn.observe_opponents_view(tasks, a),
                               fresh.observe_opponents_view(alone, b))


def test_the_engines_level_constants_follow_new_or_changed_levels(packs):
    """What the engine derives from a batch of levels is reused only for the very same,
    unchanged tensors: a changed wall shows in the next observation."""
    pack = packs["mixed"]
    game, tasks = Game(pack), pack.tasks("train", 3, seed=1)
    state = game.reset(tasks, 2, torch.Generator().manual_seed(0))
    before = game.observe(tasks, state)
    tasks["wall"][:] = True  # in place
    walled = game.observe(tasks, state)
    assert not torch.equal(before, walled)
    assert torch.equal(walled, Game(pack).observe(tasks, state))


def test_episode_key_is_the_key_game_reset_draws(packs):
    game, tasks = Game(packs["arena"]), packs["arena"].tasks("train", 1)
    for seed in (0, 7, 2**31 - 2):
        state = game.reset(tasks, 1, torch.Generator().manual_seed(seed))
        assert episode_key(seed) == int(state["rng"][0, 0])


def _pack_of_two_scales() -> str:
    """Hand levels of 44 x 44 tiles: a topdown one (movement states / 1000) and a platformer
    one with jump height 3 (4 x 46 x 46 states: / 10000), and small generated ones."""
    def box() -> str:
        rows = [list("#" * 44)] + [list("#" + "." * 42 + "#") for _ in range(42)]
        rows += [list("#" * 44)]
        rows[42][1], rows[42][41], rows[41][22] = "S", "G", "O"
        return "\n".join("".join(r) for r in rows)
    levels = ""
    for name, extra, behaviour in [("plain", "", "chase"),
                                   ("platform", 'mode = "platformer"\njump_height = 3\n',
                                    "patrol")]:
        levels += (f'[[level]]\nname = "{name}"\n{extra}map = """\n{box()}\n"""\n'
                   f'opponents = [{{ behaviour = "{behaviour}", speed = 0.5 }}]\n')
    return ('[pack]\nname = "two-scales"\nfamily = "game"\nhorizon = 30\nseed = 5\n'
            '[split]\ntrain = 3\ntest = 0\ntest_levels = []\n'
            '[generate]\nsize = [8, 9]\nopponents = [0, 1]\n' + levels)
