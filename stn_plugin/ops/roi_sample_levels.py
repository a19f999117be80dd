"""Per-RoI sampling from an FPN: :func:`roi_sample_levels` and the level rule :func:`roi_levels`.

Each RoI is sampled, through its transform, from the level that mmdet's
``SingleRoIExtractor`` assigns it. On the Triton backend this is one forward launch
(level, box frame and transform composed per RoI inside the kernel, the levels passed
as separate maps, nothing copied) and at most two backward launches, with no host
synchronisation unless value checks are asked for; the torch backend loops over the
levels with :func:`~stn_plugin.ops.roi_sample` and gives the same result.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
from torch import Tensor

from ..geometry.transforms import MatrixTransform, Transform
from ..geometry.validation import (CHECK_VALUES_ENV, check_flags, check_positive_number, check_rois,
                                   check_same_device, check_same_dtype, check_tensor, finite_flag, is_tracing,
                                   value_checks_enabled)
from .roi_sample import TRITON_DTYPES, auto_backend, check_sampling_options, roi_sample

__all__ = ["roi_sample_levels", "roi_levels", "CHECK_VALUES_ENV", "MAX_TRITON_LEVELS"]
# feature maps the one-launch kernels take (separate pointer arguments)
MAX_TRITON_LEVELS = 5


def roi_levels(rois: Tensor, num_levels: int, finest_scale: float = 56.0) -> Tensor:
    """``(N,)`` int64 FPN level per RoI by mmdet's rule, on the RoIs' device (no sync).

    ``level = floor(log2(sqrt(w * h) / finest_scale + 1e-6))`` clamped to
    ``[0, num_levels - 1]``, with ``w = x2 - x1``, ``h = y2 - y1`` in image pixels,
    computed as comparisons with the powers of two (exactly what the Triton kernels do;
    a rounded ``log2`` can differ from it only within one ulp below a power of two).
    Half-precision RoIs are measured in float32.

    >>> rois = torch.tensor([[0, 0, 0, 56.0, 56.0], [0, 0, 0, 112.0, 112.0], [0, 0, 0, 4000.0, 4000.0]])
    >>> roi_levels(rois, 4).tolist()
    [0, 1, 3]
    """
    r = rois.detach()
    if r.dtype in (torch.float16, torch.bfloat16):
        r = r.float()
    t = torch.sqrt((r[:, 3] - r[:, 1]) * (r[:, 4] - r[:, 2])) / finest_scale + 1e-6
    powers = 2.0 ** torch.arange(1, num_levels, dtype=r.dtype, device=r.device)
    return (t[:, None] >= powers).sum(1)


def roi_sample_levels(features: Sequence[Tensor], rois: Tensor, transform: Union[None, Tensor, Transform] = None,
                      out_size: Union[int, Sequence[int]] = (7, 7), strides: Sequence[float] = (4, 8, 16, 32),
                      finest_scale: float = 56.0, sampling_ratio: int = 2, padding: str = "roi_align",
                      backend: str = "auto", check_values: Optional[bool] = None) -> Tensor:
    """Sample an ``out_size`` patch per RoI from its FPN level, through a per-RoI transform.

    The same as :func:`~stn_plugin.ops.roi_sample` on ``features[roi_levels(rois)]``
    with ``spatial_scale = 1 / strides[level]``, RoI by RoI (the coordinate contract of
    ``docs/design.md``: boxes in continuous image pixels, the transform maps normalised
    output coordinates to the normalised RoI frame).

    >>> import torch
    >>> feats = [torch.arange(64.0).reshape(1, 1, 8, 8), torch.arange(16.0).reshape(1, 1, 4, 4)]
    >>> rois = torch.tensor([[0, 0, 0, 16.0, 16.0], [0, 0, 0, 32.0, 32.0]])  # levels 0 and 1
    >>> out = roi_sample_levels(feats, rois, out_size=4, strides=(2, 8), finest_scale=16, sampling_ratio=1)
    >>> out[1, 0].equal(feats[1][0, 0])  # the whole stride-8 map
    True

    Args:
        features: ``L`` maps ``(B, C, H_l, W_l)``, finest first, one dtype and device.
        rois: ``(N, 5)`` = ``(batch_idx, x1, y1, x2, y2)`` in image pixels, the features'
            dtype and device.
        transform: ``None`` (the plain box), ``(N, 3, 3)`` matrices in the features'
            dtype, or a :class:`~stn_plugin.geometry.transforms.Transform` of size N
            (matrix transforms are sampled through their matrices; any other through
            its explicit grid, on the torch path level by level).
        out_size: ``(h, w)`` or an int.
        strides: the ``L`` levels' strides in image pixels.
        finest_scale: mmdet's ``finest_scale`` of the level rule (:func:`roi_levels`).
        sampling_ratio, padding: as :func:`~stn_plugin.ops.roi_sample`.
        backend: ``'auto'``, ``'torch'`` or ``'triton'`` (as roi_sample; the one-launch
            kernels take up to 5 levels, matrix transforms and float32/16/bfloat16, or
            float64 in triton's interpreter).
        check_values: check that boxes and transforms are finite, batch indices are
            integers in ``[0, B)`` and ``x2 >= x1``, ``y2 >= y1`` -- one host
            synchronisation on CUDA. ``None`` (default): on CPU tensors, and on CUDA
            ones only with ``STN_PLUGIN_CHECK_VALUES=1`` (``0`` turns them off
            everywhere; :func:`~stn_plugin.geometry.validation.value_checks_enabled`).
            Unchecked, a RoI with an invalid batch index samples 0 on the Triton path
            (it never reads outside the maps). Shapes, dtypes and devices are always
            checked (no sync).

    Returns:
        ``(N, C, h, w)`` in the features' dtype, differentiable w.r.t. every level, the
        transform and the box columns of ``rois``.
    """
    features = list(features)
    if not features:
        raise ValueError("features must hold at least one feature map")
    strides = [check_positive_number(s, "strides") for s in strides]
    if len(strides) != len(features):
        raise ValueError(f"strides has {len(strides)} entries for {len(features)} feature maps")
    for i, f in enumerate(features):
        check_tensor(f, f"features[{i}]", dims=(4,), finite=False)
        check_same_device(f, f"features[{i}]", features[0], "features[0]")
        check_same_dtype(f, f"features[{i}]", features[0], "features[0]")
        if f.shape[:2] != features[0].shape[:2]:
            raise ValueError(f"features[{i}] has batch size and channels {tuple(f.shape[:2])}, features[0] "
                             f"{tuple(features[0].shape[:2])}: every level needs the same")
    ref = features[0]
    checking = value_checks_enabled(ref, check_values) and not is_tracing()
    value_flags = check_rois(rois, ref.shape[0], values=checking)
    check_same_device(rois, "rois", ref, "features")
    check_same_dtype(rois, "rois", ref, "features")
    out_size, sampling_ratio = check_sampling_options(out_size, sampling_ratio, padding, backend)
    finest_scale = check_positive_number(finest_scale, "finest_scale")
    n = rois.shape[0]
    if isinstance(transform, MatrixTransform):
        if transform.batch_size != n:
            raise ValueError(f"transform has batch size {transform.batch_size} but rois has {n} RoIs")
        check_same_device(transform, "transform", ref, "features")
        transform = transform.matrix.to(ref.dtype)
    elif isinstance(transform, Tensor):
        check_same_device(transform, "transform", ref, "features")
        check_same_dtype(transform, "transform", ref, "features")
        if transform.dim() == 3 and tuple(transform.shape) != (n, 3, 3):
            raise ValueError(f"transform must be ({n}, 3, 3) matrices here, got {tuple(transform.shape)}")
        if checking and n:
            value_flags.append(finite_flag(transform, "transform"))
    elif transform is not None and not isinstance(transform, Transform):
        raise TypeError(f"transform must be None, a Transform or a torch.Tensor, got {type(transform).__name__}")
    check_flags(*value_flags)
    if backend == "auto":
        backend = auto_backend(ref.device, ref.dtype)
    one_launch = ((transform is None or (isinstance(transform, Tensor) and transform.dim() == 3))
                  and len(features) <= MAX_TRITON_LEVELS)
    if backend == "triton" and one_launch:
        return _roi_sample_levels_triton(features, rois, transform, out_size, strides, finest_scale,
                                         sampling_ratio, padding)
    return _roi_sample_levels_loop(features, rois, transform, out_size, strides, finest_scale, sampling_ratio,
                                   padding, backend)


def _roi_sample_levels_loop(features, rois, transform, out_size, strides, finest_scale, sampling_ratio, padding,
                            backend) -> Tensor:
    """Level by level with :func:`roi_sample` (values already checked or not asked for)."""
    levels = roi_levels(rois, len(features), finest_scale)
    n, c = rois.shape[0], features[0].shape[1]
    if isinstance(transform, Transform):
        transform = transform.grid(out_size, sampling_ratio).to(features[0].dtype)
    if is_tracing():  # every level samples every RoI; each keeps its own level's (no data-dependent shapes)
        out = None
        for i, f in enumerate(features):
            o = roi_sample(f, rois, transform, out_size, 1.0 / strides[i], sampling_ratio, padding, backend)
            out = o if out is None else torch.where((levels == i)[:, None, None, None], o, out)
        return out
    out = features[0].new_zeros(n, c, *out_size)
    for i, f in enumerate(features):
        inds = (levels == i).nonzero(as_tuple=False).squeeze(1)
        if inds.numel():
            t = None if transform is None else transform[inds]
            out = out.index_put((inds,), roi_sample(f, rois[inds], t, out_size, 1.0 / strides[i], sampling_ratio,
                                                     padding, backend))
    return out


def _roi_sample_levels_triton(features, rois, transform, out_size, strides, finest_scale, sampling_ratio,
                              padding) -> Tensor:
    from .roi_sample import _triton_ops

    dtype = features[0].dtype
    if dtype not in TRITON_DTYPES and not (dtype == torch.float64 and not features[0].is_cuda):
        raise TypeError(f"features has dtype {dtype}; roi_sample_levels(backend='triton') takes float32, float16 "
                        "or bfloat16 (use backend='torch' for float64)")
    # the kernels take any strides, but each level's gradient is laid out in its strides
    # inside one flat buffer, which needs dense layouts
    features = [f if f.is_contiguous() or f.is_contiguous(memory_format=torch.channels_last) else f.contiguous()
                for f in features]
    if transform is not None:
        transform = transform.contiguous()
    return _triton_ops().roi_sample_levels_forward(features, rois.contiguous(), transform, *out_size,
                                                   sampling_ratio, padding, float(finest_scale),
                                                   [1.0 / s for s in strides])
