"""CAVIA-style context adaptation (`--algo cavia`): the policy's context inputs, and an inner
step that is a plain SGD step on the context alone."""

import torch
from game_util import TILE_PACK

from mamlgame.config import TrainConfig
from mamlgame.families import make_family
from mamlgame.meta import MetaLearner
from mamlgame.packs import load_pack
from mamlgame.policy import MLPPolicy, expand_params, log_prob, params_of
from mamlgame.returns import advantages
from mamlgame.rollout import rollout


def test_context_is_extra_first_layer_inputs():
    """b + W_c c as a bias equals the MLP over [obs, c], for a shared context, a per-task
    context with shared weights, and per-task weights."""
    torch.manual_seed(0)
    pol = MLPPolicy(3, 2, hidden=(5,), context=4)
    plain = MLPPolicy(7, 2, hidden=(5,))
    params = {**params_of(pol), "context": torch.randn(4)}
    reference = {k: v for k, v in params.items() if k != "context"}
    plain.load_state_dict(reference)
    obs = torch.randn(2, 6, 3)  # [T, E, obs]
    with_c = lambda c: torch.cat([obs, c.expand(2, 6, 4)], -1)  # noqa: E731
    torch.testing.assert_close(pol.apply_params(params, obs),
                               plain.apply_params(reference, with_c(params["context"])))
    per_task = torch.randn(2, 4)
    torch.testing.assert_close(
        pol.apply_params({**params, "context": per_task}, obs),
        plain.apply_params(reference, with_c(per_task[:, None, :])))
    batched = {**expand_params(params, 2), "context": per_task}
    torch.testing.assert_close(pol.apply_params(batched, obs),
                               plain.apply_params(reference, with_c(per_task[:, None, :])))


def cavia_setup():
    pack = load_pack("navigation")
    cfg = TrainConfig(pack="navigation", algo="cavia", inner_lr=0.7, episodes=4,
                      hidden=(16,)).resolved(pack)
    assert cfg.context == 8  # cavia's default context size
    family = make_family(pack, horizon=12)
    torch.manual_seed(1)
    policy = MLPPolicy(family.obs_dim, family.action_dim, cfg.hidden, context=cfg.context)
    return pack, family, policy, MetaLearner.from_config(policy, family, cfg)


def test_cavia_inner_step_is_an_sgd_step_on_the_context_only():
    pack, family, policy, learner = cavia_setup()
    params = params_of(policy)
    tasks = pack.tasks("train", 3)
    ad = learner.adapt(params, tasks, torch.Generator().manual_seed(4))
    # by hand: the same episodes, the surrogate's gradient w.r.t. each task's context
    ep = ad.episodes[0]
    adv, _ = advantages(ep, learner.gamma, learner.baseline, learner.normalize)
    c = params["context"].detach().expand(3, -1).clone().requires_grad_()
    shared = {k: v.detach() for k, v in params.items() if k != "context"}
    logp = log_prob(policy, {**shared, "context": c}, ep.obs, ep.actions)
    loss = -(logp * adv).sum((1, 2)) / ep.mask.sum((1, 2))
    (g,) = torch.autograd.grad(loss.sum(), [c])
    torch.testing.assert_close(ad.params["context"], c - 0.7 * g)
    for k in shared:  # everything else stays shared, untouched
        assert ad.params[k] is params[k]
    assert g.abs().sum() > 0


def test_cavia_meta_gradient_reaches_the_shared_weights_through_the_context():
    pack, family, policy, learner = cavia_setup()
    params = params_of(policy)
    tasks = pack.tasks("train", 3)
    loss, metrics = learner.meta_loss(params, tasks, torch.Generator().manual_seed(5))
    grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
    named = dict(zip(params, grads, strict=True))
    assert all(g is not None and torch.isfinite(g).all() for g in named.values())
    # the context columns of the first layer act through the adapted (nonzero) context
    assert named["layers.0.weight"][:, family.obs_dim:].abs().sum() > 0
    assert set(metrics) >= {"return_before", "return_after"}
    # the adapted policy is what the outer rollout uses
    ad = learner.adapt(params, tasks, torch.Generator().manual_seed(5))
    out = rollout(family, tasks, policy, ad.params, 2, torch.Generator().manual_seed(6))
    assert out.obs.shape[:2] == (3, 2)




def test_per_level_adds_its_row_at_the_observed_tile():
    from mamlgame.packs import parse_pack
    from mamlgame.policy import make_policy

    pack = parse_pack(TILE_PACK, "tiles.toml")
    family = make_family(pack)
    policy = make_policy(family, (8,), seed=0, per_level=True)
    assert policy.head.tiles == family.n_tiles and policy.head.tile_feature == family.tile_feature
    tasks = pack.tasks("train", 2)
    state = family.reset(tasks, 3, torch.Generator().manual_seed(0))
    obs = family.observe(tasks, state)
    params = params_of(policy)
    table = torch.randn(2, policy.head.tiles, family.action_dim)  # per task
    base = policy.apply_params(params, obs)
    ww = int(tasks["grid"][0, 1])
    r, c = state["pos"] // ww - 1, state["pos"] % ww - 1
    for t in range(2):
        for e in range(3):
            expected = base[t, e] + table[t, int(r[t, e]) * 24 + int(c[t, e])]
            got = policy.apply_params({**params, "head.table": table}, obs)[t, e]
            torch.testing.assert_close(got, expected)


