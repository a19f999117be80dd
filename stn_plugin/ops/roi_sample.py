"""Per-RoI differentiable sampling: :func:`roi_sample`.

Argument checks (through :mod:`stn_plugin.geometry.validation`), the conversion of a
:class:`~stn_plugin.geometry.transforms.Transform` to what the samplers take, and
backend dispatch live here. The Triton kernels of :mod:`.roi_sample_triton` are called as
the PyTorch operators of :mod:`.roi_sample_triton_ops` (with their autograd); the
pure-torch path (CPU default, test oracle) is :mod:`.roi_sample_torch`. Coordinates are converted only through
:mod:`stn_plugin.geometry.coords`.
"""
from __future__ import annotations

import warnings
from importlib.util import find_spec
from typing import List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from ..geometry.coords import pixel_to_feature_index_matrix, roi_frame_matrix, sample_positions_1d
from ..geometry.transforms import MatrixTransform, Transform
from ..geometry.validation import (Flag, check_choice, check_flags, check_positive_int, check_positive_number,
                                   check_rois, check_same_device, check_same_dtype, check_size2, check_tensor,
                                   finite_flag, is_tracing)
from .padding import PADDING_MODES
from .profiling import profile_stage
from .roi_sample_torch import roi_sample_index_points, roi_sample_torch
from .roi_sample_traceable import roi_sample_traceable
from .sampler_selection import active_sampler

__all__ = ["roi_sample", "auto_backend", "check_sampling_options", "PADDING_MODES", "BACKENDS", "TRITON_DTYPES"]

BACKENDS = ("auto", "torch", "triton")
# dtypes the Triton kernels take (fp32 accumulation inside)
TRITON_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def roi_sample(features: Tensor, rois: Tensor, transform: Union[None, Tensor, Transform] = None,
               out_size: Union[int, Sequence[int]] = (7, 7), spatial_scale: float = 1.0,
               sampling_ratio: int = 2, padding: str = "roi_align", backend: str = "auto") -> Tensor:
    """Sample an ``out_size`` patch per RoI from a feature map, through a per-RoI transform.

    Conventions: ``features (B, C, H, W)``, ``rois (N, 5)`` in continuous image pixels ->
    ``(N, C, h, w)``; the transform maps normalised output coordinates of the patch to
    the normalised RoI frame (``(-1, -1)`` / ``(1, 1)`` = the box corners).

    >>> import torch
    >>> from stn_plugin.geometry import MatrixTransform
    >>> feats = torch.arange(16.0).reshape(1, 1, 4, 4)
    >>> rois = torch.tensor([[0.0, 0.0, 0.0, 4.0, 4.0]])  # the whole map
    >>> roi_sample(feats, rois, out_size=4, sampling_ratio=1).equal(feats)  # identity = RoIAlign
    True
    >>> flip = MatrixTransform(torch.tensor([[[-1.0, 0, 0], [0, 1, 0], [0, 0, 1]]]))
    >>> roi_sample(feats, rois, flip, out_size=4, sampling_ratio=1).equal(feats.flip(-1))
    True

    Args:
        features: ``(B, C, H, W)`` floating feature map.
        rois: ``(N, 5)`` = ``(batch_idx, x1, y1, x2, y2)``, box corners in continuous image
            pixels (pixel ``(i, j)`` covers ``[j, j+1) x [i, i+1)``); same dtype and device
            as ``features``. ``batch_idx`` must be an integer in ``[0, B)``. ``x2 >= x1``
            and ``y2 >= y1`` (zero-size boxes are allowed: all samples on one line).
        transform: maps normalised *output* coordinates (``[-1, 1]`` over the patch) to
            normalised *RoI-frame* coordinates (``(-1, -1)`` / ``(1, 1)`` = the box
            corners ``(x1, y1)`` / ``(x2, y2)``). ``None``: identity, i.e. the plain box
            (this reproduces mmcv ``RoIAlign(aligned=True)``); a batched
            :class:`~stn_plugin.geometry.transforms.Transform` of size N (a
            :class:`~stn_plugin.geometry.transforms.MatrixTransform` is sampled through
            its matrices, any other through its explicit grid
            ``transform.grid(out_size, sampling_ratio)``; either is cast to the features'
            dtype, and its values were checked when it was built); ``(N, 3, 3)``: affine
            or projective matrices (points are divided by the homogeneous coordinate);
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
            ``'border'`` -- clamp to the map (the rules: :mod:`stn_plugin.ops.padding`). In every mode an *undefined* sub-sample
            -- a projective matrix's homogeneous coordinate is 0 there (up to
            rounding), or its coordinate is not finite -- reads 0 and passes no
            gradient to the features, the transform or the boxes (both backends).
        backend: ``'auto'`` (Triton kernels for CUDA tensors when triton is installed
            and the kernels run on that GPU, else pure torch with one warning, see
            :func:`auto_backend`), ``'torch'`` or ``'triton'``. ``'triton'`` with CPU tensors
            runs the kernels in triton's interpreter (``TRITON_INTERPRET=1`` set before
            :mod:`stn_plugin.ops.roi_sample_triton` is imported): a test vehicle.

    Returns:
        ``(N, C, h, w)`` in the features' dtype, differentiable w.r.t. ``features``, the
        transform and the box columns of ``rois`` (not the batch index).

    Deterministic mode: the Triton backward adds the features gradient with atomics, so
    under ``torch.use_deterministic_algorithms(True)`` it raises a ``RuntimeError`` (a
    warning with ``warn_only=True``) instead of silently varying; the coordinate
    gradients are always deterministic. The torch path on the CPU is deterministic.

    Value checks (finite boxes and transforms, integer batch indices in range, box corner
    order) cost one host synchronisation on CUDA and are skipped while tracing for
    ``torch.compile`` / export (see :mod:`stn_plugin.geometry.validation`).
    """
    check_tensor(features, "features", dims=(4,), finite=False)
    value_flags = check_rois(rois, features.shape[0])
    check_same_device(rois, "rois", features, "features")
    check_same_dtype(rois, "rois", features, "features")
    out_size, sampling_ratio = check_sampling_options(out_size, sampling_ratio, padding, backend)
    spatial_scale = check_positive_number(spatial_scale, "spatial_scale")
    with profile_stage("roi_sample.transform_grid"):
        transform, transform_flags = _sampler_transform(transform, features, rois.shape[0], out_size,
                                                        sampling_ratio)
    check_flags(*value_flags, *transform_flags)
    if backend == "auto":
        backend = auto_backend(features.device, features.dtype)
    if rois.shape[0] == 0:
        return _empty_output(features, rois, transform, out_size)
    if backend == "torch":
        # while tracing, and for the gather sampler, the path without host-side grouping
        torch_path = roi_sample_traceable if is_tracing() or active_sampler() == "gather" else roi_sample_torch
        return torch_path(features, rois, transform, out_size, spatial_scale, sampling_ratio, padding)
    return _roi_sample_triton(features, rois, transform, out_size, spatial_scale, sampling_ratio, padding)


