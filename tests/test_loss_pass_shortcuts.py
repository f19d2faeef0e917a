"""The game iteration's shortcuts (issue 24) give the plain computation's numbers: the loss
passes skip the steps after an episode ended, the baseline leaves out repeated squares of
0/1 features, a rollout reads the goal belief's logits from a per-state table, and sampling
draws what torch.multinomial draws."""

import torch

from mamlgame.families.game import belief
from mamlgame.families.game.belief import belief_inputs, graph_logits
from mamlgame.policy import (
    MLPPolicy,
    expand_params,
    log_prob,
    make_policy,
    params_of,
    sample,
    with_task_inputs,
)
from mamlgame.returns import linear_baseline
from mamlgame.rollout import rollout
from tests.test_goal_belief import graph_setup


def _episodes_that_end_early():
    _, family, tasks = graph_setup()
    policy = make_policy(family, hidden=(8, 8), seed=0, context=3, per_level=True)
    params = params_of(policy)
    ep = rollout(family, tasks, policy, params, 4, torch.Generator().manual_seed(0))
    assert 0 < ep.mask.mean() < 1  # some steps are padding
    return policy, with_task_inputs(policy, tasks, params), ep


def test_log_prob_with_mask_skips_padding_and_keeps_first_and_second_derivatives():
    policy, params, ep = _episodes_that_end_early()
    params = {k: v.detach().requires_grad_(v.is_floating_point()) for k, v in params.items()}
    plain = log_prob(policy, params, ep.obs, ep.actions) * ep.mask
    packed = log_prob(policy, params, ep.obs, ep.actions, ep.mask)
    torch.testing.assert_close(packed, plain)
    assert (packed[ep.mask == 0] == 0).all()
    w = params["layers.0.weight"]

    def grad_norm(logp):  # a second-order quantity: the gradient's norm, differentiated again
        g, = torch.autograd.grad((logp * torch.randn(logp.shape, generator=gen)).sum(), w,
                                 create_graph=True)
        return torch.autograd.grad(g.square().sum(), params["head.belief_scale"])[0]

    gen = torch.Generator().manual_seed(1)
    first = grad_norm(log_prob(policy, params, ep.obs, ep.actions) * ep.mask)
    gen = torch.Generator().manual_seed(1)
    second = grad_norm(log_prob(policy, params, ep.obs, ep.actions, ep.mask))
    assert first.abs() > 0
    torch.testing.assert_close(second, first)


def test_a_per_task_context_and_per_task_weights_give_the_plain_numbers():
    torch.manual_seed(0)
    policy = MLPPolicy(3, 4, hidden=(5,), discrete=True, context=2)
    obs, actions = torch.randn(2, 3, 4, 3), torch.randint(0, 4, (2, 3, 4))
    mask = (torch.rand(2, 3, 4) > 0.4).float()
    context = {**params_of(policy), "context": torch.randn(2, 2)}  # packed: a bias per row
    weights = expand_params(context, 2, ("context",))  # per-task weights: not packed
    for params in (context, weights):
        torch.testing.assert_close(log_prob(policy, params, obs, actions, mask),
                                   log_prob(policy, params, obs, actions) * mask)


def test_baseline_without_repeated_squares_fits_as_with_them():
    torch.manual_seed(0)
    obs = torch.randn(3, 5, 8, 4)
    obs[..., 2:] = (obs[..., 2:] > 0).float()  # two 0/1 features, o^2 = o
    ret, mask = torch.randn(3, 5, 8), torch.ones(3, 5, 8)
    mask[0, 1, 4:] = 0
    fast = linear_baseline(obs, ret, mask, reg=1e-8)
    # the full basis [o, o^2, ...]: a continuous copy of the 0/1 columns is never dropped
    nudged = obs.clone()
    nudged[0, 0, 0, 2:] = 0.5  # one value off {0, 1}: every square is kept...
    full = linear_baseline(nudged, ret, mask, reg=1e-8)
    # ...and on the other tasks, where the span is the same, the fits agree
    torch.testing.assert_close(fast[1:], full[1:], atol=1e-4, rtol=1e-4)


def test_rollout_table_gives_the_logits_computed_per_step():
    _, family, tasks = graph_setup()
    inputs = belief_inputs(tasks)
    gen = torch.Generator().manual_seed(2)
    inputs["belief"] = torch.randn(inputs["belief"].shape, generator=gen)
    t, s, _ = inputs["succ"].shape
    state = torch.randint(0, s, (t, 7), generator=torch.Generator().manual_seed(3))
    opponents = torch.randint(-3, 4, (t, 7, 2, 3)).float()
    opponents[..., 2] = (opponents[..., 2] > 0).float()
    danger, scale = torch.tensor([-8.0, -4.0, -1.0, 0.0]), torch.tensor(1.3)
    with torch.enable_grad():
        plain = graph_logits(inputs, state, scale, opponents, danger).detach()
    belief._LAST_TABLE.clear()
    with torch.no_grad():
        cached = graph_logits(inputs, state, scale, opponents, danger)
        again = graph_logits(inputs, state, scale, opponents, danger)  # from the table
        assert belief._LAST_TABLE and torch.equal(again, cached)
        scale.add_(0.5)  # an updated scale is seen (its version changed)
        moved = graph_logits(inputs, state, scale, opponents, danger)
    assert torch.equal(cached, plain)
    assert not torch.equal(moved, cached)


def test_categorical_sample_is_torch_multinomial():
    torch.manual_seed(0)
    policy = MLPPolicy(3, 5, hidden=(4,), discrete=True)
    obs = torch.randn(6, 7, 3)
    got = sample(policy, params_of(policy), obs, torch.Generator().manual_seed(4))
    probs = torch.softmax(policy(obs), -1).detach()
    want = torch.multinomial(probs.reshape(-1, 5), 1, generator=torch.Generator().manual_seed(4))
    assert torch.equal(got, want.reshape(6, 7))
