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

    Conventions: a batch of N transforms, normalised output ``(x, y)`` -> normalised input
    ``(x, y)``; points ``(N or 1, P, 2)``; grids ``(N, h*r, w*r, 2)`` as ``F.grid_sample``
    takes them.

    >>> import torch
    >>> from stn_plugin.geometry import build_family
    >>> t = build_family("affine").identity(2)  # any family's transforms share this interface
    >>> t.batch_size, t.grid((3, 4)).shape, t.select(slice(0, 1)).batch_size
    (2, torch.Size([2, 3, 4, 2]), 1)
    """

    batch_size: int

    def map_points(self, points: Tensor) -> Tensor:
        raise NotImplementedError

    def inverse_map_points(self, points: Tensor, **solver_options) -> Tensor:
        """Map input points back to output points, ``(N or 1, P, 2) -> (N, P, 2)``.

        ``solver_options`` tune transforms inverted by an iterative solver (TPS:
        ``max_iterations``, ``tolerance``, ``strict``); transforms with a closed-form
        inverse (matrices) need none and do not use them.
        """
        raise NotImplementedError

    def inverse(self, **solver_options) -> "Transform":
        """The inverse transform (``solver_options`` as in :meth:`inverse_map_points`)."""
        return InverseTransform(self, **solver_options)

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
    """Affine or projective transforms as ``(N, 3, 3)`` matrices (``(N, 2, 3)`` accepted).

    ``affine``: ``True`` promises last rows ``(0, 0, 1)`` (no projective divide),
    ``None`` decides from the values. ``check_values=False`` skips the NaN / inf check,
    for matrices computed from values already checked (a family's raw parameters, a
    selection, inverse or product of checked transforms).

    >>> import torch
    >>> shift = MatrixTransform(torch.tensor([[[1.0, 0, 0.5], [0, 1, 0], [0, 0, 1]]]))
    >>> points = torch.tensor([[[0.0, 0.0], [1.0, -1.0]]])  # (N=1, P=2, 2)
    >>> shift.map_points(points).tolist(), shift.inverse_map_points(points).tolist()
    ([[[0.5, 0.0], [1.5, -1.0]]], [[[-0.5, 0.0], [0.5, -1.0]]])
    """

    def __init__(self, matrix: Tensor, affine: bool | None = None, *, check_values: bool = True) -> None:
        check_tensor(matrix, "matrix", dims=(3,), finite=check_values)
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

    def inverse_map_points(self, points: Tensor, **solver_options) -> Tensor:
        return apply_matrix(invert(self.matrix), points, self.affine)

    def select(self, index) -> "MatrixTransform":
        return MatrixTransform(self.matrix[index], self.affine, check_values=False)

    def inverse(self, **solver_options) -> "MatrixTransform":
        """The inverse matrices (a closed form: ``solver_options`` are not needed)."""
        return MatrixTransform(invert(self.matrix), self.affine, check_values=False)

    def grid(self, out_size: Sequence[int], sampling_ratio: int = 1, align_corners: bool = False) -> Tensor:
        h, w = check_size2(out_size, "out_size")
        m = _at_least_float32(self.matrix)
        with torch.autocast(m.device.type, enabled=False):
            return matrix_grid(m, (h, w), sampling_ratio, align_corners, self.affine)


class TPSTransform(Transform):
    """A thin-plate spline with source control points ``(N, K, 2)``.

    ``check_values=False`` skips the NaN / inf check of ``control_points``, for points
    computed from values already checked (a family's raw parameters, a selection).

    Conventions: the spline's target points are fixed normalised *output* points; the
    source control points ``(N, K, 2)`` are where they are sampled in the *input*.

    >>> import torch
    >>> from stn_plugin.geometry import ThinPlateSpline, grid_control_points
    >>> spline = ThinPlateSpline(grid_control_points(3, 3))
    >>> t = TPSTransform(spline, spline.target_points.float()[None])  # sources = targets: identity
    >>> points = torch.tensor([[[0.3, -0.2]]])
    >>> torch.allclose(t.map_points(points), points, atol=1e-6), t.grid((4, 5)).shape
    (True, torch.Size([1, 4, 5, 2]))
    """

    def __init__(self, spline: ThinPlateSpline, control_points: Tensor, *, check_values: bool = True) -> None:
        self.spline = spline
        self.control_points = spline.check_source(control_points, finite=check_values)
        self.batch_size = control_points.shape[0]

    @property
    def dtype(self) -> torch.dtype:
        return self.control_points.dtype

    @property
    def device(self) -> torch.device:
        return self.control_points.device

    def map_points(self, points: Tensor) -> Tensor:
        # shared points (batch 1) keep batch 1: one basis evaluation, broadcast in the matmul
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
        return TPSTransform(self.spline, self.control_points[index], check_values=False)

    def bending_energy(self) -> Tensor:
        return self.spline.bending_energy(self.control_points)


class ComposedTransform(Transform):
    """``outer(inner(x))``: the inner transform is applied to output points first.

    >>> import torch
    >>> from stn_plugin.geometry import build_family
    >>> tps = build_family("tps").identity(1)
    >>> shift = build_family("translation").build(torch.tensor([[0.5, 0.0]]))
    >>> both = ComposedTransform(shift, tps)  # compose_transforms picks this for mixed kinds
    >>> torch.allclose(both.map_points(torch.zeros(1, 1, 2)), torch.tensor([[[0.5, 0.0]]]), atol=1e-6)
    True
    """

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
        return _map_defined(self.outer, self.inner.map_points(points))

    def inverse_map_points(self, points: Tensor, **solver_options) -> Tensor:
        return self.inner.inverse_map_points(self.outer.inverse_map_points(points, **solver_options),
                                             **solver_options)

    def grid(self, out_size: Sequence[int], sampling_ratio: int = 1, align_corners: bool = False) -> Tensor:
        g = self.inner.grid(out_size, sampling_ratio, align_corners)
        n, gh, gw, _ = g.shape
        with torch.autocast(g.device.type, enabled=False):
            pts = _map_defined(self.outer, g.reshape(n, gh * gw, 2))
        return _at_least_float32(pts).reshape(n, gh, gw, 2)


def _map_defined(transform: Transform, points: Tensor) -> Tensor:
    """``transform.map_points(points)`` where the points are defined, NaN where they are
    not (NaN in, e.g. from a projective divide by 0). The undefined points enter as 0, so
    their NaN never reaches the transform's gradient."""
    defined = torch.isfinite(points.detach()).all(-1, keepdim=True)
    mapped = transform.map_points(torch.where(defined, points, 0.0))
    return torch.where(defined, mapped, float("nan"))


class WrappingTransform(Transform):
    """Base of transforms defined on top of another one (``self.transform``): same batch
    size, dtype and device as the wrapped transform.

    >>> import torch
    >>> from stn_plugin.geometry import build_family
    >>> WrappingTransform(build_family("affine").identity(3)).batch_size
    3
    """

    def __init__(self, transform: Transform) -> None:
        self.transform = transform
        self.batch_size = transform.batch_size

    @property
    def dtype(self) -> torch.dtype:
        return self.transform.dtype

    @property
    def device(self) -> torch.device:
        return self.transform.device


class InverseTransform(WrappingTransform):
    """The inverse of a transform: maps what it maps to back to where it came from.

    Its ``map_points`` is the wrapped transform's ``inverse_map_points`` with
    ``solver_options`` (for TPS, Newton's method; e.g. ``strict=False`` keeps the best
    estimate where the spline folds). Matrices invert in closed form instead
    (``MatrixTransform.inverse``); :meth:`Transform.inverse` picks the right one.

    >>> import torch
    >>> from stn_plugin.geometry import build_family
    >>> tps = build_family("tps")
    >>> t = tps.build(tps.identity_params()[None] + 0.05)  # every source point moved by +0.05
    >>> inverse = InverseTransform(t, tolerance=1e-6)
    >>> torch.allclose(inverse.map_points(t.map_points(torch.zeros(1, 1, 2))), torch.zeros(1, 1, 2), atol=1e-5)
    True
    """

    def __init__(self, transform: Transform, **solver_options) -> None:
        super().__init__(transform)
        self.solver_options = solver_options

    def select(self, index) -> "InverseTransform":
        return InverseTransform(self.transform.select(index), **self.solver_options)

    def map_points(self, points: Tensor) -> Tensor:
        return self.transform.inverse_map_points(points, **self.solver_options)

    def inverse_map_points(self, points: Tensor, **solver_options) -> Tensor:
        return self.transform.map_points(points)

    def inverse(self, **solver_options) -> Transform:
        return self.transform


def compose_transforms(outer: Transform, inner: Transform) -> Transform:
    """``outer(inner(x))``; two matrices collapse into one matrix product.

    Conventions: ``outer`` and ``inner`` have the same batch size; the result maps output
    points through ``inner`` first.

    >>> import torch
    >>> shift = MatrixTransform(torch.tensor([[[1.0, 0, 0.5], [0, 1, 0], [0, 0, 1]]]))
    >>> twice = compose_transforms(shift, shift)
    >>> type(twice).__name__, twice.matrix[0, 0, 2].item()
    ('MatrixTransform', 1.0)
    """
    if isinstance(outer, MatrixTransform) and isinstance(inner, MatrixTransform):
        affine = bool(outer.affine and inner.affine) if (outer.affine is not None and inner.affine is not None) else None
        return MatrixTransform(outer.matrix @ inner.matrix, affine, check_values=False)
    return ComposedTransform(outer, inner)


def as_transform(transform) -> Transform:
    """Accept a :class:`Transform` or ``(N, 2|3, 3)`` matrices.

    >>> import torch
    >>> t = as_transform(torch.eye(2, 3)[None])  # (N, 2, 3) is affine by construction
    >>> type(t).__name__, t.affine, t.matrix.shape
    ('MatrixTransform', True, torch.Size([1, 3, 3]))
    """
    if isinstance(transform, Transform):
        return transform
    if isinstance(transform, Tensor):
        affine = True if transform.dim() == 3 and transform.shape[-2] == 2 else None
        return MatrixTransform(transform, affine)
    raise TypeError(f"transform must be a Transform or a (N, 3, 3) / (N, 2, 3) tensor, "
                    f"got {type(transform).__name__}")


__all__ = ["Transform", "MatrixTransform", "TPSTransform", "ComposedTransform", "InverseTransform",
           "compose_transforms", "as_transform", "check_invertible"]
