"""`learn_inner_lr` (issue 23): a meta-learned log factor g on the inner step size. Its
meta-gradient against the exact gradient of the MAML-RL objective on the bandit, where it is
closed form; the inner step, checkpoint, resume, eval and the CLI's errors."""

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
from mamlgame.config import GAINLESS_ALGOS, TrainConfig, pack_recipe
from mamlgame.evaluate import adaptation_curve
from mamlgame.families.game.schema import RECIPE as GAME_RECIPE
from mamlgame.meta import LR_GAIN_RATE, MetaLearner
from mamlgame.packs import load_pack
from mamlgame.policy import MLPPolicy, params_of
from mamlgame.train import train

G = -1.0  # the log factor the tests set: steps of ALPHA * e^G
KW = dict(episodes=N_INNER, baseline=False, normalize=False)


def gained_learner(policy, family, g: float = G, **kw) -> MetaLearner:
    learner = MetaLearner(policy, family, inner_lr=ALPHA, learn_inner_lr=True, **{**KW, **kw})
    with torch.no_grad():
        learner.inner_lr_gain.fill_(g / LR_GAIN_RATE)  # the parameter Adam moves
    torch.testing.assert_close(learner.lr_gain().detach(), torch.tensor(g))
    return learner


@pytest.mark.parametrize("estimator", ["lvc", "dice"])
def test_the_meta_gradient_wrt_g_is_the_exact_one(estimator):
    """The meta-gradient w.r.t. g against dF/dg of the bandit's one-step objective with step
    size ALPHA * e^g (`bandit_util.assert_meta_gradient_is`)."""
    exact = exact_derivative(lambda g, eps: one_step_objective(eps, lr=ALPHA * g.exp()), G)
    family, policy, tasks = bandit_setup(50)
    learner = gained_learner(policy, family, estimator=estimator)
    assert_meta_gradient_is(exact, learner, learner.inner_lr_gain, LR_GAIN_RATE, tasks,
                            params_of(policy))


def test_g_scales_every_inner_step():
    """Two steps with g: the same params as a learner without g whose step size is
    ALPHA * e^g (the same episodes), at both steps, with `inner_lr_decay` on the second."""
    family, policy, tasks = bandit_setup(3)
    params = params_of(policy)
    gained = gained_learner(policy, family, inner_steps=2, inner_lr_decay=0.5)
    ad = gained.adapt(params, tasks, torch.Generator().manual_seed(3))
    plain = MetaLearner(policy, family, inner_lr=ALPHA * math.exp(G), inner_steps=2,
                        inner_lr_decay=0.5, **KW)
    want = plain.adapt(params, tasks, torch.Generator().manual_seed(3))
    for n, v in want.params.items():
        torch.testing.assert_close(ad.params[n], v)
    second = gained.step_size("log_std", 1).detach().item()
    assert second == pytest.approx(ALPHA * math.exp(G) * 0.5)


def test_g_is_a_meta_parameter_and_state():
    family, policy, _ = bandit_setup(1)
    learner = gained_learner(policy, family)
    params = params_of(policy)
    assert any(p is learner.inner_lr_gain for p in learner.meta_parameters(params))
    assert torch.equal(learner.state_dict()["inner_lr_gain"], torch.tensor(G))
    fresh = MetaLearner(policy, family, learn_inner_lr=True)
    assert float(fresh.lr_gain().detach()) == 0.0  # it starts at the given step size
    fresh.load_state_dict(learner.state_dict())
    assert float(fresh.lr_gain().detach()) == pytest.approx(G)
    assert fresh.adapts() == "all weights, step size x0.37"
    context = MLPPolicy(1, 1, hidden=(), context=2)
    assert MetaLearner(context, family, "cavia", learn_inner_lr=True).adapts() == \
        "context inputs, step size x1.00"
    plain = MetaLearner(policy, family)
    assert plain.inner_lr_gain is None and plain.state_dict()["inner_lr_gain"] is None
    plain.load_state_dict(learner.state_dict())  # a learner that learns none ignores it
    assert len(plain.meta_parameters(params)) == len(params)
    for algo in GAINLESS_ALGOS:
        with pytest.raises(ValueError, match=f"learn_inner_lr: {algo} learns no step-size"):
            MetaLearner(policy, family, algo=algo, learn_inner_lr=True)


def test_a_recipe_gain_does_not_apply_to_reptile_pretrain_or_metasgd():
    pack = load_pack("navigation")
    recipe = {"inner_lr": 0.6, "learn_inner_lr": True}
    assert pack_recipe(recipe, set(), algo="maml") == recipe
    assert pack_recipe(recipe, {"algo"}, algo="metasgd") == {"inner_lr": 0.6}
    assert pack_recipe({**recipe, "algo": "reptile"}, set()) == {"inner_lr": 0.6,
                                                                 "algo": "reptile"}
    for algo, learns in (("maml", True), ("fomaml", True), ("cavia", True),
                         ("reptile", False), ("pretrain", False), ("metasgd", False)):
        cfg = TrainConfig(algo=algo, learn_inner_lr=True)
        assert cfg.resolved(pack).learn_inner_lr is learns
        assert cfg.resolved(pack).resolved(pack) == cfg.resolved(pack)


