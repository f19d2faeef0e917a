"""The game's goal belief (`position = "graph"`, `--algo cavia`): the movement graph and path
distances against the engine, the belief's logits by hand, the inner step as an SGD step on
the belief, and one step that finds the goal."""

import torch

from mamlgame.config import TrainConfig
from mamlgame.families import make_family
from mamlgame.families.game.belief import FAR, belief_inputs, rise_levels
from mamlgame.meta import MetaLearner
from mamlgame.packs import parse_pack
from mamlgame.policy import log_prob, make_policy, params_of, with_task_inputs
from mamlgame.returns import advantages

GRAPH_PACK = '''
[pack]
name = "graph"
family = "game"
[split]
train = 8
test = 2
[generate]
size = [6, 8]
mode = { topdown = 0.5, platformer = 0.5 }
layout = { open = 0.3, rooms = 0.2, maze = 0.2, platforms = 0.2, gaps = 0.1 }
position = "graph"
player_speed = 1.0
hazards = [0, 2]
opponents = [0, 2]
'''

FIELD_PACK = '''
[pack]
name = "field"
family = "game"
horizon = 30
[split]
train = 1
test = 1
test_levels = ["field"]
[generate]
position = "graph"
[reward]
shaping = 1.0
[[level]]
name = "field"
map = """
.........
.S.....G.
.........
"""
'''


def graph_setup():
    pack = parse_pack(GRAPH_PACK, "graph.toml")
    family = make_family(pack)
    tasks = pack.tasks("train", 8)
    assert bool(tasks["platformer"].any()) and not bool(tasks["platformer"].all())
    return pack, family, tasks


