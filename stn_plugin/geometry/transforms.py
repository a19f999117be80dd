"""Batched transform objects: one interface for matrices, TPS and their compositions.

A transform maps normalised **output** points to normalised **input** points. All
transforms hold a batch of N and provide

* ``map_points(points)``: ``(N or 1, P, 2) -> (N, P, 2)``,
* ``inverse_map_points(points)``: input -> output,
* ``grid(out_size, sampling_ratio, align_corners)``: ``(N, h*r, w*r, 2)`` input
  coordinates of the output sub-samples (what ``F.grid_sample`` wants).

``compose_transforms(a, b)`` is ``a(b(x))``: the transform of a sampler that first
warps by ``a`` and then warps that result by ``b``; the source is resampled once.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from .coords import output_grid
from .matrices import apply_matrix, as_homogeneous, check_invertible, invert, matrix_grid
from .tps import ThinPlateSpline
from .validation import check_size2, check_tensor


def _at_least_float32(t: Tensor) -> Tensor:
    # Sample coordinates in half precision misplace samples by up to a pixel on
    # large inputs, so grids are always computed in float32 or float64.
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


class Transform:
    """Base class of batched output->input transforms.

    ``grid`` always returns float32 or float64 coordinates (half-precision
    parameters are promoted), also under autocast.
    """

    batch_size: int

    def map_points(self, points: Tensor) -> Tensor:
        raise NotImplementedError

    def inverse_map_points(self, points: Tensor) -> Tensor:
        raise NotImplementedError

    def grid(self, out_size: Sequence[int], sampling_ratio: int = 1, align_corners: bool = False) -> Tensor:
        out_size = check_size2(out_size, "out_size")
        dtype = _at_least_float32(torch.empty(0, dtype=self.dtype)).dtype
        base = output_grid(out_size, sampling_ratio, align_corners, dtype=dtype, device=self.device)
        gh, gw = base.shape[:2]
        with torch.autocast(self.device.type, enabled=False):
            pts = self.map_points(base.reshape(1, gh * gw, 2))
        return _at_least_float32(pts).reshape(pts.shape[0], gh, gw, 2)

    def select(self, index) -> "Transform":
        """The transforms of the batch entries picked by ``index`` (slice, bool mask or indices)."""
        raise NotImplementedError

    @property
    def dtype(self) -> torch.dtype:
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        raise NotImplementedError


class MatrixTransform(Transform):
    """Affine or projective transforms as ``(N, 3, 3)`` matrices (``(N, 2, 3)`` accepted)."""

    def __init__(self, matrix: Tensor, affine: bool | None = None) -> None:
        check_tensor(matrix, "matrix", dims=(3,))
        self.matrix = as_homogeneous(matrix, "matrix")
        self.affine = affine
        self.batch_size = self.matrix.shape[0]

    @property
    def dtype(self) -> torch.dtype:
        return self.matrix.dtype

    @property
    def device(self) -> torch.device:
        return self.matrix.device

    def map_points(self, points: Tensor) -> Tensor:
        return apply_matrix(self.matrix, points, self.affine)

    def inverse_map_points(self, points: Tensor) -> Tensor:
        return apply_matrix(invert(self.matrix), points, self.affine)

    def select(self, index) -> "MatrixTransform":
        return MatrixTransform(self.matrix[index], self.affine)

    def inverse(self) -> "MatrixTransform":
        return MatrixTransform(invert(self.matrix), self.affine)

    def grid(self, out_size: Sequence[int], sampling_ratio: int = 1, align_corners: bool = False) -> Tensor:
        h, w = check_size2(out_size, "out_size")
        m = _at_least_float32(self.matrix)
        with torch.autocast(m.device.type, enabled=False):
            return matrix_grid(m, (h, w), sampling_ratio, align_corners, self.affine)


class TPSTransform(Transform):
    """A thin-plate spline with source control points ``(N, K, 2)``."""

    def __init__(self, spline: ThinPlateSpline, control_points: Tensor) -> None:
        self.spline = spline
        self.control_points = spline.check_source(control_points)
        self.batch_size = control_points.shape[0]

    @property
    def dtype(self) -> torch.dtype:
        return self.control_points.dtype

    @property
    def device(self) -> torch.device:
        return self.control_points.device

    def map_points(self, points: Tensor) -> Tensor:
        if points.shape[0] == 1 and self.batch_size != 1:
            points = points.expand(self.batch_size, -1, -1)
        return self.spline.map_points(self.control_points, points)

    def inverse_map_points(self, points: Tensor, **solver_options) -> Tensor:
        if points.shape[0] == 1 and self.batch_size != 1:
            points = points.expand(self.batch_size, -1, -1)
        return self.spline.inverse_map_points(self.control_points, points, **solver_options)

    def grid(self, out_size: Sequence[int], sampling_ratio: int = 1, align_corners: bool = False) -> Tensor:
        cp = _at_least_float32(self.control_points)
        with torch.autocast(cp.device.type, enabled=False):
            return self.spline.grid(cp, check_size2(out_size, "out_size"), sampling_ratio, align_corners)

    def select(self, index) -> "TPSTransform":
        return TPSTransform(self.spline, self.control_points[index])

    def bending_energy(self) -> Tensor:
        return self.spline.bending_energy(self.control_points)


class ComposedTransform(Transform):
    """``outer(inner(x))``: the inner transform is applied to output points first."""

    def __init__(self, outer: Transform, inner: Transform) -> None:
        if outer.batch_size != inner.batch_size:
            raise ValueError(f"cannot compose transforms with batch sizes {outer.batch_size} "
                             f"and {inner.batch_size}")
        self.outer, self.inner = outer, inner
        self.batch_size = outer.batch_size

    @property
    def dtype(self) -> torch.dtype:
        return self.inner.dtype

    @property
    def device(self) -> torch.device:
        return self.inner.device

    def select(self, index) -> "ComposedTransform":
        return ComposedTransform(self.outer.select(index), self.inner.select(index))

    def map_points(self, points: Tensor) -> Tensor:
        return self.outer.map_points(self.inner.map_points(points))

    def inverse_map_points(self, points: Tensor) -> Tensor:
        return self.inner.inverse_map_points(self.outer.inverse_map_points(points))

    def grid(self, out_size: Sequence[int], sampling_ratio: int = 1, align_corners: bool = False) -> Tensor:
        g = self.inner.grid(out_size, sampling_ratio, align_corners)
        n, gh, gw, _ = g.shape
        with torch.autocast(g.device.type, enabled=False):
            pts = self.outer.map_points(g.reshape(n, gh * gw, 2))
        return _at_least_float32(pts).reshape(n, gh, gw, 2)


class InverseTransform(Transform):
    """The inverse of a transform: maps what it maps to back to where it came from.

    For matrices this is the inverse matrix; for TPS each point is solved by Newton's
    method (``solver_options`` go to ``inverse_map_points``, e.g. ``strict=False`` to
    keep the best estimate where the spline folds).
    """

    def __init__(self, transform: Transform, **solver_options) -> None:
        self.transform = transform
        self.solver_options = solver_options
        self.batch_size = transform.batch_size

    @property
    def dtype(self) -> torch.dtype:
        return self.transform.dtype

    @property
    def device(self) -> torch.device:
        return self.transform.device

    def select(self, index) -> "InverseTransform":
        return InverseTransform(self.transform.select(index), **self.solver_options)

    def map_points(self, points: Tensor) -> Tensor:
        if isinstance(self.transform, TPSTransform):
            return self.transform.inverse_map_points(points, **self.solver_options)
        return self.transform.inverse_map_points(points)

    def inverse_map_points(self, points: Tensor) -> Tensor:
        return self.transform.map_points(points)


def invert_transform(transform: Transform, **solver_options) -> Transform:
    """Inverse of any transform; a matrix stays a matrix."""
    if isinstance(transform, MatrixTransform):
        return transform.inverse()
    return InverseTransform(transform, **solver_options)


def compose_transforms(outer: Transform, inner: Transform) -> Transform:
    """``outer(inner(x))``; two matrices collapse into one matrix product."""
    if isinstance(outer, MatrixTransform) and isinstance(inner, MatrixTransform):
        affine = bool(outer.affine and inner.affine) if (outer.affine is not None and inner.affine is not None) else None
        return MatrixTransform(outer.matrix @ inner.matrix, affine)
    return ComposedTransform(outer, inner)


def as_transform(transform) -> Transform:
    """Accept a :class:`Transform` or ``(N, 2|3, 3)`` matrices."""
    if isinstance(transform, Transform):
        return transform
    if isinstance(transform, Tensor):
        affine = True if transform.dim() == 3 and transform.shape[-2] == 2 else None
        return MatrixTransform(transform, affine)
    raise TypeError(f"transform must be a Transform or a (N, 3, 3) / (N, 2, 3) tensor, "
                    f"got {type(transform).__name__}")


__all__ = ["Transform", "MatrixTransform", "TPSTransform", "ComposedTransform", "InverseTransform",
           "compose_transforms", "invert_transform", "as_transform", "check_invertible"]
