"""Surviving faults: SIGINT/SIGTERM checkpoint and exit 130, SIGKILL + resume equals an
uninterrupted run, corrupt checkpoints are named and skipped on resume, the non-finite guard,
and checkpoints that are not plain tensors/data are refused."""

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch

from mamlgame.checkpoint import load_checkpoint, numbered_checkpoints
from mamlgame.config import TrainConfig
from mamlgame.distributed import resolve_device
from mamlgame.errors import CheckpointError, MamlgameError, TrainingError
from mamlgame.families.navigation import Navigation
from mamlgame.packs import load_pack, resolve_pack_path
from mamlgame.train import train

ROOT = Path(__file__).resolve().parents[1]
# long enough (~40 ms per iteration) to be signalled mid-run, short enough to stay fast; a
# constant outer learning rate, so that a shorter first run is a prefix of the longer one
RUN = dict(pack=str(resolve_pack_path("navigation")), meta_batch=8, episodes=8, horizon=20,
           hidden=(32, 32), iterations=24, checkpoint_every=3, keep_checkpoints=2,
           anneal_lr=False,  # + the recipe less its budget, as the CLI does
           **{k: v for k, v in load_pack("navigation").train.items() if k != "iterations"})
ARGS = ["navigation", "--meta-batch", "8", "--episodes", "8", "--horizon", "20", "--hidden",
        "32,32", "--iterations", "24", "--checkpoint-every", "3", "--keep-checkpoints", "2",
        "--no-anneal-lr", "--quiet"]


def params(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["params"]


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted run."""
    out = tmp_path_factory.mktemp("reference")
    train(TrainConfig(**RUN), out, progress=False)
    return out


def start(out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mamlgame", "train", *ARGS, "--out", str(out)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_lines(proc: subprocess.Popen, metrics: Path, n: int, timeout: float = 60) -> None:
    """Wait until the run has logged `n` iterations (fails if it ended first)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= n:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.002)
    pytest.fail("the run did not get going")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_writes_checkpoint_and_exits_130(sig, reference, tmp_path):
    proc = start(tmp_path)
    wait_for_lines(proc, tmp_path / "metrics.jsonl", 4)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted after iteration" in err and "--resume" in err
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert 4 <= state["iteration"] == len(lines) < RUN["iterations"]
    train(TrainConfig(**RUN), tmp_path, resume=True, progress=False)  # and it continues
    assert_same(params(tmp_path / "checkpoint.pt"), params(reference / "checkpoint.pt"))


