"""`learn_std_shift` (issue 20): a meta-learned constant c added to a Gaussian policy's log std
at the first inner step. Its meta-gradient against the exact gradient of the MAML-RL objective
on the bandit, where it is closed form; the inner loop, checkpoint, resume, eval and the CLI's
errors."""

import math

import pytest
import torch
from bandit_util import (
    ALPHA,
    N_INNER,
    assert_meta_gradient_is,
    bandit_setup,
    exact_derivative,
    one_step_objective,
)
from click.testing import CliRunner

from mamlgame.checkpoint import (
    CheckpointError,
    load_agent,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from mamlgame.cli import cli
from mamlgame.config import TrainConfig, pack_recipe
from mamlgame.evaluate import adaptation_curve
from mamlgame.meta import STD_SHIFT_RATE, MetaLearner
from mamlgame.packs import load_pack
from mamlgame.policy import MLPPolicy, params_of
from mamlgame.rollout import rollout
from mamlgame.train import train

C = -0.4  # the first step's log-std shift the tests set
KW = dict(episodes=N_INNER, baseline=False, normalize=False)


def shifted_learner(policy, family, c: float = C, **kw) -> MetaLearner:
    learner = MetaLearner(policy, family, inner_lr=ALPHA, learn_std_shift=True, **{**KW, **kw})
    with torch.no_grad():
        learner.first_std_shift.fill_(c / STD_SHIFT_RATE)  # the parameter Adam moves
    torch.testing.assert_close(learner.first_shift().detach(), torch.tensor([c]))
    return learner


@pytest.mark.parametrize("estimator", ["lvc", "dice"])
def test_the_meta_gradient_wrt_c_is_the_exact_one(estimator):
    """The meta-gradient w.r.t. c against dF/dc of the bandit's one-step objective with
    log_std' + c (`bandit_util.assert_meta_gradient_is`)."""
    exact = exact_derivative(lambda c, eps: one_step_objective(eps, shift=c), C)
    family, policy, tasks = bandit_setup(50)
    learner = shifted_learner(policy, family, estimator=estimator)
    assert_meta_gradient_is(exact, learner, learner.first_std_shift, STD_SHIFT_RATE, tasks,
                            params_of(policy))


def test_c_moves_log_std_at_the_first_step_only():
    """Three steps with c and `inner_std_decay` D: the plain steps' params (same episodes) with
    log_std shifted by c after the first step and by log D after each later one."""
    family, policy, tasks = bandit_setup(3)
    params = params_of(policy)
    ad = shifted_learner(policy, family, inner_steps=3, inner_std_decay=0.5).adapt(
        params, tasks, torch.Generator().manual_seed(3))
    plain = MetaLearner(policy, family, inner_lr=ALPHA, **KW)
    gen, p = torch.Generator().manual_seed(3), params
    for k in range(3):
        p = {n: v.detach() for n, v in plain.adapt(p, tasks, gen).params.items()}
        p["log_std"] = p["log_std"] + (C if k == 0 else math.log(0.5))
    for n, v in p.items():
        torch.testing.assert_close(ad.params[n], v)
    torch.testing.assert_close(torch.as_tensor(ad.std_shift).detach(),
                               torch.full((3, 1), C + 2 * math.log(0.5)))


def test_the_gradient_wrt_c_is_the_sum_of_the_adapted_log_stds():
    """c enters every task's adapted log std once: d loss / dc = sum over tasks of d loss /
    d log_std' (one draw, first order, so log_std' is a leaf of the outer loss), and c is
    STD_SHIFT_RATE times the parameter."""
    family, policy, tasks = bandit_setup(4)
    learner = shifted_learner(policy, family, algo="fomaml")
    params = params_of(policy)
    loss, _ = learner.meta_loss(params, tasks, torch.Generator().manual_seed(2))
    (gc,) = torch.autograd.grad(loss, [learner.first_std_shift])
    gen = torch.Generator().manual_seed(2)  # replay the meta-loss's draws
    ad = learner.adapt(params, tasks, gen)
    out = rollout(family, tasks, policy, ad.params, N_INNER, gen)
    phi = {k: v.detach().requires_grad_() for k, v in ad.params.items()}
    outer = -learner._outer_objective(ad._replace(params=phi), out, tasks).mean()
    (gls,) = torch.autograd.grad(outer, [phi["log_std"]])
    torch.testing.assert_close(gc, STD_SHIFT_RATE * gls.sum().reshape(1))


def test_c_is_a_meta_parameter_and_state():
    family, policy, _ = bandit_setup(1)
    learner = shifted_learner(policy, family)
    params = params_of(policy)
    assert any(p is learner.first_std_shift for p in learner.meta_parameters(params))
    assert torch.equal(learner.state_dict()["first_std_shift"], torch.tensor([C]))
    fresh = MetaLearner(policy, family, learn_std_shift=True)
    assert float(fresh.first_shift().detach()) == 0.0  # it starts at no shift
    fresh.load_state_dict(learner.state_dict())
    assert float(fresh.first_shift().detach()) == pytest.approx(C)
    assert fresh.adapts() == "all weights, std x0.67 at step 1"
    context = MLPPolicy(1, 1, hidden=(), context=2)
    assert MetaLearner(context, family, "cavia", learn_std_shift=True).adapts() == \
        "context inputs, std x1.00 at step 1"
    plain = MetaLearner(policy, family)
    assert plain.first_std_shift is None and plain.state_dict()["first_std_shift"] is None
    plain.load_state_dict(learner.state_dict())  # a learner that learns none ignores it
    assert len(plain.meta_parameters(params)) == len(params)


def test_the_learner_refuses_what_cannot_learn_c():
    family, policy, _ = bandit_setup(1)
    with pytest.raises(ValueError, match="learn_std_shift: a discrete policy"):
        MetaLearner(MLPPolicy(1, 3, hidden=(), discrete=True), family, learn_std_shift=True)
    for algo in ("reptile", "pretrain"):
        with pytest.raises(ValueError, match=f"learn_std_shift: {algo} learns no shift"):
            MetaLearner(policy, family, algo=algo, learn_std_shift=True)


def test_a_recipe_shift_does_not_apply_to_reptile_or_pretrain():
    pack = load_pack("navigation")
    recipe = {"inner_lr": 0.6, "learn_std_shift": True}
    assert pack_recipe(recipe, set(), algo="maml") == recipe
    assert pack_recipe(recipe, {"algo"}, algo="reptile") == {"inner_lr": 0.6}
    assert pack_recipe({**recipe, "algo": "pretrain"}, set()) == {"inner_lr": 0.6,
                                                                  "algo": "pretrain"}
    for algo, learns in (("maml", True), ("cavia", True), ("reptile", False),
                         ("pretrain", False)):
        cfg = TrainConfig(algo=algo, learn_std_shift=True)
        assert cfg.resolved(pack).learn_std_shift is learns
        assert cfg.resolved(pack).resolved(pack) == cfg.resolved(pack)


TINY = dict(pack="navigation", meta_batch=3, episodes=3, horizon=6, hidden=(8,),
            learn_std_shift=True, outer_lr=0.05, checkpoint_every=1,
            anneal_lr=False)  # (annealed, 2 + 1 iterations would not be a 3-iteration run)


def test_training_learns_c_saves_it_and_resumes_it_exactly(tmp_path):
    """c moves, is saved with the learner's state, and a resumed run ends where an
    uninterrupted one does (params, c and its Adam state)."""
    tiny = {**TINY, "estimator": "dice"}  # (its carried advantage scale resumes too)
    whole = train(TrainConfig(**tiny, iterations=3), tmp_path / "whole", progress=False)
    train(TrainConfig(**tiny, iterations=2), tmp_path / "part", progress=False)
    resumed = train(TrainConfig(**tiny, iterations=3), tmp_path / "part", resume=True,
                    progress=False)
    a, b = load_checkpoint(whole), load_checkpoint(resumed)
    assert float(a["first_std_shift"]) != 0.0
    assert torch.equal(a["first_std_shift"], b["first_std_shift"])
    for k, v in a["params"].items():
        assert torch.equal(b["params"][k], v), k
    agent = load_agent(whole)
    assert agent.config.learn_std_shift
    torch.testing.assert_close(agent.learner().first_shift().detach(), a["first_std_shift"])


def test_eval_adapts_with_the_saved_c(tmp_path):
    """The same checkpoint with c set to 0: the same 0-step returns, other 1-step ones; the
    adapted log std is the inner step's plus the saved c."""
    ckpt = train(TrainConfig(**TINY, iterations=1), tmp_path / "run", progress=False)
    agent = load_agent(ckpt)
    agent.learner_state["first_std_shift"] = torch.tensor([-0.7])
    tasks = agent.pack.tasks("test", 4)
    shifted = adaptation_curve(agent, agent.params, tasks, [0, 1], 5, seed=1)
    learner = agent.learner()
    with_c = learner.adapt(agent.params, tasks, torch.Generator().manual_seed(1), steps=1)
    agent.learner_state["first_std_shift"] = torch.tensor([0.0])
    plain = adaptation_curve(agent, agent.params, tasks, [0, 1], 5, seed=1)
    without = agent.learner().adapt(agent.params, tasks, torch.Generator().manual_seed(1),
                                    steps=1)
    assert shifted["returns"]["0"] == plain["returns"]["0"]
    assert shifted["returns"]["1"]["mean"] != plain["returns"]["1"]["mean"]
    torch.testing.assert_close(with_c.params["log_std"], without.params["log_std"] - 0.7)
    res = CliRunner().invoke(cli, ["eval", str(ckpt), "--tasks", "2", "--episodes", "2",
                                   "--steps", "0,1"])
    assert res.exit_code == 0, res.output
    assert "at step 1" in res.output  # the row says the first step shifts the std


def test_a_bad_saved_c_is_a_clear_error(tmp_path):
    ckpt = train(TrainConfig(**TINY, iterations=1), tmp_path / "run", progress=False)
    state = load_checkpoint(ckpt)
    state["first_std_shift"] = torch.tensor([math.nan])
    state.pop("checksum")
    save_checkpoint(tmp_path / "bad.pt", state)
    with pytest.raises(CheckpointError, match="bad 'first_std_shift'"):
        read_checkpoint(tmp_path / "bad.pt")


@pytest.mark.parametrize("args, message", [
    (["navigation", "--algo", "reptile", "--learn-std-shift"],
     "error: --learn-std-shift: --algo reptile learns no std shift"),
    (["navigation", "--algo", "pretrain", "--learn-std-shift"],
     "error: --learn-std-shift: --algo pretrain learns no std shift"),
    (["arena", "--learn-std-shift"],
     "error: --learn-std-shift: the game family's policy has discrete actions"),
])
def test_train_refuses_a_shift_it_cannot_learn(args, message, tmp_path):
    res = CliRunner().invoke(cli, ["train", *args, "--out", str(tmp_path / "r"), "--quiet"])
    assert res.exit_code == 1 and message in res.output and "Traceback" not in res.output
    assert not (tmp_path / "r").exists()


def test_the_viewer_shifts_the_std_at_its_first_step_only(tmp_path):
    """The viewer's live adaptation (one step per key press) adds the saved c at its first
    step and not at a further one: each equals the plain learner's step on the same
    episodes, the first plus c."""
    from mamlgame.viewer.adapt import LiveAdaptation, cat_episodes

    ckpt = train(TrainConfig(**TINY, iterations=1), tmp_path / "run", progress=False)
    agent = load_agent(ckpt)
    agent.learner_state["first_std_shift"] = torch.tensor([-0.7])
    tasks = agent.pack.tasks("test", 1)
    live = LiveAdaptation(agent, tasks, episodes=4)
    plain = agent.learner(episodes=4, learn_std_shift=False)
    params = {k: v.detach() for k, v in agent.params.items()}
    for step in (0, 1):
        live.start(params, seed=3, steps_before=step)
        while not live.advance():
            pass
        want = plain.adapt(params, tasks, steps=1, first_step=step,
                           first_episodes=cat_episodes(live._parts)).params
        torch.testing.assert_close(live.result["log_std"],
                                   want["log_std"].detach() + (-0.7 if step == 0 else 0.0))
        torch.testing.assert_close(live.result["layers.0.bias"], want["layers.0.bias"].detach())
        params = live.result


@pytest.mark.parametrize("algo", ["reptile", "pretrain"])
def test_navigation_recipe_trains_reptile_and_pretrain_without_the_shift(algo, tmp_path):
    """navigation's recipe learns the shift; `--algo reptile` (or pretrain) takes the rest of
    the recipe and leaves it out (its note does not list it), and eval runs."""
    res = CliRunner().invoke(cli, ["train", "navigation", "--algo", algo, "--iterations", "1",
                                   "--meta-batch", "2", "--episodes", "2", "--hidden", "8",
                                   "--horizon", "5", "--out", str(tmp_path / "r"), "--quiet"])
    assert res.exit_code == 0, res.output
    assert "inner_lr 0.6" in res.output and "learn_std_shift" not in res.output
    agent = load_agent(tmp_path / "r" / "checkpoint.pt")
    assert not agent.config.learn_std_shift and agent.learner().first_std_shift is None
