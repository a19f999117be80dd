"""Which bilinear sampler the pure-torch paths use: ``grid_sample`` or gathers.

``'gridsample'`` (the default) calls ``F.grid_sample``, which exports to ONNX
``GridSample`` (opset >= 16). ``'gather'`` calls
:func:`~stn_plugin.ops.gather_sampling.grid_sample_gather` /
:func:`~stn_plugin.ops.gather_sampling.gather_sample`, which export to ``Gather`` and
arithmetic only, for runtimes without a (correct) GridSample. Both give the same numbers.

The choice is made around an export, so the public signatures of :func:`warp`,
:func:`roi_sample` and the modules stay unchanged::

    with use_sampler("gather"):
        torch.onnx.export(model, args, "model.onnx", dynamo=False)

The setting is process-wide (a module global, which ``torch.compile`` guards on), not
per thread.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch.nn.functional as F
from torch import Tensor

from ..geometry.validation import check_choice
from .gather_sampling import grid_sample_gather

__all__ = ["SAMPLERS", "use_sampler", "active_sampler", "grid_sample"]

SAMPLERS = ("gridsample", "gather")
_active = "gridsample"


def active_sampler() -> str:
    """The sampler in use: ``'gridsample'`` or ``'gather'``."""
    return _active


@contextmanager
def use_sampler(name: str) -> Iterator[None]:
    """Use sampler ``name`` (one of :data:`SAMPLERS`) inside the ``with`` block.

    >>> with use_sampler("gather"):
    ...     active_sampler()
    'gather'
    >>> active_sampler()
    'gridsample'
    """
    global _active
    check_choice(name, SAMPLERS, "sampler")
    previous, _active = _active, name
    try:
        yield
    finally:
        _active = previous


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear", padding_mode: str = "zeros",
                align_corners: bool = False) -> Tensor:
    """``F.grid_sample`` (4-D) through the active sampler."""
    if _active == "gather":
        return grid_sample_gather(input, grid, mode, padding_mode, align_corners)
    return F.grid_sample(input, grid, mode=mode, padding_mode=padding_mode, align_corners=align_corners)
