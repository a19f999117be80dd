"""Bilinear (and nearest) sampling built from gathers and arithmetic, without GridSample.

Some runtimes lack ONNX ``GridSample`` (opset < 16) or compute it wrongly (some
TensorRT versions). The functions here give the same numbers as ``F.grid_sample`` from
ops every runtime has (``Gather``, ``Floor``, ``Where``, ``Mul``, ``Add``): the map is
flattened to a ``(B*H*W, C)`` table of pixels, each sample reads its four corner rows by
index and blends them with the bilinear weights.

* :func:`gather_sample` -- samples of image ``batch_index[n]`` at index-coordinate points
  (pixel centres on integers), with the padding rules of
  :mod:`~stn_plugin.ops.padding` (``'zeros'``, ``'border'``, ``'roi_align'``).
* :func:`grid_sample_gather` -- a drop-in for ``F.grid_sample`` (4-D, ``bilinear`` /
  ``nearest``, ``zeros`` / ``border`` / ``reflection``, both ``align_corners``).

Samples whose coordinates are not finite read 0 in every padding mode, like the other
samplers of this package. Gradients flow to the map and the points (plain autograd
through ``index_select``), but the path is meant for export; training uses
``grid_sample`` and the fused kernels.

The exported sampler is chosen with :func:`stn_plugin.ops.sampler_selection.use_sampler`.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..geometry.coords import normalized_to_index
from ..geometry.validation import check_choice, check_tensor
from .padding import PADDING_MODES, pad_index_points

__all__ = ["gather_sample", "grid_sample_gather"]


def gather_sample(features: Tensor, batch_index: Tensor, points: Tensor, padding: str = "zeros",
                  mode: str = "bilinear") -> Tensor:
    """Sample ``features (B, C, H, W)`` at ``points (N, P, 2)`` of images ``batch_index (N,)``.

    ``points`` are ``(x, y)`` index coordinates of the map (pixel ``(i, j)`` has its
    centre at ``(j, i)``). Padding: ``'zeros'`` -- corners outside the map read 0;
    ``'border'`` -- points are clamped into the map; ``'roi_align'`` -- mmcv RoIAlign's
    rule: points outside ``[-1, W] x [-1, H]`` read 0, the others are clamped into the map.
    ``mode``: ``'bilinear'`` or ``'nearest'`` (round half to even, like ``grid_sample``).

    Returns ``(N, C, P)`` in the features' dtype.
    """
    check_tensor(features, "features", dims=(4,), finite=False)
    check_tensor(points, "points", dims=(3,), last_dims=(None, 2), finite=False)
    check_choice(padding, PADDING_MODES, "padding")
    check_choice(mode, ("bilinear", "nearest"), "mode")
    b, c, h, w = features.shape
    n, p = points.shape[0], points.shape[1]
    table = features.permute(0, 2, 3, 1).reshape(-1, c)  # (B*H*W, C): one row per pixel
    base = (batch_index.long() * (h * w))[:, None]  # (N, 1): row of each image's pixel (0, 0)
    x, y, valid = pad_index_points(points[..., 0], points[..., 1], (h, w), padding)

    if mode == "nearest":
        corners = [(torch.round(x), torch.round(y), None)]
    else:
        x0, y0 = torch.floor(x), torch.floor(y)
        fx, fy = x - x0, y - y0
        corners = [(x0, y0, (1 - fx) * (1 - fy)), (x0 + 1, y0, fx * (1 - fy)),
                   (x0, y0 + 1, (1 - fx) * fy), (x0 + 1, y0 + 1, fx * fy)]
    out = None
    for cx, cy, weight in corners:
        inside = valid & (cx >= 0) & (cx <= w - 1) & (cy >= 0) & (cy <= h - 1)
        # corners outside read row 0 and are zeroed after: the index is always in range
        flat = torch.where(inside, base + cy.long() * w + cx.long(), torch.zeros_like(base))
        rows = table.index_select(0, flat.reshape(-1)).reshape(n, p, c)
        term = rows if weight is None else rows * weight[..., None].to(rows.dtype)
        term = torch.where(inside[..., None], term, torch.zeros_like(term))
        out = term if out is None else out + term
    return out.permute(0, 2, 1)


def _reflect(v: Tensor, low: float, high) -> Tensor:
    """Reflect ``v`` into ``[low, high]`` (``grid_sample``'s reflection, any number of folds)."""
    span = high - low
    d = (v - low).abs()
    folds = torch.floor(d / span)
    extra = d - folds * span
    even = torch.remainder(folds, 2) == 0
    return torch.where(even, low + extra, high - extra)


def grid_sample_gather(input: Tensor, grid: Tensor, mode: str = "bilinear", padding_mode: str = "zeros",
                       align_corners: bool = False) -> Tensor:
    """``F.grid_sample`` for 4-D inputs without GridSample: same arguments, same numbers.

    ``input (N, C, H, W)``, ``grid (N, h, w, 2)`` normalised ``(x, y)``; returns
    ``(N, C, h, w)``.

    >>> import torch.nn.functional as F
    >>> x = torch.arange(12.0).reshape(1, 1, 3, 4)
    >>> grid = torch.tensor([[[[-0.9, 0.2], [0.3, -1.4], [1.2, 0.5]]]])
    >>> torch.allclose(grid_sample_gather(x, grid, padding_mode="border"),
    ...                F.grid_sample(x, grid, padding_mode="border", align_corners=False))
    True
    """
    check_tensor(input, "input", dims=(4,), finite=False)
    check_tensor(grid, "grid", dims=(4,), last_dims=(2,), finite=False)
    check_choice(padding_mode, ("zeros", "border", "reflection"), "padding_mode")
    n, c, h, w = input.shape
    gh, gw = grid.shape[1], grid.shape[2]
    pts = normalized_to_index(grid.reshape(n, -1, 2).to(input.dtype), (h, w), align_corners)
    if padding_mode == "reflection":
        x, y = pts.unbind(-1)
        if align_corners:  # reflect about the border pixels' centres
            x, y = _reflect(x, 0.0, w - 1), _reflect(y, 0.0, h - 1)
        else:  # reflect about the map's outer edges
            x, y = _reflect(x, -0.5, w - 0.5), _reflect(y, -0.5, h - 0.5)
        pts = torch.stack([x, y], -1)
        padding_mode = "border"  # then clamp, as grid_sample does
    batch_index = torch.arange(n, device=input.device)
    out = gather_sample(input, batch_index, pts, padding_mode, mode)
    return out.reshape(n, c, gh, gw)
