"""`inner_std_decay` D (issue 20): every inner step after the first also multiplies a Gaussian
policy's std by D, so later steps explore less once the first has shown the task (one step:
no change). The shift is a constant: the inner gradients, the meta-gradient through them and
Reptile's update direction are those without it; it is saved with the run and used by eval."""

import math

import pytest
import torch
from click.testing import CliRunner

from mamlgame.checkpoint import load_agent
from mamlgame.cli import cli
from mamlgame.config import TrainConfig
from mamlgame.families import make_family
from mamlgame.meta import STD_FLOOR, MetaLearner
from mamlgame.packs import Tasks, load_pack
from mamlgame.policy import MLPPolicy, params_of
from mamlgame.train import train

ALPHA, D = 0.1, 0.5
KW = dict(episodes=10, baseline=False, normalize=False)


def bandit_setup(n_tasks: int = 3):
    family = make_family(load_pack("bandit"))
    policy = MLPPolicy(1, 1, hidden=(), init_std=0.7)
    tasks = Tasks({"target": torch.full((n_tasks, 1), 1.0)}, tuple(map(str, range(n_tasks))))
    return family, policy, tasks


def detached(params):
    return {k: v.detach() for k, v in params.items()}


def test_each_step_after_the_first_shifts_log_std_by_log_decay():
    """Three decayed steps equal plain steps (the same episodes), each after the first followed
    by a shift of log D on log_std: one step is unchanged."""
    family, policy, tasks = bandit_setup()
    params = params_of(policy)
    ad = MetaLearner(policy, family, inner_lr=ALPHA, inner_steps=3, inner_std_decay=D,
                     **KW).adapt(params, tasks, torch.Generator().manual_seed(3))
    plain = MetaLearner(policy, family, inner_lr=ALPHA, **KW)
    gen = torch.Generator().manual_seed(3)
    p = params
    for k in range(3):
        p = detached(plain.adapt(p, tasks, gen).params)
        p["log_std"] = p["log_std"] + (math.log(D) if k else 0.0)
    for k, v in p.items():
        torch.testing.assert_close(ad.params[k], v)
    one = MetaLearner(policy, family, inner_lr=ALPHA, inner_std_decay=D, **KW)
    first = plain.adapt(params, tasks, torch.Generator().manual_seed(4)).params
    for k, v in one.adapt(params, tasks, torch.Generator().manual_seed(4)).params.items():
        torch.testing.assert_close(v, first[k])


def test_the_meta_gradient_through_the_step_is_unchanged():
    """The shift is a constant: d theta' / d theta is what it is without it."""
    family, policy, tasks = bandit_setup()
    grads = []
    for decay in (1.0, D):
        params = {k: v.detach().clone().requires_grad_() for k, v in
                  params_of(policy).items()}
        learner = MetaLearner(policy, family, inner_lr=ALPHA, inner_steps=2,
                              inner_std_decay=decay, **KW)
        ad = learner.adapt(params, tasks, torch.Generator().manual_seed(5), create_graph=True)
        out = (ad.params["log_std"].sum() + ad.params["layers.0.bias"].sum())
        grads.append(torch.autograd.grad(out, list(params.values())))
        # and the outer loss still reaches every meta-parameter through the shifted std
        loss, _ = learner.meta_loss(params, tasks, torch.Generator().manual_seed(6))
        assert all(torch.isfinite(g).all() for g in torch.autograd.grad(loss, params["log_std"]))
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b)


def test_reptile_does_not_move_theta_by_the_shift():
    """With no gradient step (inner lr 0) theta' - theta is the shifts alone (2 log D over
    Reptile's 3 steps): Reptile's direction is zero."""
    family, policy, tasks = bandit_setup()
    params = params_of(policy)
    learner = MetaLearner(policy, family, algo="reptile", inner_lr=0.0, inner_std_decay=D, **KW)
    loss, _ = learner.meta_loss(params, tasks, torch.Generator().manual_seed(1))
    for g in torch.autograd.grad(loss, list(params.values())):
        assert float(g.abs().max()) < 1e-6  # (rounding)


