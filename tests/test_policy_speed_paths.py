"""The policy's rollout shortcut (issue 24): without autograd the first layer's context bias
is kept between steps while the params are unchanged, and gives what is computed afresh."""

import torch

from mamlgame import policy as policy_module
from mamlgame.policy import MLPPolicy, params_of


def test_the_kept_context_bias_equals_a_fresh_one_and_follows_updates():
    torch.manual_seed(0)
    pol = MLPPolicy(5, 3, hidden=(7,), context=4)
    params = {**params_of(pol), "context": torch.randn(4)}
    per_task = {**params, "context": torch.randn(2, 4)}
    obs = torch.randn(2, 6, 5)
    for p in (params, per_task):
        fresh = pol.apply_params(p, obs).detach()  # with autograd: nothing kept
        assert not policy_module._LAST_BIAS
        with torch.no_grad():
            first = pol.apply_params(p, obs)
            assert policy_module._LAST_BIAS
            again = pol.apply_params(p, obs)  # from the kept bias
            assert torch.equal(first, fresh) and torch.equal(again, fresh)
            p["context"].add_(1.0)  # an in-place update is seen (its version changed)
            moved = pol.apply_params(p, obs)
        assert not torch.equal(moved, fresh)
        assert torch.equal(moved, pol.apply_params(p, obs).detach())
