"""Usage errors (unknown option, bad value, missing argument) are one `error:` line, exit 2,
for every command; help is still help."""

import pytest
from click.testing import CliRunner

from mamlgame.cli import cli


def run(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="mamlgame")


def one_error_line(result) -> str:
    lines = result.output.splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "), \
        result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return lines[0]


@pytest.mark.parametrize("args, line", [
    (["train", "--iterations", "0"],
     "error: --iterations: 0 is not in the range 1<=x<=1000000000 (see mamlgame train --help)"),
    (["train", "--inner-lr", "nan"],
     "error: --inner-lr: expected a finite number, got 'nan' (see mamlgame train --help)"),
    (["train", "--algo", "sgd"], "error: --algo: 'sgd' is not one of"),
    (["train", "--iterations"],
     "error: Option '--iterations' requires an argument (see mamlgame train --help)"),
    (["eval"], "error: Missing argument 'CHECKPOINT|AGENT' (see mamlgame eval --help)"),
    (["eval", "x.pt", "--bogus"], "error: No such option '--bogus' (see mamlgame eval --help)"),
    (["eval", "x.pt", "--tasks", "many"], "error: --tasks: 'many' is not a valid integer"),
    (["compare", "arena", "--algos", "sgd"], "error: --algos: unknown algo(s) sgd; choose from"),
    (["bench", "--bogus"], "error: No such option '--bogus' (see mamlgame bench --help)"),
    (["play", "--frames", "-3"], "error: --frames: -3 is not in the range"),
    (["play", "--level"], "error: Option '--level' requires an argument (see mamlgame play"),
    (["levels", "show"], "error: Missing argument 'PACK' (see mamlgame levels show --help)"),
    (["levels", "preview", "arena", "--out"],
     "error: Option '--out' requires an argument (see mamlgame levels preview --help)"),
    (["levels", "nosuch"], "error: No such command 'nosuch' (see mamlgame levels --help)"),
    (["nosuch"], "error: No such command 'nosuch' (see mamlgame --help)"),
    (["--bogus"], "error: No such option '--bogus' (see mamlgame --help)"),
])
def test_usage_errors_are_one_line(args, line):
    assert one_error_line(run(*args)).startswith(line)


def test_help_and_version_are_unchanged():
    assert run("train", "--help").exit_code == 0
    assert run("--version").exit_code == 0
    bare = run("levels")  # a group without its command shows its help
    assert "Commands:" in bare.output and "error:" not in bare.output
