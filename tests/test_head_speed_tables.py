"""The goal belief's danger read from lookups (issue 24): the opponents' distances from each
action's tile by offset and move code, and in a rollout the danger itself, give exactly the
danger computed from the displacements, shared or per task, opponents near and far, from
every state a player can be in (a wall state stands for any: its move is clamped to a
sub-move's), with autograd and without (a shared danger's gradient to float tolerance: its
lookup sums it in another order)."""

import pytest
import torch

from mamlgame.families.game import belief
from mamlgame.families.game.belief import belief_inputs, graph_logits
from tests.test_goal_belief import graph_setup


def by_hand(inputs, state, scale, opponents, danger):
    """graph_logits' danger as the distance arithmetic gives it."""
    t, s, a = inputs["succ"].shape
    flat = state.clamp(0, s - 1)
    nxt = inputs["succ"].gather(1, flat.unsqueeze(-1).expand(-1, -1, a))
    dr, dc = belief._moves(inputs, flat, nxt)
    far = ((opponents[..., 0].unsqueeze(-1) - dr.unsqueeze(2)).abs()
           + (opponents[..., 1].unsqueeze(-1) - dc.unsqueeze(2)).abs())
    near = far.long().clamp(max=danger.shape[-1])
    padded = torch.cat([danger, danger.new_zeros(*danger.shape[:-1], 1)], -1)
    if padded.dim() == 2:
        penalty = padded.gather(1, near.reshape(t, -1)).reshape(near.shape)
    else:
        penalty = padded[near]
    base = graph_logits(inputs, state, scale)
    return base + (penalty * opponents[..., 2:3]).sum(2)


@pytest.mark.parametrize("per_task", [False, True])
def test_the_danger_lookups_give_the_danger_of_the_displacements(per_task):
    _, _, tasks = graph_setup()
    inputs = belief_inputs(tasks)
    gen = torch.Generator().manual_seed(4)
    inputs["belief"] = torch.randn(inputs["belief"].shape, generator=gen)
    t, s, a = inputs["succ"].shape
    walls = tasks["wall"].repeat(1, s // tasks["wall"].shape[1])
    state = torch.multinomial((~walls).float(), 50, replacement=True, generator=gen)
    # a sub-move moves at most one tile each way (only from wall states farther)
    dr, dc = belief._moves(inputs, state, inputs["succ"].gather(
        1, state.unsqueeze(-1).expand(-1, -1, a)))
    assert int(dr.abs().max()) == 1 and int(dc.abs().max()) == 1
    opponents = torch.randint(-12, 13, (t, 50, 3, 3), generator=gen).float()
    opponents[..., 2] = (opponents[..., 2] > 0).float()
    danger = torch.tensor([-8.0, -4.0, -1.5, -0.5, 0.25])
    if per_task:
        danger = danger + torch.randn(t, 5, generator=gen)
    danger.requires_grad_()
    scale = torch.tensor(0.7)
    with torch.enable_grad():
        plain = graph_logits(inputs, state, scale, opponents, danger)
        expected = by_hand(inputs, state, scale, opponents, danger)
        weights = torch.randn(plain.shape, generator=gen)
        grad, = torch.autograd.grad((plain * weights).sum(), danger)
        grad_by_hand, = torch.autograd.grad((expected * weights).sum(), danger)
    assert torch.equal(plain, expected)
    # a shared danger's gradient comes through its lookup's entries: summed in another order
    torch.testing.assert_close(grad, grad_by_hand, rtol=1e-6, atol=1e-6)
    assert per_task <= torch.equal(grad, grad_by_hand)  # per task: the same path, bit for bit
    belief._LAST_TABLE.clear()
    belief._LAST_DANGER.clear()
    with torch.no_grad():
        cached = graph_logits(inputs, state, scale, opponents, danger)
        assert bool(belief._LAST_DANGER) != per_task  # a shared danger reads its lookup
        danger.add_(1.0)  # an updated danger is seen (its version changed)
        moved = graph_logits(inputs, state, scale, opponents, danger)
    assert torch.equal(cached, expected.detach())
    assert not torch.equal(moved, cached)
