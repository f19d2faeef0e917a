"""`mamlgame train --resume` is honest: another PACK or --algo is refused in one line, another
changed option is ignored with a one-line warning, and a plain resume says nothing."""

import json

import pytest
from click.testing import CliRunner

from mamlgame.cli import cli

TINY = ["--meta-batch", "2", "--episodes", "2", "--horizon", "5", "--hidden", "8", "--quiet"]


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def run_dir(tmp_path):
    result = run("train", "navigation", "--iterations", "1", "--out", str(tmp_path), *TINY)
    assert result.exit_code == 0, result.output
    return tmp_path


def warnings_in(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("warning:")]


def iterations(run_dir) -> int:
    return len((run_dir / "metrics.jsonl").read_text().splitlines())


@pytest.mark.parametrize("args, message", [
    (["velocity"], "error: --resume: this run trained on pack 'navigation', not 'velocity'"),
    (["navigation", "--algo", "fomaml"],
     "error: --resume: this run trained with --algo maml, not fomaml"),
])
def test_resume_refuses_another_pack_or_algo(run_dir, args, message):
    result = run("train", *args, "--iterations", "2", "--out", str(run_dir), "--resume", *TINY)
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(message), result.output
    assert iterations(run_dir) == 1  # nothing trained


def test_resume_warns_once_about_other_changed_options(run_dir):
    result = run("train", "navigation", "--iterations", "2", "--out", str(run_dir), "--resume",
                 *TINY, "--outer-lr", "0.5", "--episodes", "3", "--threads", "2")
    assert result.exit_code == 0, result.output
    (line,) = warnings_in(result.output)
    assert "--outer-lr 0.5 (the run's: --outer-lr 0.003)" in line
    assert "--episodes 3 (the run's: --episodes 2)" in line
    assert "--threads" not in line.split("ignoring")[1]  # a resume may change it
    assert iterations(run_dir) == 2
    row = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    assert row["iteration"] == 1


def test_plain_resume_gives_no_warning(run_dir):
    result = run("train", "--out", str(run_dir), "--resume", "--iterations", "2", "--quiet")
    assert result.exit_code == 0, result.output
    assert warnings_in(result.output) == []
    assert iterations(run_dir) == 2


def test_resume_with_the_same_options_gives_no_warning(run_dir):
    result = run("train", "navigation", "--iterations", "2", "--out", str(run_dir), "--resume",
                 *TINY)
    assert result.exit_code == 0, result.output
    assert warnings_in(result.output) == []
