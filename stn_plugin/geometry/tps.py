"""Thin-plate splines: the kernel system, grids, inversion and bending energy.

A TPS here maps normalised **output** points to normalised **input** points. It is
fixed by K *target* control points ``c_k`` (in output coordinates, fixed for a
module) and K *source* points ``p_k`` (in input coordinates, usually predicted):
``f(c_k) = p_k`` and ``f(x) = a_0 + A x + sum_k w_k U(|x - c_k|)`` with
``U(r) = r^2 log r^2`` and the side conditions ``sum w_k = 0``, ``sum w_k c_k = 0``.

The (K+3)x(K+3) system depends only on the targets, so it is inverted once in
float64 and kept. Grids for an output size are a fixed ``(P, K)`` basis times the
source points, computed in float64 on first use per (size, device) and cached
outside any state dict: nothing depends on a resolution baked into a checkpoint.
"""
from __future__ import annotations

from typing import Dict, Sequence, Tuple

import torch
from torch import Tensor

from .coords import output_grid
from .validation import check_tensor

_LOG_FLOOR = 1e-300  # r^2 log r^2 -> 0 as r -> 0; the floor keeps log finite in float64


def tps_kernel(points: Tensor, centres: Tensor) -> Tensor:
    """``U(|x - c|) = r^2 log r^2`` for ``points (..., P, 2)``, ``centres (K, 2)`` -> ``(..., P, K)``.

    Conventions: float64 inputs (the floor that keeps ``U(0) = 0`` is below float32's range).

    >>> import torch
    >>> u = tps_kernel(torch.tensor([[0.0, 0.0], [2.0, 0.0]], dtype=torch.float64),
    ...                torch.zeros(1, 2, dtype=torch.float64))
    >>> u.shape, u[0, 0].item() == 0, round(u[1, 0].item(), 4)  # U(0) = 0, U(2) = 4 log 4
    (torch.Size([2, 1]), True, 5.5452)
    """
    # per-axis differences and in-place ops: a (..., P, K, 2) temporary summed over its last
    # axis costs 5x as much, and the grids of crops of many sizes are dominated by this
    dx = points[..., :, None, 0] - centres[:, 0]
    dy = points[..., :, None, 1] - centres[:, 1]
    if torch.is_grad_enabled() and (points.requires_grad or centres.requires_grad):
        d2 = dx * dx + dy * dy
        return d2 * torch.log(d2.clamp_min(_LOG_FLOOR))
    d2 = dx.mul_(dx).addcmul_(dy, dy)
    return torch.log(d2.clamp_min(_LOG_FLOOR)).mul_(d2)


def grid_control_points(rows: int, cols: int, margin: float = 0.0) -> Tensor:
    """``rows x cols`` targets on a regular grid inside ``[-1 + margin, 1 - margin]``; ``(K, 2)``.

    Conventions: ``(x, y)`` in normalised output coordinates, row-major (top row first), float64.

    >>> grid_control_points(2, 3).tolist()
    [[-1.0, -1.0], [0.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [0.0, 1.0], [1.0, 1.0]]
    """
    if rows < 2 or cols < 2:
        raise ValueError(f"a control-point grid needs rows >= 2 and cols >= 2, got {rows}x{cols}")
    lim = 1.0 - margin
    ys, xs = torch.linspace(-lim, lim, rows, dtype=torch.float64), torch.linspace(-lim, lim, cols, dtype=torch.float64)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx.flatten(), gy.flatten()], -1)