def check_sampling_options(out_size, sampling_ratio, padding: str, backend: str) -> Tuple[Tuple[int, int], int]:
    """``(out_size as (h, w), sampling_ratio)`` after checking them, ``padding`` and ``backend``."""
    out_size = check_size2(out_size, "out_size")
    sampling_ratio = check_positive_int(sampling_ratio, "sampling_ratio")
    check_choice(padding, PADDING_MODES, "padding")
    check_choice(backend, BACKENDS, "backend")
    return out_size, sampling_ratio


def auto_backend(device: torch.device, dtype: torch.dtype) -> str:
    """What ``backend='auto'`` runs for features on ``device`` with ``dtype``.

    ``'triton'`` for CUDA features of a kernel dtype when triton is installed and the
    kernels work on that device, else ``'torch'``. Whether they work is found out once
    per device and process, by a tiny forward and backward through the kernels: where
    they cannot compile or run (a GPU triton does not support, a driver without a
    feature it needs), one ``RuntimeWarning`` says why and the device stays on the torch
    path, instead of a user's training failing. ``backend='triton'`` still raises.
    """
    device = torch.device(device)
    if device.type != "cuda" or dtype not in TRITON_DTYPES or find_spec("triton") is None:
        return "torch"
    key = str(device)
    if key not in _TRITON_FAILURES:
        _TRITON_FAILURES[key] = None if is_tracing() else _triton_failure(device)
        if _TRITON_FAILURES[key] is not None:
            warnings.warn(f"roi_sample: the Triton kernels cannot run on {key} ({_TRITON_FAILURES[key]}); "
                          "backend='auto' uses the pure-torch path on this device from now on "
                          "(backend='triton' shows the full error)", RuntimeWarning, stacklevel=3)
    return "torch" if _TRITON_FAILURES[key] else "triton"


# device -> None (kernels work) or why they do not
_TRITON_FAILURES: dict = {}


