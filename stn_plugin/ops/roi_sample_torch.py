"""Pure-torch path of :func:`stn_plugin.ops.roi_sample` (CPU default, test oracle).

Everything here is ordinary differentiable torch (plus a small autograd Function for the
cell mean), so autograd gives the gradients for the features, the transform (matrices or
grids) and the box coordinates.

Memory and speed: the feature map is never copied per RoI (pytorch #2732). All RoIs of
one call are packed into one padded grid ``(B, P_max * h * s, w * s, 2)`` -- one slot row
per image -- and sampled by a single ``F.grid_sample`` on the unmodified ``(B, C, H, W)``
map: ``grid_sample`` parallelises over the batch dimension on the CPU, its input gradient
is one ``(B, C, H, W)`` tensor (no per-image slice gradients to add up), and the only
large intermediate is the ``(B, C, P_max * h * s, w * s)`` sample tensor, which nothing
keeps for backward. Per-sample work that is cheap on the grid (projective map, mmcv's
boundary rule) is done on the grid, never as an extra pass over the sample tensor.

Inputs are assumed validated by :func:`stn_plugin.ops.roi_sample.roi_sample`.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..geometry.coords import (feature_index_to_normalized, output_grid, pixel_to_feature_index,
                               roi_frame_to_pixel)

__all__ = ["roi_sample_torch", "roi_sample_index_points", "roi_align_inside"]

# Padded RoI slots sample here (normalised grid_sample coordinates, far outside the map);
# their results are discarded, the value only has to be finite.
_PAD_POINT = -4.0


def roi_sample_index_points(rois: Tensor, transform: Optional[Tensor], out_size: Tuple[int, int],
                            spatial_scale: float, sampling_ratio: int,
                            dtype: Optional[torch.dtype] = None) -> Tensor:
    """Sub-sample positions of every RoI in feature *index* coordinates.

    ``rois`` ``(N, 5)`` = ``(batch_idx, x1, y1, x2, y2)`` in continuous image pixels;
    ``transform`` ``None`` | ``(N, 3, 3)`` matrices | ``(N, h*s, w*s, 2)`` RoI-frame grid.
    Returns ``(N, h*s, w*s, 2)`` ``(x, y)`` index coordinates (pixel centres on integers)
    of the feature map at stride ``1 / spatial_scale``; differentiable w.r.t. the box
    columns and the transform. ``dtype`` is the computation dtype (default: the rois').
    """
    dtype = dtype or rois.dtype
    n = rois.shape[0]
    boxes = rois[:, 1:5].to(dtype)
    if transform is not None and transform.dim() == 4:
        frame = transform.to(dtype)  # explicit RoI-frame points, one per sub-sample
    else:
        base = output_grid(out_size, sampling_ratio, dtype=dtype, device=rois.device)  # (hs, ws, 2)
        if transform is None:
            frame = base.expand(n, *base.shape)
        else:
            # homogeneous map, then the projective divide (exactly 1 for affine matrices);
            # broadcast products, as a batched matmul of 3x3s is slow on the CPU
            m = transform.to(dtype).reshape(n, 1, 1, 9)
            u, v = base[..., 0], base[..., 1]  # (hs, ws)
            z = m[..., 6] * u + m[..., 7] * v + m[..., 8]
            frame = torch.stack([(m[..., 0] * u + m[..., 1] * v + m[..., 2]) / z,
                                 (m[..., 3] * u + m[..., 4] * v + m[..., 5]) / z], -1)
    pixels = roi_frame_to_pixel(frame, boxes)
    return pixel_to_feature_index(pixels, 1.0 / spatial_scale)


def roi_align_inside(index_points: Tensor, size: Tuple[int, int]) -> Tensor:
    """mmcv RoIAlign's boundary rule: a sample counts iff ``-1 <= x <= W`` and
    ``-1 <= y <= H`` (index coordinates). Boolean ``(...)`` for points ``(..., 2)``;
    no gradient (a step function)."""
    h, w = size
    x, y = index_points.detach().unbind(-1)
    return (x >= -1) & (x <= w) & (y >= -1) & (y <= h)


def _slots(batch_idx: Tensor, num_images: int) -> Tuple[Tensor, int]:
    """Position of each RoI among its image's RoIs (stable), and the largest count."""
    counts = torch.bincount(batch_idx, minlength=num_images)
    p_max = int(counts.max())
    order = torch.argsort(batch_idx, stable=True)
    first = torch.cumsum(counts, 0) - counts  # index of each image's first RoI in `order`
    pos = torch.empty_like(batch_idx)
    pos[order] = torch.arange(batch_idx.numel(), device=batch_idx.device) - first[batch_idx[order]]
    return pos, p_max


def roi_sample_torch(features: Tensor, rois: Tensor, transform: Optional[Tensor],
                     out_size: Tuple[int, int], spatial_scale: float, sampling_ratio: int,
                     padding: str) -> Tensor:
    """``(N, C, h, w)`` RoI samples; see :func:`stn_plugin.ops.roi_sample` for the contract.

    Half-precision inputs are computed in float32 (grid coordinates in half precision
    would be off by a large fraction of a pixel on big maps) and cast back.
    """
    b, c, fh, fw = features.shape
    h, w = out_size
    s = sampling_ratio
    cdtype = features.dtype if features.dtype in (torch.float32, torch.float64) else torch.float32
    feats = features.to(cdtype)

    idx_pts = roi_sample_index_points(rois, transform, out_size, spatial_scale, s, dtype=cdtype)
    if padding == "roi_align":
        # mmcv's rule without a mask pass over the (large) sample tensor: clamp the valid
        # points into the map here, on the small grid, and send the others far outside,
        # where 'zeros' padding reads 0 (and gives them no gradient)
        inside = roi_align_inside(idx_pts, (fh, fw))
        hi = torch.tensor([fw - 1, fh - 1], dtype=cdtype, device=idx_pts.device)
        grid = feature_index_to_normalized(torch.clamp(idx_pts, min=torch.zeros_like(hi), max=hi), (fh, fw))
        grid = torch.where(inside[..., None], grid, grid.new_tensor(_PAD_POINT))
        mode = "zeros"
    else:
        grid = feature_index_to_normalized(idx_pts, (fh, fw))  # grid_sample coords, align_corners=False
        mode = padding

    batch_idx = rois[:, 0].detach().long()
    pos, p_max = _slots(batch_idx, b)
    packed = grid.new_full((b, p_max, h * s, w * s, 2), _PAD_POINT)
    packed = packed.index_put((batch_idx, pos), grid)  # out of place: keeps the grid's gradient
    sampled = F.grid_sample(feats, packed.view(b, p_max * h * s, w * s, 2), mode="bilinear",
                            padding_mode=mode, align_corners=False)  # (B, C, P*h*s, w*s)
    cells = _CellMean.apply(sampled, s) if s > 1 else sampled  # (B, C, P*h, w)
    out = cells.view(b, c, p_max, h, w).permute(0, 2, 1, 3, 4)[batch_idx, pos]  # (N, C, h, w)
    return out.to(features.dtype)


class _CellMean(torch.autograd.Function):
    """Mean of each ``s x s`` block: ``(B, C, H*s, W*s) -> (B, C, H, W)``.

    Same values as ``avg_pool2d(x, s)``, but unlike it nothing is saved for backward (its
    autograd node keeps the whole input alive), and unlike ``view(...).mean(dims)`` the
    forward is ``s*s`` strided adds instead of a slow two-axis strided reduction.
    """

    @staticmethod
    def forward(ctx, x: Tensor, s: int) -> Tensor:
        ctx.s, ctx.shape = s, x.shape
        out = x[..., 0::s, 0::s] + x[..., 0::s, 1::s]
        for ky in range(s):
            for kx in range(s):
                if ky or kx > 1:
                    out += x[..., ky::s, kx::s]
        return out.mul_(1.0 / (s * s))

    @staticmethod
    def backward(ctx, grad: Tensor):
        s = ctx.s
        b, c, hs, ws = ctx.shape
        # every sub-sample gets 1/(s*s) of its cell's gradient: one broadcasting copy
        gin = grad.new_empty(b, c, hs // s, s, ws // s, s)
        gin.copy_((grad * (1.0 / (s * s)))[:, :, :, None, :, None].expand_as(gin))
        return gin.view(b, c, hs, ws), None
