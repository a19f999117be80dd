"""Named stages for ``torch.profiler``, free when no profiler runs.

:func:`~stn_plugin.ops.roi_sample` and the RoI rectifier mark their stages (pooled
view, localization net, transform and grid building, final sampling, regularisers,
the mask round trip) with :func:`profile_stage`, so that a profiled step can say where its time goes (see
:mod:`stn_plugin.experiments.detector_step_benchmark`). Outside a profiler, and while a graph is
traced for ``torch.compile`` / export, a stage is a shared no-op context: no
``record_function`` is created, no operator is dispatched.

>>> with profile_stage("rectifier.demo"):
...     pass
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import ContextManager

import torch.autograd.profiler as _profiler

from ..geometry.validation import is_tracing

__all__ = ["profile_stage"]

_NO_STAGE = nullcontext()


def profile_stage(name: str) -> ContextManager:
    """``record_function(name)`` while a profiler records, else a no-op context."""
    if getattr(_profiler, "_is_profiler_enabled", True) and not is_tracing():
        return _profiler.record_function(name)
    return _NO_STAGE
