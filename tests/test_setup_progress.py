"""A slow setup (levels generated before the first iteration) shows progress and counts
against `--time-limit`: a budget the setup spends stops the run after one iteration, with a
checkpoint and a line that says so. The setup is slowed on purpose; nothing here depends on
how fast the machine is."""

import threading

import pytest
from click.testing import CliRunner

import mamlgame.progress as progress
from mamlgame.checkpoint import read_checkpoint
from mamlgame.cli import cli
from mamlgame.packs import LevelPack

TINY = ["--meta-batch", "2", "--episodes", "2", "--hidden", "8"]


@pytest.fixture
def slow_levels(monkeypatch):
    """The train levels are generated only once a setup line is shown (or after 0.5 s when
    the display is off): a setup that is slow, whatever the machine."""
    shown = threading.Event()
    line = progress.SetupProgress._line

    def show(self, text):
        line(self, text)
        shown.set()

    pool = LevelPack.pool

    def slow_pool(self, split):
        if split == "train" and split not in self._pools:
            shown.wait(timeout=0.5)
        return pool(self, split)

    monkeypatch.setattr(progress.SetupProgress, "_line", show)
    monkeypatch.setattr(LevelPack, "pool", slow_pool)
    monkeypatch.setattr(progress, "SETUP_QUIET_SECONDS", 0.01)


def test_a_slow_setup_says_what_it_does(tmp_path, slow_levels):
    result = CliRunner().invoke(cli, ["train", "bandit", "--iterations", "1", "--out",
                                      str(tmp_path), *TINY])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert any(x.startswith("setup: generating the 1000 train levels of bandit... (") for x in
               lines), result.stderr
    assert any(x.startswith("setup: done in ") for x in lines), result.stderr


def test_quiet_and_quick_setups_show_nothing(tmp_path, slow_levels, monkeypatch):
    result = CliRunner().invoke(cli, ["train", "bandit", "--iterations", "1", "--out",
                                      str(tmp_path / "a"), "--quiet", *TINY])
    assert result.exit_code == 0 and "setup:" not in result.output, result.output
    monkeypatch.setattr(progress, "SETUP_QUIET_SECONDS", 3600.0)
    result = CliRunner().invoke(cli, ["train", "bandit", "--iterations", "1", "--out",
                                      str(tmp_path / "b"), *TINY])
    assert result.exit_code == 0 and "setup:" not in result.output, result.output


def test_a_time_limit_the_setup_spends_stops_after_one_iteration(tmp_path, slow_levels):
    result = CliRunner().invoke(cli, ["train", "bandit", "--time-limit", "0.01", "--iterations",
                                      "1000", "--out", str(tmp_path), *TINY])
    assert result.exit_code == 0, result.output
    assert "setup: took " in result.output
    assert ", the whole time limit 0.01s; one iteration runs anyway, for a checkpoint" in \
        result.output
    assert "time limit 0.01s: 1 iteration in " in result.output
    ck = read_checkpoint(tmp_path / "checkpoint.pt")
    assert ck.iteration == 1 and ck.elapsed >= 0.01
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 1


def test_the_budget_line_names_a_long_setup():
    from mamlgame.config import TrainConfig

    cfg = TrainConfig(time_limit=75.0)
    assert progress.budget_note(cfg, 0, 1, 113.0, 95.0) == (
        "time limit 1m15s: 1 iteration in 1m53s, setup 1m35s of it")
    assert progress.budget_note(cfg, 0, 40, 76.0, 1.0) == "time limit 1m15s: 40 iterations in 1m16s"
    assert progress.setup_note(cfg, 95.0, 95.0) == (
        "setup: took 1m35s, the whole time limit 1m15s; one iteration runs anyway, for a "
        "checkpoint")
    assert progress.setup_note(cfg, 5.0, 5.0) is None
