"""3x3 homogeneous transforms: composition, inversion, point mapping, grids.

Matrices are ``(..., 3, 3)``; affine ones have last row ``(0, 0, 1)``. A matrix
maps output coordinates to input coordinates (the sampler pulls), so chaining
transform ``A`` (applied by the first sampler) then ``B`` gives ``A @ B``.
"""
from __future__ import annotations

from typing import Sequence, Union

import torch
from torch import Tensor

from .coords import sample_positions_1d
from .validation import check_tensor, is_tracing

# |det| below this (relative to the matrix scale) counts as singular.
SINGULAR_TOLERANCE = 1e-6
# A homogeneous coordinate w with |w| <= this many machine epsilons times the sum of the
# magnitudes of its terms is 0 up to rounding: the point is undefined.
UNDEFINED_W_EPS = 8
# Three of four points whose triangle has |twice its area| at most this fraction of the
# squared extent of the points count as collinear: no homography maps them.
COLLINEAR_TOLERANCE = 1e-9
# A solved homography must map the 4 points to within this fraction of their extent.
HOMOGRAPHY_TOLERANCE = 1e-6


def projective_divide(xy: Tensor, w: Tensor, w_magnitude: Tensor) -> Tensor:
    """``xy / w`` for homogeneous points, NaN where the point is *undefined*.

    ``xy`` is ``(..., 2)``, ``w`` and ``w_magnitude`` broadcast to ``(..., 1)``;
    ``w_magnitude`` is the sum of the magnitudes of the terms that make up ``w`` (e.g.
    ``|m20 x| + |m21 y| + |m22|``). A point is undefined where ``w`` is 0 up to rounding
    (``|w| <= UNDEFINED_W_EPS * eps * w_magnitude``) or the quotient is not finite: it
    maps to no point, and both its coordinates are NaN. The NaN carries no gradient, and
    the gradients of the defined points are those of ``xy / w``, so a caller that masks
    the undefined points out gets finite gradients.

    >>> import torch
    >>> xy, w = torch.tensor([[2.0, 4.0], [1.0, 1.0]]), torch.tensor([[2.0], [0.0]])
    >>> projective_divide(xy, w, w_magnitude=torch.tensor([[2.0], [1.0]])).tolist()
    [[1.0, 2.0], [nan, nan]]
    """
    with torch.no_grad():
        tol = UNDEFINED_W_EPS * torch.finfo(w.dtype).eps
        defined = (w.abs() > tol * w_magnitude) & torch.isfinite(xy / w).all(-1, keepdim=True)
    safe = torch.where(defined, xy, 0.0) / torch.where(defined, w, 1.0)
    return torch.where(defined, safe, float("nan"))


def as_homogeneous(matrix: Tensor, name: str = "matrix") -> Tensor:
    """Accept ``(..., 2, 3)`` affine or ``(..., 3, 3)`` matrices; return ``(..., 3, 3)``.

    Checks the shape and dtype only: values are checked where a matrix enters as a
    transform (:class:`~stn_plugin.geometry.transforms.MatrixTransform`).

    Conventions: ``(..., 2, 3)`` gets the row ``(0, 0, 1)``; ``(..., 3, 3)`` is returned as is.

    >>> import torch
    >>> as_homogeneous(torch.eye(2, 3)[None]).tolist()
    [[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]]
    """
    check_tensor(matrix, name, dims=None, finite=False)
    if matrix.dim() < 2 or matrix.shape[-1] != 3 or matrix.shape[-2] not in (2, 3):
        raise ValueError(f"{name} must have shape (..., 2, 3) or (..., 3, 3), got {tuple(matrix.shape)}")
    if matrix.shape[-2] == 3:
        return matrix
    last = matrix.new_zeros(matrix.shape[:-2] + (1, 3))
    last[..., 0, 2] = 1
    return torch.cat([matrix, last], dim=-2)


