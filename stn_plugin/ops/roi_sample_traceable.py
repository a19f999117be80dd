"""Pure-torch :func:`stn_plugin.ops.roi_sample` whose shapes follow the input shapes only.

The default torch path (:mod:`.roi_sample_torch`) groups RoIs by image, which needs the
RoI counts per image on the host: a data-dependent loop that ``torch.compile`` cannot
capture in one graph and that an exported graph would freeze at the traced counts.
This path has no such step, so it is what runs while tracing (``torch.compile``,
``torch.export``, ``torch.onnx.export``, ``torch.jit.trace``) and whenever the gather
sampler is selected (:func:`~stn_plugin.ops.sampler_selection.use_sampler`):

* ``'gridsample'``: the ``B`` maps are stacked into one tall map ``(1, C, B*(H+2), W+2)``,
  each framed by one zero pixel, and every RoI's points are shifted to its image's rows:
  one ``grid_sample`` with zeros padding for all RoIs (ONNX ``GridSample``). Points that
  read nothing of their own image (outside it by a pixel or more, undefined, or outside
  mmcv's ``[-1, W] x [-1, H]`` for ``'roi_align'``) are sent outside the tall map, so no
  image ever reads a neighbour's pixels; points within a pixel of the edge read the zero
  frame, which is ``grid_sample``'s zeros padding.
* ``'gather'``: :func:`~stn_plugin.ops.gather_sampling.gather_sample` reads the corner
  pixels of each RoI's image by index (ONNX ``Gather``).

Either way each output cell averages its ``s x s`` sub-samples (``avg_pool2d``). The
numbers equal the default path's up to float rounding (tested); gradients flow to the
features, the transform and the boxes.

Inputs are assumed validated by :func:`stn_plugin.ops.roi_sample.roi_sample`.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..geometry.coords import index_to_normalized
from .gather_sampling import gather_sample
from .padding import OUTSIDE_POINT, pad_index_points
from .roi_sample_torch import roi_sample_index_points
from .sampler_selection import active_sampler

__all__ = ["roi_sample_traceable"]



def _stacked_grid_sample(feats: Tensor, batch_idx: Tensor, points: Tensor, padding: str) -> Tensor:
    """``(N, C, hs, ws)`` samples at index points ``(N, hs, ws, 2)`` of images ``batch_idx``."""
    b, c, fh, fw = feats.shape
    n, hs, ws = points.shape[0], points.shape[1], points.shape[2]
    x, y, keep = pad_index_points(points[..., 0], points[..., 1], (fh, fw), padding)
    if padding == "zeros":  # a point more than a pixel outside has no corner in the map
        keep = keep & (x > -1) & (x < fw) & (y > -1) & (y < fh)
    keep = keep.detach()
    framed = F.pad(feats, (1, 1, 1, 1))  # (B, C, H+2, W+2)
    stacked = framed.transpose(0, 1).reshape(1, c, b * (fh + 2), fw + 2)
    rows = (batch_idx * (fh + 2)).to(y.dtype)[:, None, None]
    grid = index_to_normalized(torch.stack([x + 1, y + 1 + rows], -1), (b * (fh + 2), fw + 2))
    grid = torch.where(keep[..., None], grid, torch.full_like(grid, OUTSIDE_POINT))
    sampled = F.grid_sample(stacked, grid.reshape(1, n * hs, ws, 2), mode="bilinear", padding_mode="zeros",
                            align_corners=False)  # (1, C, N*hs, ws)
    return sampled.reshape(c, n, hs, ws).transpose(0, 1)


def roi_sample_traceable(features: Tensor, rois: Tensor, transform: Optional[Tensor],
                         out_size: Tuple[int, int], spatial_scale: float, sampling_ratio: int,
                         padding: str) -> Tensor:
    """``(N, C, h, w)`` RoI samples; the contract of :func:`stn_plugin.ops.roi_sample`.

    Half-precision inputs are computed in float32 and cast back.
    """
    c = features.shape[1]
    h, w = out_size
    s = sampling_ratio
    cdtype = features.dtype if features.dtype in (torch.float32, torch.float64) else torch.float32
    feats = features.to(cdtype)
    points = roi_sample_index_points(rois, transform, out_size, spatial_scale, s, dtype=cdtype)
    n = points.shape[0]
    batch_idx = rois[:, 0].detach().long()
    if active_sampler() == "gather":
        sampled = gather_sample(feats, batch_idx, points.reshape(n, h * s * w * s, 2), padding)
        sampled = sampled.reshape(n, c, h * s, w * s)
    else:
        sampled = _stacked_grid_sample(feats, batch_idx, points, padding)
    out = F.avg_pool2d(sampled, s) if s > 1 else sampled
    return out.to(features.dtype)
