"""A small meta-training run on navigation: adaptation must improve held-out returns."""

import torch

from mamlgame.checkpoint import load_agent
from mamlgame.config import TrainConfig
from mamlgame.evaluate import evaluate
from mamlgame.train import train


def test_one_inner_step_improves_held_out_navigation(tmp_path):
    cfg = TrainConfig(pack="navigation", iterations=30, meta_batch=10, episodes=10,
                      hidden=(64, 64), outer_lr=0.01, seed=1)
    ckpt = train(cfg, tmp_path, progress=False)
    report = evaluate(load_agent(ckpt), n_tasks=20, steps=[0, 1], episodes=20, seed=2)
    before = torch.tensor(report["returns"]["0"]["per_task"])
    after = torch.tensor(report["returns"]["1"]["per_task"])
    gain = after - before
    se = gain.std() / len(gain) ** 0.5
    assert gain.mean() > 3 * se, (before.mean(), after.mean(), se)
    assert report["worse_fraction"]["1"] < 0.3
