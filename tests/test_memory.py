"""Memory estimates before the work (`mamlgame.memory`): a training run whose parameters or
rollouts, or an evaluation whose rollouts, cannot fit is one `error:` line naming the
settings to lower, before anything is allocated or written. The machine's memory is set to
1 GiB here, so the cases do not depend on the machine."""

import random

import pytest
import torch
from click.testing import CliRunner

import mamlgame.memory as memory
from mamlgame.checkpoint import load_agent
from mamlgame.cli import cli
from mamlgame.config import TrainConfig
from mamlgame.errors import MamlgameError
from mamlgame.evaluate import evaluate
from mamlgame.families import make_family
from mamlgame.packs import load_pack
from mamlgame.policy import make_policy
from mamlgame.train import train

GIB = 2**30
TINY = ["--meta-batch", "2", "--episodes", "2", "--hidden", "8", "--quiet"]


@pytest.fixture(autouse=True)
def one_gib(monkeypatch):
    monkeypatch.setattr(memory, "memory_of", lambda device: GIB)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = CliRunner().invoke(cli, ["train", "bandit", "--iterations", "1", "--out", str(out),
                                      *TINY])
    assert result.exit_code == 0, result.output
    return out / "checkpoint.pt"


def one_error_line(result) -> str:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit | None), result.exception  # no traceback
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


@pytest.mark.parametrize("pack, context, hidden", [
    ("navigation", 0, (100, 100)), ("navigation", 8, (7,)), ("mixed", 0, (16, 32, 8)),
    ("velocity", 3, (5, 5, 5, 5))])
def test_the_parameter_count_is_the_policys(pack, context, hidden):
    family = make_family(load_pack(pack))
    policy = make_policy(family, hidden, context=context)
    assert memory.param_count(family.obs_dim, family.action_dim, hidden, context) == sum(
        p.numel() for name, p in policy.named_parameters() if name != "log_std")


def absurd_hidden(rng: random.Random) -> str:
    """Layer sizes whose weights alone take more than 1 GiB (as float32)."""
    layers = [rng.randint(20_000, 10**6) for _ in range(rng.randint(2, 4))]
    return ",".join(map(str, layers))


@pytest.mark.parametrize("seed", range(6))
def test_absurd_hidden_sizes_are_one_line_before_any_file(tmp_path, seed):
    rng = random.Random(seed)
    pack = rng.choice(["navigation", "bandit", "mixed", "velocity"])
    hidden = absurd_hidden(rng)
    extra = rng.choice([[], ["--algo", "cavia"], ["--algo", "pretrain"], ["--algo", "maml"]])
    result = CliRunner().invoke(cli, ["train", pack, "--hidden", hidden, "--out",
                                      str(tmp_path / "r"), "--quiet", *extra])
    line = one_error_line(result)
    assert line.startswith(f"error: --hidden {hidden}: the policy's ") and "GiB" in line
    assert "lower --hidden" in line
    assert not (tmp_path / "r").exists()


def test_a_recipe_with_absurd_hidden_sizes_is_refused_by_train_and_the_api(tmp_path):
    text = load_pack("bandit").text + "\n[train]\nhidden = [90000, 90000]\n"
    pack = tmp_path / "big.toml"
    pack.write_text(text)
    result = CliRunner().invoke(cli, ["train", str(pack), "--out", str(tmp_path / "r")])
    assert "--hidden 90000,90000: the policy's" in one_error_line(result)
    with pytest.raises(MamlgameError, match="--hidden 90000,90000: the policy's"):
        train(TrainConfig(pack=str(pack), hidden=(90000, 90000)), tmp_path / "api",
              progress=False)
    assert not (tmp_path / "api" / "metrics.jsonl").exists()


def test_rollouts_and_parameters_add_up():
    """Neither part alone is past the memory, both together are: the run is refused, with
    the rollout settings named."""
    pack = load_pack("navigation")
    family = make_family(pack)
    cfg = TrainConfig(pack="navigation", hidden=(2000, 2000), meta_batch=1,
                      episodes=1).resolved(pack)
    weights = memory.params_bytes(cfg, family.obs_dim, family.action_dim)
    per_episode = memory.rollout_bytes(cfg, family.obs_dim, family.action_dim)
    episodes = (GIB - weights) // per_episode + 1  # just past the memory, with the weights
    big = TrainConfig(pack="navigation", hidden=(2000, 2000), meta_batch=1, episodes=episodes)
    assert memory.rollout_bytes(big.resolved(pack), family.obs_dim, family.action_dim) < GIB
    with pytest.raises(MamlgameError, match=f"--episodes {episodes} .* with --hidden 2000,2000 "
                                            "needs about"):
        memory.check_training(big, pack, torch.device("cpu"))
    memory.check_training(TrainConfig(pack="navigation"), pack, torch.device("cpu"))


@pytest.mark.parametrize("seed", range(5))
def test_evaluations_that_cannot_fit_are_one_line(ckpt, seed):
    rng = random.Random(seed)
    args = rng.choice([
        ["--episodes", str(rng.randint(10**9, 10**12))],
        ["--episodes", str(rng.randint(10**7, 10**8)), "--steps", "0,1,2,3"],
        ["--tasks", str(rng.randint(10**9, 10**15)), "--episodes", str(rng.randint(10**7,
                                                                                    10**8))],
        ["--steps", f"0,{rng.randint(500, 1000)}", "--episodes", str(rng.randint(10**6,
                                                                                  10**7))],
    ])
    result = CliRunner().invoke(cli, ["eval", str(ckpt), *args, "--baselines"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit | None)
    lines = [x for x in result.output.splitlines() if not x.startswith("warning: --tasks")]
    assert len(lines) == 1, result.output
    line = lines[0]
    assert line.startswith("error: --tasks ") and "needs about" in line and "GiB" in line
    assert "x --episodes" in line and "lower one of them" in line


def test_the_api_checks_the_evaluation_too(ckpt):
    agent = load_agent(ckpt)
    with pytest.raises(MamlgameError, match="--episodes 10000000000 .* needs about"):
        evaluate(agent, episodes=10**10)
    assert evaluate(agent, n_tasks=2, steps=[0, 1], episodes=2)["tasks"] == 2  # fits


def test_compare_checks_the_evaluation_before_any_training(tmp_path):
    result = CliRunner().invoke(cli, ["compare", "bandit", "--algos", "maml", "--iterations",
                                      "1", "--eval-episodes", str(10**10), "--out",
                                      str(tmp_path), "--quiet", "--meta-batch", "2",
                                      "--episodes", "2", "--hidden", "8"])
    assert result.exit_code == 1 and "needs about" in result.output, result.output
    assert not (tmp_path / "maml").exists()
