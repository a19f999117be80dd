"""The coordinate contract of stn_plugin -- the one place that defines it.

Every other file converts coordinates through these functions; none re-derives
the formulas.

Conventions:

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

from typing import Sequence

import torch
from torch import Tensor

from .validation import check_size2


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

    Conventions: ``(3, 3)``, normalised ``(u, v)`` -> continuous pixel ``(x, y)`` of a map
    of ``size = (height, width)``.

    >>> normalized_to_pixel_matrix((2, 4)).tolist()  # u = -1 -> x = 0, u = 1 -> x = 4
    [[2.0, 0.0, 2.0], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0]]
    """
    h, w = check_size2(size, "size")
    if align_corners:
        return _affine_1d((w - 1) / 2, 0.5 + (w - 1) / 2, (h - 1) / 2, 0.5 + (h - 1) / 2,
                          dtype=dtype, device=device)
    return _affine_1d(w / 2, w / 2, h / 2, h / 2, dtype=dtype, device=device)


def pixel_to_normalized_matrix(size: Sequence[int], align_corners: bool = False, *,
                               dtype: torch.dtype = torch.float32,
                               device: torch.device | str | None = None) -> Tensor:
    """Inverse of :func:`normalized_to_pixel_matrix`.

    Conventions: ``(3, 3)``, continuous pixel ``(x, y)`` -> normalised ``(u, v)``.

    >>> pixel_to_normalized_matrix((2, 4)).tolist()
    [[0.5, 0.0, -1.0], [0.0, 1.0, -1.0], [0.0, 0.0, 1.0]]
    """
    h, w = check_size2(size, "size")
    if align_corners and (h == 1 or w == 1):
        raise ValueError("align_corners=True needs a size of at least 2 along each axis, "
                         f"got size={tuple(size)}")
    return torch.linalg.inv(normalized_to_pixel_matrix(size, align_corners, dtype=torch.float64)
                            ).to(dtype=dtype, device=device)


def index_to_continuous_matrix(*, dtype: torch.dtype = torch.float32,
                               device: torch.device | str | None = None) -> Tensor:
    """3x3 matrix from index coordinates (centres on integers) to continuous ones.

    Conventions: ``(3, 3)``, index ``(x, y)`` (pixel centres on integers) -> continuous pixel.

    >>> index_to_continuous_matrix().tolist()
    [[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]]
    """
    return _affine_1d(1.0, 0.5, 1.0, 0.5, dtype=dtype, device=device)


def pixel_matrix_to_normalized(matrix: Tensor, in_size: Sequence[int], out_size: Sequence[int],
                               align_corners: bool = False) -> Tensor:
    """Express a pixel-space transform (output pixel -> input pixel) in normalised coordinates.

    ``matrix`` is ``(..., 3, 3)`` in continuous pixel coordinates; the result maps
    normalised output coordinates to normalised input coordinates.

    Conventions: ``in_size`` / ``out_size`` are ``(height, width)`` of the input / output.

    >>> import torch
    >>> same_pixels = torch.eye(3, dtype=torch.float64)  # output pixel x reads input pixel x
    >>> pixel_matrix_to_normalized(same_pixels, in_size=(4, 4), out_size=(2, 2)).tolist()
    [[0.5, 0.0, -0.5], [0.0, 0.5, -0.5], [0.0, 0.0, 1.0]]
    """
    kw = dict(dtype=matrix.dtype, device=matrix.device)
    return (pixel_to_normalized_matrix(in_size, align_corners, **kw) @ matrix
            @ normalized_to_pixel_matrix(out_size, align_corners, **kw))


