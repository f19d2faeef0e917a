"""`train --tensorboard` (and `compare --tensorboard`, and `mamlgame.train`): the event files,
read back with TensorBoard's own reader, hold the numbers of `metrics.jsonl` under namespaced
tags, each step once, also after a resume; without the optional package, one error line
before any work."""

import json
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator
from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

import mamlgame
from mamlgame.cli import cli
from mamlgame.config import TrainConfig
from mamlgame.errors import MamlgameError
from mamlgame.tensorboard_log import INSTALL, scalars, tag

TRAIN_MODULE = sys.modules["mamlgame.train"]  # (`mamlgame.train` is also the function)
TINY = ["--meta-batch", "2", "--episodes", "2", "--hidden", "8", "--quiet"]


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def metrics(out) -> list[dict]:
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]


def board(folder) -> dict[str, list[tuple[int, float]]]:
    """Every scalar series in `folder`, as TensorBoard itself reads them (purging included)."""
    acc = EventAccumulator(str(folder), size_guidance={SCALARS: 0})
    acc.Reload()
    return {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}


def expected(rows: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """The series metrics.jsonl's records give, as float32 (TensorBoard's scalars)."""
    out: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        for name, value in scalars(row).items():
            out.setdefault(name, []).append((row["iteration"], float(np.float32(value))))
    return out


def test_the_tags_are_namespaced_from_the_metrics_record():
    row = {"iteration": 3, "seconds": 0.5, "loss": 1.0, "grad_norm": None, "return_before": -2,
           "return_after": -1.0, "success_before": 0.0, "success_after": 0.25,
           "skipped": False, "world_size": 1}
    assert scalars(row) == {
        "time/seconds": 0.5, "train/loss": 1.0, "meta/return_before": -2.0,
        "meta/return_after": -1.0, "meta/success_before": 0.0, "meta/success_after": 0.25,
        "train/skipped": 0.0, "run/world_size": 1.0}  # a null (non-finite) is left out
    assert tag("return_after") == "meta/return_after" and tag("seconds") == "time/seconds"


def test_train_writes_the_metrics_as_tensorboard_scalars(tmp_path):
    result = run("train", "bandit", "--iterations", "3", "--out", str(tmp_path),
                 "--tensorboard", *TINY)
    assert result.exit_code == 0, result.output
    assert f"tensorboard: {tmp_path / 'tensorboard'}" in result.output
    series = board(tmp_path / "tensorboard")
    assert series == expected(metrics(tmp_path))
    assert {"meta/return_after", "meta/success_after", "time/seconds", "train/loss"} <= set(
        series)
    assert [s for s, _ in series["meta/return_after"]] == [0, 1, 2]


def test_without_the_flag_there_is_no_tensorboard_folder(tmp_path):
    assert run("train", "bandit", "--iterations", "1", "--out", str(tmp_path), *TINY
               ).exit_code == 0
    assert not (tmp_path / "tensorboard").exists()


def test_a_resume_after_a_crash_repeats_no_step(tmp_path):
    """A run killed after iteration 5 whose newest good checkpoint is iteration 4 resumes
    there: TensorBoard shows iterations 0..5 once each, as metrics.jsonl does."""
    args = ["--out", str(tmp_path), "--checkpoint-every", "2", "--tensorboard", *TINY]
    assert run("train", "bandit", "--iterations", "5", *args).exit_code == 0
    (tmp_path / "checkpoint.pt").unlink()  # the crash: iteration 5's checkpoints are lost
    (tmp_path / "checkpoint-000005.pt").unlink()
    assert [s for s, _ in board(tmp_path / "tensorboard")["meta/return_after"]] == [0, 1, 2, 3,
                                                                                     4]
    result = run("train", "--out", str(tmp_path), "--resume", "--iterations", "6", "--quiet")
    assert result.exit_code == 0, result.output
    assert "iteration 4" in result.output
    rows = metrics(tmp_path)
    assert [r["iteration"] for r in rows] == list(range(6))
    series = board(tmp_path / "tensorboard")
    assert series == expected(rows)
    assert [s for s, _ in series["train/loss"]] == list(range(6))


def test_a_plain_resume_keeps_logging_and_no_tensorboard_turns_it_off(tmp_path):
    args = ["--out", str(tmp_path), *TINY]
    assert run("train", "bandit", "--iterations", "2", "--tensorboard", *args).exit_code == 0
    result = run("train", "--out", str(tmp_path), "--resume", "--iterations", "3", "--quiet")
    assert result.exit_code == 0 and "warning" not in result.output, result.output
    assert board(tmp_path / "tensorboard") == expected(metrics(tmp_path))
    assert len(metrics(tmp_path)) == 3
    result = run("train", "--out", str(tmp_path), "--resume", "--iterations", "4",
                 "--no-tensorboard", "--quiet")
    assert result.exit_code == 0 and "warning" not in result.output, result.output
    assert [s for s, _ in board(tmp_path / "tensorboard")["meta/return_after"]] == [0, 1, 2]


def test_turned_on_at_a_resume_it_holds_the_earlier_iterations_too(tmp_path):
    assert run("train", "bandit", "--iterations", "2", "--out", str(tmp_path), *TINY
               ).exit_code == 0
    result = run("train", "--out", str(tmp_path), "--resume", "--iterations", "4",
                 "--tensorboard", "--quiet")
    assert result.exit_code == 0 and "warning" not in result.output, result.output
    series = board(tmp_path / "tensorboard")
    assert series == expected(metrics(tmp_path))
    assert [s for s, _ in series["time/seconds"]] == [0, 1, 2, 3]


def test_overwrite_replaces_the_old_event_files(tmp_path):
    args = ["--out", str(tmp_path), "--tensorboard", *TINY]
    assert run("train", "bandit", "--iterations", "3", *args).exit_code == 0
    refused = run("train", "bandit", "--iterations", "1", *args)
    assert refused.exit_code == 1 and "holds a run" in refused.output
    assert run("train", "bandit", "--iterations", "1", "--overwrite", *args).exit_code == 0
    assert board(tmp_path / "tensorboard") == expected(metrics(tmp_path))
    assert len(list((tmp_path / "tensorboard").iterdir())) == 1


def test_the_python_api_writes_it_too(tmp_path):
    cfg = TrainConfig(pack="bandit", iterations=2, meta_batch=2, episodes=2, hidden=(8,),
                      tensorboard=True)
    mamlgame.train(cfg, tmp_path, progress=False)
    assert board(tmp_path / "tensorboard") == expected(metrics(tmp_path))


def test_compare_writes_one_run_per_method_and_seed(tmp_path):
    result = run("compare", "bandit", "--algos", "maml,fomaml", "--seeds", "2",
                 "--iterations", "2", "--eval-tasks", "2", "--out", str(tmp_path),
                 "--tensorboard", *TINY)
    assert result.exit_code == 0, result.output
    mux = EventMultiplexer().AddRunsFromDirectory(str(tmp_path))  # `tensorboard --logdir`
    mux.Reload()
    runs = sorted(mux.Runs())
    assert runs == [f"{m}/seed-{s}/tensorboard" for m in ("fomaml", "maml") for s in (0, 1)]
    for name in runs:
        folder = tmp_path / name
        assert board(folder) == expected(metrics(folder.parent))


# ---- the optional package is missing ------------------------------------------------------
@pytest.fixture
def no_tensorboard(monkeypatch):
    """Importing tensorboard fails, as where the extra is not installed."""
    for name in ("tensorboard", "torch.utils.tensorboard"):
        monkeypatch.setitem(sys.modules, name, None)


def test_missing_tensorboard_is_one_line_before_any_work(tmp_path, no_tensorboard, monkeypatch):
    monkeypatch.setattr(TRAIN_MODULE, "_setup", lambda *a: pytest.fail("setup began"))
    line = f"error: --tensorboard needs the tensorboard package: {INSTALL}"
    for command in (["train", "mixed"], ["train", "bandit", "--nproc", "2"],
                    ["compare", "bandit", "--algos", "maml"]):
        result = run(*command, "--tensorboard", "--out", str(tmp_path / "r"), *TINY)
        assert result.exit_code == 1 and result.output.strip().splitlines() == [line], \
            result.output
        assert not (tmp_path / "r").exists()
    with pytest.raises(MamlgameError, match="pip install 'mamlgame\\[tensorboard\\]'"):
        mamlgame.train(TrainConfig(pack="bandit", tensorboard=True), tmp_path / "api",
                       progress=False)
    assert not (tmp_path / "api" / "metrics.jsonl").exists()


def test_resuming_a_tensorboard_run_without_the_package_is_one_line(tmp_path, monkeypatch):
    assert run("train", "bandit", "--iterations", "1", "--out", str(tmp_path), "--tensorboard",
               *TINY).exit_code == 0
    for name in ("tensorboard", "torch.utils.tensorboard"):
        monkeypatch.setitem(sys.modules, name, None)
    result = run("train", "--out", str(tmp_path), "--resume", "--iterations", "2", "--quiet")
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [
        f"error: --tensorboard needs the tensorboard package: {INSTALL}"]
    assert len(metrics(tmp_path)) == 1
