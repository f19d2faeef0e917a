"""`mamlgame compare --steps`: returns after each chosen number of inner steps, and success
rates for families whose episodes can reach a goal (game packs), in compare.json/.md/.png."""

import json

import pytest
from click.testing import CliRunner

from mamlgame.cli import cli

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
        "--eval-tasks", "2", "--quiet"]


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_compare_reports_the_steps_and_success_rates_of_a_game_pack(tmp_path):
    pack = tmp_path / "tiny.toml"
    pack.write_text(TINY_GAME)
    out = tmp_path / "cmp"
    result = run("compare", str(pack), *TINY, "--steps", "0,2,1", "--out", str(out))
    assert result.exit_code == 0, result.output
    data = json.loads((out / "compare.json").read_text())
    assert data["steps"] == [0, 1, 2]
    (row,) = data["rows"]
    for key in ("returns", "se", "success", "success_se"):
        assert list(row[key]) == ["0", "1", "2"], key
    assert all(0.0 <= v <= 1.0 for v in row["success"].values())
    table = (out / "compare.md").read_text()
    head = table.splitlines()[0]
    assert "return 2 steps" in head and "success 0 steps" in head and "success 1 step " in head
    assert f"{100 * row['success']['2']:.0f}% ±" in table.splitlines()[2]
    assert (out / "compare.png").read_bytes()[:4] == b"\x89PNG"
    assert "success 2 steps" in result.output


def test_compare_without_success_rates_for_families_without_a_goal(tmp_path):
    result = run("compare", "bandit", *TINY, "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    (row,) = json.loads((tmp_path / "compare.json").read_text())["rows"]
    assert list(row["returns"]) == ["0", "1"] and "success" not in row  # the default --steps
    assert "success" not in (tmp_path / "compare.md").read_text()


@pytest.mark.parametrize("steps", ["", "a,b", "-1", "0,1001"])
def test_bad_steps_are_a_usage_error_before_any_training(tmp_path, steps):
    result = run("compare", "bandit", *TINY, "--steps", steps, "--out", str(tmp_path / "c"))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: --steps: expected integers from 0 to 1000")
    assert not (tmp_path / "c").exists()