def normalized_matrix_to_pixel(matrix: Tensor, in_size: Sequence[int], out_size: Sequence[int],
                               align_corners: bool = False) -> Tensor:
    """Inverse of :func:`pixel_matrix_to_normalized`.

    Conventions: as :func:`pixel_matrix_to_normalized`, the other way round.

    >>> import torch
    >>> half = torch.tensor([[0.5, 0.0, -0.5], [0.0, 0.5, -0.5], [0.0, 0.0, 1.0]], dtype=torch.float64)
    >>> normalized_matrix_to_pixel(half, in_size=(4, 4), out_size=(2, 2)).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    kw = dict(dtype=matrix.dtype, device=matrix.device)
    return (normalized_to_pixel_matrix(in_size, align_corners, **kw) @ matrix
            @ pixel_to_normalized_matrix(out_size, align_corners, **kw))


def normalized_to_pixel(points: Tensor, size: Sequence[int], align_corners: bool = False) -> Tensor:
    """Map ``(..., 2)`` normalised points to continuous pixel coordinates.

    Conventions: ``size = (height, width)``; points ``(x, y)``.

    >>> import torch
    >>> normalized_to_pixel(torch.tensor([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0]]), (2, 4)).tolist()
    [[0.0, 0.0], [4.0, 2.0], [2.0, 1.0]]
    """
    m = normalized_to_pixel_matrix(size, align_corners, dtype=points.dtype, device=points.device)
    return points * torch.stack([m[0, 0], m[1, 1]]) + torch.stack([m[0, 2], m[1, 2]])


def pixel_to_normalized(points: Tensor, size: Sequence[int], align_corners: bool = False) -> Tensor:
    """Map ``(..., 2)`` continuous pixel points to normalised coordinates.

    Conventions: ``size = (height, width)``; points ``(x, y)``.

    >>> import torch
    >>> pixel_to_normalized(torch.tensor([[0.0, 0.0], [4.0, 2.0]]), (2, 4)).tolist()
    [[-1.0, -1.0], [1.0, 1.0]]
    """
    m = pixel_to_normalized_matrix(size, align_corners, dtype=points.dtype, device=points.device)
    return points * torch.stack([m[0, 0], m[1, 1]]) + torch.stack([m[0, 2], m[1, 2]])


def sample_positions_1d(n: int, sampling_ratio: int = 1, align_corners: bool = False, *,
                        dtype: torch.dtype = torch.float32,
                        device: torch.device | str | None = None) -> Tensor:
    """Normalised positions of the ``n * sampling_ratio`` sub-samples along one axis.

    Output cell ``j`` averages the sub-samples at its centre offset by
    ``((k + 0.5) / r - 0.5)`` cell widths, ``k = 0..r-1``. With ``r = 1`` these are
    the cell centres of ``F.affine_grid`` for the same ``align_corners``.

    Conventions: ``(n * sampling_ratio,)`` normalised positions, in increasing order.

    >>> sample_positions_1d(2).tolist(), sample_positions_1d(2, 2).tolist()
    ([-0.5, 0.5], [-0.75, -0.25, 0.25, 0.75])
    >>> sample_positions_1d(3, align_corners=True).tolist()
    [-1.0, 0.0, 1.0]
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
    """Regular grid of normalised output coordinates, ``(h * r, w * r, 2)`` as ``(x, y)``.

    >>> grid = output_grid((2, 2))
    >>> grid.shape, grid[0, 0].tolist(), grid[1, 1].tolist()  # (row, column) -> (x, y)
    (torch.Size([2, 2, 2]), [-0.5, -0.5], [0.5, 0.5])
    """
    h, w = check_size2(out_size, "out_size")
    ys = sample_positions_1d(h, sampling_ratio, align_corners, dtype=dtype, device=device)
    xs = sample_positions_1d(w, sampling_ratio, align_corners, dtype=dtype, device=device)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], dim=-1)


