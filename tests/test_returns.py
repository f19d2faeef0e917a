"""Returns and the linear feature baseline, recomputed by hand."""

import torch

from mamlgame.returns import baseline_features, discounted_returns, linear_baseline


def test_discounted_returns_by_hand():
    r = torch.tensor([[[1.0, 2.0, 3.0, 4.0]]])
    mask = torch.tensor([[[1.0, 1.0, 1.0, 0.0]]])  # the episode ended after 3 steps
    g = discounted_returns(r, mask, 0.5)
    assert torch.allclose(g, torch.tensor([[[1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3.0, 0.0]]]))


def test_linear_baseline_is_per_task_least_squares():
    torch.manual_seed(0)
    obs = torch.randn(3, 4, 6, 2)
    ret = torch.randn(3, 4, 6)
    mask = torch.ones(3, 4, 6)
    mask[1, 2, 3:] = 0
    values = linear_baseline(obs, ret, mask, reg=0.0)
    for t in range(3):
        m = mask[t].reshape(-1).bool()
        X = baseline_features(obs[t : t + 1], mask[t : t + 1]).reshape(-1, 8)[m].double()
        w = torch.linalg.lstsq(X, ret[t].reshape(-1)[m].double().unsqueeze(-1)).solution
        expect = (X @ w).squeeze(-1).float()
        torch.testing.assert_close(values[t].reshape(-1)[m], expect, atol=1e-4, rtol=1e-4)
    assert (values[mask == 0] == 0).all()


def test_policy_pure_forward_equals_functional_call():
    from torch.func import functional_call

    from mamlgame.policy import MLPPolicy, expand_params

    torch.manual_seed(0)
    policy = MLPPolicy(3, 2, hidden=(5, 4))
    params = dict(policy.named_parameters())
    per_task = {k: v + 0.1 * torch.randn(v.shape) for k, v in expand_params(params, 4).items()}
    obs = torch.randn(4, 6, 3)
    torch.testing.assert_close(policy.apply_params(per_task, obs),
                               functional_call(policy, per_task, (obs,)))
    for t in range(4):  # task t's weights act on task t's observations
        own = {k: v[t] for k, v in per_task.items()}
        torch.testing.assert_close(policy.apply_params(per_task, obs)[t],
                                   functional_call(policy, own, (obs[t],)))


def test_gae_by_hand():
    from mamlgame.returns import gae

    r = torch.tensor([[[1.0, 2.0, 3.0]]])
    v = torch.tensor([[[0.5, 1.0, 0.0]]])  # V = 0 after the episode ends
    mask = torch.tensor([[[1.0, 1.0, 0.0]]])
    g, lam = 0.9, 0.5
    d0, d1 = 1 + g * 1.0 - 0.5, 2 + g * 0.0 - 1.0
    expect = torch.tensor([[[d0 + g * lam * d1, d1, 0.0]]])
    torch.testing.assert_close(gae(r, v, mask, g, lam), expect)
    # lam = 1 telescopes to the discounted return minus the baseline
    torch.testing.assert_close(gae(r, v, mask, g, 1.0),
                               (discounted_returns(r, mask, g) - v) * mask)



def test_policy_loss_pass_matches_plain_ops_to_second_order():
    """The loss-pass forward (>= 1024 rows per task: in-place bias adds and the action head's
    own backward) gives the values, gradients and second-order gradients of plain F.linear."""
    import torch.nn.functional as F

    from mamlgame.policy import MLPPolicy, expand_params

    torch.manual_seed(0)
    policy = MLPPolicy(2, 2, hidden=(8, 8)).double()
    shared = {k: v.detach().clone().requires_grad_() for k, v in policy.named_parameters()
              if k.startswith("layers.")}
    obs = torch.randn(3, 1100, 2, dtype=torch.double)

    def reference(p, o):
        x = o
        for i in range(3):
            x = F.linear(x, p[f"layers.{i}.weight"], p[f"layers.{i}.bias"])
            x = torch.relu(x) if i < 2 else x
        return x

    def second_order(forward):
        per_task = expand_params(shared, 3)
        inner = forward(per_task).square().mean()
        grads = torch.autograd.grad(inner, list(per_task.values()), create_graph=True)
        adapted = {k: v - 0.1 * g for (k, v), g in zip(per_task.items(), grads)}
        outer = forward(adapted).sin().sum()
        return [outer, *torch.autograd.grad(outer, list(shared.values()))]

    ours = second_order(lambda p: policy.apply_params(p, obs))
    ref = second_order(lambda p: torch.stack([reference({k: v[t] for k, v in p.items()}, obs[t])
                                              for t in range(3)]))
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b)
