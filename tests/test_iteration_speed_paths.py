"""The shortcuts of a game meta-iteration (issue 24, fifth round) against the plain paths
they replace, bit for bit: the baseline's features and fit, the observation's nearest-first
order of two opponent slots, the danger's sum over slots, the dense distance table of a
level whose moves ignore the rise, the first layer's fused bias, and rollouts stepped in
inference mode (what they return, and the caches they fill, stay usable outside it)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mamlgame.families import make_family
from mamlgame.families.game import distances
from mamlgame.families.game.belief import _sum_slots, successors
from mamlgame.families.game.engine import _nearest_first
from mamlgame.families.game.rules import rise_levels, successor_table
from mamlgame.packs import load_pack
from mamlgame.policy import make_policy, params_of, with_task_inputs
from mamlgame.returns import baseline_features, linear_baseline
from mamlgame.rollout import rollout


def bits(x: torch.Tensor) -> torch.Tensor:
    return x.view(torch.int64 if x.dtype == torch.float64 else torch.int32)


def plain_features(obs, mask, dtype=None):
    """The features as computed before: a comparison, a cast and a column sum pick o^2."""
    o = obs.clamp(-10, 10)
    H, D = obs.shape[-2], obs.shape[-1]
    al = torch.arange(H, dtype=obs.dtype) / 100.0
    sq = o.square()
    differs = (sq != o).reshape(-1, D).to(obs.dtype).sum(0) > 0
    if not bool(differs.all()):
        sq = o[..., differs].square()
    k = sq.shape[-1]
    feats = torch.empty(*obs.shape[:-1], D + k + 4, dtype=dtype or obs.dtype)
    feats[..., :D] = o
    feats[..., D:D + k] = sq
    feats[..., D + k:] = torch.stack([al, al.square(), al.pow(3), torch.ones_like(al)], -1)
    return feats.mul_(mask.unsqueeze(-1))


def odd_observations(gen, shape=(3, 4, 7, 9)):
    """0/1 observations with a few entries per draw of NaN, -0, 1/2, tiny, out of range."""
    obs = torch.randint(0, 2, shape, generator=gen).float()
    for c in torch.randint(0, shape[-1], (3,), generator=gen).tolist():
        i = tuple(torch.randint(0, s, (1,), generator=gen).item() for s in shape[:-1])
        kind = torch.randint(0, 7, (1,), generator=gen).item()
        obs[i + (c,)] = [float("nan"), -0.0, 0.5, 1e-30, 20.0, -3.0, 1e-45][kind]
    return obs


def test_features_are_the_plain_ones():
    gen = torch.Generator().manual_seed(0)
    for i in range(200):
        obs = odd_observations(gen)
        mask = (torch.rand(obs.shape[:-1], generator=gen) > 0.3).float()
        if i % 5 == 0:  # a mask other than 0/1: the features masked in their own dtype
            mask = mask * torch.rand(mask.shape, generator=gen)
        for dtype in (None, torch.float64):
            got, want = baseline_features(obs, mask, dtype), plain_features(obs, mask, dtype)
            assert got.shape == want.shape and torch.equal(bits(got), bits(want))


def test_fit_is_the_two_product_fit():
    """[X y]^T X: the same X^T X and X^T y as two products."""
    gen = torch.Generator().manual_seed(1)
    for _ in range(50):
        T, E, H, D = (int(x) for x in torch.randint(1, 9, (4,), generator=gen))
        obs = torch.randn(T, E, H, D, generator=gen) * 3
        obs[..., :D // 2] = (obs[..., :D // 2] > 0).float()
        mask = (torch.rand(T, E, H, generator=gen) > 0.3).float()
        ret = torch.randn(T, E, H, generator=gen)
        X = plain_features(obs, mask, torch.float64).reshape(T, -1, D + (D - D // 2) + 4)
        y = (ret * mask).reshape(T, -1, 1).double()
        eye = torch.eye(X.shape[-1], dtype=X.dtype)
        w = torch.linalg.solve(X.transpose(1, 2) @ X + 1e-5 * eye, X.transpose(1, 2) @ y)
        want = (X @ w).reshape(ret.shape).float() * mask
        assert torch.equal(bits(linear_baseline(obs, ret, mask)), bits(want))


def test_two_slots_are_ordered_as_the_stable_sort():
    gen = torch.Generator().manual_seed(2)
    for m, n in ((2, 2), (2, 1), (3, 2), (1, 1)):
        dist = torch.randint(0, 4, (5, 6, m), generator=gen).float()
        dist[torch.rand(5, 6, m, generator=gen) < 0.2] = float("inf")  # absent slots, ties
        feats = torch.randn(5, 6, m, 3, generator=gen)
        order = torch.sort(dist, dim=-1, stable=True).indices[..., :n]
        want = feats.gather(2, order.unsqueeze(-1).expand(-1, -1, -1, 3))
        assert torch.equal(_nearest_first(feats, dist, n), want)


@pytest.mark.parametrize("m", [1, 2, 3])
def test_slot_sum_is_the_sum_zeros_signs_included(m):
    gen = torch.Generator().manual_seed(m)
    values = torch.tensor([0.0, -0.0, -8.0, -4.0, -1.0, 0.5, 3e-38])
    x = values[torch.randint(0, len(values), (4, 7, m, 6), generator=gen)]
    assert torch.equal(bits(_sum_slots(x)), bits(x.sum(2)))


def test_rise_free_levels_get_the_full_search():
    """A topdown level in a batch with platformer levels: its table searched over the rise-0
    states and copied is the one searched over every state."""
    pack = load_pack("mixed")
    tasks = pack.pool("train").select(torch.arange(40))
    assert bool(tasks["platformer"].any()) and not bool(tasks["platformer"].all())
    succ = successors(tasks, rise_levels(tasks))
    closed = tasks["wall"] | tasks["hazard"]
    distances.clear_cache()
    table = distances.dense_tables(closed, succ)
    n, shortcut = closed.shape[1], 0
    for i in range(len(tasks)):
        blocked, nxt = closed[i].numpy(), succ[i].numpy()
        shortcut += distances._rise_free(nxt, n)
        full = np.minimum(distances.tile_distances(blocked, nxt, np.arange(n)), distances.FAR)
        assert np.array_equal(table[i].numpy(), full)
    assert shortcut == int((~tasks["platformer"]).sum())


def test_fused_first_layer_bias_is_the_separate_add():
    pack = load_pack("mixed")
    policy = make_policy(make_family(pack), context=8, per_level=False, seed=0)
    params = params_of(policy)
    obs = torch.randn(20, 20, policy.obs_dim)
    w, b, c = params["layers.0.weight"], params["layers.0.bias"], params["context"]
    d = policy.obs_dim
    want = F.linear(obs, w[:, :d]) + (b + c @ w[:, d:].T)
    with torch.no_grad():
        got = policy._first_layer(params, obs, batched=False)
    assert torch.equal(got, want)


def test_rollouts_in_inference_mode_leave_usable_tensors():
    """A rollout's episodes are ordinary tensors (the loss passes save them for backward);
    the path rows it fills can grow outside inference mode; the successor table it made is
    not given to a caller outside inference mode."""
    pack = load_pack("chasers")
    game = make_family(pack)
    policy = make_policy(game, context=8, per_level=True, seed=0)
    tasks = pack.tasks("train", 6, seed=3)
    params = with_task_inputs(policy, tasks, params_of(policy))
    ep = rollout(game, tasks, policy, params, 3, torch.Generator().manual_seed(0))
    assert not any(x.is_inference() for x in ep if isinstance(x, torch.Tensor))
    weight = params["layers.2.weight"]
    (policy.apply_params(params, ep.obs)[..., 0].sum() * weight.sum()).backward()
    # the path rows the rollout filled are ordinary tensors: written in place outside too
    grids = list(game.paths._grids.values())
    assert grids and all(not t.is_inference() for g in grids
                         for t in (g.rows, g.start_of, g.digests, g.slot_of))
    for g in grids:
        g.forget_rows()
    more = pack.tasks("train", 6, seed=4)
    state = game.reset(more, 2, torch.Generator().manual_seed(1))
    for _ in range(5):
        state, _, _ = game.step(more, state, torch.zeros(6, 2, dtype=torch.long))
    fresh = pack.tasks("train", 4, seed=5)
    with torch.inference_mode():
        made = successor_table(fresh, rise_levels(fresh))
    assert made.is_inference()
    again = successor_table(fresh, rise_levels(fresh))
    assert not again.is_inference() and torch.equal(again, made)


def test_danger_take_is_the_index_with_its_gradients():
    """The loss passes read a shared danger by `take`: the values, gradients and second
    derivatives of indexing it."""
    gen = torch.Generator().manual_seed(4)
    near = torch.randint(0, 5, (6, 30, 2, 6), generator=gen)
    w = torch.randn(6, 30, 2, 6, generator=gen)
    v = torch.randn(5, generator=gen)
    out = []
    for read in (lambda p: p[near], lambda p: p.take(near)):
        p = torch.randn(5, generator=torch.Generator().manual_seed(5), requires_grad=True)
        x = read(p)
        g = torch.autograd.grad((x * w).sum(), p, create_graph=True)[0]
        h = torch.autograd.grad((g * v).sum() + (x.square() * w).sum(), p)[0]
        out.append((x, g, h))
    for a, b in zip(*out, strict=True):
        assert torch.equal(bits(a.detach()), bits(b.detach()))
