"""`mamlgame compare`: methods over training seeds, every run evaluated on the same held-out
tasks; per metric and step the mean, median, IQM and optimality gap with stratified-bootstrap
CIs, pairwise probabilities of improvement, success rates for families whose episodes reach
a goal; resumable from the runs on disk; parallel trainings give the same numbers."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from mamlgame import stats
from mamlgame.checkpoint import load_agent
from mamlgame.cli import cli
from mamlgame.compare import CompareSpec, compare, methods_of
from mamlgame.compare_report import format_comparison, summarize
from mamlgame.config import TrainConfig
from mamlgame.evaluate import evaluate

TINY_GAME = """
[pack]
name = "tiny-game"
family = "game"
horizon = 12
[split]
train = 4
test = 3
[generate]
size = 7
goal_distance = [2, 4]
"""
TINY = ["--algos", "fomaml", "--iterations", "1", "--meta-batch", "2", "--episodes", "2",
        "--hidden", "8", "--eval-tasks", "2", "--reps", "200", "--quiet"]
AGGREGATES = ["mean", "median", "iqm", "optimality_gap"]


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def one_error_line(result) -> str:
    assert result.exit_code != 0, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


# ---- the command ----------------------------------------------------------------------------
def test_compare_reports_intervals_and_success_rates_of_a_game_pack(tmp_path):
    pack = tmp_path / "tiny.toml"
    pack.write_text(TINY_GAME)
    out = tmp_path / "cmp"
    result = run("compare", str(pack), *TINY, "--steps", "0,2,1", "--out", str(out))
    assert result.exit_code == 0, result.output
    data = json.loads((out / "compare.json").read_text())
    assert data["steps"] == [0, 1, 2] and data["seeds"] == [0]
    (row,) = data["rows"]
    assert (row["algo"], row["method"]) == ("fomaml", "fomaml")
    for metric in ("returns", "success"):
        assert list(row[metric]) == ["0", "1", "2"], metric
        for k in ("0", "1", "2"):
            assert list(row[metric][k]) == AGGREGATES
            for est in row[metric][k].values():
                lo, hi = est["ci"]
                assert lo <= est["value"] <= hi
    assert all(0.0 <= e["value"] <= 1.0 for e in row["success"]["2"].values())
    (run0,) = data["runs"]["fomaml"]
    assert len(run0["returns"]["2"]) == len(run0["success"]["2"]) == len(data["task_ids"]) == 2
    table = (out / "compare.md").read_text()
    assert "### return after 2 steps" in table and "### success rate after 1 step\n" in table
    assert (out / "compare.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "fomaml" / "seed-0" / "checkpoint.pt").exists()
    assert "success rate after 2 steps" in result.output


def test_compare_without_success_rates_for_families_without_a_goal(tmp_path):
    result = run("compare", "bandit", *TINY, "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "compare.json").read_text())
    (row,) = data["rows"]
    assert list(row["returns"]) == ["0", "1"] and "success" not in row  # the default --steps
    assert "success" not in (tmp_path / "compare.md").read_text()
    assert data["improvement"] == {"returns": {"0": [], "1": []}}  # one method: no pairs


@pytest.mark.parametrize("steps", ["", "a,b", "-1", "0,1001"])
def test_bad_steps_are_a_usage_error_before_any_training(tmp_path, steps):
    result = run("compare", "bandit", *TINY, "--steps", steps, "--out", str(tmp_path / "c"))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: --steps: expected integers from 0 to 1000")
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("args, message", [
    (["--estimators", "dice,exact"], "error: --estimators: unknown estimator(s) exact"),
    (["--seeds", "0"], "error: --seeds: 0 is not in the range"),
    (["--jobs", "0"], "error: --jobs: 0 is not in the range"),
    (["--target", "nan"], "error: --target: expected a finite number"),
])
def test_bad_options_are_one_usage_line(tmp_path, args, message):
    result = run("compare", "bandit", *TINY, *args, "--out", str(tmp_path / "c"))
    assert result.exit_code == 2 and one_error_line(result).startswith(message)
    assert not (tmp_path / "c").exists()


def test_methods_are_algorithms_or_option_sets():
    assert [m.name for m in methods_of(["maml", "fomaml"])] == ["maml", "fomaml"]
    dice, lvc = methods_of(["maml"], ["dice", "lvc"])
    assert (dice.name, dice.settings) == ("dice", {"algo": "maml", "estimator": "dice"})
    assert lvc.name == "lvc"
    assert [m.name for m in methods_of(["maml", "metasgd"], ["dice", "lvc"])] == [
        "maml-dice", "maml-lvc", "metasgd-dice", "metasgd-lvc"]
    assert [m.name for m in methods_of(["maml", "fomaml"], ["dice"])] == ["maml", "fomaml"]


# ---- seeds, resume and refusals ------------------------------------------------------------
def test_more_seeds_resume_from_the_runs_on_disk_and_other_settings_are_refused(tmp_path):
    out = str(tmp_path / "c")
    assert run("compare", "bandit", *TINY, "--out", out).exit_code == 0
    first = tmp_path / "c" / "fomaml" / "seed-0" / "checkpoint.pt"
    stamp = first.stat().st_mtime_ns
    line = one_error_line(run("compare", "bandit", *TINY, "--seeds", "2", "--out", out))
    assert "holds runs of an earlier comparison (fomaml/); continue it with --resume" in line
    more = run("compare", "bandit", *TINY, "--seeds", "2", "--resume", "--out", out)
    assert more.exit_code == 0, more.output
    assert "reusing 1 finished run(s)" in more.output and "[1/1] fomaml seed 1" in more.output
    assert first.stat().st_mtime_ns == stamp  # not retrained
    data = json.loads((tmp_path / "c" / "compare.json").read_text())
    assert data["seeds"] == [0, 1] and data["rows"][0]["seeds"] == [0, 1]
    line = one_error_line(run("compare", "bandit", *TINY, "--inner-lr", "0.5", "--resume",
                              "--out", out))
    assert "--resume: run fomaml/seed-0 was trained with other settings: inner_lr 0.5 " \
           "(the run's: 0.1)" in line
    line = one_error_line(run("compare", "bandit", *TINY, "--resume", "--overwrite",
                              "--out", out))
    assert "--resume and --overwrite: choose one" in line
    assert run("compare", "bandit", *TINY, "--overwrite", "--out", out).exit_code == 0
    assert first.stat().st_mtime_ns != stamp


def test_an_interrupted_comparison_continues_where_it_stopped(tmp_path):
    """Runs finished are reused, a run stopped after one of its three iterations continues
    from its checkpoint, and the result equals the uninterrupted comparison's."""
    base = TrainConfig(pack="bandit", algo="fomaml", iterations=3, meta_batch=2, episodes=2,
                       hidden=(8,), checkpoint_every=1, keep_checkpoints=5)
    spec = CompareSpec(base, methods_of(["fomaml"]), seeds=2, eval_tasks=3, reps=200)
    whole = compare(spec, tmp_path, progress=False)
    stopped = tmp_path / "fomaml" / "seed-1"
    for name in ("checkpoint.pt", "checkpoint-000003.pt", "checkpoint-000002.pt",
                 "scores.json"):
        (stopped / name).unlink()  # as if killed during its second iteration
    finished = (tmp_path / "fomaml" / "seed-0" / "checkpoint.pt").stat().st_mtime_ns
    lines: list[str] = []
    with pytest.warns(UserWarning, match="resuming from .*checkpoint-000001.pt"):
        again = compare(spec, tmp_path, progress=False, resume=True, echo=lines.append)
    assert lines[0] == f"reusing 1 finished run(s) in {tmp_path}; 1 to run"
    assert (tmp_path / "fomaml" / "seed-0" / "checkpoint.pt").stat().st_mtime_ns == finished
    assert len((stopped / "metrics.jsonl").read_text().splitlines()) == 3
    for a, b in zip(whole["runs"]["fomaml"], again["runs"]["fomaml"], strict=True):
        assert (a["iteration"], a["returns"]) == (b["iteration"], b["returns"])
    assert whole["rows"][0]["returns"] == again["rows"][0]["returns"]


