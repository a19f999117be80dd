"""The padding rules of the RoI samplers: what a sub-sample reads near and beyond the
edge of the feature map.

Points are ``(x, y)`` feature *index* coordinates (pixel ``(i, j)`` has its centre at
``(j, i)``) of a map of ``size = (H, W)``:

* ``'roi_align'`` -- mmcv ``RoIAlign``'s rule: a point with ``x < -1``, ``x > W``,
  ``y < -1`` or ``y > H`` reads 0; the others are clamped into ``[0, W - 1] x [0, H - 1]``
  with the gradient of ``torch.clamp`` with tensor bounds (1 inside, 1/2 exactly at the
  edge, 0 beyond).
* ``'border'`` -- every point is clamped into the map with ``grid_sample``'s border
  gradient (none at or beyond the edge).
* ``'zeros'`` -- points are left as they are; corners outside the map read 0.

Points that are not finite (undefined by a projective divide, NaN in a grid) read 0 in
every mode and pass no gradient. :func:`pad_index_points` applies the rule; the three
torch samplers (:mod:`.roi_sample_torch`, :mod:`.roi_sample_traceable`,
:mod:`.gather_sampling`) call it, and the Triton kernel
(:func:`stn_plugin.ops.roi_sample_triton._setup_corners`) computes the same rule in
registers.
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor

__all__ = ["PADDING_MODES", "OUTSIDE_POINT", "roi_align_inside", "clamp_into_map", "pad_index_points"]

PADDING_MODES = ("roi_align", "zeros", "border")

#: Where a sample that must read 0 is sent on a ``grid_sample`` grid: a normalised
#: coordinate far outside the map, where zeros padding reads 0 with no gradient.
OUTSIDE_POINT = -4.0


def roi_align_inside(index_points: Tensor, size: Tuple[int, int]) -> Tensor:
    """mmcv RoIAlign's boundary rule: a sample counts iff ``-1 <= x <= W`` and
    ``-1 <= y <= H``. Boolean ``(...)`` for points ``(..., 2)``; no gradient (a step
    function); False for points that are not finite.

    >>> import torch
    >>> roi_align_inside(torch.tensor([[-1.0, 0.0], [4.5, 0.0], [float("nan"), 0.0]]), (4, 4)).tolist()
    [True, False, False]
    """
    x, y = index_points.detach().unbind(-1)
    return _inside(x, y, size)


def _inside(x: Tensor, y: Tensor, size) -> Tensor:
    h, w = size
    return (x >= -1) & (x <= w) & (y >= -1) & (y <= h)


def clamp_into_map(v: Tensor, high, edge_gradient: bool = True) -> Tensor:
    """Clamp coordinates ``v`` into ``[0, high]``; ``high`` may be a traced size.

    ``edge_gradient=True``: the gradient of ``torch.clamp`` with tensor bounds (1 inside,
    1/2 exactly at the edge, 0 beyond), mmcv's RoIAlign rule; ``False``:
    ``grid_sample``'s border rule, no gradient at or beyond the edge. NaN stays NaN (and
    reads 0 later).

    >>> import torch
    >>> clamp_into_map(torch.tensor([-0.5, 1.5, 3.5, float("nan")]), 3).tolist()
    [0.0, 1.5, 3.0, nan]
    """
    high_v = torch.zeros_like(v) + high
    if edge_gradient:
        return torch.clamp(v, min=torch.zeros_like(v), max=high_v)
    clamped = torch.minimum(torch.clamp(v.detach(), min=0.0), high_v)
    return torch.where((v > 0) & (v < high_v), v, clamped)


def pad_index_points(x: Tensor, y: Tensor, size, padding: str) -> Tuple[Tensor, Tensor, Tensor]:
    """Apply the ``padding`` rule to index coordinates ``x`` and ``y`` of a map of
    ``size = (H, W)`` (either may be a traced size).

    Returns ``(x, y, keep)``: the coordinates to sample at (clamped for
    ``'roi_align'`` and ``'border'``) and a boolean mask, False for points that read 0
    (not finite; for ``'roi_align'`` also outside ``[-1, W] x [-1, H]``). The mask has
    no gradient. Under ``'zeros'`` the sampler itself reads 0 for corners outside the
    map.

    >>> import torch
    >>> x, y, keep = pad_index_points(torch.tensor([-0.5, 4.5]), torch.tensor([1.0, 1.0]), (4, 4), "roi_align")
    >>> x.tolist(), keep.tolist()
    ([0.0, 3.0], [True, False])
    """
    h, w = size
    keep = torch.isfinite(x.detach()) & torch.isfinite(y.detach())
    if padding == "roi_align":
        keep = keep & _inside(x.detach(), y.detach(), size)
        x, y = clamp_into_map(x, w - 1), clamp_into_map(y, h - 1)
    elif padding == "border":
        x, y = clamp_into_map(x, w - 1, edge_gradient=False), clamp_into_map(y, h - 1, edge_gradient=False)
    return x, y, keep