def identity_matrix(batch: int | Sequence[int] = (), *, dtype: torch.dtype = torch.float32,
                    device: torch.device | str | None = None) -> Tensor:
    """Identity matrices of shape ``(*batch, 3, 3)``.

    >>> identity_matrix(2).shape, identity_matrix((2, 5)).shape
    (torch.Size([2, 3, 3]), torch.Size([2, 5, 3, 3]))
    """
    batch = (batch,) if isinstance(batch, int) else tuple(batch)
    return torch.eye(3, dtype=dtype, device=device).expand(*batch, 3, 3).clone()


def compose(*matrices: Tensor) -> Tensor:
    """``compose(A, B, C) = A @ B @ C``: apply ``C`` to output points first.

    Conventions: ``(..., 3, 3)`` (or ``(..., 2, 3)``) matrices, output -> input coordinates;
    leading dimensions broadcast.

    >>> import torch
    >>> scale = torch.tensor([[2.0, 0, 0], [0, 2, 0], [0, 0, 1]])
    >>> shift = torch.tensor([[1.0, 0, 0.5], [0, 1, 0], [0, 0, 1]])
    >>> compose(scale, shift).tolist()  # x -> 2 * (x + 0.5)
    [[2.0, 0.0, 1.0], [0.0, 2.0, 0.0], [0.0, 0.0, 1.0]]
    """
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
    NaN / inf entries count as singular. A value check: skipped while tracing (see
    :func:`~stn_plugin.geometry.validation.is_tracing`).

    >>> import torch
    >>> check_invertible(torch.eye(3)[None])  # fine: nothing raised
    >>> check_invertible(torch.tensor([[[1.0, 2, 0], [2, 4, 0], [0, 0, 1]]]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: matrix is singular (or nearly so) at index [0]: condition number ...; it cannot be inverted
    """
    if is_tracing():
        return
    m = as_homogeneous(matrix, name).double()
    cond = torch.linalg.cond(m)
    bad = ~(cond <= 1.0 / SINGULAR_TOLERANCE ** 2)
    if bool(bad.any()):
        idx = bad.nonzero()[0].tolist()
        raise ValueError(f"{name} is singular (or nearly so) at index {idx}: condition number "
                         f"{cond[tuple(idx)].item():.3g}; it cannot be inverted")


def invert(matrix: Tensor) -> Tensor:
    """Inverse of ``(..., 3, 3)`` (or ``(..., 2, 3)``) matrices; raises on singular ones.

    Conventions: the inverse maps input coordinates back to output coordinates.

    >>> import torch
    >>> invert(torch.tensor([[2.0, 0, 0], [0, 2, 0], [0, 0, 1]])).tolist()
    [[0.5, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.0, 1.0]]
    """
    m = as_homogeneous(matrix)
    check_invertible(m)
    return torch.linalg.inv(m)


def apply_matrix(matrix: Tensor, points: Tensor, affine: bool | None = None) -> Tensor:
    """Map ``(..., P, 2)`` points through ``(..., 3, 3)`` matrices (projective divide).

    Leading dimensions broadcast. Returns ``(..., P, 2)``; points the matrix sends to
    infinity (``w = 0``) are NaN, see :func:`projective_divide`. ``affine=True`` promises
    the last row is ``(0, 0, 1)`` and skips the divide; ``None`` decides from the
    values (and keeps the divide whenever the matrix needs a gradient, so a learned
    perspective row still gets one).

    >>> import torch
    >>> m = torch.tensor([[2.0, 0, 1], [0, 2, 0], [0, 0, 1]])
    >>> apply_matrix(m, torch.tensor([[0.0, 0.0], [1.0, 1.0]])).tolist()
    [[1.0, 0.0], [3.0, 2.0]]
    >>> perspective = torch.tensor([[1.0, 0, 0], [0, 1, 0], [0.5, 0, 1]])
    >>> apply_matrix(perspective, torch.tensor([[2.0, 2.0]])).tolist()  # divided by w = 2
    [[1.0, 1.0]]
    """
    m = as_homogeneous(matrix)
    check_tensor(points, "points", last_dims=(2,), finite=False)
    dtype = torch.promote_types(m.dtype, points.dtype)
    m, points = m.to(dtype), points.to(dtype)
    lin = points @ m[..., :2, :2].transpose(-1, -2) + m[..., None, :2, 2]
    if affine or (affine is None and _is_affine(m)):
        return lin
    w = points @ m[..., 2:, :2].transpose(-1, -2) + m[..., None, 2:, 2]
    w_magnitude = points.detach().abs() @ m[..., 2:, :2].detach().abs().transpose(-1, -2) \
        + m[..., None, 2:, 2].detach().abs()
    return projective_divide(lin, w, w_magnitude)


def has_affine_last_row(m: Tensor) -> bool:
    """Whether every ``(..., 3, 3)`` matrix has the last row ``(0, 0, 1)`` exactly, so
    that no point is undefined and ``w = 1``. A host-side check of the values: ``False``
    while tracing, where they are unknown (callers then keep the general formula, which
    is exact for affine matrices too).

    >>> import torch
    >>> has_affine_last_row(torch.eye(3)), has_affine_last_row(torch.tensor([[1.0, 0, 0], [0, 1, 0], [0.5, 0, 1]]))
    (True, False)
    """
    if is_tracing():
        return False
    last = m.detach()[..., 2, :]
    return bool((last[..., :2] == 0).all() and (last[..., 2] == 1).all())


def _is_affine(m: Tensor) -> bool:
    # affine matrices skip the divide -- and with it the gradient of the last row, so
    # only where none is needed
    return not m.requires_grad and has_affine_last_row(m)


def matrix_grid(matrix: Tensor, out_size: Sequence[int], sampling_ratio: int = 1,
                align_corners: bool = False, affine: bool | None = None) -> Tensor:
    """Sampling grid ``(N, h*r, w*r, 2)`` of input coordinates for ``(N, 3, 3)`` matrices.

    The output grid is :func:`~stn_plugin.geometry.coords.output_grid`; the result is
    in the normalised input coordinates ``F.grid_sample`` expects. The regular grid
    is separable, so each output coordinate plane is ``m0 * x + (m1 * y + m2)`` built
    by broadcasting a row and a column -- several times cheaper than a batched
    matrix product over all points (what ``F.affine_grid`` does). The result is a
    channels-last view, which ``F.grid_sample`` reads without a copy.

    >>> import torch
    >>> from stn_plugin.geometry.coords import output_grid
    >>> grid = matrix_grid(torch.eye(3)[None], (2, 3), sampling_ratio=2)  # identity: the output grid
    >>> grid.shape, torch.allclose(grid[0], output_grid((2, 3), 2))
    (torch.Size([1, 4, 6, 2]), True)
    """
    m = as_homogeneous(matrix)
    h, w = out_size
    xs = sample_positions_1d(w, sampling_ratio, align_corners, dtype=m.dtype, device=m.device)
    ys = sample_positions_1d(h, sampling_ratio, align_corners, dtype=m.dtype, device=m.device)
    is_affine = affine or (affine is None and _is_affine(m))
    rows = m[:, :2] if is_affine else m  # (N, R, 3)
    planes = rows[..., 0, None, None] * xs + (rows[..., 1, None, None] * ys[:, None] + rows[..., 2, None, None])
    if is_affine:
        return planes.permute(0, 2, 3, 1)
    a = m[:, 2].detach().abs()
    w_magnitude = a[:, 0, None, None] * xs.abs() + (a[:, 1, None, None] * ys[:, None].abs() + a[:, 2, None, None])
    return projective_divide(planes[:, :2].permute(0, 2, 3, 1), planes[:, 2, ..., None], w_magnitude[..., None])


def homography_from_points(src: Union[Tensor, Sequence], dst: Union[Tensor, Sequence]) -> Tensor:
    """``(..., 3, 3)`` float64 homographies ``H`` with ``H src_i ~ dst_i`` for 4 point pairs.

    ``src`` and ``dst`` are ``(..., 4, 2)`` points (tensors, arrays or nested lists;
    leading dimensions broadcast), in any one coordinate system; ``H`` maps ``src`` to
    ``dst`` with the projective divide (:func:`apply_matrix`). The 8x8 direct linear
    system of ``cv2.getPerspectiveTransform`` (``h33 = 1``) is solved in float64
    whatever the input dtype. Raises ``ValueError`` naming the batch index when three
    of the four points of ``src`` or ``dst`` are collinear (the quadrilateral is
    degenerate), or when ``H`` has ``h33 = 0`` (it sends ``src``'s origin to infinity).

    >>> import torch
    >>> src = torch.tensor([[0.0, 0.0], [4.0, 0.0], [4.0, 2.0], [0.0, 2.0]])
    >>> dst = torch.tensor([[1.0, 1.0], [5.0, 1.0], [4.0, 3.0], [2.0, 3.0]])
    >>> h = homography_from_points(src, dst)
    >>> [[round(v, 9) + 0.0 for v in row] for row in h.tolist()]
    [[1.0, 1.5, 1.0], [0.0, 2.5, 1.0], [0.0, 0.5, 1.0]]
    >>> torch.allclose(apply_matrix(h, src.double()), dst.double())
    True
    >>> homography_from_points(src, [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [0.0, 5.0]])
    Traceback (most recent call last):
    ...
    ValueError: dst has three collinear points (index []): no homography maps 4 points onto them
    """
    src, dst = _as_points4(src, "src"), _as_points4(dst, "dst")
    src, dst = torch.broadcast_tensors(src, dst)
    x, y = src.unbind(-1)
    u, v = dst.unbind(-1)
    one, zero = torch.ones_like(x), torch.zeros_like(x)
    rows_u = torch.stack([x, y, one, zero, zero, zero, -u * x, -u * y], -1)  # (..., 4, 8)
    rows_v = torch.stack([zero, zero, zero, x, y, one, -v * x, -v * y], -1)
    a = torch.cat([rows_u, rows_v], -2)  # (..., 8, 8)
    b = torch.cat([u, v], -1)[..., None]  # (..., 8, 1)
    h, info = torch.linalg.solve_ex(a, b)
    h = torch.cat([h[..., 0], one[..., :1]], -1).reshape(*h.shape[:-2], 3, 3)
    # a singular system (h33 = 0) can solve to finite garbage: check that H does its job
    extent = (dst - dst.mean(-2, keepdim=True)).abs().amax((-2, -1))
    error = (apply_matrix(h, src, affine=False) - dst).abs().amax((-2, -1))
    bad = (info != 0) | ~(error <= HOMOGRAPHY_TOLERANCE * extent)
    if bool(bad.any()):
        idx = bad.nonzero()[0].tolist()
        raise ValueError(f"no homography with h33 = 1 maps src onto dst (index {idx}): it would send src's "
                         "origin (0, 0) to infinity")
    return h


def _as_points4(points: Union[Tensor, Sequence], name: str) -> Tensor:
    """``points`` as a float64 ``(..., 4, 2)`` tensor; raises unless no three are collinear."""
    p = points.to(torch.float64) if isinstance(points, Tensor) else torch.tensor(points, dtype=torch.float64)
    if p.dim() < 2 or p.shape[-2:] != (4, 2):
        raise ValueError(f"{name} must have shape (..., 4, 2), got {tuple(p.shape)}")
    if not bool(torch.isfinite(p).all()):
        raise ValueError(f"{name} must be finite")
    extent = (p - p.mean(-2, keepdim=True)).abs().amax((-2, -1))
    collinear = torch.zeros(p.shape[:-2], dtype=torch.bool, device=p.device)
    for i, j, k in ((0, 1, 2), (0, 1, 3), (0, 2, 3), (1, 2, 3)):
        e1, e2 = p[..., j, :] - p[..., i, :], p[..., k, :] - p[..., i, :]
        cross = e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0]
        collinear |= cross.abs() <= COLLINEAR_TOLERANCE * extent ** 2
    if bool(collinear.any()):
        idx = collinear.nonzero()[0].tolist()
        raise ValueError(f"{name} has three collinear points (index {idx}): no homography maps 4 points onto them")
    return p
