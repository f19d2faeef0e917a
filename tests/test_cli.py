"""The CLI end to end with tiny budgets: output files, resume, determinism, clear errors."""

import json

import pytest
import torch
from click.testing import CliRunner

from mamlgame.cli import cli

# a constant learning rate: with annealing, the schedule depends on the planned --iterations
TINY = ["--meta-batch", "3", "--episodes", "3", "--horizon", "10", "--hidden", "16", "--quiet",
        "--no-anneal-lr"]


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = run("train", "navigation", "--iterations", "4", "--out", str(out), *TINY)
    assert result.exit_code == 0, result.output
    return out


def test_train_writes_checkpoint_and_metrics(trained):
    rows = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [0, 1, 2, 3]
    for r in rows:
        assert {"iteration", "seconds", "return_before", "return_after"} <= set(r)
    state = torch.load(trained / "checkpoint.pt", weights_only=True)
    assert state["iteration"] == 4 and state["config"]["meta_batch"] == 3
    assert "[pack]" in state["pack_text"] and "layers.0.weight" in state["params"]


def test_same_seed_same_results_and_resume_continues(trained, tmp_path):
    first = run("train", "navigation", "--iterations", "2", "--out", str(tmp_path), *TINY)
    assert first.exit_code == 0, first.output
    more = run("train", "navigation", "--iterations", "4", "--out", str(tmp_path), "--resume",
               *TINY)
    assert more.exit_code == 0, more.output
    a = (trained / "metrics.jsonl").read_text().splitlines()
    b = (tmp_path / "metrics.jsonl").read_text().splitlines()
    strip = [{k: v for k, v in json.loads(x).items() if k != "seconds"} for x in a]
    assert strip == [{k: v for k, v in json.loads(x).items() if k != "seconds"} for x in b]
    pa = torch.load(trained / "checkpoint.pt", weights_only=True)["params"]
    pb = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["params"]
    assert all(torch.equal(pa[k], pb[k]) for k in pa)


def test_eval_writes_json_and_plot(trained, tmp_path):
    js, png = tmp_path / "e.json", tmp_path / "e.png"
    result = run("eval", str(trained / "checkpoint.pt"), "--tasks", "4", "--steps", "0,1,2",
                 "--json", str(js), "--plot", str(png), "--baselines")
    assert result.exit_code == 0, result.output
    report = json.loads(js.read_text())
    assert report["pack"] == "navigation" and report["split"] == "test" and report["tasks"] == 4
    assert set(report["returns"]) == {"0", "1", "2"}
    assert len(report["returns"]["1"]["per_task"]) == 4
    assert set(report["success"]) == set(report["success_se"]) == {"0", "1", "2"}
    assert "random init" in report["baselines"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "1 step" in result.output


def test_eval_takes_each_task_once(trained, tmp_path):
    """More --tasks than the split holds: every task once, and a one-line warning."""
    from mamlgame.packs import load_pack

    size = len(load_pack("navigation").pool("test"))
    js = tmp_path / "e.json"
    result = CliRunner().invoke(
        cli, ["eval", str(trained / "checkpoint.pt"), "--tasks", str(size + 7), "--steps", "0",
              "--episodes", "2", "--json", str(js)])
    assert result.exit_code == 0, result.output
    report = json.loads(js.read_text())
    assert report["tasks"] == size and len(set(report["task_ids"])) == size
    assert f"has {size} tasks" in result.stderr and "Traceback" not in result.stderr
    # without --tasks: 40, or a smaller split whole, and no warning
    result = CliRunner().invoke(
        cli, ["eval", str(trained / "checkpoint.pt"), "--steps", "0", "--episodes", "2",
              "--json", str(js)])
    assert result.exit_code == 0, result.output
    assert json.loads(js.read_text())["tasks"] == min(40, size)
    assert "warning" not in result.stderr


def test_compare_writes_table_and_chart(tmp_path):
    result = run("compare", "bandit", "--algos", "maml,fomaml", "--iterations", "2",
                 "--meta-batch", "3", "--episodes", "3", "--eval-tasks", "3",
                 "--out", str(tmp_path), "--quiet")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "compare.json").read_text())
    assert [r["algo"] for r in data["rows"]] == ["maml", "fomaml"]
    assert (tmp_path / "compare.png").exists()
    assert "| maml |" in (tmp_path / "compare.md").read_text()


