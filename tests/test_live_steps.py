"""The loss passes and fits on the steps taken alone (issue 24, sixth round) against the plain
computation over every step: the linear baseline's fit packed into blocks of each task's
steps, log pi on those steps (first and second derivatives), the rollout's network on the
running episodes, and the categorical draw in log space. Sums run in another order, so these
compare to float tolerances, not bit for bit."""

import pytest
import torch

from mamlgame import returns
from mamlgame.policy import MLPPolicy, _draw, log_prob, params_of, sample
from mamlgame.returns import linear_baseline
from tests.test_loss_pass_shortcuts import _episodes_that_end_early


def full_fit(obs, ret, mask, reg=1e-5):
    """The fit over every step ([T, E * H] rows, masked steps zero): o^2 is left out where o
    is 0 or 1 on every step taken."""
    T, H, D = obs.shape[0], obs.shape[-2], obs.shape[-1]
    o = obs.clamp(-10, 10)
    sq = o.square()
    keep = ((sq != o) & (mask != 0).unsqueeze(-1)).reshape(-1, D).any(0)
    al = torch.arange(H, dtype=obs.dtype) / 100.0
    times = torch.stack([al, al.square(), al.pow(3), torch.ones_like(al)], -1)
    X = torch.cat([o, sq[..., keep], times.expand(*obs.shape[:-1], 4)], -1)
    X = (X * mask.unsqueeze(-1)).double().reshape(T, -1, D + int(keep.sum()) + 4)
    y = (ret * mask).double().reshape(T, -1, 1)
    eye = torch.eye(X.shape[-1], dtype=X.dtype)
    w = torch.linalg.solve(X.transpose(1, 2) @ X + reg * eye, X.transpose(1, 2) @ y)
    return (X @ w).reshape(ret.shape).float() * mask


def episode_masks(gen, T, E, H):
    """1 up to each episode's end, as a rollout's."""
    ends = torch.randint(0, H + 1, (T, E, 1), generator=gen)
    return (torch.arange(H) < ends).float()


