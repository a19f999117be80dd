"""Transform regularisers and statistics, for any family (pure torch).

All work on a coarse probe grid of output points mapped through the transform, so
one definition serves matrices, TPS and compositions. Each returns ``(N,)``
per-sample values; loss modules average and weight them.
"""
from __future__ import annotations

from typing import Sequence, Tuple

import torch
from torch import Tensor

from .coords import output_grid, roi_frame_to_pixel
from .transforms import TPSTransform, Transform

PROBE_SIZE = (8, 8)


def probe_points(transform: Transform, probe_size: Sequence[int] = PROBE_SIZE) -> Tuple[Tensor, Tensor]:
    """``(output points (1, P, 2), input points (N, P, 2))`` on a coarse output grid.

    >>> from stn_plugin.geometry import build_family
    >>> base, mapped = probe_points(build_family("affine").identity(2))
    >>> base.shape, mapped.shape
    (torch.Size([1, 64, 2]), torch.Size([2, 64, 2]))
    """
    base = output_grid(probe_size, dtype=transform.dtype, device=transform.device).reshape(1, -1, 2)
    return base, transform.map_points(base)


def identity_distance(transform: Transform, probe_size: Sequence[int] = PROBE_SIZE) -> Tensor:
    """Mean squared displacement ``|T(x) - x|^2`` over the probe grid, ``(N,)``.

    >>> import torch
    >>> from stn_plugin.geometry import build_family
    >>> shift = build_family("translation").build(torch.tensor([[3.0, 0.0], [0.0, 0.0]]))
    >>> identity_distance(shift).tolist()
    [9.0, 0.0]
    """
    base, mapped = probe_points(transform, probe_size)
    return (mapped - base).pow(2).sum(-1).mean(-1)


def local_area_scale(transform: Transform, probe_size: Sequence[int] = PROBE_SIZE) -> Tensor:
    """Signed area ratio input/output of each probe cell, ``(N, h-1, w-1)``.

    The determinant of the finite-difference Jacobian: 1 for the identity, below 1
    when the transform zooms in, <= 0 when it folds or collapses.

    >>> import torch
    >>> from stn_plugin.geometry import build_family
    >>> zoom_in = build_family("affine").build(torch.tensor([[0.5, 0, 0, 0, 0.5, 0]]))
    >>> area = local_area_scale(zoom_in)
    >>> area.shape, torch.allclose(area, torch.tensor(0.25))
    (torch.Size([1, 7, 7]), True)
    """
    h, w = probe_size
    _, mapped = probe_points(transform, probe_size)
    g = mapped.reshape(-1, h, w, 2)
    base = output_grid(probe_size, dtype=g.dtype, device=g.device)
    dx = (g[:, :-1, 1:] - g[:, :-1, :-1]) / (base[0, 1, 0] - base[0, 0, 0])
    dy = (g[:, 1:, :-1] - g[:, :-1, :-1]) / (base[1, 0, 1] - base[0, 0, 1])
    return dx[..., 0] * dy[..., 1] - dx[..., 1] * dy[..., 0]


def area_bound_violation(transform: Transform, min_scale: float, max_scale: float,
                         probe_size: Sequence[int] = PROBE_SIZE) -> Tensor:
    """Mean squared excursion of the local area scale outside ``[min_scale, max_scale]``, ``(N,)``.

    >>> import torch
    >>> from stn_plugin.geometry import build_family
    >>> zoom_in = build_family("affine").build(torch.tensor([[0.5, 0, 0, 0, 0.5, 0]]))
    >>> area_bound_violation(zoom_in, 0.5, 4.0).tolist()  # area 0.25 is 0.25 below 0.5
    [0.0625]
    """
    if not 0 <= min_scale < max_scale:
        raise ValueError(f"need 0 <= min_scale < max_scale, got {min_scale}, {max_scale}")
    a = local_area_scale(transform, probe_size)
    return (torch.relu(min_scale - a).pow(2) + torch.relu(a - max_scale).pow(2)).flatten(1).mean(-1)


def outside_excess(grid: Tensor) -> Tensor:
    """Differentiable proxy of sampling outside ``[-1, 1]``: mean overshoot, ``(N,)``.

    Conventions: ``grid (N, ..., 2)`` of normalised input coordinates.

    >>> import torch
    >>> outside_excess(torch.tensor([[[1.5, 0.0], [0.0, 0.5]]])).tolist()  # mean of 0.5 and 0
    [0.25]
    """
    return torch.relu(grid.abs() - 1).sum(-1).flatten(1).mean(-1)