@pytest.mark.parametrize("algo", ["reptile", "metasgd", "pretrain"])
def test_every_algo_trains(algo, tmp_path):
    result = run("train", "velocity", "--algo", algo, "--iterations", "2", "--out", str(tmp_path),
                 *TINY)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "checkpoint.pt").exists()


@pytest.mark.parametrize("args, message", [
    (["train", "nope"], "error: nope: no such level pack"),
    (["eval", "missing.pt"], "error: missing.pt: no such checkpoint"),
    (["levels", "validate", "nope.toml"], "error: nope.toml: no such level pack"),
])
def test_bad_input_is_one_line_and_nonzero(args, message):
    result = run(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_corrupt_checkpoint_is_reported(tmp_path):
    bad = tmp_path / "checkpoint.pt"
    bad.write_bytes(b"not a checkpoint")
    result = run("eval", str(bad))
    assert result.exit_code == 1 and "corrupt or unreadable checkpoint" in result.output


def test_bad_pack_file_is_located(tmp_path):
    pack = tmp_path / "broken.toml"
    pack.write_text('[pack]\nname = "b"\nfamily = "velocity"\n'
                    "[generate]\ntarget_velocity = [2, 1]\n")
    result = run("levels", "validate", str(pack))
    assert result.exit_code == 1
    assert f"{pack}:5: generate.target_velocity" in result.output


def test_bench_writes_design_json(tmp_path):
    out = tmp_path / "b.json"
    result = run("bench", "--algos", "fomaml", "--iterations", "1", "--json", str(out))
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["workload"].startswith("navigation") and data["device"] == "cpu"
    assert set(data["seconds_per_iteration"]) == {"fomaml"}
    assert 0 < data["seconds_per_iteration"]["fomaml"] < 60


def test_gamma_and_gae_lambda_reach_the_learner(tmp_path):
    from mamlgame.checkpoint import load_agent

    result = run("train", "navigation", "--iterations", "1", "--out", str(tmp_path),
                 "--gamma", "0.9", "--gae-lambda", "0.5", *TINY)
    assert result.exit_code == 0, result.output
    learner = load_agent(tmp_path / "checkpoint.pt").learner()
    assert (learner.gamma, learner.gae_lambda) == (0.9, 0.5)
    bad = run("train", "navigation", "--gae-lambda", "1.5", *TINY)
    assert bad.exit_code != 0 and "--gae-lambda" in bad.output


def test_cpu_configure_sets_threads_and_keeps_freed_memory():
    import platform

    from mamlgame import cpu

    before = torch.get_num_threads()
    try:
        cpu.configure(1)
        assert torch.get_num_threads() == 1
        if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
            assert cpu._keep_freed_memory()
    finally:
        torch.set_num_threads(before)


def test_bench_times_a_game_pack_with_its_recipe(tmp_path):
    from mamlgame.bench import bench_config
    from mamlgame.packs import load_pack

    cfg = bench_config(load_pack("arena"), "recipe")
    assert (cfg.algo, cfg.inner_lr, cfg.inner_gamma, cfg.meta_batch) == ("cavia", 1000.0, 0.0, 20)
    assert bench_config(load_pack("arena"), "maml").inner_lr == 0.1  # the recipe's is cavia's
    out = tmp_path / "b.json"
    result = run("bench", "--pack", "arena", "--iterations", "1", "--warmup", "0",
                 "--json", str(out))
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["workload"].startswith("arena")
    assert set(data["seconds_per_iteration"]) == {"cavia (recipe)"}
    bad = run("bench", "--pack", "arena", "--algos", "recipe,bogus")
    assert bad.exit_code == 2 and "bogus" in bad.output
