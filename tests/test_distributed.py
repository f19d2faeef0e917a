"""A meta-batch split over processes gives what one process gives: the meta-gradient (two gloo
processes meeting through a file, no port) and a short `train --nproc 2` run."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from mamlgame import distributed
from mamlgame.config import TrainConfig
from mamlgame.families import make_family
from mamlgame.families.navigation import Navigation
from mamlgame.meta import MetaLearner, meta_step
from mamlgame.packs import load_pack, resolve_pack_path
from mamlgame.policy import make_policy, params_of
from mamlgame.rollout import rollout
from mamlgame.shard import Shard
from mamlgame.train import train

ROOT = Path(__file__).resolve().parents[1]
# (pack, algo, estimator): continuous and discrete actions, the dice baseline over the
# whole batch, Meta-SGD's learned step sizes, Reptile's parameter-space update
CASES = [("navigation", "maml", "lvc"), ("navigation", "maml", "dice"),
         ("arena", "maml", "dice"), ("velocity", "metasgd", "lvc"), ("bandit", "reptile", "lvc")]
META_BATCH = 5  # split 2 + 3 over two processes


def meta_gradient(case: tuple[str, str, str], rank: int = 0, world: int = 1) -> list:
    """The meta-gradient of one batch, computed by process `rank` of `world` and summed."""
    name, algo, estimator = case
    pack = load_pack(name)
    family = make_family(pack, 8)
    torch.manual_seed(0)
    policy = make_policy(family, (16, 16))
    learner = MetaLearner(policy, family, algo, episodes=4, estimator=estimator)
    params = params_of(policy)
    gen = torch.Generator().manual_seed(1)
    tasks = pack.pool("train").select(torch.randint(len(pack.pool("train")), (META_BATCH,),
                                                    generator=gen))
    meta_step(learner, params, tasks, gen, Shard.of(rank, world, tasks) if world > 1 else None)
    meta = learner.meta_parameters(params)
    if world > 1:
        distributed.all_reduce_step(meta, torch.zeros(1))
    return [p.grad.clone() for p in meta]


class EndsEarly(Navigation):
    """Navigation whose episodes end after 3 steps (goal_x > 0) or 7 steps (goal_x <= 0)."""

    def reset(self, tasks, n_episodes, generator):
        return {**super().reset(tasks, n_episodes, generator),
                "t": torch.zeros(len(tasks), n_episodes)}

    def step(self, tasks, state, action):
        new, reward, _ = super().step(tasks, {"p": state["p"], "success": state["success"]},
                                      action)
        t = state["t"] + 1
        limit = torch.where(tasks["goal_x"].reshape(-1, 1) > 0, 3.0, 7.0)
        return {**new, "t": t}, reward, t >= limit


def early_rollout(rank: int = 0, world: int = 1) -> dict:
    """Episodes and the generator state after a rollout whose first share ends at step 3 and
    whose second share runs to step 7 of 10."""
    pack = load_pack("navigation")
    pool = pack.pool("train")
    right = (pool["goal_x"].reshape(-1) > 0).nonzero().reshape(-1)
    left = (pool["goal_x"].reshape(-1) <= 0).nonzero().reshape(-1)
    tasks = pool.select(torch.cat([right[:2], left[:2]]))
    family = EndsEarly(pack, 10)
    torch.manual_seed(0)
    policy = make_policy(family, (8,))
    gen = torch.Generator().manual_seed(2)
    part = Shard.of(rank, world, tasks) if world > 1 else None
    ep = rollout(family, part.local(tasks) if part else tasks, policy, params_of(policy), 3, gen,
                 shard=part)
    return {**ep._asdict(), "rng": gen.get_state()}


def _worker(rank: int, world: int, init: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        grads = {f"{i}": meta_gradient(case, rank, world) for i, case in enumerate(CASES)}
        box = [None] * world
        dist.all_gather_object(box, early_rollout(rank, world))
        if rank == 0:
            torch.save({**grads, "rollouts": box}, out)
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_process_gradients(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("dist")
    out = tmp / "grads.pt"
    mp.spawn(_worker, args=(2, f"file://{tmp / 'rendezvous'}", str(out)), nprocs=2)
    return torch.load(out, weights_only=True)


@pytest.mark.parametrize("i", range(len(CASES)), ids=["-".join(c) for c in CASES])
def test_two_processes_give_the_single_process_meta_gradient(i, two_process_gradients):
    single = meta_gradient(CASES[i])
    split = two_process_gradients[f"{i}"]
    assert len(single) == len(split)
    for a, b in zip(single, split, strict=True):
        assert a.abs().max() > 0
        torch.testing.assert_close(b, a, atol=1e-6, rtol=0)


def test_split_rollout_draws_what_one_process_draws(two_process_gradients):
    """One share ends at step 3, the other at 7: both still step to 7, so each process's
    episodes and its generator afterwards equal the single process's."""
    single = early_rollout()
    assert single["mask"][:2].sum(-1).eq(3).all() and single["mask"][2:].sum(-1).eq(7).all()
    parts = two_process_gradients["rollouts"]
    for key in ("mask", "success"):
        assert torch.equal(torch.cat([p[key] for p in parts]), single[key]), key
    # the same draws; the policy's products may round differently for 2 and 4 tasks (BLAS
    # picks kernels by size: seen on an AVX-512 machine), a wrong draw would differ by O(1)
    for key in ("obs", "actions", "rewards"):
        torch.testing.assert_close(torch.cat([p[key] for p in parts]), single[key], atol=1e-6,
                                   rtol=0, msg=key)
    for p in parts:
        assert torch.equal(p["rng"], single["rng"])


