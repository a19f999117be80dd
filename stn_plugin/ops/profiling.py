"""Named stages for ``torch.profiler``, free when no profiler runs.

:func:`~stn_plugin.ops.roi_sample` and the RoI rectifier mark their stages (pooled
view, localization net, transform and grid building, final sampling, regularisers,
the mask round trip) with :func:`profile_stage`, so that a profiled step can say where its time goes (see
:mod:`stn_plugin.experiments.detector_step_benchmark`). Outside a profiler, and while a graph is
traced for ``torch.compile`` / export, a stage is a shared no-op context: no
``record_function`` is created, no operator is dispatched.

>>> with profile_stage("rectifier.demo"):
...     pass

:func:`count_ops` counts, anywhere (CPU with triton's interpreter as on CUDA), the
Triton kernel launches of roi_sample's kernels (reported by their launcher through
:func:`record_launch`) and the other tensor operations (aten operators seen by a
``TorchDispatchMode``; roi_sample's own operators are looked into, not counted).
"""
from __future__ import annotations

from collections import Counter
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import ContextManager, Iterator, List

import torch.autograd.profiler as _profiler

from ..geometry.validation import is_tracing

__all__ = ["profile_stage", "OpCount", "count_ops", "record_launch"]

_NO_STAGE = nullcontext()


def profile_stage(name: str) -> ContextManager:
    """``record_function(name)`` while a profiler records, else a no-op context."""
    if getattr(_profiler, "_is_profiler_enabled", True) and not is_tracing():
        return _profiler.record_function(name)
    return _NO_STAGE


# aten operators that allocate without launching a kernel
_ALLOCATIONS = frozenset({"aten.empty", "aten.empty_strided", "aten.new_empty", "aten.empty_like",
                          "aten.new_empty_strided"})
_ACTIVE_COUNTS: List["OpCount"] = []


@dataclass
class OpCount:
    """What ran inside :func:`count_ops`: Triton launches (kernel names, in order) and
    aten operators by kind -- ``views`` (no kernel, no memory), ``allocations`` (memory,
    no kernel) and ``compute`` (everything else: on CUDA each is at least one kernel)."""

    launches: List[str] = field(default_factory=list)
    views: Counter = field(default_factory=Counter)
    allocations: Counter = field(default_factory=Counter)
    compute: Counter = field(default_factory=Counter)

    @property
    def total(self) -> int:
        """Launches plus every operator that is not a view: what a call costs in launches
        and host-side operator dispatches."""
        return len(self.launches) + sum(self.allocations.values()) + sum(self.compute.values())

    def summary(self) -> str:
        def fmt(counter):
            return ", ".join(f"{k.replace('aten.', '')} x{v}" if v > 1 else k.replace("aten.", "")
                             for k, v in sorted(counter.items())) or "-"
        return (f"{self.total} (Triton launches {len(self.launches)}: {fmt(Counter(self.launches))}; "
                f"compute ops {sum(self.compute.values())}: {fmt(self.compute)}; "
                f"allocations {sum(self.allocations.values())}; views {sum(self.views.values())})")


def record_launch(kernel, launcher):
    """``launcher`` (``launcher[grid](*args)`` launches ``kernel``) as the Triton launchers
    hand it out: itself when nothing counts, else one that records the launch and runs
    it unseen by the operator count (triton's interpreter moves arguments with tensor
    operations that a compiled launch does not have)."""
    if not _ACTIVE_COUNTS:
        return launcher
    name = getattr(kernel, "__name__", None) or getattr(getattr(kernel, "fn", None), "__name__", str(kernel))
    return _RecordedLauncher(name, launcher)


class _RecordedLauncher:
    def __init__(self, name: str, launcher):
        self.name, self.launcher = name, launcher

    def __getitem__(self, grid):
        from torch.utils._python_dispatch import _disable_current_modes

        def launch(*args, **kwargs):
            for count in _ACTIVE_COUNTS:
                count.launches.append(self.name)
            with _disable_current_modes():
                return self.launcher[grid](*args, **kwargs)
        return launch


@contextmanager
def count_ops() -> Iterator[OpCount]:
    """Count Triton launches and aten operators of the code inside (eager mode).

    >>> import torch
    >>> with count_ops() as count:
    ...     y = (torch.ones(3) * 2).view(3, 1)
    >>> count.compute["aten.mul"], count.views["aten.view"]
    (1, 1)
    """
    from torch.utils._python_dispatch import TorchDispatchMode

    count = OpCount()

    class _Counter(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func.namespace == "stn_plugin":  # our operators: count what their bodies run
                from torch._library.custom_ops import OPDEFS
                opdef = OPDEFS.get(func._schema.name)
                if opdef is not None:
                    with self:
                        return opdef._init_fn(*args, **kwargs)
            name = f"aten.{func.overloadpacket.__name__}" if func.namespace == "aten" else str(func.overloadpacket)
            if func.is_view or name in ("aten.detach", "aten.alias", "aten.lift_fresh"):
                count.views[name] += 1
            elif name in _ALLOCATIONS:
                count.allocations[name] += 1
            else:
                count.compute[name] += 1
            return func(*args, **kwargs)

    _ACTIVE_COUNTS.append(count)
    try:
        with _Counter():
            yield count
    finally:
        _ACTIVE_COUNTS.remove(count)