def test_the_std_stops_shrinking_at_the_floor():
    """Many steps with a tiny D: the std ends at STD_FLOOR, finite, not at D**999."""
    family, policy, tasks = bandit_setup()
    learner = MetaLearner(policy, family, inner_lr=0.0, inner_steps=40, inner_std_decay=0.01,
                          **KW)
    ad = learner.adapt(params_of(policy), tasks, torch.Generator().manual_seed(2))
    torch.testing.assert_close(ad.params["log_std"].exp(),
                               torch.full_like(ad.params["log_std"], STD_FLOOR))
    assert torch.isfinite(ad.episodes[-1].rewards).all()


def test_a_discrete_policy_has_no_std_to_shift():
    family, _, _ = bandit_setup()
    discrete = MLPPolicy(1, 3, hidden=(), discrete=True)
    assert MetaLearner(discrete, family, inner_std_decay=D).log_std_shift == 0.0


@pytest.mark.parametrize("bad", [0.0, -0.5, 1.5])
def test_the_learner_refuses_a_decay_outside_0_1(bad):
    family, policy, _ = bandit_setup()
    with pytest.raises(ValueError, match="inner_std_decay"):
        MetaLearner(policy, family, inner_std_decay=bad)


@pytest.mark.parametrize("bad", ["0", "1.5", "-1", "x"])
def test_train_refuses_a_bad_value(bad, tmp_path):
    res = CliRunner().invoke(cli, ["train", "navigation", "--inner-std-decay", bad,
                                   "--out", str(tmp_path / "r"), "--quiet"])
    assert res.exit_code == 2 and "--inner-std-decay" in res.output
    assert not (tmp_path / "r").exists()


def test_checkpoint_round_trip_and_eval_use_it(tmp_path):
    cfg = TrainConfig(pack="navigation", iterations=1, meta_batch=2, episodes=2, horizon=5,
                      hidden=(8,), inner_std_decay=D, inner_lr_decay=0.5)
    ckpt = train(cfg, tmp_path / "run", progress=False)
    agent = load_agent(ckpt)
    assert agent.config.inner_std_decay == D
    learner = agent.learner(episodes=3)
    assert learner.log_std_shift == pytest.approx(math.log(D))
    assert MetaLearner.from_config(agent.policy, agent.family,
                                   TrainConfig()).log_std_shift == 0.0
    # a checkpoint from before the option: no shift
    old = {k: v for k, v in cfg.to_dict().items() if k != "inner_std_decay"}
    assert TrainConfig.from_dict(old).inner_std_decay == 1.0


def test_a_step_taken_alone_takes_its_place_in_the_schedule():
    """`adapt(..., first_step=k)` from the params after k steps (as the viewer steps, one at a
    time) gives what step k of one multi-step `adapt` gives on the same episodes."""
    family, policy, tasks = bandit_setup()
    learner = MetaLearner(policy, family, inner_lr=ALPHA, inner_lr_decay=0.5,
                          inner_std_decay=D, **KW)
    whole = learner.adapt(params_of(policy), tasks, torch.Generator().manual_seed(4), steps=3)
    one = learner.adapt(params_of(policy), tasks, steps=1, first_episodes=whole.episodes[0])
    p, after = detached(one.params), []
    for k in (1, 2):
        p = detached(learner.adapt(p, tasks, steps=1, first_episodes=whole.episodes[k],
                                   first_step=k).params)
        after.append(p)
    for k, v in whole.params.items():
        torch.testing.assert_close(p[k], v.detach())
    # the same episodes taken as a first step: the full step size and no std shrink
    again = learner.adapt(detached(one.params), tasks, steps=1,
                          first_episodes=whole.episodes[1]).params
    assert not torch.allclose(again["layers.0.bias"], after[0]["layers.0.bias"])
