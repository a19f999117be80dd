"""3x3 homogeneous transforms: composition, inversion, point mapping, grids.

Matrices are ``(..., 3, 3)``; affine ones have last row ``(0, 0, 1)``. A matrix
maps output coordinates to input coordinates (the sampler pulls), so chaining
transform ``A`` (applied by the first sampler) then ``B`` gives ``A @ B``.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from .coords import sample_positions_1d
from .validation import check_tensor

# |det| below this (relative to the matrix scale) counts as singular.
SINGULAR_TOLERANCE = 1e-6


def as_homogeneous(matrix: Tensor, name: str = "matrix") -> Tensor:
    """Accept ``(..., 2, 3)`` affine or ``(..., 3, 3)`` matrices; return ``(..., 3, 3)``."""
    check_tensor(matrix, name, dims=None)
    if matrix.dim() < 2 or matrix.shape[-1] != 3 or matrix.shape[-2] not in (2, 3):
        raise ValueError(f"{name} must have shape (..., 2, 3) or (..., 3, 3), got {tuple(matrix.shape)}")
    if matrix.shape[-2] == 3:
        return matrix
    last = matrix.new_zeros(matrix.shape[:-2] + (1, 3))
    last[..., 0, 2] = 1
    return torch.cat([matrix, last], dim=-2)


def identity_matrix(batch: int | Sequence[int] = (), *, dtype: torch.dtype = torch.float32,
                    device: torch.device | str | None = None) -> Tensor:
    """Identity matrices of shape ``(*batch, 3, 3)``."""
    batch = (batch,) if isinstance(batch, int) else tuple(batch)
    return torch.eye(3, dtype=dtype, device=device).expand(*batch, 3, 3).clone()


def compose(*matrices: Tensor) -> Tensor:
    """``compose(A, B, C) = A @ B @ C``: apply ``C`` to output points first."""
    if not matrices:
        raise ValueError("compose needs at least one matrix")
    out = as_homogeneous(matrices[0], "matrices[0]")
    for i, m in enumerate(matrices[1:], 1):
        out = out @ as_homogeneous(m, f"matrices[{i}]")
    return out


def check_invertible(matrix: Tensor, name: str = "matrix") -> None:
    """Raise if any matrix is singular or numerically so (condition number > 1e12).

    The condition number does not depend on the units of the coordinates, so pixel
    matrices with large translations and tiny perspective terms are judged fairly.
    """
    m = as_homogeneous(matrix, name).double()
    cond = torch.linalg.cond(m)
    bad = ~(cond <= 1.0 / SINGULAR_TOLERANCE ** 2)
    if bool(bad.any()):
        idx = bad.nonzero()[0].tolist()
        raise ValueError(f"{name} is singular (or nearly so) at index {idx}: condition number "
                         f"{cond[tuple(idx)].item():.3g}; it cannot be inverted")


def invert(matrix: Tensor) -> Tensor:
    """Inverse of ``(..., 3, 3)`` (or ``(..., 2, 3)``) matrices; raises on singular ones."""
    m = as_homogeneous(matrix)
    check_invertible(m)
    return torch.linalg.inv(m)


def apply_matrix(matrix: Tensor, points: Tensor, affine: bool | None = None) -> Tensor:
    """Map ``(..., P, 2)`` points through ``(..., 3, 3)`` matrices (projective divide).

    Leading dimensions broadcast. Returns ``(..., P, 2)``. ``affine=True`` promises
    the last row is ``(0, 0, 1)`` and skips the divide; ``None`` decides from the
    values (and keeps the divide whenever the matrix needs a gradient, so a learned
    perspective row still gets one).
    """
    m = as_homogeneous(matrix)
    check_tensor(points, "points", last_dims=(2,), finite=False)
    dtype = torch.promote_types(m.dtype, points.dtype)
    m, points = m.to(dtype), points.to(dtype)
    lin = points @ m[..., :2, :2].transpose(-1, -2) + m[..., None, :2, 2]
    if affine or (affine is None and _is_affine(m)):
        return lin
    w = points @ m[..., 2:, :2].transpose(-1, -2) + m[..., None, 2:, 2]
    return lin / w


def _is_affine(m: Tensor) -> bool:
    # Python-side check so affine matrices skip the divide (and its gradient).
    if m.requires_grad:
        return False
    last = m[..., 2, :]
    return bool((last[..., :2] == 0).all() and (last[..., 2] == 1).all())


def matrix_grid(matrix: Tensor, out_size: Sequence[int], sampling_ratio: int = 1,
                align_corners: bool = False, affine: bool | None = None) -> Tensor:
    """Sampling grid ``(N, h*r, w*r, 2)`` of input coordinates for ``(N, 3, 3)`` matrices.

    The output grid is :func:`~stn_plugin.geometry.coords.output_grid`; the result is
    in the normalised input coordinates ``F.grid_sample`` expects. The regular grid
    is separable, so each output coordinate plane is ``m0 * x + (m1 * y + m2)`` built
    by broadcasting a row and a column -- several times cheaper than a batched
    matrix product over all points (what ``F.affine_grid`` does). The result is a
    channels-last view, which ``F.grid_sample`` reads without a copy.
    """
    m = as_homogeneous(matrix)
    h, w = out_size
    xs = sample_positions_1d(w, sampling_ratio, align_corners, dtype=m.dtype, device=m.device)
    ys = sample_positions_1d(h, sampling_ratio, align_corners, dtype=m.dtype, device=m.device)
    is_affine = affine or (affine is None and _is_affine(m))
    rows = m[:, :2] if is_affine else m  # (N, R, 3)
    planes = rows[..., 0, None, None] * xs + (rows[..., 1, None, None] * ys[:, None] + rows[..., 2, None, None])
    grid = planes if is_affine else planes[:, :2] / planes[:, 2:]
    return grid.permute(0, 2, 3, 1)