def roi_frame_matrix(boxes: Tensor) -> Tensor:
    """``(N, 3, 3)`` matrices from normalised RoI frame to continuous image pixels.

    ``boxes`` is ``(N, 4)`` = ``(x1, y1, x2, y2)``; differentiable w.r.t. the boxes.

    Conventions: ``(N, 4)`` boxes -> ``(N, 3, 3)``: RoI frame ``(u, v)`` -> continuous pixel.

    >>> import torch
    >>> roi_frame_matrix(torch.tensor([[2.0, 4.0, 6.0, 8.0]])).tolist()
    [[[2.0, 0.0, 4.0], [0.0, 2.0, 6.0], [0.0, 0.0, 1.0]]]
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
    """Map RoI-frame points ``(N, ..., 2)`` to continuous image pixels for boxes ``(N, 4)``.

    >>> import torch
    >>> corners = torch.tensor([[[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0]]])  # (N=1, P=3, 2)
    >>> roi_frame_to_pixel(corners, torch.tensor([[2.0, 4.0, 6.0, 8.0]])).tolist()
    [[[2.0, 4.0], [6.0, 8.0], [4.0, 6.0]]]
    """
    view = (boxes.shape[0],) + (1,) * (points.dim() - 2)
    x1, y1, x2, y2 = (b.reshape(view) for b in boxes.unbind(-1))
    x = x1 + (points[..., 0] + 1) * ((x2 - x1) / 2)
    y = y1 + (points[..., 1] + 1) * ((y2 - y1) / 2)
    return torch.stack([x, y], -1)


def pixel_to_roi_frame(points: Tensor, boxes: Tensor) -> Tensor:
    """Inverse of :func:`roi_frame_to_pixel`: continuous image pixels ``(N, ..., 2)`` ->
    RoI-frame points of boxes ``(N, 4)`` ``(x1, y1, x2, y2)`` (non-empty boxes).

    >>> import torch
    >>> pixel_to_roi_frame(torch.tensor([[[2.0, 4.0], [6.0, 8.0], [4.0, 6.0]]]), torch.tensor([[2.0, 4.0, 6.0, 8.0]])).tolist()
    [[[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0]]]
    """
    view = (boxes.shape[0],) + (1,) * (points.dim() - 2)
    x1, y1, x2, y2 = (b.reshape(view) for b in boxes.unbind(-1))
    u = (points[..., 0] - x1) * (2 / (x2 - x1)) - 1
    v = (points[..., 1] - y1) * (2 / (y2 - y1)) - 1
    return torch.stack([u, v], -1)


def pixel_to_feature_index(points: Tensor, stride: float) -> Tensor:
    """Continuous image pixels -> index coordinates of a feature map at ``stride``.

    ``x / stride - 0.5``: the sample positions of mmcv ``RoIAlign(aligned=True)``.

    Conventions: points ``(..., 2)`` as ``(x, y)``, same shape out.

    >>> import torch
    >>> pixel_to_feature_index(torch.tensor([[8.0, 4.0]]), stride=4).tolist()
    [[1.5, 0.5]]
    """
    return points / stride - 0.5


def feature_index_to_normalized(points: Tensor, size: Sequence[int]) -> Tensor:
    """Index coordinates of a feature map of ``size`` -> ``grid_sample`` coordinates
    (``align_corners=False``).

    Conventions: points ``(..., 2)`` as ``(x, y)``; ``size = (height, width)``.

    >>> import torch
    >>> feature_index_to_normalized(torch.tensor([[-0.5, -0.5], [3.5, 1.5]]), (2, 4)).tolist()
    [[-1.0, -1.0], [1.0, 1.0]]
    """
    return pixel_to_normalized(points + 0.5, size, align_corners=False)


def pixel_to_feature_normalized(points: Tensor, stride: float, size: Sequence[int]) -> Tensor:
    """Continuous image pixels -> normalised coordinates (``align_corners=False``)
    of a feature map of ``size`` at ``stride``.

    >>> import torch
    >>> pixel_to_feature_normalized(torch.tensor([[0.0, 0.0], [16.0, 8.0]]), 4, (2, 4)).tolist()
    [[-1.0, -1.0], [1.0, 1.0]]
    """
    return feature_index_to_normalized(pixel_to_feature_index(points, stride), size)


def pixel_to_feature_index_matrix(stride: float, *, dtype: torch.dtype = torch.float32,
                                  device: torch.device | str | None = None) -> Tensor:
    """3x3 matrix form of :func:`pixel_to_feature_index` (continuous image pixels ->
    index coordinates of a feature map at ``stride``).

    Fused kernels compose it with :func:`roi_frame_matrix` and a transform into one
    matrix per RoI. It is read off :func:`pixel_to_feature_index` itself (images of
    the origin and the unit vectors), so that function stays the only formula.

    Conventions: ``(3, 3)``, continuous image pixel -> feature index coordinates.

    >>> pixel_to_feature_index_matrix(4).tolist()
    [[0.25, 0.0, -0.5], [0.0, 0.25, -0.5], [0.0, 0.0, 1.0]]
    """
    basis = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    origin, ex, ey = pixel_to_feature_index(basis, stride).unbind(0)
    m = torch.eye(3, dtype=torch.float64)
    m[:2, 0], m[:2, 1], m[:2, 2] = ex - origin, ey - origin, origin
    return m.to(dtype=dtype, device=device)


def normalized_to_index(points: Tensor, size, align_corners: bool = False) -> Tensor:
    """Map ``(..., 2)`` normalised points to index coordinates (pixel centres on integers)
    of a map of ``size = (height, width)``.

    The map of :func:`normalized_to_pixel` followed by continuous -> index (``- 0.5``),
    written as arithmetic on the sizes instead of a matrix built from Python ints, so the
    sizes may be traced values (``x.shape[-2:]`` under ``torch.jit.trace``, symbolic
    sizes under ``torch.export``) and an exported graph keeps them dynamic.

    Conventions: points ``(..., 2)`` as ``(x, y)``, same shape out.

    >>> import torch
    >>> normalized_to_index(torch.tensor([[-1.0, -1.0], [1.0, 1.0]]), (2, 4)).tolist()
    [[-0.5, -0.5], [3.5, 1.5]]
    """
    h, w = size
    x, y = points.unbind(-1)
    if align_corners:
        return torch.stack([(x + 1) * ((w - 1) / 2), (y + 1) * ((h - 1) / 2)], -1)
    return torch.stack([(x + 1) * (w / 2) - 0.5, (y + 1) * (h / 2) - 0.5], -1)


def index_to_normalized(points: Tensor, size, align_corners: bool = False) -> Tensor:
    """Inverse of :func:`normalized_to_index`; ``size`` may hold traced sizes likewise.

    >>> import torch
    >>> centre_of_last_pixel = torch.tensor([[3.0, 1.0]])  # of a 2 x 4 map
    >>> index_to_normalized(centre_of_last_pixel, (2, 4)).tolist(), index_to_normalized(
    ...     centre_of_last_pixel, (2, 4), align_corners=True).tolist()
    ([[0.75, 0.5]], [[1.0, 1.0]])
    """
    h, w = size
    x, y = points.unbind(-1)
    if align_corners:
        return torch.stack([x * (2 / (w - 1)) - 1, y * (2 / (h - 1)) - 1], -1)
    return torch.stack([(x + 0.5) * (2 / w) - 1, (y + 0.5) * (2 / h) - 1], -1)
