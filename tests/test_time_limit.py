"""`mamlgame train --time-limit`: the run stops at the first iteration boundary after the
budget, writes its checkpoint, anneals the outer learning rate over the budget, and a resumed
run continues the same budget."""

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from mamlgame.checkpoint import load_agent, read_checkpoint
from mamlgame.cli import cli
from mamlgame.config import TrainConfig, format_duration, parse_duration
from mamlgame.errors import MamlgameError
from mamlgame.progress import plural
from mamlgame.train import _Clock, outer_lr_at, train

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--meta-batch", "2", "--episodes", "2", "--hidden", "8", "--quiet"]


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def metric_lines(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("text, seconds", [
    ("90s", 90), ("20m", 1200), ("1.5h", 5400), ("1h30m", 5400), ("45", 45), ("2.5", 2.5),
    (" 20m ", 1200), ("0", 0), (".5m", 30), (12, 12), (0.25, 0.25),
])
def test_durations_parse(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "x", "20 min", "-5", "1e3", "inf", "nan", "m", "5m3",
                                  "1d", -1, float("inf"), True])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError, match="expected a duration like"):
        parse_duration(text)


def test_durations_format_and_read_back():
    for seconds in (0.5, 45, 90, 1200, 3600, 5400, 3725):
        assert parse_duration(format_duration(seconds)) == seconds
    assert (format_duration(1200), format_duration(90), format_duration(5400)) == (
        "20m", "1m30s", "1h30m")


@pytest.mark.parametrize("value", ["2x", "-5", "soon"])
def test_bad_time_limit_is_one_error_line(tmp_path, value):
    result = run("train", "bandit", "--time-limit", value, "--out", str(tmp_path), *TINY)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"error: --time-limit: expected a duration like \"90s\", \"20m\", \"1.5h\", \"1h30m\" "
        f"or a number of seconds (>= 0), got '{value}'"]
    assert not (tmp_path / "checkpoint.pt").exists()


# ---- the schedule ------------------------------------------------------------------------
def test_lr_without_time_limit_is_the_iteration_schedule():
    cfg = TrainConfig(iterations=10, outer_lr=0.01)
    assert [outer_lr_at(cfg, it, spent=999.0) for it in (0, 5, 9)] == [
        0.01 * (1.0 - it / 10) for it in (0, 5, 9)]
    assert outer_lr_at(replace(cfg, anneal_lr=False), 9, 999.0) == 0.01


def test_lr_follows_the_fraction_of_the_budget_used():
    cfg = TrainConfig(iterations=0, time_limit=100.0, outer_lr=0.01)  # no cap
    assert outer_lr_at(cfg, 0, 0.0) == 0.01
    assert outer_lr_at(cfg, 10_000, 25.0) == pytest.approx(0.0075)
    assert outer_lr_at(cfg, 3, 50.0) == pytest.approx(0.005)
    assert outer_lr_at(cfg, 3, 150.0) == 0.0  # past the budget: not negative
    capped = replace(cfg, iterations=10)  # the tighter bound decides
    assert outer_lr_at(capped, 8, 50.0) == pytest.approx(0.002)  # 80 % of the iterations
    assert outer_lr_at(capped, 2, 50.0) == pytest.approx(0.005)  # 50 % of the budget
    assert outer_lr_at(replace(cfg, anneal_lr=False), 3, 50.0) == 0.01


def test_iterations_zero_needs_a_time_limit(tmp_path):
    with pytest.raises(MamlgameError, match="0 means no cap only with a time limit"):
        train(TrainConfig(pack="bandit", iterations=0, meta_batch=2, episodes=2), tmp_path,
              progress=False)


# ---- runs --------------------------------------------------------------------------------
def test_tiny_time_limit_stops_early_and_leaves_a_checkpoint(tmp_path):
    result = run("train", "bandit", "--time-limit", "0.5", "--iterations", "1000000",
                 "--out", str(tmp_path), *TINY)
    assert result.exit_code == 0, result.output
    ck = read_checkpoint(tmp_path / "checkpoint.pt")
    assert 1 <= ck.iteration < 1_000_000 and ck.elapsed >= 0.5
    assert ck.config.time_limit == 0.5 and ck.config.iterations == 1_000_000
    assert [r["iteration"] for r in metric_lines(tmp_path)] == list(range(ck.iteration))
    assert f"time limit 0.5s: {plural(ck.iteration, 'iteration')} in" in result.output
    load_agent(tmp_path / "checkpoint.pt")  # loadable for eval/play