def test_sigkill_mid_iteration_then_resume_equals_uninterrupted(reference, tmp_path):
    proc = start(tmp_path)
    wait_for_lines(proc, tmp_path / "metrics.jsonl", 7)
    time.sleep(0.01)  # somewhere inside an iteration
    proc.kill()
    proc.communicate(timeout=60)
    killed_at = load_checkpoint(tmp_path / "checkpoint.pt")["iteration"]
    assert killed_at < RUN["iterations"]
    train(TrainConfig(**RUN), tmp_path, resume=True, progress=False)
    assert_same(params(tmp_path / "checkpoint.pt"), params(reference / "checkpoint.pt"))
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    ref = [json.loads(x) for x in (reference / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == list(range(RUN["iterations"]))
    assert [r["return_after"] for r in rows] == [r["return_after"] for r in ref]


def test_keeps_the_last_n_numbered_checkpoints(reference):
    kept = numbered_checkpoints(reference / "checkpoint.pt")
    assert [p.name for p in kept] == ["checkpoint-000024.pt", "checkpoint-000021.pt"]


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_checkpoint_is_named_and_resume_falls_back(damage, reference, tmp_path):
    cfg = TrainConfig(**{**RUN, "iterations": 7})
    train(cfg, tmp_path, progress=False)  # checkpoints at 3, 6, 7
    ckpt = tmp_path / "checkpoint.pt"
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match=r"checkpoint\.pt: corrupt or unreadable"):
        load_checkpoint(ckpt)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        train(TrainConfig(**RUN), tmp_path, resume=True, progress=False)
    messages = [str(w.message) for w in record]
    assert any("checkpoint.pt: corrupt or unreadable" in m for m in messages), messages
    assert any("resuming from" in m and "checkpoint-000007.pt" in m for m in messages)
    assert_same(params(ckpt), params(reference / "checkpoint.pt"))


def test_no_good_checkpoint_is_a_clear_error(tmp_path):
    (tmp_path / "checkpoint.pt").write_bytes(b"nope")
    (tmp_path / "checkpoint-000003.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="no good checkpoint to resume") as e:
        train(TrainConfig(**RUN), tmp_path, resume=True, progress=False)
    assert "checkpoint.pt" in str(e.value) and "checkpoint-000003.pt" in str(e.value)
    result = subprocess.run([sys.executable, "-m", "mamlgame", "eval",
                             str(tmp_path / "checkpoint.pt")], cwd=ROOT, capture_output=True,
                            text=True)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1
    assert lines[0].startswith(f"error: {tmp_path / 'checkpoint.pt'}: corrupt or unreadable")


def test_nan_rewards_skip_updates_then_stop(tmp_path, monkeypatch):
    """NaN rewards from iteration 4 on: each update is skipped with a warning, the third in a
    row stops the run, and the last good checkpoint (iteration 3) stays."""
    step, calls = Navigation.step, {"n": 0}
    steps_per_iteration = 2 * 5  # two rollouts of horizon 5

    def poisoned(self, tasks, state, action):
        calls["n"] += 1
        state, reward, done = step(self, tasks, state, action)
        if calls["n"] > 4 * steps_per_iteration:
            reward = torch.full_like(reward, float("nan"))
        return state, reward, done

    monkeypatch.setattr(Navigation, "step", poisoned)
    cfg = TrainConfig(**{**RUN, "horizon": 5, "meta_batch": 2, "episodes": 2, "iterations": 20})
    with pytest.warns(UserWarning, match="non-finite loss or meta-gradient; update skipped"), \
            pytest.raises(TrainingError, match="3 non-finite .* in a row at iteration 6"):
        train(cfg, tmp_path, progress=False)
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["iteration"] == 6  # written during the streak: params as after iteration 3
    assert all(torch.isfinite(v).all() for v in state["params"].values())
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["skipped"] for r in rows] == [False] * 4 + [True] * 3
    assert rows[-1]["loss"] is None  # non-finite values are logged as null (valid JSON)


class Payload:
    """Not a tensor nor plain data: weights_only loading must refuse it."""


def test_checkpoint_with_arbitrary_pickle_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "mamlgame-checkpoint-1", "params": Payload()}, path)
    with pytest.raises(CheckpointError, match="corrupt or unreadable checkpoint"):
        load_checkpoint(path)


def test_bad_device_is_one_line(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    result = subprocess.run([sys.executable, "-m", "mamlgame", "train", *ARGS, "--device", "cuda",
                             "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1
    assert lines[0].startswith("error: --device cuda: CUDA is not available")


@pytest.mark.parametrize("gpus, spec, procs, expected", [
    (0, "auto", 1, "cpu"), (1, "auto", 1, "cuda:0"), (1, "auto", 2, "cpu"),
    (2, "cuda", 2, "cuda:1"), (1, "cuda", 2, "error"), (0, "cuda", 1, "error"),
])
def test_device_needs_one_gpu_per_local_process(monkeypatch, gpus, spec, procs, expected):
    """NCCL refuses two processes on one GPU: `auto` falls back to the CPU, `cuda` says why."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    if expected == "error":
        with pytest.raises(MamlgameError, match=f"--device {spec}: "):
            resolve_device(spec, local_rank=procs - 1, local_procs=procs)
    else:
        assert str(resolve_device(spec, local_rank=procs - 1, local_procs=procs)) == expected


def test_sigint_to_nproc_2_checkpoints_and_resumes_in_one_process(reference, tmp_path):
    """Ctrl-C to `--nproc 2`: both processes stop after the same iteration, process 0 writes
    the checkpoint, exit 130; one process resumes it to the uninterrupted result."""
    proc = subprocess.Popen([sys.executable, "-m", "mamlgame", "train", *ARGS, "--nproc", "2",
                             "--out", str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    wait_for_lines(proc, tmp_path / "metrics.jsonl", 2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.count("interrupted after iteration") == 1  # process 0 alone reports
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["world_size"] == 2
    assert state["iteration"] == len((tmp_path / "metrics.jsonl").read_text().splitlines())
    train(TrainConfig(**RUN), tmp_path, resume=True, progress=False)
    a, b = params(tmp_path / "checkpoint.pt"), params(reference / "checkpoint.pt")
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-5, rtol=0)