def text_control_points(num_points: int, margin_x: float = 0.05, margin_y: float = 0.05) -> Tensor:
    """ASTER-style targets: ``K/2`` evenly along the top and ``K/2`` along the bottom edge.

    Conventions: ``(K, 2)`` ``(x, y)`` in normalised output coordinates, the top edge left to
    right, then the bottom edge left to right; float64.

    >>> text_control_points(4, margin_x=0.0, margin_y=0.0).tolist()
    [[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]]
    """
    if num_points < 4 or num_points % 2:
        raise ValueError(f"text control points need an even num_points >= 4, got {num_points}")
    xs = torch.linspace(-1 + margin_x, 1 - margin_x, num_points // 2, dtype=torch.float64)
    top = torch.stack([xs, torch.full_like(xs, -1 + margin_y)], -1)
    bottom = torch.stack([xs, torch.full_like(xs, 1 - margin_y)], -1)
    return torch.cat([top, bottom], 0)


class ThinPlateSpline:
    """TPS with fixed target control points ``(K, 2)`` (normalised output coordinates).

    Methods take source control points ``(N, K, 2)`` (normalised input coordinates)
    in any floating dtype; maths that needs precision runs in float64 / float32.

    >>> import torch
    >>> spline = ThinPlateSpline(grid_control_points(3, 3))
    >>> sources = spline.target_points[None] * 0.5  # (N=1, K=9, 2): a zoom into the centre
    >>> points = torch.tensor([[[1.0, -0.5]]], dtype=torch.float64)
    >>> mapped = spline.map_points(sources, points)  # an affine configuration stays affine
    >>> torch.allclose(mapped, torch.tensor([[[0.5, -0.25]]], dtype=torch.float64))
    True
    >>> spline.grid(sources, (4, 6)).shape, float(spline.bending_energy(sources)) < 1e-12
    (torch.Size([1, 4, 6, 2]), True)
    """

    def __init__(self, target_points: Tensor) -> None:
        check_tensor(target_points, "target_points", dims=(2,), last_dims=(None, 2))
        k = target_points.shape[0]
        if k < 3:
            raise ValueError(f"a thin-plate spline needs at least 3 control points, got K={k}")
        c = target_points.detach().to(torch.float64, copy=True).cpu()
        system = torch.zeros(k + 3, k + 3, dtype=torch.float64)
        system[:k, :k] = tps_kernel(c, c)
        system[:k, k] = system[k, :k] = 1.0
        system[:k, k + 1:] = c
        system[k + 1:, :k] = c.T
        cond = torch.linalg.cond(system)
        if not torch.isfinite(cond) or cond > 1e12:
            raise ValueError("target_points are degenerate (duplicate or all collinear): the TPS "
                             f"system is singular (condition number {cond.item():.3g})")
        self.num_points = k
        self.target_points = c
        # Inverse of [[K, P], [P^T, 0]]; only its first K columns are ever needed.
        self._system_inverse = torch.linalg.inv(system)[:, :k].contiguous()
        self._cache: Dict[Tuple, Tensor] = {}

    # -- cached float64 constants, moved per device ------------------------------------
    def _const(self, name: str, device: torch.device) -> Tensor:
        key = (name, str(device))
        if key not in self._cache:
            self._cache[key] = getattr(self, name).to(device)
        return self._cache[key]

    def basis(self, points: Tensor) -> Tensor:
        """``(..., P, K)`` weights with ``f(points) = basis @ source_points``.

        Computed in float64 and returned in float64.
        """
        pts = points.to(torch.float64)
        c = self._const("target_points", pts.device)
        inv, k = self._const("_system_inverse", pts.device), self.num_points
        flat = pts.reshape(-1, 2)
        # [U, 1, x, y] @ inv, without building the lifted (P, K + 3) matrix
        out = torch.addmm(inv[k], flat, inv[k + 1:]).addmm_(tps_kernel(flat, c), inv[:k])
        return out.reshape(*pts.shape[:-1], k)

    def grid_basis(self, out_size: Sequence[int], sampling_ratio: int = 1, align_corners: bool = False,
                   device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> Tensor:
        """Cached basis ``(h*r * w*r, K)`` for the regular output grid.

        Computed in float64, kept in ``dtype`` (float32 for half-precision callers:
        the basis is summed over K terms and should not be rounded to 8 bits).
        """
        device = torch.device(device) if device is not None else torch.device("cpu")
        if dtype not in (torch.float32, torch.float64):
            dtype = torch.float32
        key = ("grid", tuple(out_size), sampling_ratio, align_corners, str(device), dtype)
        if key not in self._cache:
            if len(self._cache) > 32:  # many sizes seen: forget the oldest
                self._cache.pop(next(k for k in self._cache if k[0] == "grid"), None)
            base = output_grid(out_size, sampling_ratio, align_corners, dtype=torch.float64)
            self._cache[key] = self.basis(base.reshape(-1, 2)).to(device=device, dtype=dtype)
        return self._cache[key]

    # -- mapping ------------------------------------------------------------------------
    def check_source(self, source_points: Tensor, name: str = "control_points", finite: bool = False) -> Tensor:
        """Check source control points ``(N, K, 2)``; values (NaN / inf) only if ``finite``,
        which :class:`~stn_plugin.geometry.transforms.TPSTransform` asks for once."""
        return check_tensor(source_points, name, dims=(3,), last_dims=(self.num_points, 2), finite=finite)

    def grid(self, source_points: Tensor, out_size: Sequence[int], sampling_ratio: int = 1,
             align_corners: bool = False) -> Tensor:
        """Sampling grid ``(N, h*r, w*r, 2)`` of normalised input coordinates."""
        self.check_source(source_points)
        basis = self.grid_basis(out_size, sampling_ratio, align_corners, source_points.device,
                                source_points.dtype)
        if not torch.is_autocast_enabled(source_points.device.type):
            basis = basis.to(source_points.dtype)
        g = torch.matmul(basis, source_points)  # (N, P, 2)
        h, w = out_size
        return g.reshape(source_points.shape[0], h * sampling_ratio, w * sampling_ratio, 2)

    def map_points(self, source_points: Tensor, points: Tensor) -> Tensor:
        """Map output points ``(N or 1, P, 2)`` to input points ``(N, P, 2)``."""
        self.check_source(source_points)
        check_tensor(points, "points", dims=(3,), last_dims=(None, 2))
        return torch.matmul(self.basis(points).to(source_points.dtype), source_points)

    def coefficients(self, source_points: Tensor) -> Tuple[Tensor, Tensor]:
        """Kernel weights ``W (N, K, 2)`` and affine part ``A (N, 3, 2)`` (rows: 1, x, y), float64."""
        sol = self._const("_system_inverse", source_points.device) @ source_points.to(torch.float64)
        return sol[:, : self.num_points], sol[:, self.num_points:]

    def jacobian(self, source_points: Tensor, points: Tensor) -> Tensor:
        """``(N, P, 2, 2)`` Jacobian ``d f / d x`` at ``points (N, P, 2)`` (float64)."""
        w, a = self.coefficients(source_points)
        x = points.to(torch.float64)
        diff = x[..., :, None, :] - self._const("target_points", x.device)  # (N, P, K, 2)
        d2 = diff.pow(2).sum(-1, keepdim=True)
        dU = 2 * diff * (torch.log(d2.clamp_min(_LOG_FLOOR)) + 1)  # dU/dx, 0 at the centres
        dU = torch.where(d2 > 0, dU, torch.zeros_like(dU))
        # J[n, p, i, j] = A[j+1, i] + sum_k W[k, i] dU[k, j]
        return a[:, None, 1:, :].transpose(-1, -2) + torch.einsum("nki,npkj->npij", w, dU)

    def inverse_map_points(self, source_points: Tensor, points: Tensor, max_iterations: int = 50,
                           tolerance: float = 1e-6, strict: bool = True) -> Tensor:
        """Map input points ``(N, P, 2)`` back to output points by Newton's method.

        Starts from the inverse of the TPS's affine part and iterates
        ``x <- x - J(x)^-1 (f(x) - y)`` in float64 until ``max |f(x) - y| <= tolerance``
        (normalised units). Raises ``RuntimeError`` if some point does not converge
        (the spline folds over, or the point has no pre-image) unless ``strict=False``.
        Not differentiable (a solver, not a graph).
        """
        self.check_source(source_points)
        check_tensor(points, "points", dims=(3,), last_dims=(None, 2))
        y = points.detach().to(torch.float64)
        sp = source_points.detach()
        _, a = self.coefficients(sp)
        lin = a[:, 1:, :].transpose(-1, -2)  # (N, 2, 2)
        x = torch.linalg.solve(lin[:, None], (y - a[:, None, 0, :])[..., None])[..., 0]
        residual = None
        for _ in range(max_iterations):
            residual = self.map_points(sp.to(torch.float64), x) - y
            if residual.abs().max() <= tolerance:
                break
            step = torch.linalg.solve(self.jacobian(sp, x), residual[..., None])[..., 0]
            x = x - step
        err = (self.map_points(sp.to(torch.float64), x) - y).abs().amax(-1)
        if strict and bool((~(err <= tolerance)).any()):
            n_bad = int((~(err <= tolerance)).sum())
            raise RuntimeError(f"TPS inverse did not converge for {n_bad} point(s) within "
                               f"{max_iterations} Newton steps (max residual {err.max().item():.3g} > "
                               f"tolerance {tolerance}); the spline may fold over")
        return x.to(points.dtype)

    def bending_energy(self, source_points: Tensor) -> Tensor:
        """Bending energy ``(N,)`` (up to a constant): ``sum_d p_d^T L^-1_KK p_d``.

        Zero for any affine configuration of the source points, positive otherwise.
        """
        self.check_source(source_points)
        m = self._const("_system_inverse", source_points.device)[: self.num_points]
        m = m.to(source_points.dtype if source_points.dtype == torch.float64 else torch.float32)
        p = source_points.to(m.dtype)
        return torch.einsum("nkd,kj,njd->n", p, m, p)