# a tiny game run: cavia adapts the goal belief with a learned factor on its step size
TINY = dict(pack="chasers", algo="cavia", inner_lr=1000.0, inner_gamma=0.0, meta_batch=3,
            episodes=3, horizon=8, hidden=(8,), learn_inner_lr=True, outer_lr=0.05,
            checkpoint_every=1, anneal_lr=False)


def test_training_learns_g_saves_it_and_resumes_it_exactly(tmp_path):
    """g moves, is saved with the learner's state, and a resumed run ends where an
    uninterrupted one does (params, g and its Adam state)."""
    whole = train(TrainConfig(**TINY, iterations=3), tmp_path / "whole", progress=False)
    train(TrainConfig(**TINY, iterations=2), tmp_path / "part", progress=False)
    resumed = train(TrainConfig(**TINY, iterations=3), tmp_path / "part", resume=True,
                    progress=False)
    a, b = load_checkpoint(whole), load_checkpoint(resumed)
    assert float(a["inner_lr_gain"]) != 0.0
    assert torch.equal(a["inner_lr_gain"], b["inner_lr_gain"])
    for k, v in a["params"].items():
        assert torch.equal(b["params"][k], v), k
    agent = load_agent(whole)
    assert agent.config.learn_inner_lr
    torch.testing.assert_close(agent.learner().lr_gain().detach(), a["inner_lr_gain"])


def test_eval_adapts_with_the_saved_g(tmp_path):
    """The same checkpoint with g set to 0: the same 0-step returns; the adapted belief is
    the plain step's times e^g (the belief starts at 0 on open tiles, so the step is all of
    it there)."""
    ckpt = train(TrainConfig(**TINY, iterations=1), tmp_path / "run", progress=False)
    agent = load_agent(ckpt)
    tasks = agent.pack.tasks("valid", 4)
    agent.learner_state["inner_lr_gain"] = torch.tensor(1.0)
    gained = adaptation_curve(agent, agent.params, tasks, [0, 1], 5, seed=1)
    with_g = agent.learner().adapt(agent.params, tasks, torch.Generator().manual_seed(1),
                                   steps=1)
    agent.learner_state["inner_lr_gain"] = torch.tensor(0.0)
    plain = adaptation_curve(agent, agent.params, tasks, [0, 1], 5, seed=1)
    without = agent.learner().adapt(agent.params, tasks, torch.Generator().manual_seed(1),
                                    steps=1)
    assert gained["returns"]["0"] == plain["returns"]["0"]
    b1, b0 = with_g.params["head.belief"].detach(), without.params["head.belief"].detach()
    open_tiles = b0.abs() < 20  # walls and hazards hold CLOSED (-30) and barely move
    assert (b0[open_tiles] != 0).any()
    torch.testing.assert_close(b1[open_tiles], b0[open_tiles] * math.e)
    res = CliRunner().invoke(cli, ["eval", str(ckpt), "--tasks", "2", "--episodes", "2",
                                   "--steps", "0,1"])
    assert res.exit_code == 0, res.output
    assert "step size x" in res.output  # the row says the step's size is learned


def test_a_bad_saved_g_is_a_clear_error(tmp_path):
    ckpt = train(TrainConfig(**TINY, iterations=1), tmp_path / "run", progress=False)
    state = load_checkpoint(ckpt)
    state["inner_lr_gain"] = torch.tensor(math.inf)
    state.pop("checksum")
    save_checkpoint(tmp_path / "bad.pt", state)
    with pytest.raises(CheckpointError, match="bad 'inner_lr_gain'"):
        read_checkpoint(tmp_path / "bad.pt")


def test_the_game_recipe_learns_g():
    assert GAME_RECIPE["learn_inner_lr"] is True


@pytest.mark.parametrize("args, message", [
    (["navigation", "--algo", "reptile", "--learn-inner-lr"],
     "error: --learn-inner-lr: --algo reptile learns no step-size factor"),
    (["navigation", "--algo", "metasgd", "--learn-inner-lr"],
     "error: --learn-inner-lr: --algo metasgd learns its own step sizes"),
])
def test_train_refuses_a_gain_it_cannot_learn(args, message, tmp_path):
    res = CliRunner().invoke(cli, ["train", *args, "--out", str(tmp_path / "r"), "--quiet"])
    assert res.exit_code == 1 and message in res.output and "Traceback" not in res.output
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("algo", ["reptile", "pretrain"])
def test_a_game_recipe_trains_reptile_and_pretrain_without_the_gain(algo, tmp_path):
    """A game pack's recipe learns g; `--algo reptile` (or pretrain) leaves it out with the
    rest of the recipe's step settings, and eval runs."""
    res = CliRunner().invoke(cli, ["train", "chasers", "--algo", algo, "--iterations", "1",
                                   "--meta-batch", "2", "--episodes", "2", "--hidden", "8",
                                   "--horizon", "5", "--out", str(tmp_path / "r"), "--quiet"])
    assert res.exit_code == 0, res.output
    agent = load_agent(tmp_path / "r" / "checkpoint.pt")
    assert not agent.config.learn_inner_lr and agent.learner().inner_lr_gain is None
