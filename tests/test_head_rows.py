"""The goal belief's logits at some rows alone (`GoalBelief.logits_at`, issue 24's seventh
round): what the loss passes and a rollout's running episodes read. The same floats as the
logits at every row, gathered at those rows; the derivatives (first, and second through the
belief's gradient) of the plain path to float tolerances (sums over fewer rows)."""

import pytest
import torch

from mamlgame.families.game import belief as belief_mod
from mamlgame.policy import HEAD
from tests.test_loss_pass_shortcuts import _episodes_that_end_early


def _head_setup(per_task: bool):
    policy, params, ep = _episodes_that_end_early()
    p = {k[len(HEAD):]: v for k, v in params.items() if k.startswith(HEAD)}
    t = ep.obs.shape[0]
    gen = torch.Generator().manual_seed(3)
    p["belief"] = p["belief"] + torch.randn(p["belief"].shape, generator=gen)
    if per_task:  # per-task scale and danger (what maml's per-task params give a head)
        p["belief_scale"] = 0.5 + torch.rand(t, generator=gen)
        p["danger"] = p["danger"] + torch.randn(t, p["danger"].shape[0], generator=gen)
    rows = ep.mask.reshape(-1).nonzero().squeeze(1)
    assert 0 < len(rows) < ep.mask.numel()
    return policy.head, p, ep, rows


@pytest.mark.parametrize("per_task", [False, True])
@pytest.mark.parametrize("mode", ["grad", "no_grad", "inference"])
def test_logits_at_rows_are_the_logits_gathered_there(per_task, mode):
    head, p, ep, rows = _head_setup(per_task)
    context = {"grad": torch.enable_grad(), "no_grad": torch.no_grad(),
               "inference": torch.inference_mode()}[mode]
    with context:  # (a rollout's: no autograd, the states' table)
        plain = head.logits(p, ep.obs)
        plain = plain.reshape(-1, plain.shape[-1]).index_select(0, rows)
        got = head.logits_at(p, ep.obs, rows)
    assert torch.equal(got, plain)
    assert torch.equal(torch.signbit(got), torch.signbit(plain))


@pytest.mark.parametrize("per_task", [False, True])
def test_logits_at_rows_keep_the_first_and_second_derivatives(per_task):
    head, p0, ep, rows = _head_setup(per_task)
    weights = torch.randn(len(rows), 6, generator=torch.Generator().manual_seed(5))
    got = []
    for packed in (False, True):
        p = {k: v.detach().requires_grad_(v.is_floating_point()) for k, v in p0.items()}
        if packed:
            z = head.logits_at(p, ep.obs, rows)
        else:
            z = head.logits(p, ep.obs)
            z = z.reshape(-1, z.shape[-1]).index_select(0, rows)
        loss = (torch.log_softmax(z, -1) * weights).sum()
        g, = torch.autograd.grad(loss, p["belief"], create_graph=True)
        second = torch.autograd.grad(g.square().sum() + loss,
                                     [p["belief_scale"], p["danger"], p["belief"]])
        got.append((z, g, *second))
    for a, b in zip(*got, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)


def test_logits_at_rows_on_the_two_scale_field(monkeypatch):
    """Past `CELLS` padded tiles the head reads the two-scale field: every row, gathered."""
    monkeypatch.setattr(belief_mod, "CELLS", 8)
    head, p, ep, rows = _head_setup(False)
    tasks_inputs = belief_mod.belief_inputs(_tasks())
    p = {**{k: v for k, v in p.items() if k != "goal_dist"}, **tasks_inputs}
    assert "goal_dist" not in p and "cell_dist" in p
    plain = head.logits(p, ep.obs)
    assert torch.equal(head.logits_at(p, ep.obs, rows),
                       plain.reshape(-1, plain.shape[-1]).index_select(0, rows))


def _tasks():
    from tests.test_goal_belief import graph_setup
    return graph_setup()[2]


def test_a_known_field_keeps_the_products_value_and_derivatives():
    """A loss pass with the belief a rollout used reuses the rollout's field (`_KnownField`):
    the value, the gradient and a second derivative through it are the product's, bit for
    bit."""
    inputs = belief_mod.belief_inputs(_tasks())
    goal_dist = inputs["goal_dist"]
    gen = torch.Generator().manual_seed(8)
    weights = torch.randn(goal_dist.shape[0], goal_dist.shape[2], generator=gen)
    got = []
    for known in (False, True):
        belief_mod._LAST_FIELD.clear()
        theta = torch.randn(inputs["belief"].shape, generator=torch.Generator().manual_seed(9),
                            requires_grad=True)
        belief = theta * 1.5  # (a non-leaf, as an adapted belief is)
        if known:
            with torch.inference_mode():  # a rollout's
                belief_mod._dense_field(belief, goal_dist)
        field = belief_mod._dense_field(belief, goal_dist)
        assert (field.grad_fn.name() == "_KnownFieldBackward") == known
        g, = torch.autograd.grad((field * weights).sum(), belief, create_graph=True)
        h, = torch.autograd.grad((g * g).sum(), theta)
        got.append((field, g, h))
    for a, b in zip(*got, strict=True):
        assert torch.equal(a, b)