def test_cavia_adapts_only_the_per_level_with_its_inner_discount():
    from mamlgame.packs import parse_pack
    from mamlgame.policy import make_policy

    pack = parse_pack(TILE_PACK, "tiles.toml")
    cfg = TrainConfig(pack="tiles", algo="cavia", inner_lr=50.0, inner_gamma=0.0, episodes=3,
                      hidden=(8,)).resolved(pack)
    assert cfg.inner_gamma == 0.0 and TrainConfig().resolved(pack).inner_gamma == 0.99
    family = make_family(pack, horizon=8)
    policy = make_policy(family, cfg.hidden, seed=0, context=cfg.context, per_level=True)
    learner = MetaLearner.from_config(policy, family, cfg)
    params = params_of(policy)
    assert all(v is not params["head.table"] for v in learner.meta_parameters(params))
    tasks = pack.tasks("train", 2)
    ad = learner.adapt(params, tasks, torch.Generator().manual_seed(3))
    ep = ad.episodes[0]
    adv, _ = advantages(ep, 0.0, learner.baseline, learner.normalize)  # the inner discount
    table = params["head.table"].detach().expand(2, -1, -1).clone().requires_grad_()
    shared = {k: v.detach() for k, v in params.items() if k != "head.table"}
    logp = log_prob(policy, {**shared, "head.table": table}, ep.obs, ep.actions)
    (g,) = torch.autograd.grad((-(logp * adv).sum((1, 2)) / ep.mask.sum((1, 2))).sum(), [table])
    torch.testing.assert_close(ad.params["head.table"], table - 50.0 * g)
    assert ad.params["context"] is params["context"]  # the context stays shared
    visited = (g.abs().sum(-1) > 0).sum().item()
    assert 0 < visited < 2 * policy.head.tiles  # only the visited tiles' rows move


def test_table_radius_adds_the_neighbours_rows_through_the_kernel():
    from mamlgame.packs import parse_pack
    from mamlgame.policy import make_policy

    pack = parse_pack(TILE_PACK, "tiles.toml")
    family = make_family(pack)
    policy = make_policy(family, (8,), seed=0, per_level=True, table_radius=1)
    assert policy.head.spread.tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0]  # the centre only at init
    tasks = pack.tasks("train", 2)
    state = family.reset(tasks, 3, torch.Generator().manual_seed(0))
    obs = family.observe(tasks, state)
    params = params_of(policy)
    table = torch.randn(2, policy.head.tiles, family.action_dim)
    spread = torch.randn(9)
    base = policy.apply_params(params, obs)
    got = policy.apply_params({**params, "head.table": table, "head.spread": spread}, obs)
    ww = int(tasks["grid"][0, 1])
    r, c = state["pos"] // ww - 1, state["pos"] % ww - 1
    for t in range(2):
        for e in range(3):
            expected = base[t, e].clone()
            for k, (dr, dc) in enumerate((a, b) for a in (-1, 0, 1) for b in (-1, 0, 1)):
                tile = (int(r[t, e]) + dr) * 24 + int(c[t, e]) + dc
                if 0 <= tile < policy.head.tiles:
                    expected += spread[k] * table[t, tile]
            torch.testing.assert_close(got[t, e], expected)
    # one inner step writes a visited tile's gradient onto its neighbours' rows, and the
    # kernel is a meta-parameter (the table is not)
    cfg = TrainConfig(pack="tiles", algo="cavia", inner_lr=50.0, inner_gamma=0.0, episodes=3,
                      hidden=(8,), table_radius=1).resolved(pack)
    learner = MetaLearner.from_config(policy, family, cfg)
    assert any(v is params["head.spread"] for v in learner.meta_parameters(params))
    with torch.no_grad():
        params["head.spread"].copy_(torch.full((9,), 0.5))
    ad = learner.adapt(params, tasks, torch.Generator().manual_seed(3))
    written = (ad.params["head.table"].abs().sum(-1) > 0).sum().item()
    visited = obs.new_zeros(2, policy.head.tiles, dtype=torch.bool)
    ep = ad.episodes[0]
    idx = (ep.obs[..., family.tile_feature] * family.tile_scale).round().long()
    for t in range(2):
        visited[t, idx[t][ep.mask[t] > 0]] = True
    assert written > visited.sum().item()  # neighbours of visited tiles were written too


def test_table_radius_needs_a_per_level():
    import pytest

    from mamlgame.errors import TrainingError
    from mamlgame.policy import make_policy

    with pytest.raises(TrainingError, match="--table-radius needs --algo cavia"):
        make_policy(make_family(load_pack("navigation")), (8,), table_radius=1)