def test_a_run_anneals_over_the_budget(tmp_path, monkeypatch):
    """A clock that advances 1/8 s per reading: 8 iterations fit in 1 s, iteration k runs
    at outer_lr * (1 - k/8), and the run stops after the eighth."""
    readings = iter(range(1, 10_000))
    monkeypatch.setattr(_Clock, "spent", lambda self: next(readings) / 8)
    result = run("train", "bandit", "--time-limit", "1", "--out", str(tmp_path), *TINY)
    assert result.exit_code == 0, result.output
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["iteration"] == 8 and state["elapsed"] == 1.0
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.003 / 8)
    assert "time limit 1s: 8 iterations in 1s" in result.output


def test_time_limit_alone_sets_no_iteration_cap(tmp_path):
    result = run("train", "bandit", "--time-limit", "0.3", "--out", str(tmp_path), *TINY)
    assert result.exit_code == 0, result.output
    ck = read_checkpoint(tmp_path / "checkpoint.pt")
    assert ck.config.iterations == 0 and ck.iteration >= 1


def test_iterations_are_an_upper_bound(tmp_path):
    result = run("train", "bandit", "--time-limit", "1h", "--iterations", "3", "--out",
                 str(tmp_path), *TINY)
    assert result.exit_code == 0, result.output
    assert read_checkpoint(tmp_path / "checkpoint.pt").iteration == 3
    assert "time limit 1h: 3 iterations in" in result.output
    assert "stopped at --iterations 3 with" in result.output


def test_an_unspent_time_limit_changes_no_number(tmp_path):
    """With a constant learning rate, a budget never reached trains exactly as no budget."""
    args = ["--iterations", "3", "--no-anneal-lr", *TINY]
    assert run("train", "bandit", *args, "--out", str(tmp_path / "a")).exit_code == 0
    assert run("train", "bandit", *args, "--time-limit", "1h", "--out",
               str(tmp_path / "b")).exit_code == 0
    pa = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)["params"]
    pb = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)["params"]
    assert all(torch.equal(pa[k], pb[k]) for k in pa)
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in metric_lines(tmp_path / "a")]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"}
                     for r in metric_lines(tmp_path / "b")]


def test_resume_continues_the_same_budget(tmp_path):
    first = run("train", "bandit", "--time-limit", "0.4", "--out", str(tmp_path), *TINY)
    assert first.exit_code == 0, first.output
    ck = read_checkpoint(tmp_path / "checkpoint.pt")
    # a plain resume keeps the run's budget, already spent: nothing more runs
    plain = run("train", "--out", str(tmp_path), "--resume", "--quiet")
    assert plain.exit_code == 0, plain.output
    assert "warning:" not in plain.output
    assert f"--resume: iteration {ck.iteration}, " in plain.output
    assert "of the time limit 0.4s spent, 0s left" in plain.output
    assert read_checkpoint(tmp_path / "checkpoint.pt").iteration == ck.iteration
    # a larger budget continues from the time already spent
    more = run("train", "--out", str(tmp_path), "--resume", "--time-limit", "1", "--quiet")
    assert more.exit_code == 0, more.output
    assert "of the time limit 1s spent" in more.output and "in this session)" in more.output
    after = read_checkpoint(tmp_path / "checkpoint.pt")
    assert after.iteration > ck.iteration and after.elapsed >= 1.0 > ck.elapsed
    assert after.config.time_limit == 1.0
    assert [r["iteration"] for r in metric_lines(tmp_path)] == list(range(after.iteration))


def test_processes_stop_together(tmp_path):
    """Each process measures its own clock; the all-reduce makes them agree on when to stop
    (a disagreement would hang the next all-reduce)."""
    result = subprocess.run([sys.executable, "-m", "mamlgame", "train", "bandit", "--nproc", "2",
                             "--time-limit", "2", *TINY, "--out", str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("time limit 2s:") == 1
    ck = read_checkpoint(tmp_path / "checkpoint.pt")
    assert ck.world_size == 2 and ck.elapsed >= 2.0
    assert len(metric_lines(tmp_path)) == ck.iteration