def _triton_failure(device: torch.device) -> Optional[str]:
    """``None`` if the kernels compile and run on ``device``, else the error, in one line."""
    try:
        with torch.enable_grad():
            features = torch.zeros(1, 1, 2, 2, device=device)
            rois = torch.tensor([[0.0, 0.0, 0.0, 2.0, 2.0]], device=device)
            # only the transform needs a gradient: the probe's backward never meets the
            # deterministic-mode guard of the features' atomic adds
            matrix = torch.eye(3, device=device)[None].requires_grad_()
            _roi_sample_triton(features, rois, matrix, (1, 1), 1.0, 1, "roi_align").sum().backward()
            torch.cuda.synchronize(device)
    except Exception as err:  # any failure of the kernels means: use the torch path here
        return f"{type(err).__name__}: {err}".splitlines()[0][:300]
    return None


# --------------------------------------------------------------------------- transform

def _sampler_transform(transform: Union[None, Tensor, Transform], features: Tensor, num_rois: int,
                       out_size: Tuple[int, int], sampling_ratio: int) -> Tuple[Optional[Tensor], List[Flag]]:
    """What the samplers take for ``transform`` -- ``None``, ``(N, 3, 3)`` matrices or an
    ``(N, h*s, w*s, 2)`` RoI-frame grid -- and the value flags still to check.

    A :class:`Transform` is converted here (matrices stay matrices, so the fused
    parametric kernel runs; anything else becomes its explicit grid) and cast to the
    features' dtype; its values were checked when it was built. A tensor must already
    match the features' dtype and device, and its values are flagged for checking.
    """
    if transform is None:
        return None, []
    if isinstance(transform, Transform):
        if transform.batch_size != num_rois:
            raise ValueError(f"transform has batch size {transform.batch_size} but rois has {num_rois} RoIs")
        check_same_device(transform, "transform", features, "features")
        if isinstance(transform, MatrixTransform):
            return transform.matrix.to(features.dtype), []
        return transform.grid(out_size, sampling_ratio).to(features.dtype), []
    if not isinstance(transform, Tensor):
        raise TypeError(f"transform must be None, a Transform or a torch.Tensor, got {type(transform).__name__}")
    check_same_device(transform, "transform", features, "features")
    check_same_dtype(transform, "transform", features, "features")
    (oh, ow), s = out_size, sampling_ratio
    if tuple(transform.shape) not in ((num_rois, 3, 3), (num_rois, oh * s, ow * s, 2)):
        raise ValueError(f"transform must be (N, 3, 3) matrices or an (N, h*s, w*s, 2) grid = ({num_rois}, 3, 3) "
                         f"or ({num_rois}, {oh * s}, {ow * s}, 2) here, got {tuple(transform.shape)}")
    return transform, ([finite_flag(transform, "transform")] if num_rois and not is_tracing() else [])


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

def _triton_ops():
    """The operators wrapping the Triton kernels (importing them imports triton)."""
    try:
        from . import roi_sample_triton_ops
    except ImportError as err:  # triton missing or broken
        raise RuntimeError(f"roi_sample(backend='triton') needs triton: {err}") from err
    return roi_sample_triton_ops


def feature_index_matrices(rois: Tensor, transform: Optional[Tensor], spatial_scale: float) -> Tensor:
    """``(N, 3, 3)`` fp32 matrices: normalised output coords -> feature index coords.

    ``pixel -> feature index`` o ``RoI frame -> pixel`` o ``transform``, composed in torch
    so that autograd carries the kernel's matrix gradient to the boxes and the transform.

    >>> import torch
    >>> rois = torch.tensor([[0.0, 0.0, 0.0, 8.0, 8.0]])  # an 8 x 8 box at stride 2
    >>> feature_index_matrices(rois, None, spatial_scale=0.5).tolist()  # (-1, -1) -> (-0.5, -0.5)
    [[[2.0, 0.0, 1.5], [0.0, 2.0, 1.5], [0.0, 0.0, 1.0]]]
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
    if features.dtype not in TRITON_DTYPES:
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
        return _triton_ops().roi_sample_forward(features, batch_idx, None, None, None, grid, *out_size,
                                                sampling_ratio, padding)
    matrices = feature_index_matrices(rois, transform, spatial_scale)
    oh, ow = out_size
    xs = sample_positions_1d(ow, sampling_ratio, dtype=torch.float32, device=features.device)
    ys = sample_positions_1d(oh, sampling_ratio, dtype=torch.float32, device=features.device)
    return _triton_ops().roi_sample_forward(features, batch_idx, matrices, xs, ys, None, *out_size,
                                            sampling_ratio, padding)
