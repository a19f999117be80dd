"""Per-RoI differentiable sampling: :func:`roi_sample`.

Validation and backend dispatch live here, plus the autograd Functions that wrap the
Triton kernels of :mod:`.roi_sample_triton`; the pure-torch path (CPU default, test
oracle) is :mod:`.roi_sample_torch`. Coordinates are converted only through
:mod:`stn_plugin.geometry.coords`.
"""
from __future__ import annotations

import math
import warnings
from importlib.util import find_spec
from numbers import Integral, Real
from typing import Optional, Sequence, Tuple, Union

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from ..geometry.coords import pixel_to_feature_index_matrix, roi_frame_matrix, sample_positions_1d
from .roi_sample_torch import roi_sample_index_points, roi_sample_torch

__all__ = ["roi_sample", "PADDING_MODES", "BACKENDS"]

PADDING_MODES = ("roi_align", "zeros", "border")
BACKENDS = ("auto", "torch", "triton")
# dtypes the Triton kernels take (fp32 accumulation inside)
_TRITON_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def roi_sample(features: Tensor, rois: Tensor, transform: Optional[Tensor] = None,
               out_size: Union[int, Sequence[int]] = (7, 7), spatial_scale: float = 1.0,
               sampling_ratio: int = 2, padding: str = "roi_align", backend: str = "auto") -> Tensor:
    """Sample an ``out_size`` patch per RoI from a feature map, through a per-RoI transform.

    Args:
        features: ``(B, C, H, W)`` floating feature map.
        rois: ``(N, 5)`` = ``(batch_idx, x1, y1, x2, y2)``, box corners in continuous image
            pixels (pixel ``(i, j)`` covers ``[j, j+1) x [i, i+1)``); same dtype and device
            as ``features``. ``batch_idx`` must be an integer in ``[0, B)``. ``x2 >= x1``
            and ``y2 >= y1`` (zero-size boxes are allowed: all samples on one line).
        transform: maps normalised *output* coordinates (``[-1, 1]`` over the patch) to
            normalised *RoI-frame* coordinates (``(-1, -1)`` / ``(1, 1)`` = the box
            corners ``(x1, y1)`` / ``(x2, y2)``). ``None``: identity, i.e. the plain box
            (this reproduces mmcv ``RoIAlign(aligned=True)``); ``(N, 3, 3)``: affine or
            projective matrices (points are divided by the homogeneous coordinate);
            ``(N, h*s, w*s, 2)``: explicit RoI-frame ``(x, y)`` points, one per
            sub-sample, row-major over the sub-sample grid (``s = sampling_ratio``).
        out_size: ``(h, w)`` or an int for a square patch.
        spatial_scale: ``1 / stride`` of ``features``; image pixel ``x`` is feature index
            coordinate ``x * spatial_scale - 0.5``.
        sampling_ratio: ``s``; each output cell averages ``s x s`` bilinear sub-samples at
            :func:`~stn_plugin.geometry.coords.output_grid` positions (anti-aliasing).
        padding: ``'roi_align'`` -- mmcv's rule: a sub-sample with ``x < -1``, ``x > W``,
            ``y < -1`` or ``y > H`` (index coordinates) counts 0, any other is clamped to
            the map before interpolating, and the cell averages all ``s*s`` sub-samples;
            ``'zeros'`` -- corners outside the map read 0 (``grid_sample`` zeros);
            ``'border'`` -- clamp to the map.
        backend: ``'auto'`` (Triton kernels for CUDA tensors when triton is installed,
            else pure torch), ``'torch'`` or ``'triton'``. ``'triton'`` with CPU tensors
            runs the kernels in triton's interpreter (``TRITON_INTERPRET=1`` set before
            :mod:`stn_plugin.ops.roi_sample_triton` is imported): a test vehicle.

    Returns:
        ``(N, C, h, w)`` in the features' dtype, differentiable w.r.t. ``features``, the
        transform and the box columns of ``rois`` (not the batch index).

    Deterministic mode: the Triton backward adds the features gradient with atomics, so
    under ``torch.use_deterministic_algorithms(True)`` it raises a ``RuntimeError`` (a
    warning with ``warn_only=True``) instead of silently varying; the coordinate
    gradients are always deterministic. The torch path on the CPU is deterministic.
    """
    out_size = _validate(features, rois, transform, out_size, spatial_scale, sampling_ratio, padding, backend)
    sampling_ratio = int(sampling_ratio)
    if backend == "auto":
        backend = ("triton" if features.is_cuda and features.dtype in _TRITON_DTYPES
                   and find_spec("triton") is not None else "torch")
    if rois.shape[0] == 0:
        return _empty_output(features, rois, transform, out_size)
    if backend == "torch":
        return roi_sample_torch(features, rois, transform, out_size, float(spatial_scale), sampling_ratio, padding)
    return _roi_sample_triton(features, rois, transform, out_size, float(spatial_scale), sampling_ratio, padding)


