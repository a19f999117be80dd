"""Resizing a batch to a fixed size, exportable with dynamic input sizes.

:func:`resize_to` is what a localization net does to its input before its fixed-size
layers: area averaging (``adaptive_avg_pool2d``) when both axes shrink, which avoids
aliasing, else bilinear interpolation (``align_corners=False``).

``adaptive_avg_pool2d`` has no ONNX equivalent when the input size is not known at
export time (exporters either refuse it or bake the traced input's pooling window into
the graph, silently wrong for other sizes). While a graph is being traced, area
averaging is therefore written as two small averaging matrices built from the input
size, ``A_h @ x @ A_w^T``, which give the same cells (output cell ``i`` of ``n_out``
averages inputs ``floor(i n / n_out) .. ceil((i + 1) n / n_out) - 1``, PyTorch's rule).
Under ``torch.jit.trace`` (the TorchScript ONNX exporter) the choice between area and
bilinear is a traced ``where`` on the input size; under ``torch.export`` /
``torch.compile`` it is a guard on the symbolic size. Eager code keeps the library ops.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ..geometry.validation import check_size2, check_tensor, is_tracing

__all__ = ["resize_to", "area_matrix"]


def area_matrix(n_in, n_out: int, *, dtype: torch.dtype = torch.float32, device=None) -> Tensor:
    """``(n_out, n_in)`` averaging matrix of adaptive average pooling along one axis.

    Row ``i`` holds ``1 / len`` on the input indices ``floor(i n_in / n_out) ..
    ceil((i + 1) n_in / n_out) - 1`` and 0 elsewhere. ``n_in`` may be a traced size.
    """
    i = torch.arange(n_out, device=device)
    j = torch.arange(n_in, device=device)
    start = torch.div(i * n_in, n_out, rounding_mode="floor")
    end = torch.div((i + 1) * n_in + (n_out - 1), n_out, rounding_mode="floor")
    inside = (j[None, :] >= start[:, None]) & (j[None, :] < end[:, None])
    return inside.to(dtype) / (end - start).to(dtype)[:, None]


def _area_resize(x: Tensor, size: Sequence[int]) -> Tensor:
    a_h = area_matrix(x.shape[-2], size[0], dtype=x.dtype, device=x.device)
    a_w = area_matrix(x.shape[-1], size[1], dtype=x.dtype, device=x.device)
    return torch.matmul(a_h, torch.matmul(x, a_w.transpose(0, 1)))


def resize_to(x: Tensor, size: Sequence[int]) -> Tensor:
    """Resize ``x (N, C, H, W)`` to ``(N, C, h, w)`` = ``size``.

    Area averaging when ``H >= h`` and ``W >= w``, bilinear interpolation
    (``align_corners=False``) otherwise; the input itself when the sizes match.
    """
    check_tensor(x, "x", dims=(4,), finite=False)
    size = check_size2(size, "size")
    if torch.jit.is_tracing():
        # TorchScript tracing records no Python branch: both branches go into the
        # graph, picked by the traced input size (an equal size is a shrink whose
        # averaging matrices are the identity)
        in_size = torch._shape_as_tensor(x).to(x.device)
        shrink = (in_size[-2] >= size[0]) & (in_size[-1] >= size[1])
        enlarge = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return torch.where(shrink, _area_resize(x, size), enlarge)
    if tuple(x.shape[-2:]) == size:
        return x
    shrink = x.shape[-2] >= size[0] and x.shape[-1] >= size[1]
    if not shrink:
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    # torch.compile / torch.export: symbolic sizes, the branch above becomes a guard
    return _area_resize(x, size) if is_tracing() else F.adaptive_avg_pool2d(x, size)
