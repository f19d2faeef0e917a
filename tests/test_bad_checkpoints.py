"""Checkpoints whose structure does not fit what they claim: every param transposed or
missing, every choice setting unknown, every float setting non-finite, a garbage generator
state, foreign optimizer state. `eval` and `train --resume` each print one error line naming
the file and exit 1."""

import copy

import pytest
import torch
from click.testing import CliRunner

from mamlgame.checkpoint import checksum
from mamlgame.cli import cli
from mamlgame.config import SETTINGS


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = CliRunner().invoke(cli, ["train", "navigation", "--iterations", "1", "--meta-batch",
                                      "2", "--episodes", "2", "--hidden", "8", "--quiet",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    return torch.load(out / "checkpoint.pt", weights_only=True)


def corruptions(state):
    for name, value in state["params"].items():
        if value.dim() == 2:
            yield f"{name} transposed", ("params", name, value.T.contiguous())
        yield f"{name} missing", ("params", name, None)
    for s in SETTINGS.values():
        if s.choices:
            yield f"config {s.name} unknown", ("config", s.name, "bogus")
        if s.kind == "float":
            yield f"config {s.name} nan", ("config", s.name, float("nan"))


def corrupt(state, where, key, value):
    """`state` with one entry changed, and a checksum that matches: a file written wrong,
    not damaged afterwards (damage is the checksum's to catch)."""
    state = copy.deepcopy(state)
    if value is None:
        del state[where][key]
    else:
        state[where][key] = value
    state["checksum"] = checksum(state)
    return state


def one_error_line(result, path) -> None:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and str(path) in lines[0], lines


def test_every_structural_corruption_is_one_line(saved, tmp_path):
    cases = list(corruptions(saved))
    assert len(cases) > 10
    for label, (where, key, value) in cases:
        path = tmp_path / "ck.pt"
        torch.save(corrupt(saved, where, key, value), path)
        result = CliRunner().invoke(cli, ["eval", str(path), "--tasks", "2", "--episodes", "2",
                                          "--steps", "0"])
        one_error_line(result, path)
        run = tmp_path / "resume"
        run.mkdir(exist_ok=True)
        torch.save(corrupt(saved, where, key, value), run / "checkpoint.pt")
        result = CliRunner().invoke(cli, ["train", "--out", str(run), "--resume",
                                          "--iterations", "2"])
        assert result.exit_code == 1 and "error:" in result.output, (label, result.output)


@pytest.mark.parametrize("label", ["rng", "optimizer"])
def test_a_resume_state_that_does_not_fit_is_one_line(saved, tmp_path, label):
    state = copy.deepcopy(saved)
    if label == "rng":
        state["rng"]["tasks"] = torch.zeros(3, dtype=torch.uint8)
    else:
        state["optimizer"]["param_groups"].append(copy.deepcopy(
            state["optimizer"]["param_groups"][0]))
    state["checksum"] = checksum(state)
    torch.save(state, tmp_path / "checkpoint.pt")
    result = CliRunner().invoke(cli, ["train", "--out", str(tmp_path), "--resume",
                                      "--iterations", "2"])
    one_error_line(result, tmp_path / "checkpoint.pt")
    assert ("generator" if label == "rng" else "optimizer") in result.output


def test_damage_is_caught_by_the_checksum_and_old_files_still_load(saved, tmp_path):
    """A value changed after saving (a flipped bit) no longer matches the checksum; a
    checkpoint written before checksums (none stored) still evaluates."""
    damaged = copy.deepcopy(saved)
    damaged["params"]["layers.0.weight"].view(-1)[5] += 1e-6
    torch.save(damaged, tmp_path / "damaged.pt")
    result = CliRunner().invoke(cli, ["eval", str(tmp_path / "damaged.pt"), "--tasks", "2",
                                      "--episodes", "2", "--steps", "0"])
    one_error_line(result, tmp_path / "damaged.pt")
    assert "corrupt checkpoint" in result.output
    old = {k: v for k, v in saved.items() if k != "checksum"}
    torch.save(old, tmp_path / "old.pt")
    result = CliRunner().invoke(cli, ["eval", str(tmp_path / "old.pt"), "--tasks", "2",
                                      "--episodes", "2", "--steps", "0"])
    assert result.exit_code == 0, result.output