# --------------------------------------------------------------------------- validation

def _validate(features, rois, transform, out_size, spatial_scale, sampling_ratio, padding,
              backend) -> Tuple[int, int]:
    """Check every argument; errors name the argument. Returns ``out_size`` as ``(h, w)``."""
    if not isinstance(features, Tensor):
        raise TypeError(f"features must be a torch.Tensor, got {type(features).__name__}")
    if features.dim() != 4:
        raise ValueError(f"features must be 4-D (B, C, H, W), got shape {tuple(features.shape)}")
    if not features.is_floating_point():
        raise TypeError(f"features must be a floating-point tensor, got dtype {features.dtype}")
    if not isinstance(rois, Tensor):
        raise TypeError(f"rois must be a torch.Tensor, got {type(rois).__name__}")
    if rois.dim() != 2 or rois.shape[1] != 5:
        raise ValueError(f"rois must have shape (N, 5) = (batch_idx, x1, y1, x2, y2), got {tuple(rois.shape)}")
    if rois.device != features.device:
        raise ValueError(f"rois is on {rois.device} but features is on {features.device}; "
                         "put them on one device")
    if rois.dtype != features.dtype:
        raise TypeError(f"rois has dtype {rois.dtype} but features has {features.dtype}; they must match")

    def is_pos_int(v) -> bool:
        return isinstance(v, Integral) and not isinstance(v, bool) and v >= 1

    size = (out_size, out_size) if is_pos_int(out_size) else out_size
    try:
        oh, ow = size
        ok = is_pos_int(oh) and is_pos_int(ow)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"out_size must be a positive int or (height, width) of positive ints, got {out_size!r}")
    oh, ow = int(oh), int(ow)
    if not is_pos_int(sampling_ratio):
        raise ValueError(f"sampling_ratio must be a positive int, got {sampling_ratio!r}")
    if (isinstance(spatial_scale, bool) or not isinstance(spatial_scale, Real)
            or not math.isfinite(spatial_scale) or spatial_scale <= 0):
        raise ValueError(f"spatial_scale must be a positive finite number (1 / stride), got {spatial_scale!r}")
    if padding not in PADDING_MODES:
        raise ValueError(f"padding must be one of {PADDING_MODES}, got {padding!r}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")

    n = rois.shape[0]
    if transform is not None:
        if not isinstance(transform, Tensor):
            raise TypeError(f"transform must be None or a torch.Tensor, got {type(transform).__name__}")
        if transform.device != features.device:
            raise ValueError(f"transform is on {transform.device} but features is on {features.device}")
        if transform.dtype != features.dtype:
            raise TypeError(f"transform has dtype {transform.dtype} but features has {features.dtype}; "
                            "they must match")
        s = sampling_ratio
        if tuple(transform.shape) not in ((n, 3, 3), (n, oh * s, ow * s, 2)):
            raise ValueError(f"transform must be (N, 3, 3) matrices or an (N, h*s, w*s, 2) grid = "
                             f"({n}, 3, 3) or ({n}, {oh * s}, {ow * s}, 2) here, got {tuple(transform.shape)}")

    if n:
        # all value checks in one reduction, so a CUDA caller pays one host sync
        bidx, x1, y1, x2, y2 = rois.detach().unbind(1)
        flags = [~torch.isfinite(rois.detach()).all(),
                 (bidx != torch.round(bidx)).any(),
                 ((bidx < 0) | (bidx >= features.shape[0])).any(),
                 ((x2 < x1) | (y2 < y1)).any()]
        if transform is not None:
            flags.append(~torch.isfinite(transform.detach()).all())
        bad = torch.stack(flags).tolist()
        if bad[0]:
            raise ValueError("rois contains NaN or inf values")
        if bad[1]:
            raise ValueError("rois[:, 0] (batch index) must hold integers")
        if bad[2]:
            raise ValueError(f"rois[:, 0] (batch index) must lie in [0, {features.shape[0]}) "
                             f"for features with batch size {features.shape[0]}")
        if bad[3]:
            raise ValueError("rois must have x2 >= x1 and y2 >= y1 (a negative-size box has no frame)")
        if transform is not None and bad[4]:
            raise ValueError("transform contains NaN or inf values")
    return oh, ow


def _empty_output(features: Tensor, rois: Tensor, transform: Optional[Tensor],
                  out_size: Tuple[int, int]) -> Tensor:
    """``(0, C, h, w)`` still attached to the autograd graph, so ``backward`` works and
    yields zero gradients rather than failing or leaving ``None``."""
    out = features[:0].reshape(0, features.shape[1], *out_size)
    for t in (rois, transform):
        if t is not None and t.requires_grad:
            out = out + t.sum() * 0
    return out


# --------------------------------------------------------------------------- triton path

