"""The CUDA path (skipped without a GPU): every family steps on the GPU exactly as on the CPU,
and training on the GPU writes a checkpoint that evaluates on the CPU."""

import pytest
import torch

from mamlgame.checkpoint import load_agent
from mamlgame.config import TrainConfig
from mamlgame.families import make_family
from mamlgame.packs import load_pack, resolve_pack_path
from mamlgame.train import train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
PACKS = ["velocity", "navigation", "terrain", "bandit", "mixed", "chasers", "platformer"]


def _to(state: dict, device: str) -> dict:
    return {k: v.to(device) for k, v in state.items()}


@pytest.mark.parametrize("name", PACKS)
def test_family_steps_on_the_gpu_as_on_the_cpu(name):
    pack = load_pack(name)
    family, tasks = make_family(pack), pack.tasks("test", 6)
    gen = torch.Generator().manual_seed(0)
    state = family.reset(tasks, 5, gen)
    gpu_tasks, gpu_state = tasks.to("cuda"), _to(state, "cuda")
    for _ in range(min(family.horizon, 30)):
        if family.discrete:
            action = torch.randint(family.action_dim, (len(tasks), 5), generator=gen)
        else:
            action = torch.randn(len(tasks), 5, family.action_dim, generator=gen)
        state, reward, done = family.step(tasks, state, action)
        with torch.device("cuda"):
            gpu_state, gpu_reward, gpu_done = family.step(gpu_tasks, gpu_state,
                                                          action.to("cuda"))
        torch.testing.assert_close(gpu_reward.cpu(), reward)
        assert torch.equal(gpu_done.cpu(), done)
        for k, v in state.items():
            torch.testing.assert_close(gpu_state[k].cpu(), v, msg=f"{name}: state {k}")


@pytest.mark.parametrize("name", ["navigation", "mixed"])
def test_training_on_the_gpu_evaluates_on_the_cpu(name, tmp_path):
    cfg = TrainConfig(pack=str(resolve_pack_path(name)), iterations=2, meta_batch=4,
                      episodes=4, device="cuda")
    agent = load_agent(train(cfg, tmp_path, progress=False))
    assert all(v.device.type == "cpu" and v.isfinite().all() for v in agent.params.values())
    tasks = agent.pack.tasks("test", 3)
    adapted = agent.learner(episodes=4).adapt(agent.params, tasks, torch.Generator(), steps=1)
    assert all(v.isfinite().all() for v in adapted.params.values())
