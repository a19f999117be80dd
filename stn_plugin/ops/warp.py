"""Image-level differentiable warping (pure torch; CPU and CUDA).

``warp(images, transform, out_size)`` resamples a batch ``(N, C, H, W)`` at the
input coordinates a transform assigns to each output sub-sample, following the
coordinate contract in :mod:`stn_plugin.geometry.coords`. Arguments are checked with
:mod:`stn_plugin.geometry.validation`, like :func:`~stn_plugin.ops.roi_sample`'s.
"""
from __future__ import annotations

import warnings
from numbers import Real
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from ..geometry.transforms import Transform, as_transform
from ..geometry.validation import (check_choice, check_positive_int, check_same_device, check_size2,
                                   check_tensor, is_tracing)
from .padding import OUTSIDE_POINT
from .sampler_selection import grid_sample  # F.grid_sample, or gathers while exporting

PADDING_MODES = ("zeros", "border", "reflection", "fill")
SAMPLING_MODES = ("bilinear", "nearest")

__all__ = ["warp", "check_sampling_options", "PADDING_MODES", "SAMPLING_MODES"]


def check_sampling_options(mode: str, padding: str, fill_value) -> str:
    """Check warp's ``mode``, ``padding`` and ``fill_value``; return the padding mode that
    applies (a ``fill_value`` turns the default ``'zeros'`` into ``'fill'``).

    ``fill_value`` is None, a finite number, or finite numbers (a sequence or tensor) --
    one per channel; the number of channels is checked when images arrive. A
    ``fill_value`` with ``'border'`` / ``'reflection'``, which never read it, is an
    error rather than silently ignored.
    """
    check_choice(mode, SAMPLING_MODES, "mode")
    if fill_value is not None and padding == "zeros":
        padding = "fill"
    check_choice(padding, PADDING_MODES, "padding")
    if fill_value is None:
        if padding == "fill":
            raise ValueError("padding='fill' needs a fill_value")
        return padding
    if padding != "fill":
        raise ValueError(f"fill_value={fill_value!r} is only read with padding='fill' (or 'zeros', which it "
                         f"turns into 'fill'), but padding='{padding}' never reads it; drop fill_value or "
                         "use padding='fill'")
    if isinstance(fill_value, Tensor):
        values = fill_value.detach()
        numeric = values.dtype != torch.bool and not values.is_complex()
    else:
        items = fill_value if isinstance(fill_value, (list, tuple)) else [fill_value]
        numeric = all(isinstance(v, Real) and not isinstance(v, bool) for v in items)
        values = torch.tensor([float(v) for v in items]) if numeric else None
    if not numeric:
        raise TypeError(f"fill_value must be a number or one number per channel, got {fill_value!r}")
    # the finite check reads values: skipped while tracing (a graph cannot branch on data)
    if values.dim() > 1 or (not is_tracing() and not torch.isfinite(values.float()).all()):
        raise ValueError(f"fill_value must be finite numbers, a scalar or one per channel, got {fill_value!r}")
    return padding


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

    Conventions: the transform maps normalised *output* coordinates (``[-1, 1]`` over
    the output) to normalised *input* coordinates (the sampler pulls), both with the
    same ``align_corners``; points are ``(x, y)``.

    >>> import torch
    >>> from stn_plugin.geometry import MatrixTransform
    >>> images = torch.arange(12.0).reshape(1, 1, 3, 4)
    >>> identity = torch.eye(2, 3)[None]  # (N, 2, 3) affine matrices are accepted
    >>> torch.allclose(warp(images, identity), images)
    True
    >>> mirror = MatrixTransform(torch.tensor([[[-1.0, 0, 0], [0, 1, 0], [0, 0, 1]]]))
    >>> torch.allclose(warp(images, mirror), images.flip(-1))
    True
    >>> warp(images, identity, (6, 8), sampling_ratio=2).shape
    torch.Size([1, 1, 6, 8])

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

    Undefined samples -- a projective transform's homogeneous coordinate is 0 there
    (the output point maps to infinity), or the input coordinate is not finite -- read 0
    in every padding mode (``fill_value`` with ``'fill'``) and pass no gradient to the
    images or the transform.

    Half-precision inputs are sampled in float32 and returned in their dtype.
    """
    check_tensor(images, "images", dims=(4,), finite=False)
    transform = as_transform(transform)
    n, c, h_in, w_in = images.shape
    if transform.batch_size != n:
        raise ValueError(f"transform has batch size {transform.batch_size} but images has {n}")
    check_same_device(transform, "transform", images, "images")
    out_h, out_w = check_size2(out_size if out_size is not None else (h_in, w_in), "out_size")
    padding = check_sampling_options(mode, padding, fill_value)
    sampling_ratio = check_positive_int(sampling_ratio, "sampling_ratio")

    grid = transform.grid((out_h, out_w), sampling_ratio, align_corners)
    if mode == "nearest" and grid.requires_grad:
        warnings.warn("warp(mode='nearest') gives the transform no gradient (nearest sampling is piecewise "
                      "constant), but the transform requires one; use mode='bilinear' to train it",
                      UserWarning, stacklevel=2)
    work_dtype = torch.float32 if images.dtype in (torch.float16, torch.bfloat16) else images.dtype
    # Sampling always runs in float32 or better, also under autocast: half-precision
    # coordinates would misplace samples by up to a pixel on large inputs.
    with torch.autocast(images.device.type, enabled=False):
        src, grid = images.to(work_dtype), grid.to(work_dtype)
        fill = _fill_tensor(fill_value, src) if padding == "fill" else None
        if fill is not None:
            src = src - fill  # zeros padding of (x - f), plus f, is exact constant padding
        # undefined samples (NaN grid points, e.g. a projective w = 0): sent far outside
        # where zeros padding reads 0 (fill: the fill value); border and reflection have
        # no outside, so they sample any point and are masked to 0 after
        defined = torch.isfinite(grid.detach()).all(-1, keepdim=True)
        outside = padding in ("zeros", "fill")
        grid = torch.where(defined, grid, grid.new_tensor(OUTSIDE_POINT if outside else 0.0))
        out = grid_sample(src, grid, mode=mode, padding_mode="zeros" if fill is not None else padding,
                          align_corners=align_corners)
        if not outside:
            out = out * defined.permute(0, 3, 1, 2).to(out.dtype)
        if fill is not None:
            out = out + fill
        if sampling_ratio > 1:
            out = F.avg_pool2d(out, sampling_ratio)
    return out.to(images.dtype)
