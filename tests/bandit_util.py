"""The one-step Gaussian bandit the meta-gradient tests compute exact values on: a policy
a ~ N(MU0, exp(LOG_STD0)²) with no hidden layer, reward -(a - TARGET)², `N_INNER` inner
episodes, inner step size `ALPHA`."""

from __future__ import annotations

import math

import torch

from mamlgame.families import make_family
from mamlgame.packs import Tasks, load_pack
from mamlgame.policy import MLPPolicy

TARGET, ALPHA, N_INNER = 1.0, 0.1, 10
MU0, LOG_STD0 = 0.2, math.log(0.7)


def bandit_setup(n_tasks: int):
    """(family, policy at mean MU0 and std exp(LOG_STD0), `n_tasks` tasks at TARGET)."""
    family = make_family(load_pack("bandit"))
    policy = MLPPolicy(1, 1, hidden=(), init_std=math.exp(LOG_STD0))
    with torch.no_grad():
        policy.layers[0].weight.zero_()
        policy.layers[0].bias.fill_(MU0)
    tasks = Tasks({"target": torch.full((n_tasks, 1), TARGET)}, tuple(map(str, range(n_tasks))))
    return family, policy, tasks


def one_step_objective(eps: torch.Tensor, lr: torch.Tensor | float = ALPHA,
                       shift: torch.Tensor | float = 0.0) -> torch.Tensor:
    """F = E_a[J(theta')] for one inner step of size `lr` on the bandit, then log_std' +
    `shift`, with the inner actions reparameterised by `eps` [n, N_INNER] and J(phi) =
    -((mu' - target)^2 + sigma'^2) in closed form."""
    mu, ls = torch.tensor(MU0, dtype=eps.dtype), torch.tensor(LOG_STD0, dtype=eps.dtype)
    sigma = ls.exp()
    a = mu + sigma * eps
    r = -(a - TARGET) ** 2
    g_mu = -(r * eps / sigma).mean(1)  # the inner gradient (actions held fixed)
    g_ls = -(r * (eps**2 - 1)).mean(1)
    mu1 = (0.0 - lr * g_mu) + (mu - lr * g_mu)  # weight and bias each take the step
    ls1 = ls - lr * g_ls + shift
    return -((mu1 - TARGET) ** 2 + (2 * ls1).exp()).mean()


def exact_derivative(objective, at: float, n_samples: int = 400_000) -> float:
    """d objective(x, eps) / dx at `at`, pathwise over `n_samples` fixed draws eps, with a
    central finite difference as its own check."""
    eps = torch.randn(n_samples, N_INNER, generator=torch.Generator().manual_seed(123),
                      dtype=torch.float64)
    x = torch.tensor(at, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(objective(x, eps), x)
    h = 1e-4
    fd = (objective(torch.tensor(at + h, dtype=torch.float64), eps)
          - objective(torch.tensor(at - h, dtype=torch.float64), eps)) / (2 * h)
    assert math.isclose(float(grad), float(fd), rel_tol=1e-6), (float(grad), float(fd))
    return float(grad)


def assert_meta_gradient_is(exact: float, learner, param: torch.Tensor, rate: float,
                            tasks, params, draws: int = 300) -> None:
    """The mean of `draws` meta-gradient estimates of `learner` w.r.t. `param` (the value is
    `rate` times it) matches dF/dvalue = `exact` (z < 4), which is far from 0: a value the
    outer loss does not reach, or reaches with the wrong sign, fails."""
    gen = torch.Generator().manual_seed(7)
    samples = []
    for _ in range(draws):
        loss, _ = learner.meta_loss(params, tasks, gen)
        (g,) = torch.autograd.grad(loss, [param])
        samples.append(-float(g) / rate)  # dF/dvalue (not the loss's, not the param's)
    x = torch.tensor(samples, dtype=torch.float64)
    se = float(x.std() / math.sqrt(len(x)))
    z = (float(x.mean()) - exact) / se
    assert abs(z) < 4.0, (float(x.mean()), exact)
    assert abs(exact) > 10 * se
