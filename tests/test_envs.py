"""The Gymnasium and PettingZoo adapters, with the ecosystems' own checkers over every shipped
game pack, project-owned multi-step seed tests, and agreement with the batched engine."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import api_test, parallel_api_test
from pettingzoo.utils.conversions import parallel_to_aec

from mamlgame.envs import ENV_ID, GameEnv, GameParallelEnv
from mamlgame.envs.parallel_env import PLAYER as PLAYER_0
from mamlgame.envs.parallel_env import opponent_agent
from mamlgame.errors import PackError
from mamlgame.families.game.draw import PLAYER, tile_center
from mamlgame.families.game.opponents import BEHAVIOURS
from mamlgame.packs import load_pack

GAME_PACKS = ["arena", "chasers", "speedway", "platformer", "mixed"]


@pytest.fixture(scope="module")
def packs():
    return {name: load_pack(name) for name in GAME_PACKS}


@pytest.mark.parametrize("name", GAME_PACKS)
@pytest.mark.parametrize("render_mode", [None, "rgb_array"])
def test_check_env_without_warnings(packs, name, render_mode):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env = gym.make(ENV_ID, pack=packs[name], render_mode=render_mode)
        check_env(env.unwrapped)
        env.close()


# levels with fewer opponents than the split's most have fewer agents than possible_agents;
# the player and the opponents observe different things
@pytest.mark.filterwarnings("ignore:No agents present but not all possible_agents")
@pytest.mark.filterwarnings("ignore:Agents have different observation space sizes")
@pytest.mark.filterwarnings("ignore:Observations are different shapes")
@pytest.mark.parametrize("name", GAME_PACKS)
def test_pettingzoo_parallel_and_aec_api(packs, name):
    parallel_api_test(GameParallelEnv(packs[name], render_mode="rgb_array"), num_cycles=120)
    api_test(parallel_to_aec(GameParallelEnv(packs[name])), num_cycles=120)


def test_parallel_state_is_the_player_then_every_opponent(packs):
    env = GameParallelEnv(packs["chasers"], level="corridor", split="test")
    with pytest.raises(RuntimeError, match="reset"):
        env.state()
    obs, _ = env.reset(seed=0)
    n_opp = len(env.possible_agents) - 1
    assert env.state_space.shape == (env.game.obs_dim + n_opp * env.game.opponent_obs_dim,)
    # an opponent's features, one code per behaviour of the table, its wall patch
    assert env.observation_space(opponent_agent(0)).shape == (
        5 + len(BEHAVIOURS) + (2 * env.game.view + 1) ** 2,)
    for _ in range(3):
        state = env.state()
        assert env.state_space.contains(state)
        parts = [obs[PLAYER_0]] + [obs.get(opponent_agent(j), np.zeros(
            env.game.opponent_obs_dim, np.float32)) for j in range(n_opp)]
        assert np.array_equal(state, np.concatenate(parts))
        obs, *_ = env.step({PLAYER_0: 2})


def _gym_rollout(env, seed, steps=150):
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed)
    out = [(obs, 0.0, info["level"])]
    for _ in range(steps):
        obs, r, term, trunc, info = env.step(int(rng.integers(6)))
        out.append((obs, r, info["level"]))
        if term or trunc:
            obs, info = env.reset()
            out.append((obs, 0.0, info["level"]))
    return out


def _same(a, b):
    return len(a) == len(b) and all(
        np.array_equal(x[0], y[0]) and x[1:] == y[1:] for x, y in zip(a, b, strict=True))


def test_gym_multi_step_seeding(packs):
    a = _gym_rollout(GameEnv(packs["mixed"]), 7)
    b = _gym_rollout(GameEnv(packs["mixed"]), 7)
    c = _gym_rollout(GameEnv(packs["mixed"]), 8)
    assert _same(a, b)
    assert not _same(a, c)
    assert len({x[2] for x in a}) > 1  # episodes after the first draw other levels


def _parallel_rollout(env, seed, steps=150):
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for _ in range(steps):
        if not env.agents:
            obs, _ = env.reset()
            out.append(obs)
            continue
        actions = {a: int(rng.integers(env.action_space(a).n)) for a in env.agents}
        obs, rewards, _, _, _ = env.step(actions)
        out.append({**obs, **{f"r/{k}": np.array(v) for k, v in rewards.items()}})
    return out


def test_parallel_multi_step_seeding(packs):
    def same(a, b):
        return len(a) == len(b) and all(
            x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x)
            for x, y in zip(a, b, strict=True))

    a = _parallel_rollout(GameParallelEnv(packs["chasers"]), 3)
    assert same(a, _parallel_rollout(GameParallelEnv(packs["chasers"]), 3))
    assert not same(a, _parallel_rollout(GameParallelEnv(packs["chasers"]), 4))


def test_gym_env_runs_the_batched_engine(packs):
    pack = packs["chasers"]
    env = GameEnv(pack, level="corridor", split="test")
    env.reset(seed=0)
    tasks, state = env.tasks, dict(env.game_state)
    rng = np.random.default_rng(0)
    for _ in range(30):
        a = int(rng.integers(6))
        obs, r, term, trunc, _ = env.step(a)
        state, reward, done = env.game.step(tasks, state, torch.tensor([[a]]))
        assert np.array_equal(obs, env.game.observe(tasks, state)[0, 0].numpy())
        assert r == float(reward[0, 0]) and term == bool(done[0, 0])
        if term or trunc:
            break


def test_truncation_at_the_horizon(packs):
    env = GameEnv(packs["arena"], level="far-corner", split="test", horizon=5)
    env.reset(seed=0)
    flags = [env.step(0)[2:4] for _ in range(5)]
    assert flags == [(False, False)] * 4 + [(False, True)]


def test_scripted_opponents_act_unless_given(packs):
    env = GameParallelEnv(packs["chasers"], level="corridor", split="test")
    env.reset(seed=0)
    assert env.agents == ["player_0", "opponent_0"]
    start = int(env.game_state["opp"][0, 0, 0])
    env.step({"player_0": 0, "opponent_0": 0})  # told to stay: stays
    assert int(env.game_state["opp"][0, 0, 0]) == start
    env.step({"player_0": 0})  # not given: the patrol walks
    assert int(env.game_state["opp"][0, 0, 0]) != start


def test_render_rgb_array_draws_the_level(packs):
    pack = packs["chasers"]
    env = GameEnv(pack, level="corridor", split="test", render_mode="rgb_array", tile=10)
    env.reset(seed=0)
    img = env.render()
    # padded to the pack's largest map, whatever the level's size (corridor is 5 x 9)
    dims = torch.cat([pack.pool(s)["dims"] for s in ("train", "test")]).amax(0)
    assert img.dtype == np.uint8 and img.shape == (int(dims[0]) * 10, int(dims[1]) * 10, 3)
    assert tuple(img[tile_center(1, 1, 10)]) == PLAYER
    assert tuple(img[-1, -1]) == (24, 26, 33)  # the padding is the background
    assert GameEnv(packs["chasers"]).render() is None


def test_every_level_renders_at_one_frame_size(packs):
    env = GameEnv(packs["mixed"], render_mode="rgb_array", tile=6)
    sizes = set()
    for seed in range(12):
        env.reset(seed=seed)
        sizes.add(env.render().shape)
    assert len(sizes) == 1  # video recorders and frame stacks need one size


def test_human_render_mode_opens_a_window(packs):
    env = GameEnv(packs["arena"], render_mode="human")
    env.reset(seed=0)
    assert env.render() is None and env.renderer.window is not None
    env.close()
    assert env.renderer.window is None
    # PettingZoo's render test (AEC API) over the parallel env, both render modes
    from pettingzoo.test import render_test

    render_test(lambda render_mode=None: parallel_to_aec(
        GameParallelEnv(packs["arena"], render_mode=render_mode)))


def test_async_vector_env_does_not_hang_after_torch_started_threads(tmp_path):
    """Forked workers used to deadlock in OpenMP; run in a fresh process with a time limit."""
    import subprocess
    import sys

    script = tmp_path / "vec.py"
    script.write_text(
        "import torch\n"
        "torch.set_num_threads(2)\n"
        "x = torch.randn(1500, 1500); (x @ x).sum()  # the parent's thread pool is running\n"
        "import gymnasium as gym, mamlgame.envs\n"
        "envs = gym.make_vec('mamlgame/Game-v0', num_envs=2, vectorization_mode='async',\n"
        "                    pack='arena')\n"
        "envs.reset(seed=0)\n"
        "for _ in range(5):\n"
        "    envs.step(envs.action_space.sample())\n"
        "envs.close()\n"
        "print('stepped')\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "stepped" in done.stdout, done.stderr[-2000:]


def test_level_arguments_are_checked(packs):
    with pytest.raises(PackError, match="no level named 'nope'"):
        GameEnv(packs["arena"], level="nope")
    with pytest.raises(PackError, match="out of range"):
        GameParallelEnv(packs["arena"], level=10**6)
    with pytest.raises(PackError, match="need a game pack"):
        GameEnv("navigation")
