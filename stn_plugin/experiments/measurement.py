"""Timing, peak-memory and standard-error measurement shared by the benchmark tools.

Torch and the standard library only (no mmengine), so every layer's benchmark can use it.

* :func:`time_ms`: best of ``repeats`` wall-clock runs (other processes on a shared
  machine only ever add time, so the minimum is the fairest single figure).
* :func:`peak_mb`: peak memory growth of one call. On CUDA it is
  ``torch.cuda.max_memory_allocated()`` over the allocation before the call; on the CPU
  the growth of the process's peak resident set size (``VmHWM``, reset through
  ``/proc/self/clear_refs``) over the RSS just before it.
* :func:`tune_malloc_for_rss`: makes glibc serve and return blocks >= 64 KiB with
  ``mmap``, so freed tensors leave the RSS at once and the CPU figure follows live
  memory. Call it after all timings: every large allocation then becomes a fresh
  ``mmap``, which slows allocation-heavy code down.
* :func:`standard_error_of_mean`: of per-sample scores (e.g. 0 / 1 word matches).
"""
from __future__ import annotations

import ctypes
import gc
import math
import time
from typing import Callable, Optional, Sequence

import torch

__all__ = ["time_ms", "peak_mb", "tune_malloc_for_rss", "standard_error_of_mean", "sync"]

_libc = None


def tune_malloc_for_rss() -> bool:
    """Make glibc serve blocks >= 64 KiB by mmap and return them on free, so the RSS
    follows live memory (otherwise freed blocks linger in the heap). ``False`` where
    glibc is not there (the CPU figures then include freed heap blocks)."""
    global _libc
    try:
        _libc = ctypes.CDLL("libc.so.6")
        _libc.mallopt(-3, 1 << 16)  # M_MMAP_THRESHOLD (fixed: disables the dynamic rule)
        _libc.mallopt(-1, 1 << 16)  # M_TRIM_THRESHOLD
    except OSError:
        _libc = None
    return _libc is not None


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1])
    raise KeyError(key)


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def sync(device: torch.device) -> None:
    """Wait for ``device``'s queued work (a no-op on the CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def time_ms(fn: Callable[[], None], device, repeats: int, warmup: int = 1) -> float:
    """Best wall-clock time of ``repeats`` calls of ``fn`` (ms), after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
    return min(times)


def peak_mb(fn: Callable[[], None], device, prepare: Callable[[], None] = lambda: None) -> Optional[float]:
    """Peak memory growth (MiB) of ``fn()`` over the state after ``prepare()`` (which
    should drop the previous call's gradients, so they are neither in the baseline nor
    freed inside). ``None`` where the CPU's peak RSS cannot be reset."""
    prepare()
    gc.collect()
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2 ** 20
    if _libc is not None:
        _libc.malloc_trim(0)  # hand free heap memory back first, so the baseline is live memory
    if not _reset_peak_rss():
        return None
    base = _status_kb("VmRSS")
    fn()
    return (_status_kb("VmHWM") - base) / 1024


def standard_error_of_mean(values: Sequence[float]) -> float:
    """Standard error of the mean of ``values``: the sample standard deviation over
    ``sqrt(n)``; nan for fewer than two values (no spread to estimate)."""
    n = len(values)
    if n < 2:
        return math.nan
    mean = sum(values) / n
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1) / n)