def outside_fraction(grid: Tensor) -> Tensor:
    """Fraction of grid points outside ``[-1, 1]`` in x or y, ``(N,)`` (a statistic).

    Conventions: ``grid (N, ..., 2)`` of normalised input coordinates.

    >>> import torch
    >>> outside_fraction(torch.tensor([[[1.5, 0.0], [0.0, 0.5]]])).tolist()
    [0.5]
    """
    return (grid.abs() > 1).any(-1).flatten(1).float().mean(-1)


def bending_energy(transform: Transform) -> Tensor:
    """TPS bending energy, ``(N,)``; zero for an affine configuration.

    >>> import torch
    >>> from stn_plugin.geometry import build_family
    >>> energy = bending_energy(build_family("tps").identity(2))
    >>> energy.shape, bool((energy.abs() < 1e-5).all())
    (torch.Size([2]), True)
    """
    if not isinstance(transform, TPSTransform):
        raise TypeError(f"bending energy is defined for TPS transforms, got {type(transform).__name__}")
    return transform.bending_energy()


def roi_sample_points(transform: Transform, boxes: Tensor, probe_size: Sequence[int] = PROBE_SIZE) -> Tensor:
    """Image-pixel positions ``(N, P, 2)`` of a probe grid sampled through per-RoI transforms.

    ``transform`` works in the RoI frame of ``boxes (N, 4)`` = ``(x1, y1, x2, y2)``.

    >>> import torch
    >>> from stn_plugin.geometry import build_family
    >>> boxes = torch.tensor([[0.0, 0.0, 8.0, 8.0]])
    >>> roi_sample_points(build_family("affine").identity(1), boxes, probe_size=(2, 2)).tolist()
    [[[2.0, 2.0], [6.0, 2.0], [2.0, 6.0], [6.0, 6.0]]]
    """
    return roi_frame_to_pixel(probe_points(transform, probe_size)[1], boxes)


def roi_transform_statistics(transform: Transform, boxes: Tensor, image_size: Sequence[int]) -> dict:
    """Monitoring statistics of per-RoI transforms (batch means, floats).

    * ``identity_distance``: mean squared displacement from the plain box (RoI frame);
    * ``area_scale``: mean local area ratio ``|det|`` (1 = same size; near 0 =
      collapsing), unsigned, so that a mirrored transform keeps its area;
    * ``min_area_scale``: the smallest per-RoI mean area ratio;
    * ``mirrored_fraction``: fraction of probe cells whose orientation is reversed
      (negative determinant): 1 for a mirror, between 0 and 1 for a fold;
    * ``outside_fraction``: fraction of sample points outside the image ``(h, w)``.

    >>> import torch
    >>> from stn_plugin.geometry import build_family
    >>> box = torch.tensor([[0.0, 0.0, 8.0, 8.0]])
    >>> roi_transform_statistics(build_family("affine").identity(1), box, (16, 16))  # doctest: +NORMALIZE_WHITESPACE
    {'identity_distance': 0.0, 'area_scale': 1.0, 'min_area_scale': 1.0, 'mirrored_fraction': 0.0,
     'outside_fraction': 0.0}
    >>> mirror = build_family("affine").build(torch.tensor([[-1.0, 0, 0, 0, 1, 0]]))
    >>> stats = roi_transform_statistics(mirror, box, (16, 16))
    >>> stats["area_scale"], stats["mirrored_fraction"]  # a mirror keeps its area
    (1.0, 1.0)
    """
    if transform.batch_size == 0:
        return {}
    with torch.no_grad():
        signed = local_area_scale(transform).flatten(1)
        area = signed.abs().mean(1)
        pts = roi_sample_points(transform, boxes)
        h, w = image_size
        outside = ((pts[..., 0] < 0) | (pts[..., 0] > w) | (pts[..., 1] < 0) | (pts[..., 1] > h)).float()
        return dict(identity_distance=identity_distance(transform).mean().item(),
                    area_scale=area.mean().item(), min_area_scale=area.min().item(),
                    mirrored_fraction=(signed < 0).float().mean().item(),
                    outside_fraction=outside.mean().item())