def test_parallel_jobs_give_the_numbers_of_one_job(tmp_path):
    args = ["compare", "bandit", "--algos", "maml,fomaml", "--iterations", "2", "--meta-batch",
            "2", "--episodes", "2", "--hidden", "8", "--eval-tasks", "3", "--reps", "200",
            "--quiet"]
    one = run(*args, "--out", str(tmp_path / "one"))
    two = run(*args, "--jobs", "2", "--out", str(tmp_path / "two"))
    assert one.exit_code == 0 and two.exit_code == 0, one.output + two.output
    a, b = (json.loads((tmp_path / d / "compare.json").read_text()) for d in ("one", "two"))
    assert (a["jobs"], b["jobs"]) == (1, 2)
    assert [r["returns"] for r in a["rows"]] == [r["returns"] for r in b["rows"]]


def test_a_runs_scores_are_what_eval_measures(tmp_path):
    base = TrainConfig(pack="bandit", iterations=1, meta_batch=2, episodes=3, hidden=(8,))
    spec = CompareSpec(base, methods_of(["maml"]), eval_tasks=4, steps=(0, 2), reps=200)
    result = compare(spec, tmp_path, progress=False)
    agent = load_agent(tmp_path / "maml" / "seed-0" / "checkpoint.pt")
    report = evaluate(agent, n_tasks=4, steps=[0, 2], episodes=3, seed=0)
    (scores,) = result["runs"]["maml"]
    for k in ("0", "2"):
        assert scores["returns"][k] == pytest.approx(report["returns"][k]["per_task"], abs=1e-4)
    assert result["task_ids"] == report["task_ids"]
    # eval's intervals: a bootstrap CI over tasks beside the s.e. (`mamlgame.stats`)
    r = report["returns"]["2"]
    ci = stats.mean_interval(r["per_task"])
    assert r["ci"] == pytest.approx([ci.lo, ci.hi], abs=1e-4) and ci.lo <= r["mean"] <= ci.hi
    assert set(report["success_ci"]) == {"0", "2"}


