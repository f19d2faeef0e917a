"""The training core's contracts: one config -> learner mapping with sentinels resolved once,
the checkpoint module writing and reading its own keys, and `train()` as a library call
leaving process-wide settings alone."""

import pytest
import torch

from mamlgame import cpu
from mamlgame.checkpoint import (
    REQUIRED,
    Checkpoint,
    checkpoint_state,
    load_agent,
    read_checkpoint,
    save_checkpoint,
)
from mamlgame.config import TrainConfig
from mamlgame.errors import CheckpointError
from mamlgame.families import make_family
from mamlgame.meta import MetaLearner
from mamlgame.packs import load_pack
from mamlgame.policy import make_policy, params_of
from mamlgame.train import train

TINY = dict(iterations=2, meta_batch=2, episodes=2, horizon=5, hidden=(8,))


def test_from_config_maps_every_learner_setting():
    pack = load_pack("navigation")
    family = make_family(pack)
    policy = make_policy(family, (8,))
    cfg = TrainConfig(algo="fomaml", inner_lr=0.3, inner_steps=2, episodes=7, estimator="dice",
                      gamma=0.9, baseline=False, normalize=False, gae_lambda=0.5,
                      inner_lr_decay=0.5)
    learner = MetaLearner.from_config(policy, family, cfg)
    assert learner.inner_lr_decay == 0.5
    assert (learner.algo, learner.inner_lr, learner.inner_steps, learner.episodes) == (
        "fomaml", 0.3, 2, 7)
    assert (learner.estimator, learner.gamma, learner.baseline, learner.normalize,
            learner.gae_lambda) == ("dice", 0.9, False, False, 0.5)
    assert learner.first_order
    assert MetaLearner.from_config(policy, family, cfg, episodes=3).episodes == 3


@pytest.mark.parametrize("algo, steps", [("reptile", 3), ("maml", 1), ("metasgd", 1)])
def test_resolved_replaces_the_sentinels_once(algo, steps):
    pack = load_pack("navigation")
    cfg = TrainConfig(algo=algo, inner_steps=0, horizon=0).resolved(pack)
    assert (cfg.inner_steps, cfg.horizon) == (steps, pack.horizon)
    assert cfg.resolved(pack) == cfg  # resolving again changes nothing
    given = TrainConfig(algo=algo, inner_steps=2, horizon=9).resolved(pack)
    assert (given.inner_steps, given.horizon) == (2, 9)
    family = make_family(pack, cfg.horizon)
    learner = MetaLearner.from_config(make_policy(family, (8,)), family, cfg)
    assert learner.inner_steps == steps and family.horizon == pack.horizon


def _state(algo: str = "metasgd") -> tuple[dict, TrainConfig]:
    pack = load_pack("velocity")
    cfg = TrainConfig(pack="velocity", algo=algo, hidden=(8,), horizon=0)
    family = make_family(pack, cfg.resolved(pack).horizon)
    policy = make_policy(family, cfg.hidden, seed=1)
    learner = MetaLearner.from_config(policy, family, cfg)
    params = params_of(policy)
    opt = torch.optim.Adam(learner.meta_parameters(params), lr=0.1)
    gen = torch.Generator().manual_seed(5)
    torch.rand(3, generator=gen)
    return checkpoint_state(params, learner.state_dict(), opt, 7, gen, cfg, policy, pack), cfg


def test_checkpoint_round_trip(tmp_path):
    state, cfg = _state()
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, state)
    ck = read_checkpoint(path)
    assert isinstance(ck, Checkpoint)
    assert ck.iteration == 7 and ck.config == cfg and ck.world_size == 1
    assert ck.config.horizon == 0  # saved as given: resolved against the pack it is used with
    assert all(torch.equal(ck.params[k], v) for k, v in state["params"].items())
    lrs = ck.learner_state["inner_lrs"]
    assert lrs is not None and lrs.keys() == state["params"].keys()
    gen = torch.Generator()
    gen.set_state(ck.rng["tasks"])
    assert torch.equal(gen.get_state(), state["rng"]["tasks"])
    assert ck.pack().name == "velocity" and ck.policy_config["hidden"] == [8]
    agent = load_agent(path)
    assert agent.config == cfg.resolved(agent.pack) and agent.iteration == 7
    assert agent.learner().algo == "metasgd"
    assert torch.equal(agent.learner().inner_lrs["log_std"], lrs["log_std"])


@pytest.mark.parametrize("key", REQUIRED)
def test_a_missing_key_is_a_clear_error(tmp_path, key):
    state, _ = _state("maml")
    del state[key]
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, state)
    with pytest.raises(CheckpointError, match=rf"checkpoint\.pt: checkpoint is incomplete "
                                              rf"\(missing '{key}'\)"):
        read_checkpoint(path)


def test_an_old_checkpoint_with_the_torch_rng_still_loads(tmp_path):
    state, cfg = _state("maml")
    state["rng"]["torch"] = torch.get_rng_state()
    del state["world_size"], state["family"]
    save_checkpoint(tmp_path / "checkpoint.pt", state)
    ck = read_checkpoint(tmp_path / "checkpoint.pt")
    assert ck.world_size == 1 and ck.config == cfg


def test_train_leaves_process_wide_settings_alone(tmp_path, monkeypatch):
    def refuse(*_args):
        raise AssertionError("train() must not configure the process")

    monkeypatch.setattr(cpu, "configure", refuse)
    monkeypatch.setattr(cpu, "_keep_freed_memory", refuse)
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    rng = torch.get_rng_state()
    train(TrainConfig(pack="bandit", threads=threads + 1, **TINY), tmp_path, progress=False)
    train(TrainConfig(pack="bandit", threads=threads + 1, **{**TINY, "iterations": 3}),
          tmp_path, resume=True, progress=False)
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.get_rng_state(), rng)  # the policy init did not reseed torch


def test_the_policy_init_matches_a_global_seed():
    family = make_family(load_pack("navigation"))
    torch.manual_seed(4)
    a = params_of(make_policy(family, (8,)))
    b = params_of(make_policy(family, (8,), seed=4))
    assert all(torch.equal(a[k], b[k]) for k in a)