def test_shard_shares_are_contiguous_and_cover_the_batch():
    tasks = load_pack("bandit").tasks("train", 7)
    parts = [Shard.of(r, 3, tasks) for r in range(3)]
    assert [(p.start, p.stop) for p in parts] == [(0, 2), (2, 4), (4, 7)]
    assert sum(len(p.local(tasks)) for p in parts) == 7


def test_train_nproc_2_matches_one_process(tmp_path):
    args = ["--meta-batch", "5", "--episodes", "4", "--horizon", "10", "--hidden", "16,16",
            "--iterations", "4", "--checkpoint-every", "2", "--estimator", "dice", "--quiet"]
    one = TrainConfig(pack=str(resolve_pack_path("navigation")), meta_batch=5, episodes=4,
                      horizon=10, hidden=(16, 16), iterations=4, checkpoint_every=2,
                      estimator="dice",  # the CLI's recipe, less the budget given here
                      **{k: v for k, v in load_pack("navigation").train.items()
                         if k != "iterations"})
    train(one, tmp_path / "one", progress=False)
    result = subprocess.run([sys.executable, "-m", "mamlgame", "train", "navigation", *args,
                             "--nproc", "2", "--out", str(tmp_path / "two")], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("checkpoint:") == 1  # process 0 alone reports
    a = torch.load(tmp_path / "one" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "two" / "checkpoint.pt", weights_only=True)
    assert a["iteration"] == b["iteration"] == 4 and b["world_size"] == 2
    for k in a["params"]:
        torch.testing.assert_close(b["params"][k], a["params"][k], atol=1e-5, rtol=0)
    # the recipe's learned first-step std shift (learn_std_shift) too
    assert (a["first_std_shift"] is None) == (b["first_std_shift"] is None)
    if a["first_std_shift"] is not None:
        torch.testing.assert_close(b["first_std_shift"], a["first_std_shift"], atol=1e-5, rtol=0)
    lines = (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 4  # one writer


def test_meta_batch_smaller_than_processes_is_an_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mamlgame", "train", "bandit", "--meta-batch",
                             "1", "--nproc", "2", "--iterations", "1", "--quiet", "--out",
                             str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: --meta-batch 1 is smaller than the number of processes (2): every process "
        "needs a task"]
