"""Run directories and output files users can trust: a run is never silently replaced or
mixed with another, two runs never write one folder, resume says where it starts, outputs
that cannot be written are one `error:` line before the work, files get the usual mode, and
the progress display does not flood logs."""

import errno
import json
import os
import stat
import sys

import pytest
from click.testing import CliRunner

from mamlgame.checkpoint import atomic_write_bytes, numbered_checkpoints, read_checkpoint
from mamlgame.cli import cli
from mamlgame.config import TrainConfig
from mamlgame.errors import MamlgameError, TrainingError
from mamlgame.run_dir import RunLock
from mamlgame.train import train

TINY = ["--meta-batch", "2", "--episodes", "2", "--horizon", "5", "--hidden", "8", "--quiet",
        "--no-anneal-lr"]
TRAIN_MODULE = sys.modules["mamlgame.train"]  # (`mamlgame.train` is also the function)
LIB = dict(pack="bandit", meta_batch=2, episodes=2, hidden=(8,), anneal_lr=False)


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def one_error_line(result) -> str:
    """The single `error:` line of a failed command (and no traceback)."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit | None), result.exception  # no traceback
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = run("train", "bandit", "--iterations", "4", "--checkpoint-every", "1",
                 "--keep-checkpoints", "3", "--out", str(out), *TINY)
    assert result.exit_code == 0, result.output
    return out


# ---- item 2: a run is not replaced without --resume or --overwrite -------------------------
def test_train_refuses_a_folder_holding_a_run(run_dir):
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    line = one_error_line(run("train", "bandit", "--iterations", "1", "--out", str(run_dir),
                              *TINY))
    assert f"--out {run_dir}: holds a run" in line and "--resume" in line
    assert "--overwrite" in line
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before  # nothing touched


def test_train_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    line = one_error_line(run("train", "bandit", "--iterations", "1", "--out", str(tmp_path),
                              *TINY))
    assert "is not empty (notes.txt)" in line


def test_overwrite_clears_the_old_numbered_checkpoints_and_metrics(tmp_path):
    first = run("train", "bandit", "--iterations", "4", "--checkpoint-every", "1",
                "--out", str(tmp_path), *TINY)
    assert first.exit_code == 0, first.output
    (tmp_path / "notes.txt").write_text("mine")
    again = run("train", "bandit", "--iterations", "2", "--checkpoint-every", "1",
                "--overwrite", "--out", str(tmp_path), *TINY)
    assert again.exit_code == 0, again.output
    assert [p.name for p in numbered_checkpoints(tmp_path / "checkpoint.pt")] == [
        "checkpoint-000002.pt", "checkpoint-000001.pt"]
    rows = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["iteration"] for r in rows] == [0, 1]
    assert read_checkpoint(tmp_path / "checkpoint.pt").iteration == 2
    assert (tmp_path / "notes.txt").read_text() == "mine"  # not a run file: kept


def test_resume_and_overwrite_together_is_an_error(run_dir):
    line = one_error_line(run("train", "--out", str(run_dir), "--resume", "--overwrite",
                              "--quiet"))
    assert "choose one" in line


def test_library_train_refuses_too(tmp_path):
    train(TrainConfig(**LIB, iterations=1), tmp_path, progress=False)
    with pytest.raises(MamlgameError, match="holds a run"):
        train(TrainConfig(**LIB, iterations=1), tmp_path, progress=False)
    train(TrainConfig(**LIB, iterations=1), tmp_path, progress=False, overwrite=True)


def test_compare_refuses_an_earlier_comparison(tmp_path):
    args = ["compare", "bandit", "--algos", "fomaml", "--iterations", "1", "--meta-batch",
            "2", "--episodes", "2", "--eval-tasks", "2", "--out", str(tmp_path), "--quiet"]
    assert run(*args).exit_code == 0
    line = one_error_line(run(*args))
    assert "holds runs of an earlier comparison (fomaml/)" in line
    assert run(*args, "--overwrite").exit_code == 0


# ---- item 15: one run at a time in a directory ---------------------------------------------
@pytest.mark.skipif(os.name != "posix", reason="the lock uses flock")
def test_a_second_train_on_a_locked_directory_exits_with_one_line(tmp_path):
    lock = RunLock(tmp_path).acquire()  # as a running `train` holds it
    try:
        line = one_error_line(run("train", "bandit", "--iterations", "1",
                                  "--out", str(tmp_path), *TINY))
        assert "another `mamlgame train` is writing this run" in line
        assert not (tmp_path / "metrics.jsonl").exists()
    finally:
        lock.release()
    assert run("train", "bandit", "--iterations", "1", "--out", str(tmp_path),
               *TINY).exit_code == 0  # released: the directory is free again


# ---- item 5: resume says where it starts ---------------------------------------------------
def test_resume_says_where_it_starts_or_that_it_is_done(run_dir):
    done = run("train", "--out", str(run_dir), "--resume", "--quiet")
    assert done.exit_code == 0, done.output
    assert "bandit has already run 4 iterations (--iterations 4); nothing to do" in done.output
    assert read_checkpoint(run_dir / "checkpoint.pt").iteration == 4


def test_resume_names_the_pack_and_iteration(tmp_path):
    assert run("train", "bandit", "--iterations", "1", "--out", str(tmp_path),
               *TINY).exit_code == 0
    more = run("train", "--out", str(tmp_path), "--resume", "--iterations", "2", "--quiet")
    assert more.exit_code == 0, more.output
    assert "resuming bandit at iteration 1 of 2" in more.output


# ---- item 4 / 12: outputs that cannot be written -------------------------------------------
@pytest.fixture
def a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    return f


def _unwritable_cases(ckpt, a_file, tmp_path):
    return [
        (["eval", ckpt, "--json", "/proc/x.json"], "--json /proc/x.json: cannot write there"),
        (["eval", ckpt, "--json", f"{a_file}/x.json"], f"--json {a_file}/x.json: cannot write"),
        (["eval", ckpt, "--plot", f"{a_file}/x.png"], f"--plot {a_file}/x.png: cannot write"),
        (["eval", ckpt, "--plot", str(tmp_path / "x.jpgz")], "expected a .png file name"),
        (["bench", "--iterations", "1", "--json", "/proc/b.json"], "--json /proc/b.json"),
        (["compare", "bandit", "--out", f"{a_file}/cmp"], f"--out {a_file}/cmp: cannot write"),
        (["train", "bandit", "--out", f"{a_file}/run", *TINY], f"--out {a_file}/run: cannot"),
        (["train", "bandit", "--out", "/proc/mamlgame-run", *TINY], "--out /proc/mamlgame-run"),
        (["levels", "preview", "bandit", "--out", str(tmp_path / "p.gif")],
         "--out " + str(tmp_path / "p.gif") + ": expected a .png file name"),
        (["levels", "preview", "bandit", "--out", f"{a_file}/p.png"], "cannot write"),
        (["plot", os.path.dirname(ckpt), "--out", "/proc/t.png"], "--out /proc/t.png: cannot"),
        (["plot", os.path.dirname(ckpt), "--out", f"{a_file}/t.png"], "cannot write there"),
    ]


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
def test_unwritable_outputs_are_one_line_before_the_work(run_dir, a_file, tmp_path):
    ckpt = str(run_dir / "checkpoint.pt")
    for args, message in _unwritable_cases(ckpt, a_file, tmp_path):
        result = run(*args)
        line = one_error_line(result)
        assert message in line, (args, line)
        assert "1 step" not in result.output and "s/iteration" not in result.output  # no work
    assert not (tmp_path / "x.jpgz").exists() and not (tmp_path / "p.gif").exists()


def test_a_failed_checkpoint_write_keeps_the_previous_one(tmp_path, monkeypatch):
    train(TrainConfig(**LIB, iterations=2), tmp_path, progress=False)
    saved = (tmp_path / "checkpoint.pt").read_bytes()

    def full(*_args, **_kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(TRAIN_MODULE, "save_checkpoint", full)
    with pytest.raises(TrainingError, match=r"cannot write the checkpoint of iteration 4 "
                       r"\(No space left on device\); the previous .*checkpoint.pt is kept"):
        train(TrainConfig(**LIB, iterations=4), tmp_path, resume=True,
              progress=False)
    assert (tmp_path / "checkpoint.pt").read_bytes() == saved


# ---- item 6: the usual file mode ----------------------------------------------------------
def test_written_files_get_the_umask_mode_not_0600(tmp_path, run_dir):
    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "a.json", lambda f: f.write(b"{}"))
        result = run("eval", str(run_dir / "checkpoint.pt"), "--tasks", "2", "--steps", "0",
                     "--json", str(tmp_path / "e.json"))
        assert result.exit_code == 0, result.output
        os.umask(0o027)
        atomic_write_bytes(tmp_path / "b.json", lambda f: f.write(b"{}"))
        (tmp_path / "a.json").chmod(0o640)
        atomic_write_bytes(tmp_path / "a.json", lambda f: f.write(b"[]"))  # keeps its mode
    finally:
        os.umask(old)

    def mode(name):
        return stat.S_IMODE((tmp_path / name).stat().st_mode)

    assert mode("e.json") == 0o644 and mode("b.json") == 0o640 and mode("a.json") == 0o640
    assert stat.S_IMODE((run_dir / "checkpoint.pt").stat().st_mode) == 0o666 & ~old


# ---- item 8: no carriage-return flood without a terminal ----------------------------------
def test_progress_without_a_terminal_is_a_line_per_tenth(tmp_path):
    result = run("train", "bandit", "--iterations", "30", "--out", str(tmp_path),
                 *[a for a in TINY if a != "--quiet"])
    assert result.exit_code == 0, result.output
    assert "\r" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if "iterations (" in ln]
    assert len(lines) == 10 and lines[-1].startswith("maml bandit: 30/30 iterations (100%)")


# ---- items 7 / 13 / 14: options accepted before, wrong --------------------------------------
@pytest.mark.parametrize("args, flag", [
    (["--inner-lr", "-1"], "--inner-lr"), (["--inner-lr", "nan"], "--inner-lr"),
    (["--outer-lr", "nan"], "--outer-lr"), (["--outer-lr", "0"], "--outer-lr"),
    (["--outer-lr", "-1"], "--outer-lr"), (["--gamma", "nan"], "--gamma"),
    (["--init-std", "inf"], "--init-std"), (["--hidden", "0"], "--hidden"),
    (["--hidden", ","], "--hidden"), (["--hidden", "-5,3"], "--hidden"),
    (["--seed", str(2**64)], "--seed"), (["--seed", "-1"], "--seed"),
    (["--horizon", "1000000"], "--horizon"), (["--inner-steps", "1000000"], "--inner-steps"),
])
def test_bad_train_options_are_refused(tmp_path, args, flag):
    result = run("train", "bandit", "--out", str(tmp_path / "r"), *TINY, *args)
    assert result.exit_code == 2 and result.output.startswith(f"error: {flag}: "), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("command", [["eval", "x.pt"], ["play", "--headless", "--frames", "1"]])
def test_a_seed_beyond_64_bits_is_refused(command):
    result = run(*command, "--seed", str(2**70))
    assert result.exit_code == 2 and result.output.startswith("error: --seed: "), result.output


def test_the_memory_estimate_refuses_a_run_that_cannot_fit(tmp_path):
    result = run("train", "navigation", "--iterations", "1", "--meta-batch", "5000",
                 "--episodes", "5000", "--horizon", "100000", "--out", str(tmp_path), "--quiet")
    line = one_error_line(result)
    assert "needs about" in line and "memory" in line
    assert not (tmp_path / "metrics.jsonl").exists()


def test_a_stop_signal_arms_a_bounded_grace(monkeypatch):
    """The first SIGTERM asks the loop to stop after this iteration and arms a timer: an
    iteration that does not end within STOP_GRACE_SECONDS is cut short (no timing here:
    the timer is checked, then disarmed)."""
    import signal

    flag = TRAIN_MODULE._StopFlag()
    try:
        flag(signal.SIGTERM, None)
        assert flag.set and 0 < signal.getitimer(signal.ITIMER_REAL)[0] <= \
            TRAIN_MODULE.STOP_GRACE_SECONDS
        with pytest.raises(KeyboardInterrupt):
            flag.expired(signal.SIGALRM, None)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
