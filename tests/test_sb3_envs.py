"""Stable-Baselines3 through the game envs: SB3's `check_env` on `GameEnv`, the batched
`SB3GameVecEnv` against `DummyVecEnv` over `GameEnv`s (same observations, rewards, dones,
infos and terminal observations, autoresets included), SB3's `VecEnv` wrappers, and PPO
running on it."""

import importlib
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.env_checker import check_env  # noqa: E402
from stable_baselines3.common.evaluation import evaluate_policy  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv, VecCheckNan, VecMonitor  # noqa: E402

from mamlgame.envs import GameEnv, SB3GameVecEnv  # noqa: E402
from mamlgame.packs import load_pack  # noqa: E402


@pytest.fixture(scope="module")
def packs():
    return {name: load_pack(name) for name in ("mixed", "chasers")}


@pytest.mark.parametrize("name", ["mixed", "chasers"])
def test_sb3_check_env_passes_on_the_single_env(packs, name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(GameEnv(packs[name]), warn=True)


def _same(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("name", ["mixed", "chasers"])
def test_the_adapter_gives_what_dummy_vec_env_over_game_envs_gives(packs, name):
    pack, n = packs[name], 5
    vec = SB3GameVecEnv(n, pack, horizon=9)
    dummy = DummyVecEnv([lambda: GameEnv(pack, horizon=9) for _ in range(n)])
    vec.seed(4)
    dummy.seed(4)
    assert _same(vec.reset(), dummy.reset()) and _same(vec.reset_infos, dummy.reset_infos)
    rng = np.random.default_rng(0)
    ended = 0
    for t in range(60):
        actions = rng.integers(0, 6, n)
        got, want = vec.step(actions), dummy.step(actions)
        assert _same(got, want), f"step {t}: {got} != {want}"
        assert _same(vec.reset_infos, dummy.reset_infos)
        ended += int(got[2].sum())
    assert ended > n  # autoresets happened, with their terminal observations compared
    vec.set_options({"level": "train-3"})
    dummy.set_options({"level": "train-3"})
    assert _same(vec.reset(), dummy.reset()) and _same(vec.reset_infos, dummy.reset_infos)


def test_sb3_wrappers_and_attribute_access(packs):
    vec = SB3GameVecEnv(4, packs["mixed"], render_mode="rgb_array", tile=4)
    assert vec.get_attr("render_mode") == ["rgb_array"] * 4
    assert vec.env_is_wrapped(VecMonitor) == [False] * 4
    assert vec.env_method("get_attr", "num_envs", indices=[1]) == [[4] * 4]
    env = VecMonitor(VecCheckNan(vec, raise_exception=True))
    env.seed(0)
    obs = env.reset()
    assert obs.shape == (4, *env.observation_space.shape) and obs.dtype == np.float32
    episodes = []
    for _ in range(120):
        obs, rewards, dones, infos = env.step(np.random.default_rng(1).integers(0, 6, 4))
        assert rewards.dtype == np.float32 and dones.dtype == np.bool_
        episodes += [info["episode"] for info in infos if "episode" in info]
        for done, info in zip(dones, infos, strict=True):
            assert ("terminal_observation" in info) == bool(done)
    assert episodes and all(e["l"] >= 1 for e in episodes)
    frames = vec.get_images()
    assert len(frames) == 4 and len({f.shape for f in frames}) == 1


def test_ppo_runs_on_the_adapter(packs):
    env = VecMonitor(SB3GameVecEnv(8, packs["chasers"], level="corridor", split="test"))
    model = PPO("MlpPolicy", env, n_steps=32, batch_size=64, n_epochs=1, seed=0,
                device="cpu", policy_kwargs={"net_arch": [32]})
    model.learn(total_timesteps=512)
    assert model.num_timesteps >= 512
    mean, _ = evaluate_policy(model, env, n_eval_episodes=4)
    assert np.isfinite(mean)


def test_without_sb3_the_adapter_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "stable_baselines3.common.vec_env", None)
    monkeypatch.delitem(sys.modules, "mamlgame.envs.sb3", raising=False)
    with pytest.raises(ImportError, match=r"mamlgame\[sb3\]"):
        importlib.import_module("mamlgame.envs.sb3")
