"""Image-level differentiable warping (pure torch; CPU and CUDA).

``warp(images, transform, out_size)`` resamples a batch ``(N, C, H, W)`` at the
input coordinates a transform assigns to each output sub-sample, following the
coordinate contract in :mod:`stn_plugin.geometry.coords`.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from ..geometry.transforms import Transform, as_transform
from ..geometry.validation import check_size2, check_tensor

PADDING_MODES = ("zeros", "border", "reflection", "fill")
SAMPLING_MODES = ("bilinear", "nearest")


def _fill_tensor(fill_value, images: Tensor) -> Tensor:
    fill = torch.as_tensor(fill_value, dtype=images.dtype, device=images.device)
    if fill.dim() == 0:
        return fill.reshape(1, 1, 1, 1)
    if fill.dim() == 1 and fill.numel() == images.shape[1]:
        return fill.reshape(1, -1, 1, 1)
    raise ValueError(f"fill_value must be a scalar or one value per channel ({images.shape[1]}), "
                     f"got shape {tuple(fill.shape)}")


def warp(images: Tensor, transform: Union[Transform, Tensor], out_size: Optional[Sequence[int]] = None, *,
         mode: str = "bilinear", padding: str = "zeros", fill_value=None, align_corners: bool = False,
         sampling_ratio: int = 1) -> Tensor:
    """Warp ``images (N, C, H, W)`` by ``transform`` into ``(N, C, h, w)``.

    Args:
        transform: a batched :class:`~stn_plugin.geometry.Transform` of size N, or
            ``(N, 3, 3)`` / ``(N, 2, 3)`` matrices, mapping normalised output
            coordinates to normalised input coordinates.
        out_size: ``(h, w)``; defaults to the input size.
        mode: ``'bilinear'`` or ``'nearest'``.
        padding: ``'zeros'``, ``'border'``, ``'reflection'`` or ``'fill'`` (outside
            samples take ``fill_value``: a scalar or one value per channel, e.g. the
            dataset mean after normalisation, so "outside" looks like background).
            Giving ``fill_value`` implies ``'fill'``.
        align_corners: normalised-coordinate convention for input and output grids.
        sampling_ratio: ``r``; each output pixel averages ``r x r`` sub-samples,
            which anti-aliases downsampling warps.

    Half-precision inputs are sampled in float32 and returned in their dtype.
    """
    check_tensor(images, "images", dims=(4,), finite=False)
    transform = as_transform(transform)
    n, c, h_in, w_in = images.shape
    if transform.batch_size != n:
        raise ValueError(f"transform has batch size {transform.batch_size} but images has {n}")
    if transform.device != images.device:
        raise ValueError(f"transform is on {transform.device} but images is on {images.device}")
    out_h, out_w = check_size2(out_size if out_size is not None else (h_in, w_in), "out_size")
    if mode not in SAMPLING_MODES:
        raise ValueError(f"mode must be one of {SAMPLING_MODES}, got {mode!r}")
    if fill_value is not None and padding == "zeros":
        padding = "fill"
    if padding not in PADDING_MODES:
        raise ValueError(f"padding must be one of {PADDING_MODES}, got {padding!r}")
    if padding == "fill" and fill_value is None:
        raise ValueError("padding='fill' needs a fill_value")
    if not isinstance(sampling_ratio, int) or sampling_ratio < 1:
        raise ValueError(f"sampling_ratio must be a positive int, got {sampling_ratio!r}")

    grid = transform.grid((out_h, out_w), sampling_ratio, align_corners)
    work_dtype = torch.float32 if images.dtype in (torch.float16, torch.bfloat16) else images.dtype
    # Sampling always runs in float32 or better, also under autocast: half-precision
    # coordinates would misplace samples by up to a pixel on large inputs.
    with torch.autocast(images.device.type, enabled=False):
        src, grid = images.to(work_dtype), grid.to(work_dtype)
        fill = _fill_tensor(fill_value, src) if padding == "fill" else None
        if fill is not None:
            src = src - fill  # zeros padding of (x - f), plus f, is exact constant padding
        out = F.grid_sample(src, grid, mode=mode, padding_mode="zeros" if fill is not None else padding,
                            align_corners=align_corners)
        if fill is not None:
            out = out + fill
        if sampling_ratio > 1:
            out = F.avg_pool2d(out, sampling_ratio)
    return out.to(images.dtype)
