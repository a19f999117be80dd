"""The coordinate contract of stn_plugin -- the one place that defines it.

Every other file converts coordinates through these functions; none re-derives
the formulas.

Conventions (see ``docs``/design):

* Images and feature maps are NCHW. Pixel ``(i, j)`` covers ``[j, j+1) x [i, i+1)``;
  its centre is ``(j + 0.5, i + 0.5)`` in *continuous pixel coordinates*.
* *Index coordinates* put pixel centres on integers (``continuous - 0.5``): the
  convention of OpenCV and of mmcv's RoIAlign sample positions.
* *Normalised coordinates* lie in ``[-1, 1]`` over an extent.
  ``align_corners=False``: -1 and 1 are the outer edges of the border pixels.
  ``align_corners=True``: -1 and 1 are the centres of the border pixels.
* A transform maps **output** coordinates to **input** coordinates (the sampler
  pulls). Points are ``(..., 2)`` tensors ordered ``(x, y)``.
* RoI frame: normalised RoI coordinates ``(-1, -1)`` and ``(1, 1)`` are the box
  corners ``(x1, y1)`` and ``(x2, y2)`` in continuous image pixels.
* A feature map at stride ``s`` sees continuous image pixel ``x`` at continuous
  feature coordinate ``x / s`` (the half-pixel rule of ``RoIAlign(aligned=True)``).
"""
from __future__ import annotations

from typing import Sequence, Tuple

import torch
from torch import Tensor

Size2 = Tuple[int, int]


def _check_size(size: Sequence[int], name: str) -> Size2:
    if len(size) != 2 or any(int(s) != s or s < 1 for s in size):
        raise ValueError(f"{name} must be two positive integers (height, width), got {tuple(size)}")
    return int(size[0]), int(size[1])


def _affine_1d(scale_x, shift_x, scale_y, shift_y, *, dtype, device) -> Tensor:
    m = torch.zeros(3, 3, dtype=dtype, device=device)
    m[0, 0], m[0, 2], m[1, 1], m[1, 2], m[2, 2] = scale_x, shift_x, scale_y, shift_y, 1.0
    return m


def normalized_to_pixel_matrix(size: Sequence[int], align_corners: bool = False, *,
                               dtype: torch.dtype = torch.float32,
                               device: torch.device | str | None = None) -> Tensor:
    """3x3 matrix taking normalised coordinates to continuous pixel coordinates.

    ``size`` is ``(height, width)``. With ``align_corners=False``:
    ``x = (u + 1) * W / 2``; with ``True``: ``x = 0.5 + (u + 1) * (W - 1) / 2``.
    """
    h, w = _check_size(size, "size")
    if align_corners:
        return _affine_1d((w - 1) / 2, 0.5 + (w - 1) / 2, (h - 1) / 2, 0.5 + (h - 1) / 2,
                          dtype=dtype, device=device)
    return _affine_1d(w / 2, w / 2, h / 2, h / 2, dtype=dtype, device=device)


def pixel_to_normalized_matrix(size: Sequence[int], align_corners: bool = False, *,
                               dtype: torch.dtype = torch.float32,
                               device: torch.device | str | None = None) -> Tensor:
    """Inverse of :func:`normalized_to_pixel_matrix`."""
    h, w = _check_size(size, "size")
    if align_corners and (h == 1 or w == 1):
        raise ValueError("align_corners=True needs a size of at least 2 along each axis, "
                         f"got size={tuple(size)}")
    return torch.linalg.inv(normalized_to_pixel_matrix(size, align_corners, dtype=torch.float64)
                            ).to(dtype=dtype, device=device)


def index_to_continuous_matrix(*, dtype: torch.dtype = torch.float32,
                               device: torch.device | str | None = None) -> Tensor:
    """3x3 matrix from index coordinates (centres on integers) to continuous ones."""
    return _affine_1d(1.0, 0.5, 1.0, 0.5, dtype=dtype, device=device)


def pixel_matrix_to_normalized(matrix: Tensor, in_size: Sequence[int], out_size: Sequence[int],
                               align_corners: bool = False) -> Tensor:
    """Express a pixel-space transform (output pixel -> input pixel) in normalised coordinates.

    ``matrix`` is ``(..., 3, 3)`` in continuous pixel coordinates; the result maps
    normalised output coordinates to normalised input coordinates.
    """
    kw = dict(dtype=matrix.dtype, device=matrix.device)
    return (pixel_to_normalized_matrix(in_size, align_corners, **kw) @ matrix
            @ normalized_to_pixel_matrix(out_size, align_corners, **kw))


def normalized_matrix_to_pixel(matrix: Tensor, in_size: Sequence[int], out_size: Sequence[int],
                               align_corners: bool = False) -> Tensor:
    """Inverse of :func:`pixel_matrix_to_normalized`."""
    kw = dict(dtype=matrix.dtype, device=matrix.device)
    return (normalized_to_pixel_matrix(in_size, align_corners, **kw) @ matrix
            @ pixel_to_normalized_matrix(out_size, align_corners, **kw))


def normalized_to_pixel(points: Tensor, size: Sequence[int], align_corners: bool = False) -> Tensor:
    """Map ``(..., 2)`` normalised points to continuous pixel coordinates."""
    m = normalized_to_pixel_matrix(size, align_corners, dtype=points.dtype, device=points.device)
    return points * torch.stack([m[0, 0], m[1, 1]]) + torch.stack([m[0, 2], m[1, 2]])


