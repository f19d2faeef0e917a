"""The MAML meta-gradient against the exact gradient of the MAML-RL objective on a bandit.

F(theta) = E_{a_1..n ~ pi_theta}[ J(theta - alpha * g(theta, a)) ] with J(phi) the closed-form
expected reward of the Gaussian policy phi. grad F is computed pathwise (reparameterised a),
independently of mamlgame's code, and compared with the mean of many estimator samples.
"""

import math

import pytest
import torch
from bandit_util import ALPHA, LOG_STD0, MU0, N_INNER, TARGET, bandit_setup

from mamlgame.meta import MAML, MetaLearner
from mamlgame.policy import params_of

ORDER = ("layers.0.weight", "layers.0.bias", "log_std")  # the order of exact_meta_gradient


def exact_meta_gradient(n_samples: int = 1_000_000) -> torch.Tensor:
    """grad F w.r.t. (weight, bias, log_std) of a linear Gaussian policy with obs = 1."""
    torch.manual_seed(123)
    theta = torch.tensor([0.0, MU0, LOG_STD0], dtype=torch.float64, requires_grad=True)
    w, b, ls = theta
    mu, sigma = w + b, ls.exp()
    eps = torch.randn(n_samples, N_INNER, dtype=torch.float64)
    a = mu + sigma * eps  # reparameterised inner actions
    r = -(a - TARGET) ** 2
    z = (a - mu) / sigma
    # gradient of the inner loss -(1/n) sum log pi(a) r with the actions held fixed
    g_mu = -(r * z / sigma).mean(1)
    g_ls = -(r * (z**2 - 1)).mean(1)
    w1, b1, ls1 = w - ALPHA * g_mu, b - ALPHA * g_mu, ls - ALPHA * g_ls
    J = -((w1 + b1 - TARGET) ** 2 + (2 * ls1).exp())  # closed-form outer expectation
    (grad,) = torch.autograd.grad(J.mean(), theta)
    return grad.float()


def estimator_samples(estimator: str, n_batches: int = 1000, n_tasks: int = 50, algo="maml"):
    family, policy, tasks = bandit_setup(n_tasks)
    learner = MetaLearner(policy, family, algo=algo, inner_lr=ALPHA, episodes=N_INNER,
                          estimator=estimator, baseline=False, normalize=False)
    params = params_of(policy)
    gen = torch.Generator().manual_seed(7)
    out = []
    for _ in range(n_batches):
        loss, _ = learner.meta_loss(params, tasks, gen)
        grads = torch.autograd.grad(loss, list(params.values()))
        grad = dict(zip(params, grads))
        out.append(-torch.cat([grad[k].flatten() for k in ORDER]))  # gradient of F, not of the loss
    return torch.stack(out)


@pytest.fixture(scope="module")
def exact():
    return exact_meta_gradient()