@pytest.mark.parametrize("block", [4, 7, returns.FIT_BLOCK])
def test_fit_on_the_steps_taken_is_the_fit_over_every_step(monkeypatch, block):
    monkeypatch.setattr(returns, "FIT_BLOCK", block)
    gen = torch.Generator().manual_seed(block)
    for i in range(40):
        T, E, H, D = (int(x) for x in torch.randint(1, 9, (4,), generator=gen))
        obs = torch.randn(T, E, H, D, generator=gen) * 3
        obs[..., :D // 2] = (obs[..., :D // 2] > 0).float()  # 0/1 entries: no o^2
        mask = episode_masks(gen, T, E, H) if i % 2 else \
            (torch.rand(T, E, H, generator=gen) > 0.4).float()
        if i % 5 == 0:
            mask[0] = 0  # a task without a step taken
        if i % 7 == 0:
            mask[-1] = 1  # a task whose every step is taken
        if i % 3 == 0:  # weights other than 0/1
            mask = mask * torch.rand(mask.shape, generator=gen)
        ret = torch.randn(T, E, H, generator=gen)
        got = linear_baseline(obs, ret, mask)
        torch.testing.assert_close(got, full_fit(obs, ret, mask), rtol=1e-5, atol=1e-5)
        assert (got[mask == 0] == 0).all()


def test_fit_of_a_game_batch_is_the_fit_over_every_step():
    _, _, ep = _episodes_that_end_early()
    ret = returns.discounted_returns(ep.rewards, ep.mask, 0.99)
    torch.testing.assert_close(linear_baseline(ep.obs, ret, ep.mask),
                               full_fit(ep.obs, ret, ep.mask), rtol=1e-5, atol=1e-5)


def test_log_prob_on_the_steps_taken_keeps_the_belief_derivatives():
    """The inner step's gradient with respect to the belief and a second derivative through
    it (what MAML's outer gradient takes), packed and plain."""
    policy, params, ep = _episodes_that_end_early()
    got = []
    for packed in (False, True):
        p = {k: v.detach().requires_grad_(v.is_floating_point()) for k, v in params.items()}
        logp = (log_prob(policy, p, ep.obs, ep.actions, ep.mask) if packed
                else log_prob(policy, p, ep.obs, ep.actions) * ep.mask)
        adv = torch.linspace(-1, 1, logp.numel()).reshape(logp.shape)
        g, = torch.autograd.grad((logp * adv).sum(), p["head.belief"], create_graph=True)
        h = torch.autograd.grad(g.square().sum(), [p["layers.0.weight"], p["head.danger"]])
        got.append((logp, g, *h))
    for a, b in zip(*got, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("per_task", [False, True])
def test_gaussian_log_prob_on_the_steps_taken(per_task):
    torch.manual_seed(0)
    policy = MLPPolicy(3, 2, hidden=(5,), context=2)
    params = params_of(policy)
    if per_task:  # per-task weights and std: the network runs on every row
        params = {k: v.unsqueeze(0).expand(4, *v.shape) + 0.1 * torch.randn(4, *v.shape)
                  for k, v in params.items()}
    obs, actions = torch.randn(4, 3, 5, 3), torch.randn(4, 3, 5, 2)
    mask = (torch.rand(4, 3, 5) > 0.4).float()
    torch.testing.assert_close(log_prob(policy, params, obs, actions, mask),
                               log_prob(policy, params, obs, actions) * mask)


@pytest.mark.parametrize("discrete", [True, False])
def test_sample_runs_the_network_on_running_episodes_alone(discrete):
    """The running episodes' actions are the plain ones, the generator left as it leaves it."""
    torch.manual_seed(1)
    policy = MLPPolicy(3, 4, hidden=(16, 16), discrete=discrete, context=2)
    params = params_of(policy)
    obs = torch.randn(5, 6, 3)
    alive = torch.rand(5, 6) > 0.5
    gens = [torch.Generator().manual_seed(2) for _ in range(2)]
    plain = sample(policy, params, obs, gens[0])
    got = sample(policy, params, obs, gens[1], alive=alive)
    torch.testing.assert_close(got[alive], plain[alive])
    assert torch.equal(gens[0].get_state(), gens[1].get_state())


def test_draw_in_log_space_is_the_multinomial_draw():
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(400, 6, generator=gen) * 4
    logits[:, 2] = -30.0  # a closed tile's
    want = torch.multinomial(torch.softmax(logits, -1), 1,
                             generator=torch.Generator().manual_seed(4)).squeeze(1)
    assert torch.equal(_draw(logits, torch.Generator().manual_seed(4)), want)


def test_shared_danger_lookup_keeps_the_second_derivatives():
    """A loss pass reads a shared danger through its lookup (one take): the values, gradients
    and the second derivative through the belief's gradient of the per-task path."""
    from mamlgame.families.game.belief import belief_inputs, graph_logits
    from tests.test_goal_belief import graph_setup

    _, _, tasks = graph_setup()
    inputs = belief_inputs(tasks)
    gen = torch.Generator().manual_seed(6)
    t, s, _ = inputs["succ"].shape
    state = torch.randint(0, s, (t, 40), generator=gen)
    opponents = torch.randint(-6, 7, (t, 40, 2, 3), generator=gen).float()
    opponents[..., 2] = (opponents[..., 2] > 0).float()
    weights = torch.randn(t, 40, 6, generator=gen)
    got = []
    for shared in (True, False):
        belief = torch.randn(inputs["belief"].shape, generator=torch.Generator().manual_seed(7),
                             requires_grad=True)
        danger = torch.tensor([-8.0, -4.0, -1.0, 0.0], requires_grad=True)
        d = danger if shared else danger.expand(t, -1)
        z = graph_logits({**inputs, "belief": belief}, state, torch.tensor(0.9), opponents, d)
        loss = (torch.log_softmax(z[..., :weights.shape[-1]], -1) * weights).sum()
        g, = torch.autograd.grad(loss, belief, create_graph=True)
        h, = torch.autograd.grad(g.square().sum() + loss, danger)
        got.append((z, g, h))
    for a, b in zip(*got, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
