"""The goal belief on big maps: the two-scale distance tables against exact breadth-first
distances, and the field they give against the exact expected distance where it must agree.

The cells are forced small (`cells=` a few dozen) so that shipped levels exercise the
big-map path."""

import torch

from mamlgame.families.game.belief import (
    belief_inputs,
    expected_distance,
    graph_logits,
    rise_levels,
    successors,
)
from mamlgame.families.game.distances import NEAR, cell_side, cell_tables, dense_tables
from mamlgame.packs import load_pack


def setup(name: str = "platformer", cells: int = 20):
    tasks = load_pack(name).tasks("train", 4, seed=5)
    succ = successors(tasks, rise_levels(tasks))
    closed = tasks["wall"] | tasks["hazard"]
    height, width = (int(x) for x in tasks["grid"][0])
    dense = belief_inputs(tasks)
    assert "goal_dist" in dense  # shipped levels are small: the dense tables
    big = {**{k: dense[k] for k in ("belief", "succ", "width")},
           **cell_tables(closed, succ, height, width, cells)}
    return tasks, dense, big


def test_local_distances_are_the_exact_ones_within_the_radius():
    for name in ("platformer", "mixed"):
        tasks, dense, big = setup(name)
        local, goal_dist = big["local_dist"], dense["goal_dist"]  # [T, S, W²], [T, N, S]
        side = int(round(local.shape[2] ** 0.5))
        r, width = side // 2, int(tasks["grid"][0, 1])
        height, n = int(tasks["grid"][0, 0]), goal_dist.shape[1]
        for t in range(len(tasks)):
            for s in range(0, goal_dist.shape[2], 5):
                row, col = divmod(s % n, width)
                for i in range(side):
                    for j in range(side):
                        rr, cc = row + i - r, col + j - r
                        got = int(local[t, s, i * side + j])
                        if not (0 <= rr < height and 0 <= cc < width):
                            assert got == NEAR
                            continue
                        d = int(goal_dist[t, rr * width + cc, s])
                        assert got == (d if d <= r else NEAR), (t, s, i, j)


def test_cell_distances_reach_each_cells_representative():
    tasks, dense, big = setup("mixed")
    side = cell_side(tasks["wall"].shape[1], 20)
    assert side == 4
    cell_dist, cell_of = big["cell_dist"], big["cell_of"]  # [T, S, C], [T, N]
    goal_dist = dense["goal_dist"]
    open_ = ~(tasks["wall"] | tasks["hazard"])
    for t in range(len(tasks)):
        for c in range(cell_dist.shape[2]):
            tiles = torch.nonzero((cell_of[t] == c) & open_[t])[:, 0]
            if not len(tiles):
                continue
            # the representative is one of the cell's open tiles: its exact row matches
            reach = goal_dist[t, tiles] < 128
            row = cell_dist[t, :, c].float()
            match = [bool(((goal_dist[t, g] == row) | ~reach[i]).all()) for i, g in
                     enumerate(tiles)]
            assert any(match), (t, c)


def test_a_sure_belief_gives_the_exact_distance_near_the_goal():
    """A belief on the goal alone: within the local radius F(s) = d(s, goal) exactly (the
    dense field is exact everywhere)."""
    tasks, dense, big = setup("platformer")
    n = tasks["wall"].shape[1]
    sure = torch.where(torch.arange(n)[None] == tasks["goal"][:, None], 40.0, -40.0)
    to_goal = dense["goal_dist"][torch.arange(len(tasks)), tasks["goal"]]  # [T, S]
    states = torch.stack([torch.nonzero(row < 128)[:, 0][:60] for row in to_goal])
    exact = to_goal.gather(1, states)
    got = expected_distance({**big, "belief": sure}, states)[0]
    r = int(round(big["local_dist"].shape[2] ** 0.5)) // 2
    near = exact <= r
    assert near.any() and (~near).any()
    torch.testing.assert_close(got[near], exact[near], atol=1e-3, rtol=0)
    ref = expected_distance({**dense, "belief": sure}, states)[0]
    torch.testing.assert_close(ref, exact, atol=1e-3, rtol=0)  # the dense field is exact


def test_the_two_scale_field_is_differentiable_and_matches_per_call():
    """Gradients reach every tile's belief through the cells and the local window, and the
    field at a state does not depend on which other states are asked for."""
    tasks, _, big = setup("mixed")
    belief = (big["belief"] + torch.randn(big["belief"].shape)).requires_grad_()
    inputs = {**big, "belief": belief}
    states = torch.randint(0, big["succ"].shape[1], (len(tasks), 30))
    alone = expected_distance(inputs, states[:, :10])[0]
    both = expected_distance(inputs, states[:, :10], states[:, 10:])[0]
    torch.testing.assert_close(alone, both)
    logits = graph_logits(inputs, states, torch.tensor(1.0))
    logits.sum().backward()
    assert belief.grad is not None and torch.isfinite(belief.grad).all()
    assert (belief.grad.abs() > 0).float().mean() > 0.5


def test_the_dense_tables_cap_unreachable_tiles():
    tasks, dense, _ = setup("mixed")
    closed = tasks["wall"] | tasks["hazard"]
    again = dense_tables(closed, dense["succ"])  # from the cache: the same table
    assert torch.equal(again, dense["goal_dist"])
    assert dense["goal_dist"].max() == 128
