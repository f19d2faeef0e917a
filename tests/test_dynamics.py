"""Hand-computed steps for every continuous family; the batched step equals per-task steps."""

import math

import pytest
import torch

from mamlgame.families import make_family
from mamlgame.packs import Tasks, load_pack
from mamlgame.rollout import rollout


def close(t: torch.Tensor, expected: list) -> bool:
    return torch.allclose(t, torch.tensor(expected), atol=1e-6)


def one(family_name: str, **params: float) -> tuple:
    pack = load_pack(family_name)
    tasks = Tasks({k: torch.tensor([[v]]) for k, v in params.items()}, ("t",))
    return make_family(pack), tasks


def test_velocity_step_by_hand():
    fam, tasks = one("velocity", target_velocity=1.0)
    s = fam.reset(tasks, 1, None)
    s, r, done = fam.step(tasks, s, torch.tensor([[[10.0]]]))  # force clipped to 5
    assert s["v"].item() == pytest.approx(0.5) and s["x"].item() == pytest.approx(0.05)
    assert r.item() == pytest.approx(-(0.5 - 1.0) ** 2 - 0.01 * 25)
    assert not done.item()
    s, r, _ = fam.step(tasks, s, torch.tensor([[[-1.0]]]))
    assert s["v"].item() == pytest.approx(0.4) and s["x"].item() == pytest.approx(0.09)
    assert r.item() == pytest.approx(-(0.4 - 1.0) ** 2 - 0.01)
    assert close(fam.observe(tasks, s), [[[0.09, 0.4]]])


def test_velocity_abs_reward():
    fam, tasks = one("velocity", target_velocity=1.0)
    fam.reward_cfg["kind"] = "abs"
    _, r, _ = fam.step(tasks, fam.reset(tasks, 1, None), torch.tensor([[[2.0]]]))
    assert r.item() == pytest.approx(-0.8 - 0.04)


def test_navigation_step_by_hand():
    fam, tasks = one("navigation", goal_x=0.3, goal_y=-0.2)
    s = fam.reset(tasks, 1, None)
    s, r, done = fam.step(tasks, s, torch.tensor([[[5.0, -0.5]]]))  # x clipped to 1, scaled 0.1
    assert close(s["p"], [[[0.1, -0.05]]])
    assert r.item() == pytest.approx(-math.hypot(0.2, 0.15))
    assert not done.item()


def test_navigation_ends_at_goal_and_rollout_masks_the_rest():
    fam, tasks = one("navigation", goal_x=0.05, goal_y=0.0)
    s, r, done = fam.step(tasks, fam.reset(tasks, 1, None), torch.tensor([[[0.5, 0.0]]]))
    assert done.item() and r.item() == pytest.approx(0.0, abs=1e-7)
    assert fam.success(tasks, s).item()


def test_terrain_step_by_hand():
    fam, tasks = one("terrain", goal_x=1.0, goal_y=0.0, friction=1.0, payload=1.0)
    s = fam.reset(tasks, 1, None)
    s, r, _ = fam.step(tasks, s, torch.tensor([[[1.0, -2.0]]]))  # y force clipped to -1
    assert close(s["v"], [[[0.05, -0.05]]])
    assert close(s["p"], [[[0.005, -0.005]]])
    assert r.item() == pytest.approx(-math.hypot(0.995, 0.005) - 0.01 * 2)
    s, r, _ = fam.step(tasks, s, torch.tensor([[[0.0, 0.0]]]))  # friction slows it down
    assert close(s["v"], [[[0.045, -0.045]]])


def test_bandit_step_by_hand():
    fam, tasks = one("bandit", target=1.0)
    _, r, done = fam.step(tasks, fam.reset(tasks, 2, None), torch.tensor([[[0.5], [3.0]]]))
    assert close(r, [[-0.25, -4.0]]) and done.all()


@pytest.mark.parametrize("name", ["velocity", "navigation", "terrain", "bandit"])
def test_batched_step_equals_loop_of_single_tasks(name):
    pack = load_pack(name)
    fam = make_family(pack)
    tasks = pack.tasks("train", 5, seed=3)
    g = torch.Generator().manual_seed(0)
    state = fam.reset(tasks, 3, g)
    singles = [fam.reset(tasks.select([i]), 3, g) for i in range(5)]
    for _ in range(min(fam.horizon, 6)):
        action = torch.randn(5, 3, fam.action_dim, generator=g) * 0.3
        state, r, d = fam.step(tasks, state, action)
        for i in range(5):
            singles[i], ri, di = fam.step(tasks.select([i]), singles[i], action[i : i + 1])
            torch.testing.assert_close(ri, r[i : i + 1])
            assert torch.equal(di, d[i : i + 1])
            torch.testing.assert_close(fam.observe(tasks.select([i]), singles[i]),
                                       fam.observe(tasks, state)[i : i + 1])


def test_rollout_is_deterministic_and_masks_finished_episodes():
    pack = load_pack("navigation")
    fam = make_family(pack)
    from mamlgame.policy import make_policy, params_of

    torch.manual_seed(0)
    policy = make_policy(fam, hidden=(8,))
    tasks = pack.tasks("train", 4, seed=0)
    a = rollout(fam, tasks, policy, params_of(policy), 3, torch.Generator().manual_seed(1))
    b = rollout(fam, tasks, policy, params_of(policy), 3, torch.Generator().manual_seed(1))
    assert torch.equal(a.rewards, b.rewards) and a.obs.shape == (4, 3, 100, 2)
    # mask is non-increasing in time and rewards are zero where it is zero
    assert (a.mask[..., 1:] <= a.mask[..., :-1]).all()
    assert (a.rewards[a.mask == 0] == 0).all()