def z_scores(samples: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:
    se = samples.std(0) / math.sqrt(samples.shape[0])
    return (samples.mean(0) - exact) / se


def test_dice_is_unbiased(exact):
    z = z_scores(estimator_samples("dice"), exact)
    assert z.abs().max() < 3.0, f"dice z-scores {z.tolist()}"


def test_naive_is_biased(exact):
    z = z_scores(estimator_samples("naive"), exact)
    assert z.abs().max() > 10.0, f"naive z-scores {z.tolist()}"


def test_lvc_is_biased_without_inner_score(exact):
    z = z_scores(estimator_samples("lvc"), exact)
    print("lvc z-scores", z.tolist())
    assert z.abs().max() > 5.0


def test_fomaml_is_outer_gradient_at_adapted_params():
    family, policy, tasks = bandit_setup(3)
    learner = MAML(policy, family, inner_lr=ALPHA, first_order=True, episodes=N_INNER,
                   baseline=False, normalize=False)
    params = params_of(policy)
    gen = torch.Generator().manual_seed(3)
    loss, _ = learner.meta_loss(params, tasks, gen)
    fo = torch.autograd.grad(loss, list(params.values()))
    # replay with the same generator: adapted params, outer episodes, outer loss at theta'
    gen = torch.Generator().manual_seed(3)
    ad = learner.adapt(params, tasks, gen)
    from mamlgame.rollout import rollout

    out = rollout(family, tasks, policy, ad.params, N_INNER, gen)
    phi = {k: v.detach().requires_grad_() for k, v in ad.params.items()}
    outer = -learner._outer_objective(ad._replace(params=phi), out, tasks).mean()
    per_task = torch.autograd.grad(outer, list(phi.values()))
    for a, b in zip(fo, per_task):
        torch.testing.assert_close(a, b.sum(0))


def test_adapt_is_a_manual_sgd_step():
    family, policy, tasks = bandit_setup(2)
    learner = MAML(policy, family, inner_lr=ALPHA, episodes=N_INNER,
                   baseline=False, normalize=False)
    params = params_of(policy)
    ad = learner.adapt(params, tasks, torch.Generator().manual_seed(5))
    ep = ad.episodes[0]
    a, r = ep.actions[..., 0, 0], ep.rewards[..., 0]  # [T, n]
    mu, sigma = MU0, math.exp(LOG_STD0)
    z = (a - mu) / sigma
    g_mu = -(r * z / sigma).mean(1)
    g_ls = -(r * (z**2 - 1)).mean(1)
    torch.testing.assert_close(ad.params["layers.0.bias"][:, 0], MU0 - ALPHA * g_mu)
    torch.testing.assert_close(ad.params["layers.0.weight"][:, 0, 0], -ALPHA * g_mu)
    torch.testing.assert_close(ad.params["log_std"][:, 0], LOG_STD0 - ALPHA * g_ls)


def test_reptile_meta_gradient_is_theta_minus_mean_adapted():
    family, policy, tasks = bandit_setup(4)
    learner = MetaLearner(policy, family, algo="reptile", inner_lr=ALPHA, inner_steps=2,
                          episodes=N_INNER, baseline=False, normalize=False)
    params = params_of(policy)
    loss, _ = learner.meta_loss(params, tasks, torch.Generator().manual_seed(4))
    grads = torch.autograd.grad(loss, list(params.values()))
    ad = learner.adapt({k: v.detach() for k, v in params.items()}, tasks,
                       torch.Generator().manual_seed(4), steps=2)
    for (k, v), g in zip(params.items(), grads):
        torch.testing.assert_close(g, v.detach() - ad.params[k].detach().mean(0))


@pytest.mark.parametrize("algo, given, expected", [
    ("reptile", 0, 3), ("reptile", 1, 1), ("maml", 0, 1), ("fomaml", 2, 2)])
def test_inner_steps_default_is_three_for_reptile_only(algo, given, expected):
    """Reptile with one inner step is joint training, so its default (0 = unset) is 3."""
    family, policy, tasks = bandit_setup(2)
    learner = MetaLearner(policy, family, algo=algo, inner_steps=given, episodes=N_INNER)
    ad = learner.adapt(params_of(policy), tasks, torch.Generator().manual_seed(0))
    assert learner.inner_steps == expected and len(ad.episodes) == expected


def test_metasgd_steps_with_learned_per_parameter_rates():
    family, policy, tasks = bandit_setup(2)
    learner = MetaLearner(policy, family, algo="metasgd", inner_lr=ALPHA, episodes=N_INNER,
                          baseline=False, normalize=False)
    with torch.no_grad():
        learner.inner_lrs["log_std"].fill_(0.05)  # a different rate for one parameter
    params = params_of(policy)
    plain = MAML(policy, family, inner_lr=ALPHA, episodes=N_INNER, baseline=False,
                 normalize=False).adapt(params, tasks, torch.Generator().manual_seed(9))
    ad = learner.adapt(params, tasks, torch.Generator().manual_seed(9))
    torch.testing.assert_close(ad.params["layers.0.bias"], plain.params["layers.0.bias"])
    step = (params["log_std"] - plain.params["log_std"]) / ALPHA  # the inner gradient
    torch.testing.assert_close(ad.params["log_std"], params["log_std"] - 0.05 * step)
    loss, _ = learner.meta_loss(params, tasks, torch.Generator().manual_seed(9))
    lr_grads = torch.autograd.grad(loss, list(learner.inner_lrs.values()))
    assert all(torch.isfinite(g).all() for g in lr_grads)
    assert any(g.abs().sum() > 0 for g in lr_grads)


@pytest.mark.parametrize("algo", ["maml", "metasgd"])
def test_inner_lr_decay_shrinks_each_later_step(algo):
    """Step k takes the step size times decay**k: two decayed steps equal a step at ALPHA
    then one at ALPHA * decay from where the first left off (same episodes)."""
    family, policy, tasks = bandit_setup(2)
    kw = dict(episodes=N_INNER, baseline=False, normalize=False)
    params = params_of(policy)
    decayed = MetaLearner(policy, family, algo=algo, inner_lr=ALPHA, inner_steps=2,
                          inner_lr_decay=0.5, **kw)
    ad = decayed.adapt(params, tasks, torch.Generator().manual_seed(3))
    gen = torch.Generator().manual_seed(3)
    first = MetaLearner(policy, family, inner_lr=ALPHA, **kw).adapt(params, tasks, gen)
    one = {k: v.detach() for k, v in first.params.items()}
    second = MetaLearner(policy, family, inner_lr=ALPHA * 0.5, **kw).adapt(one, tasks, gen)
    for k, v in second.params.items():
        torch.testing.assert_close(ad.params[k], v)
    step = torch.as_tensor(decayed.step_size("log_std", 2)).detach()
    assert float(step.mean()) == pytest.approx(ALPHA / 4)
