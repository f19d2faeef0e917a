"""CPU settings for the training and benchmark processes: torch threads and the allocator."""

from __future__ import annotations

import ctypes
import functools
import platform

import torch

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3


@functools.cache
def _keep_freed_memory() -> bool:
    """Let glibc malloc reuse freed activation buffers instead of returning them to the OS.

    A meta-iteration allocates and frees many buffers of ~16 MB; by default glibc serves each
    with a fresh mmap (or trims the heap after the free), so every use page-faults its memory
    in again (tens of thousands of faults per iteration of `mamlgame bench`; measured by
    `benchmarks/iteration_costs.py`).
    Returns whether the settings took effect (glibc only)."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    settings = ((_M_MMAP_THRESHOLD, 32 << 20),  # the largest value glibc accepts
                (_M_TRIM_THRESHOLD, 1 << 30), (_M_TOP_PAD, 256 << 20))
    return all(libc.mallopt(option, value) == 1 for option, value in settings)


def configure(threads: int) -> None:
    """Use `threads` torch threads and the allocator settings above."""
    torch.set_num_threads(threads)
    _keep_freed_memory()