def _deterministic_guard() -> None:
    if not torch.are_deterministic_algorithms_enabled():
        return
    msg = ("roi_sample(backend='triton') backward adds the features gradient with atomic adds, "
           "whose order (and so the float rounding) varies between runs, but "
           "torch.use_deterministic_algorithms(True) is set. Turn deterministic mode off for "
           "this op, or detach the features (the transform / box gradients are deterministic).")
    if torch.is_deterministic_algorithms_warn_only_enabled():
        warnings.warn(msg, UserWarning, stacklevel=3)
    else:
        raise RuntimeError(msg)


def _triton_module():
    try:
        from . import roi_sample_triton
    except ImportError as err:  # triton missing or broken
        raise RuntimeError(f"roi_sample(backend='triton') needs triton: {err}") from err
    return roi_sample_triton


class _MatrixSampleFn(torch.autograd.Function):
    """Fused parametric kernel: ``matrices`` ``(N, 3, 3)`` fp32 map normalised output
    coordinates to feature index coordinates; no grid tensor exists."""

    @staticmethod
    def forward(ctx, features, matrices, batch_idx, xs, ys, out_size, sampling_ratio, padding):
        ctx.save_for_backward(features, matrices, batch_idx, xs, ys)
        ctx.cfg = (out_size, sampling_ratio, padding)
        return _triton_module().sample_forward(features, batch_idx, out_size, sampling_ratio, padding,
                                               matrices=matrices, xs=xs, ys=ys)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        features, matrices, batch_idx, xs, ys = ctx.saved_tensors
        need_feat, need_mat = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        if need_feat:
            _deterministic_guard()
        gfeat, gmat = _triton_module().sample_backward(grad_out, features, batch_idx, *ctx.cfg,
                                                       need_feat, need_mat, matrices=matrices, xs=xs, ys=ys)
        return gfeat, gmat, None, None, None, None, None, None


class _GridSampleFn(torch.autograd.Function):
    """Explicit-grid kernel: ``grid`` ``(N, h*s, w*s, 2)`` fp32 feature index coordinates."""

    @staticmethod
    def forward(ctx, features, grid, batch_idx, out_size, sampling_ratio, padding):
        ctx.save_for_backward(features, grid, batch_idx)
        ctx.cfg = (out_size, sampling_ratio, padding)
        return _triton_module().sample_forward(features, batch_idx, out_size, sampling_ratio, padding, grid=grid)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        features, grid, batch_idx = ctx.saved_tensors
        need_feat, need_grid = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        if need_feat:
            _deterministic_guard()
        gfeat, ggrid = _triton_module().sample_backward(grad_out, features, batch_idx, *ctx.cfg,
                                                        need_feat, need_grid, grid=grid)
        return gfeat, ggrid, None, None, None, None


def feature_index_matrices(rois: Tensor, transform: Optional[Tensor], spatial_scale: float) -> Tensor:
    """``(N, 3, 3)`` fp32 matrices: normalised output coords -> feature index coords.

    ``pixel -> feature index`` o ``RoI frame -> pixel`` o ``transform``, composed in torch
    so that autograd carries the kernel's matrix gradient to the boxes and the transform.
    """
    boxes = rois[:, 1:5].float()
    m = pixel_to_feature_index_matrix(1.0 / spatial_scale, dtype=torch.float32, device=rois.device)
    m = m @ roi_frame_matrix(boxes)
    if transform is not None:
        m = m @ transform.float()
    return m.contiguous()


def _roi_sample_triton(features: Tensor, rois: Tensor, transform: Optional[Tensor],
                       out_size: Tuple[int, int], spatial_scale: float, sampling_ratio: int,
                       padding: str) -> Tensor:
    if features.dtype not in _TRITON_DTYPES:
        raise TypeError(f"features has dtype {features.dtype}; roi_sample(backend='triton') takes "
                        "float32, float16 or bfloat16 (use backend='torch' for float64)")
    if not (features.is_contiguous() or features.is_contiguous(memory_format=torch.channels_last)):
        # the kernels take any strides, but the gradient buffer must share them, which
        # zeros_like only guarantees for dense layouts
        features = features.contiguous()
    batch_idx = rois[:, 0].detach().to(torch.int32).contiguous()
    if transform is not None and transform.dim() == 4:
        grid = roi_sample_index_points(rois, transform, out_size, spatial_scale, sampling_ratio,
                                       dtype=torch.float32).contiguous()
        return _GridSampleFn.apply(features, grid, batch_idx, out_size, sampling_ratio, padding)
    matrices = feature_index_matrices(rois, transform, spatial_scale)
    oh, ow = out_size
    xs = sample_positions_1d(ow, sampling_ratio, dtype=torch.float32, device=features.device)
    ys = sample_positions_1d(oh, sampling_ratio, dtype=torch.float32, device=features.device)
    return _MatrixSampleFn.apply(features, matrices, batch_idx, xs, ys, out_size, sampling_ratio, padding)
