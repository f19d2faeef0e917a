"""Distributed meta-batches: the process group (torchrun's environment, or a file rendezvous
from `launch`), the device of each process, and the one all-reduce per meta-iteration.

Every process draws the same tasks, holds a contiguous share of them (`mamlgame.shard`) and
computes its share's meta-loss scaled by local/global tasks; summing the gradients over the
processes then gives the gradient of the mean over the whole meta-batch, and every process
applies the same optimiser step. Process 0 alone writes logs, metrics and checkpoints.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from mamlgame.errors import MamlgameError

INIT_ENV = "MAMLGAME_DIST_INIT"  # an init_method URL (file://...) set by `launch`
GRACE_SECONDS = 60.0  # how long `launch` waits for the other processes after one failed


@dataclass(frozen=True)
class Context:
    """This process's place in the run: rank, number of processes, rank on its machine."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1  # processes on this machine

    @property
    def is_main(self) -> bool:
        """Whether this process writes logs, metrics and checkpoints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def context() -> Context:
    """The context torchrun (or `launch`) describes in RANK / WORLD_SIZE / LOCAL_RANK /
    LOCAL_WORLD_SIZE."""
    try:
        env = os.environ.get
        world = int(env("WORLD_SIZE", 1))
        return Context(int(env("RANK", 0)), world, int(env("LOCAL_RANK", 0)),
                       int(env("LOCAL_WORLD_SIZE", world)))
    except ValueError as e:
        raise MamlgameError(f"bad torchrun environment: {e}") from None


def resolve_device(spec: str, local_rank: int = 0, local_procs: int = 1) -> torch.device:
    """`auto` -> cuda when there is a GPU for each of this machine's `local_procs` processes,
    else cpu; `cuda` without enough GPUs is an error (NCCL needs one GPU per process)."""
    if spec not in ("auto", "cpu", "cuda") and not spec.startswith("cuda:"):
        raise MamlgameError(f"--device: expected auto, cpu or cuda, got {spec!r}")
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if spec == "cpu" or (spec == "auto" and gpus < local_procs):
        return torch.device("cpu")
    if not gpus:
        raise MamlgameError(f"--device {spec}: CUDA is not available on this machine "
                            f"(torch {torch.__version__}); use --device cpu or auto")
    if local_procs > gpus:
        raise MamlgameError(f"--device {spec}: {local_procs} processes on this machine need "
                            f"{local_procs} GPUs (one each), it has {gpus}; use fewer processes "
                            "or --device cpu")
    if spec.startswith("cuda:"):
        return torch.device(spec)
    return torch.device("cuda", local_rank)


def default_device(device: torch.device) -> AbstractContextManager:
    """Makes new tensors land on `device` (rollouts and families create them without one).
    On the CPU a no-op: torch's device context intercepts every op, which costs time there."""
    return torch.device(device) if device.type != "cpu" else nullcontext()


def init(ctx: Context, device: torch.device) -> None:
    """Join the process group (gloo on CPU, nccl on CUDA); nothing for a single process."""
    if not ctx.distributed or dist.is_initialized():
        return
    # on a GPU: nccl for the gradients, gloo for the few small CPU tensors (step counts)
    backend = "cpu:gloo,cuda:nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    url = os.environ.get(INIT_ENV, "env://")
    try:
        dist.init_process_group(backend, init_method=url, rank=ctx.rank, world_size=ctx.world)
    except (RuntimeError, ValueError) as e:
        raise MamlgameError(f"cannot join the process group ({url}): {e}") from None


def shutdown(clean: bool = True) -> None:
    """Leave the process group, if any. After a clean run every process first waits for the
    others: gloo can abort a process (SIGABRT, "terminate called without an active exception")
    whose peer tore its connections down while it was still saving. After a failure there is
    no waiting (the others may be inside a collective; the launcher stops them)."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    if clean:
        dist.barrier()
    dist.destroy_process_group()


def all_reduce_step(tensors: list[torch.Tensor], extra: torch.Tensor) -> torch.Tensor:
    """Sum the gradients of `tensors` and the values `extra` over all processes, in one
    all-reduce of one flat buffer; gradients are written back, the summed extras returned."""
    grads = [t.grad if t.grad is not None else torch.zeros_like(t) for t in tensors]
    flat = torch.cat([g.reshape(-1).double() for g in grads] + [extra.reshape(-1).double()])
    dist.all_reduce(flat)
    offset = 0
    for t, g in zip(tensors, grads, strict=True):
        n = g.numel()
        t.grad = flat[offset:offset + n].view_as(g).to(g.dtype)
        offset += n
    return flat[offset:].to(extra.dtype)


def broadcast(obj: object, ctx: Context) -> object:
    """Process 0's `obj` on every process (trusted in-memory objects only)."""
    if not ctx.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def launch(argv: list[str], nproc: int) -> int:
    """Run `python -m mamlgame train ARGV` in `nproc` local processes that meet through a file
    rendezvous (no port), forward SIGINT/SIGTERM to them, and return the run's exit code
    (130 when interrupted; the first failure otherwise)."""
    with tempfile.TemporaryDirectory(prefix="mamlgame-dist-") as tmp:
        base = {**os.environ, INIT_ENV: f"file://{Path(tmp) / 'rendezvous'}",
                "WORLD_SIZE": str(nproc), "LOCAL_WORLD_SIZE": str(nproc)}
        procs = [subprocess.Popen(
            [sys.executable, "-m", "mamlgame", "train", *argv],
            env={**base, "RANK": str(r), "LOCAL_RANK": str(r)},
            start_new_session=True)  # a terminal's Ctrl-C reaches them once, through us
            for r in range(nproc)]

        def forward(signum: int, _frame) -> None:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signum)

        old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            return _wait(procs)
        finally:
            for s, h in old.items():
                signal.signal(s, h)
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()


def _wait(procs: list[subprocess.Popen]) -> int:
    """Wait for every process; once one fails, give the rest GRACE_SECONDS, then kill them."""
    deadline = None
    while True:
        codes = [p.poll() for p in procs]
        if all(c is not None for c in codes):
            break
        if deadline is None and any(c not in (None, 0) for c in codes):
            deadline = time.monotonic() + GRACE_SECONDS
        if deadline is not None and time.monotonic() > deadline:
            for p in procs:
                if p.poll() is None:
                    p.kill()
        time.sleep(0.05)
    codes = [p.returncode for p in procs]
    if 130 in codes:
        return 130
    return next((c if c > 0 else 128 - c for c in codes if c != 0), 0)
