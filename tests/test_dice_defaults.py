"""`--estimator dice` with the default baselines and normalisation against the exact gradient
of the MAML-RL objective, on one-step Gaussian bandits with varied settings.

F(theta) = E_{a_1..n ~ pi_theta}[ J(theta - alpha * g(theta, a)) ], where g is the gradient of
the inner surrogate *as the defaults define it*: each sample's baseline is fitted on the other
samples (leave-one-out linear feature baseline) and the advantages are normalised by the
task's own mean and std. grad F is computed pathwise (reparameterised a), independently of
mamlgame's code. dice divides its outer advantages by a scale carried over from earlier
batches, so each batch's estimate times that scale is an unbiased estimate of grad F.
"""

import math

import pytest
import torch

from mamlgame.families import make_family
from mamlgame.meta import MetaLearner
from mamlgame.packs import Tasks, load_pack
from mamlgame.policy import MLPPolicy, params_of

ORDER = ("layers.0.weight", "layers.0.bias", "log_std")
RIDGE = 1e-5  # `linear_baseline`'s regulariser
# (target, alpha, inner samples, mu0, sigma0): the example, a large step with few
# samples, many samples with a small step, a far target
SETTINGS = [(-0.4, 0.15, 8, 0.1, 0.4), (0.5, 0.3, 3, -0.3, 1.0), (1.0, 0.1, 10, 0.2, 0.7),
            (-1.5, 0.05, 20, 0.5, 0.5)]


def exact_gradient(target, alpha, n, mu0, sigma0, loo=True, n_samples=200_000, seed=123):
    """grad F w.r.t. (weight, bias, log_std) of a linear Gaussian policy (obs = 1), and its
    Monte Carlo standard error. `loo`: the inner baseline leaves each sample out (dice's
    inner rule); else it is fitted on all samples (lvc's and naive's)."""
    g = torch.Generator().manual_seed(seed)
    theta = torch.tensor([0.0, mu0, math.log(sigma0)], dtype=torch.float64, requires_grad=True)
    w, b, ls = theta
    mu, sigma = w + b, ls.exp()
    eps = torch.randn(n_samples, n, generator=g, dtype=torch.float64)
    a = mu + sigma * eps
    r = -(a - target) ** 2
    # baseline of sample i: ridge fit of the other samples' returns on the bandit's features
    # x = [o, o^2, t, t^2, t^3, 1] = [1, 1, 0, 0, 0, 1] (|x|^2 = 3)
    fitted = r.sum(1, keepdim=True) - (r if loo else 0.0)
    base = 3.0 * fitted / (3.0 * (n - 1 if loo else n) + RIDGE)
    adv = r - base
    m = adv.mean(1, keepdim=True)
    s = (adv - m).square().mean(1, keepdim=True).sqrt()
    A = (adv - m) / (s + 1e-8)
    z = (a - mu) / sigma
    g_mu = -(A * z / sigma).mean(1)
    g_ls = -(A * (z ** 2 - 1)).mean(1)
    w1, b1, ls1 = w - alpha * g_mu, b - alpha * g_mu, ls - alpha * g_ls
    J = -((w1 + b1 - target) ** 2 + (2 * ls1).exp())
    (grad,) = torch.autograd.grad(J.mean(), theta, retain_graph=True)
    # standard error from 20 independent chunks
    chunks = J.reshape(20, -1).mean(1)
    per = torch.stack([torch.autograd.grad(c, theta, retain_graph=True)[0] for c in chunks])
    return grad.float(), (per.std(0) / math.sqrt(20)).float()


def estimates(estimator, target, alpha, n, mu0, sigma0, n_batches=400, n_tasks=50):
    """Per-batch meta-gradient estimates of grad F (each times the scale it was divided by)."""
    family = make_family(load_pack("bandit"))
    policy = MLPPolicy(1, 1, hidden=(), init_std=sigma0)
    with torch.no_grad():
        policy.layers[0].weight.zero_()
        policy.layers[0].bias.fill_(mu0)
    tasks = Tasks({"target": torch.full((n_tasks, 1), float(target))},
                  tuple(map(str, range(n_tasks))))
    learner = MetaLearner(policy, family, "maml", alpha, episodes=n, estimator=estimator)
    params = params_of(policy)
    gen = torch.Generator().manual_seed(7)
    learner.meta_loss(params, tasks, gen)  # the first batch starts the carried scale
    out = []
    for _ in range(n_batches):
        scale = learner.adv_scale if learner.unbiased else 1.0
        loss, _ = learner.meta_loss(params, tasks, gen)
        grads = dict(zip(params, torch.autograd.grad(loss, list(params.values())), strict=True))
        out.append(-torch.cat([grads[k].flatten() for k in ORDER]) * scale)
    return torch.stack(out)


def z_scores(samples, exact, exact_se):
    se = samples.std(0) / math.sqrt(samples.shape[0])
    return (samples.mean(0) - exact) / (se.square() + exact_se.square()).sqrt()


@pytest.mark.parametrize("setting", SETTINGS)
def test_dice_with_default_baselines_matches_the_exact_gradient(setting):
    exact, exact_se = exact_gradient(*setting)
    z = z_scores(estimates("dice", *setting), exact, exact_se)
    assert z.abs().max() < 3.5, f"dice z-scores {z.tolist()} (exact {exact.tolist()})"


def test_lvc_and_naive_are_biased_with_the_defaults():
    """Their mean is not even proportional to grad F of their own inner rule: the residual
    after the best positive scaling stays many standard errors away."""
    setting = SETTINGS[0]
    exact, exact_se = exact_gradient(*setting, loo=False)
    for estimator in ("lvc", "naive"):
        samples = estimates(estimator, *setting)
        mean = samples.mean(0)
        c = max(float(mean @ exact / (exact @ exact)), 0.0)  # the best positive scaling
        z = z_scores(samples, c * exact, c * exact_se)
        assert z.abs().max() > 6.0, f"{estimator}: c {c}, z-scores {z.tolist()}"


def test_dice_resumes_with_its_carried_state(tmp_path):
    """The carried scale and the score baseline's memory are saved in checkpoints: a resumed
    run equals an uninterrupted one."""
    from mamlgame.checkpoint import load_checkpoint
    from mamlgame.config import TrainConfig
    from mamlgame.train import train

    cfg = TrainConfig(pack="navigation", estimator="dice", iterations=4, meta_batch=3,
                      episodes=3, horizon=10, hidden=(8,), anneal_lr=False, seed=2)
    whole = train(cfg, tmp_path / "whole", progress=False)
    train(TrainConfig(**{**cfg.to_dict(), "hidden": (8,), "iterations": 2}), tmp_path / "cut",
          progress=False)
    resumed = train(cfg, tmp_path / "cut", resume=True, progress=False)
    a, b = load_checkpoint(whole), load_checkpoint(resumed)
    assert a["adv_scale"] is not None and a["adv_scale"] == b["adv_scale"]
    remembered = a["score_baseline"]["returns"]
    assert len(remembered) == 4
    for x, y in zip(remembered, b["score_baseline"]["returns"], strict=True):
        assert torch.equal(x, y)
    for k in a["params"]:
        assert torch.equal(a["params"][k], b["params"][k]), k