# ---- the report from scores, by hand ---------------------------------------------------------
def test_the_report_is_the_statistics_of_the_runs_scores():
    a = np.array([[1.0, 2.0, 3.0], [2.0, 2.0, 5.0]])  # [seeds, tasks] after 1 step
    b = np.array([[0.0, 3.0, 1.0], [1.0, 1.0, 1.0]])
    runs = {name: [{"seed": s, "iteration": 10, "train_seconds": 5.0 + s, "task_ids": [0, 1, 2],
                    "returns": {"0": (x[s] - 1).tolist(), "1": x[s].tolist()}}
                   for s in range(2)] for name, x in (("a", a), ("b", b))}
    info = {"pack": "p", "split": "test", "iterations": 10, "meta_batch": 2, "episodes": 2,
            "methods": {"a": {"algo": "maml"}, "b": {"algo": "fomaml"}}, "seeds": [0, 1],
            "eval_tasks": 3, "eval_episodes": 2, "eval_seed": 0, "steps": [0, 1], "reps": 500,
            "target": None}
    result = summarize(info, runs)
    assert result["targets"]["returns"] == [2.0, 3.0, 5.0]  # the best any run reached
    row_a = result["rows"][0]
    assert row_a["returns"]["1"]["iqm"]["value"] == pytest.approx(stats.iqm(a))
    assert row_a["returns"]["1"]["median"]["value"] == pytest.approx(2.0)  # of 1.5, 2, 4
    # shortfalls below 2, 3, 5: 1, 1, 2, 0, 1, 0
    assert row_a["returns"]["1"]["optimality_gap"]["value"] == pytest.approx(5 / 6, abs=1e-4)
    assert (row_a["train_seconds"], row_a["seconds_per_iteration"]) == (5.5, 0.55)
    (pair,) = result["improvement"]["returns"]["1"]
    # per task: P(a > b) = (3 + 0.5 * 1) / 4 (one tie), 2/4, 4/4
    assert (pair["x"], pair["y"]) == ("a", "b")
    assert pair["value"] == pytest.approx((0.875 + 0.5 + 1) / 3, abs=1e-4)
    table = format_comparison(result)
    assert "| a | 2.50 [" in table and "| a | b | 0.79 [" in table and "0.83 [" in table
    assert "# p: a, b, 2 training seeds (0, 1)" in table
