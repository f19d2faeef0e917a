"""The goal belief's rollout shortcuts (issue 24): the danger read from a lookup per offset
and move gives exactly the danger computed per step, shared or per task, opponents near and
far, from any movement state (wall states move farther than one tile)."""

import pytest
import torch

from mamlgame.families.game import belief
from mamlgame.families.game.belief import belief_inputs, graph_logits
from tests.test_goal_belief import graph_setup


@pytest.mark.parametrize("per_task", [False, True])
def test_the_danger_lookup_gives_the_danger_computed_per_step(per_task):
    _, _, tasks = graph_setup()
    inputs = belief_inputs(tasks)
    gen = torch.Generator().manual_seed(4)
    inputs["belief"] = torch.randn(inputs["belief"].shape, generator=gen)
    t, s, _ = inputs["succ"].shape
    state = torch.randint(0, s, (t, 50), generator=gen)
    opponents = torch.randint(-12, 13, (t, 50, 3, 3), generator=gen).float()
    opponents[..., 2] = (opponents[..., 2] > 0).float()
    danger = torch.tensor([-8.0, -4.0, -1.5, -0.5, 0.25])
    if per_task:
        danger = danger + torch.randn(t, 5, generator=gen)
    scale = torch.tensor(0.7)
    with torch.enable_grad():
        plain = graph_logits(inputs, state, scale, opponents, danger).detach()
    belief._LAST_TABLE.clear()
    belief._LAST_DANGER.clear()
    with torch.no_grad():
        cached = graph_logits(inputs, state, scale, opponents, danger)
        assert bool(belief._LAST_DANGER) != per_task  # a shared danger reads its lookup
        assert belief._LAST_TABLE[0][-1] > 1  # wall states' moves reach farther
        danger.add_(1.0)  # an updated danger is seen (its version changed)
        moved = graph_logits(inputs, state, scale, opponents, danger)
    assert torch.equal(cached, plain)
    assert not torch.equal(moved, cached)