def pixel_to_normalized(points: Tensor, size: Sequence[int], align_corners: bool = False) -> Tensor:
    """Map ``(..., 2)`` continuous pixel points to normalised coordinates."""
    m = pixel_to_normalized_matrix(size, align_corners, dtype=points.dtype, device=points.device)
    return points * torch.stack([m[0, 0], m[1, 1]]) + torch.stack([m[0, 2], m[1, 2]])


def sample_positions_1d(n: int, sampling_ratio: int = 1, align_corners: bool = False, *,
                        dtype: torch.dtype = torch.float32,
                        device: torch.device | str | None = None) -> Tensor:
    """Normalised positions of the ``n * sampling_ratio`` sub-samples along one axis.

    Output cell ``j`` averages the sub-samples at its centre offset by
    ``((k + 0.5) / r - 0.5)`` cell widths, ``k = 0..r-1``. With ``r = 1`` these are
    the cell centres of ``F.affine_grid`` for the same ``align_corners``.
    """
    if n < 1 or sampling_ratio < 1:
        raise ValueError(f"need n >= 1 and sampling_ratio >= 1, got n={n}, sampling_ratio={sampling_ratio}")
    r = sampling_ratio
    sub = (torch.arange(n * r, dtype=torch.float64) + 0.5) / r - 0.5  # in cell units, centre of cell j = j
    if align_corners:
        pos = sub * (2.0 / (n - 1)) - 1.0 if n > 1 else sub * 0.0
    else:
        pos = (sub + 0.5) * (2.0 / n) - 1.0
    return pos.to(dtype=dtype, device=device)


def output_grid(out_size: Sequence[int], sampling_ratio: int = 1, align_corners: bool = False, *,
                dtype: torch.dtype = torch.float32,
                device: torch.device | str | None = None) -> Tensor:
    """Regular grid of normalised output coordinates, ``(h * r, w * r, 2)`` as ``(x, y)``."""
    h, w = _check_size(out_size, "out_size")
    ys = sample_positions_1d(h, sampling_ratio, align_corners, dtype=dtype, device=device)
    xs = sample_positions_1d(w, sampling_ratio, align_corners, dtype=dtype, device=device)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], dim=-1)


def roi_frame_matrix(boxes: Tensor) -> Tensor:
    """``(N, 3, 3)`` matrices from normalised RoI frame to continuous image pixels.

    ``boxes`` is ``(N, 4)`` = ``(x1, y1, x2, y2)``; differentiable w.r.t. the boxes.
    """
    x1, y1, x2, y2 = boxes.unbind(-1)
    zero, one = torch.zeros_like(x1), torch.ones_like(x1)
    rows = [
        torch.stack([(x2 - x1) / 2, zero, (x1 + x2) / 2], -1),
        torch.stack([zero, (y2 - y1) / 2, (y1 + y2) / 2], -1),
        torch.stack([zero, zero, one], -1),
    ]
    return torch.stack(rows, -2)


def roi_frame_to_pixel(points: Tensor, boxes: Tensor) -> Tensor:
    """Map RoI-frame points ``(N, ..., 2)`` to continuous image pixels for boxes ``(N, 4)``."""
    view = (boxes.shape[0],) + (1,) * (points.dim() - 2)
    x1, y1, x2, y2 = (b.reshape(view) for b in boxes.unbind(-1))
    x = x1 + (points[..., 0] + 1) * ((x2 - x1) / 2)
    y = y1 + (points[..., 1] + 1) * ((y2 - y1) / 2)
    return torch.stack([x, y], -1)


def pixel_to_feature_index(points: Tensor, stride: float) -> Tensor:
    """Continuous image pixels -> index coordinates of a feature map at ``stride``.

    ``x / stride - 0.5``: the sample positions of mmcv ``RoIAlign(aligned=True)``.
    """
    return points / stride - 0.5


def feature_index_to_normalized(points: Tensor, size: Sequence[int]) -> Tensor:
    """Index coordinates of a feature map of ``size`` -> ``grid_sample`` coordinates
    (``align_corners=False``)."""
    return pixel_to_normalized(points + 0.5, size, align_corners=False)


def pixel_to_feature_normalized(points: Tensor, stride: float, size: Sequence[int]) -> Tensor:
    """Continuous image pixels -> normalised coordinates (``align_corners=False``)
    of a feature map of ``size`` at ``stride``."""
    return feature_index_to_normalized(pixel_to_feature_index(points, stride), size)


def pixel_to_feature_index_matrix(stride: float, *, dtype: torch.dtype = torch.float32,
                                  device: torch.device | str | None = None) -> Tensor:
    """3x3 matrix form of :func:`pixel_to_feature_index` (continuous image pixels ->
    index coordinates of a feature map at ``stride``).

    Fused kernels compose it with :func:`roi_frame_matrix` and a transform into one
    matrix per RoI. It is read off :func:`pixel_to_feature_index` itself (images of
    the origin and the unit vectors), so that function stays the only formula.
    """
    basis = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    origin, ex, ey = pixel_to_feature_index(basis, stride).unbind(0)
    m = torch.eye(3, dtype=torch.float64)
    m[:2, 0], m[:2, 1], m[:2, 2] = ex - origin, ey - origin, origin
    return m.to(dtype=dtype, device=device)