def test_successors_are_the_engines_moves():
    """succ[t, s, a] is where the engine's step takes a player at speed 1 from state s."""
    _, family, tasks = graph_setup()
    levels = rise_levels(tasks)
    inputs = belief_inputs(tasks)
    succ = inputs["succ"]
    t, s, a = succ.shape
    n = tasks["wall"].shape[1]
    assert s == levels * n and a == family.action_dim
    state = family.reset(tasks, s * a, None)
    states = torch.arange(s).repeat_interleave(a)
    tiles = (states % n).expand(t, -1)
    width = int(tasks["grid"][0, 1])
    state["pos"] = torch.where(tasks["wall"].gather(1, tiles), width + 1, tiles)  # in range
    state["rise"] = (states // n).expand(t, -1).clone()
    new, _, _ = family.step(tasks, state, torch.arange(a).repeat(s).expand(t, -1))
    after = (new["rise"] * n + new["pos"]).reshape(t, s, a)
    open_ = ~(tasks["wall"] | tasks["hazard"]).repeat(1, levels)
    # a state the level can be in: an open tile, and a rise within the level's own jump
    own = torch.where(tasks["platformer"], tasks["jump"] + 1, 1)
    real = open_ & (torch.arange(s)[None] // n < own[:, None])
    assert torch.equal(succ[real], after[real])


def test_goal_distances_are_the_engines_potential():
    """goal_dist[t, goal] equals the potential the engine's shaping reward uses."""
    _, _, tasks = graph_setup()
    dist = belief_inputs(tasks)["goal_dist"]
    n = tasks["wall"].shape[1]
    for t in range(len(tasks)):
        own = (int(tasks["jump"][t]) + 1 if bool(tasks["platformer"][t]) else 1) * n
        d = dist[t, int(tasks["goal"][t]), :own]
        pot = tasks["potential"][t, :own]
        reach = d < FAR
        assert reach.sum() > 1
        torch.testing.assert_close(d[reach], pot[reach])


def test_belief_logits_descend_the_expected_distance():
    """With belief b, logits = MLP + danger + beta * (F(s) - F(succ(s, a))),
    F = sum_g softmax(b)_g dist[g, .], computed here by hand."""
    _, family, tasks = graph_setup()
    policy = make_policy(family, (8,), seed=0, per_level=True)
    assert policy.head.kind == "game.goal_belief"
    assert policy.head.state_feature == family.state_feature
    params = with_task_inputs(policy, tasks, params_of(policy))
    assert {"head.belief", "head.succ", "head.goal_dist"} <= set(params)  # a small map: dense
    state = family.reset(tasks, 3, torch.Generator().manual_seed(0))
    for _ in range(4):  # move a little so that states differ
        state, _, _ = family.step(tasks, state, torch.randint(0, 6, (len(tasks), 3)))
    obs = family.observe(tasks, state)
    belief = params["head.belief"] + torch.randn(params["head.belief"].shape)
    beta = torch.tensor(1.7)
    got = policy.apply_params({**params, "head.belief": belief, "head.belief_scale": beta}, obs)
    plain = policy.apply_params({**params, "head.belief_scale": torch.tensor(0.0)}, obs)
    dist, succ = params["head.goal_dist"], params["head.succ"]
    n = tasks["wall"].shape[1]
    for t in range(len(tasks)):
        p = torch.softmax(belief[t], -1)
        field = (p[:, None] * dist[t]).sum(0)
        for e in range(3):
            s = int(state["rise"][t, e]) * n + int(state["pos"][t, e])
            expected = plain[t, e] + beta * (field[s] - field[succ[t, s]])
            torch.testing.assert_close(got[t, e], expected, atol=1e-4, rtol=1e-5)


def test_danger_adds_a_weight_per_opponent_distance_from_each_move():
    """The danger term: for each action, danger[d] per observed opponent d tiles (Manhattan)
    from the tile the action leads to (none for d >= len(danger))."""
    _, family, tasks = graph_setup()
    assert bool(tasks["opp_mask"].any())
    policy = make_policy(family, (8,), seed=0, per_level=True)
    params = with_task_inputs(policy, tasks, params_of(policy))
    state = family.reset(tasks, 4, torch.Generator().manual_seed(1))
    for _ in range(3):
        state, _, _ = family.step(tasks, state, torch.randint(0, 6, (len(tasks), 4)))
    obs = family.observe(tasks, state)
    danger = torch.tensor([-5.0, -2.0, -0.5, 0.25])
    got = policy.apply_params({**params, "head.danger": danger}, obs)
    base = policy.apply_params({**params, "head.danger": torch.zeros(4)}, obs)
    n, ww = tasks["wall"].shape[1], int(tasks["grid"][0, 1])
    for t in range(len(tasks)):
        for e in range(4):
            s = int(state["rise"][t, e]) * n + int(state["pos"][t, e])
            expected = base[t, e].clone()
            opps = [int(o) for o, m in zip(state["opp"][t, e], tasks["opp_mask"][t]) if m]
            assert len(opps) <= family.n_opponents  # every opponent is observed here
            for a in range(6):
                nxt = int(params["head.succ"][t, s, a]) % n
                for o in opps:
                    d = abs(nxt // ww - o // ww) + abs(nxt % ww - o % ww)
                    expected[a] += danger[d] if d < 4 else 0.0
            torch.testing.assert_close(got[t, e], expected, atol=1e-4, rtol=1e-5)


def test_cavia_adapts_the_belief_alone_by_one_sgd_step():
    pack, family, tasks = graph_setup()
    cfg = TrainConfig(pack="graph", algo="cavia", inner_lr=30.0, inner_gamma=0.0, episodes=3,
                      hidden=(8,)).resolved(pack)
    policy = make_policy(family, cfg.hidden, seed=0, per_level=True)
    learner = MetaLearner.from_config(policy, family, cfg)
    params = params_of(policy)
    assert {"head.belief_scale", "head.danger"} <= set(params) and "head.table" not in params
    assert not set(policy.task_inputs) & set(params)
    ad = learner.adapt(params, tasks, torch.Generator().manual_seed(3))
    ep = ad.episodes[0]
    adv, _ = advantages(ep, 0.0, learner.baseline, learner.normalize)
    inputs = with_task_inputs(policy, tasks, {})
    belief = inputs["head.belief"].clone().requires_grad_()
    shared = {k: v.detach() for k, v in params.items()}
    logp = log_prob(policy, {**shared, **inputs, "head.belief": belief}, ep.obs, ep.actions)
    loss = (-(logp * adv).sum((1, 2)) / ep.mask.sum((1, 2))).sum()
    (g,) = torch.autograd.grad(loss, [belief])
    torch.testing.assert_close(ad.params["head.belief"], belief - 30.0 * g)
    assert g.abs().sum() > 0
    for k in params:  # the network, the belief scale and the danger stay shared
        assert ad.params[k] is params[k]
    # the outer step's gradient reaches the belief scale, the danger and the network
    loss, _ = learner.meta_loss(params, tasks, torch.Generator().manual_seed(4))
    named = dict(zip(params, torch.autograd.grad(loss, list(params.values())), strict=True))
    for k in ("head.belief_scale", "head.danger", "layers.0.weight"):
        assert named[k].abs().sum() > 0, k


def test_one_step_on_the_belief_finds_the_goal():
    """Uniform-random-ish episodes on an open field; one inner step moves the belief onto the
    goal's side, and the adapted agent reaches the goal far more often."""
    pack = parse_pack(FIELD_PACK, "field.toml")
    family = make_family(pack)
    cfg = TrainConfig(pack="field", algo="cavia", inner_lr=1000.0, inner_gamma=0.0,
                      episodes=20, hidden=(8,)).resolved(pack)
    policy = make_policy(family, cfg.hidden, seed=0, per_level=True)
    params = params_of(policy)
    with torch.no_grad():  # an untrained net that does not prefer any move
        for k in ("layers.1.weight", "layers.1.bias"):
            params[k].zero_()
    learner = MetaLearner.from_config(policy, family, cfg)
    tasks = pack.tasks("test", 1)
    ad = learner.adapt(params, tasks, torch.Generator().manual_seed(0))
    p = torch.softmax(ad.params["head.belief"][0], -1)
    ww = int(tasks["grid"][0, 1])
    col = torch.arange(p.numel()) % ww
    assert p[col >= 7].sum() > 0.8  # the goal is in column 8 (border included), start in 2
    from mamlgame.rollout import rollout

    after = rollout(family, tasks, policy, ad.params, 20, torch.Generator().manual_seed(1))
    before = ad.episodes[0].success.float().mean()
    assert after.success.float().mean() >= 0.9 > before + 0.3


def test_a_policy_saved_before_heads_were_modules_loads():
    """The game's `upgrade_policy` turns a goal-belief policy saved with its head's settings
    among the policy's own (and unprefixed params) into today's, with the same weights."""
    from mamlgame.families.game.head import upgrade_policy
    from mamlgame.policy import MLPPolicy

    _, family, _ = graph_setup()
    policy = make_policy(family, (8,), seed=0, per_level=True)
    head = policy.config()["head"]["config"]
    old = {"obs_dim": policy.obs_dim, "action_dim": 6, "hidden": [8], "activation": "relu",
           "discrete": True, "context": 0, "tiles": 0, "tile_feature": -1,
           "tile_scale": 1000.0, "table_radius": 0, "table_width": 0,
           "belief": True, "state_feature": head["state_feature"],
           "opponent_feature": head["opponent_feature"], "n_opponents": head["n_opponents"],
           "opponent_scale": head["opponent_scale"]}
    saved = {k.removeprefix("head."): v for k, v in policy.state_dict().items()}
    assert "danger" in saved and "belief_scale" in saved
    config, params = upgrade_policy(old, saved)
    again = MLPPolicy.from_config(config)
    again.load_state_dict(params)
    assert again.config() == policy.config()
    for k, v in policy.state_dict().items():
        assert torch.equal(again.state_dict()[k], v), k
