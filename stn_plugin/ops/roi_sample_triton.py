"""Triton kernels of :func:`stn_plugin.ops.roi_sample` (the CUDA path).

Importing this module imports triton; :mod:`stn_plugin.ops.roi_sample` imports it only
when the triton backend is used, so CPU users without triton are unaffected.

Two kernel families share one body each for forward and backward, specialised by the
constexpr ``IS_GRID``:

* parametric (``IS_GRID=False``): one 3x3 matrix per RoI maps normalised output
  coordinates to feature *index* coordinates (RoI frame, box and stride already
  composed in torch, so autograd carries the matrix gradient on to the boxes and the
  transform). Sub-sample coordinates are computed in registers from the two 1-D
  position tables of :func:`~stn_plugin.geometry.coords.sample_positions_1d`; no grid
  tensor exists.
* explicit grid (``IS_GRID=True``): ``(N, h*s, w*s, 2)`` feature index coordinates.

A program handles one RoI x ``BLOCK_P`` output cells x ``BLOCK_C`` channels and
averages the ``s*s`` bilinear sub-samples of each cell with fp32 accumulation.
Undefined sub-samples (homogeneous ``z`` 0 up to rounding, by the rule of
:func:`~stn_plugin.geometry.matrices.projective_divide`, or a coordinate that is not
finite -- NaN in an explicit grid included) read 0 in every padding mode and get no
gradient, as on the torch path.

Backward: the features gradient is scattered with ``tl.atomic_add`` into an fp32 buffer
(nondeterministic order on a GPU); the coordinate gradients need a sum over channels,
which each program reduces over its channel block and writes to its own slot of a
partial buffer that torch sums afterwards -- no atomics, so they are deterministic.

With ``TRITON_INTERPRET=1`` set *before triton is first imported* the kernels run on CPU
tensors through triton's interpreter (how the tests check them without a GPU): triton
decides interpreted vs compiled when ``@triton.jit`` decorates -- this module's kernels
at its import, triton's own library functions (``tl.zeros``, ``tl.sum``) at triton's.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

import triton
import triton.language as tl

from ..geometry.matrices import UNDEFINED_W_EPS
from .profiling import record_launch

__all__ = ["PADDING_CODES", "kernels_interpreted", "sample_forward",
           "sample_backward"]

PADDING_CODES = {"roi_align": 0, "zeros": 1, "border": 2}
# the kernels compute coordinates in float32: w is 0 up to rounding below this (relative)
_W_TOLERANCE = UNDEFINED_W_EPS * torch.finfo(torch.float32).eps


@triton.jit
def _setup_corners(x, y, defined, lanes, H, W, PAD: tl.constexpr):
    """Bilinear set-up at index coordinates ``(x, y)`` (pixel centres on integers).

    Returns the clamped fractional parts ``fx, fy``, the four corner spatial offsets
    (``y * W + x``; always in range, 0 where masked), per-axis in-range masks of the low /
    high corners (the x masks already anded with the sample's validity and with
    ``lanes``, the tile's live output cells), the gradient factors
    ``gx, gy`` of the clamp (0 where the coordinate was clamped), and the validity mask.
    Undefined samples (``defined`` False) are invalid in every mode: they read 0 and
    get no gradient.
    The padding rules of :mod:`stn_plugin.ops.padding` (``pad_index_points``), in registers:
    PAD 0 'roi_align': mmcv's rule -- outside [-1, W] x [-1, H] counts 0, else clamp to
    the map. PAD 1 'zeros': corners outside the map read 0. PAD 2 'border': clamp.
    """
    wf = W * 1.0
    hf = H * 1.0
    if PAD == 1:
        valid = defined
        gx = tl.where(valid, 1.0, 0.0)
        gy = gx
    else:
        if PAD == 0:
            valid = defined & (x >= -1.0) & (x <= wf) & (y >= -1.0) & (y <= hf)
        else:
            valid = defined
        # like grid_sample's clip_coordinates_set_grad: no gradient at or beyond the edge
        gx = tl.where(valid & (x > 0.0) & (x < wf - 1.0), 1.0, 0.0)
        gy = tl.where(valid & (y > 0.0) & (y < hf - 1.0), 1.0, 0.0)
        x = tl.minimum(tl.maximum(x, 0.0), wf - 1.0)
        y = tl.minimum(tl.maximum(y, 0.0), hf - 1.0)
    x0f = tl.floor(x)
    y0f = tl.floor(y)
    fx = x - x0f
    fy = y - y0f
    # range tests on floats, before any integer conversion, so huge or NaN
    # coordinates can never produce an out-of-range address
    mx0 = valid & lanes & (x0f >= 0.0) & (x0f <= wf - 1.0)
    mx1 = valid & lanes & (x0f >= -1.0) & (x0f <= wf - 2.0)
    my0 = (y0f >= 0.0) & (y0f <= hf - 1.0)
    my1 = (y0f >= -1.0) & (y0f <= hf - 2.0)
    x0 = tl.where(mx0, x0f, 0.0).to(tl.int32)
    x1 = tl.where(mx1, x0f + 1.0, 0.0).to(tl.int32)
    y0 = tl.where(my0, y0f, 0.0).to(tl.int32)
    y1 = tl.where(my1, y0f + 1.0, 0.0).to(tl.int32)
    return fx, fy, x0, x1, y0, y1, mx0, mx1, my0, my1, gx, gy, valid


@triton.jit
def _program_tile(bidx_ptr, mat_ptr, C, OH, OW, stride_b, stride_c,
                  IS_GRID: tl.constexpr, IDX: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_C: tl.constexpr):
    """What both kernels derive from the program id: the RoI ``n``, the block of output
    cells (flat ``offs_p`` and ``oy``/``ox``) and of channels, the channel offsets of the
    RoI's image, and the RoI's 3x3 matrix (explicit grids pass one shared 9-element
    dummy, never used)."""
    n = tl.program_id(0)
    P = OH * OW
    offs_p = tl.program_id(1) * BLOCK_P + tl.arange(0, BLOCK_P)
    mask_p = offs_p < P
    oy = offs_p // OW
    ox = offs_p % OW
    offs_c = tl.program_id(2) * BLOCK_C + tl.arange(0, BLOCK_C)
    b = tl.load(bidx_ptr + n).to(IDX)
    chan = (b * stride_b + offs_c.to(IDX) * stride_c)[None, :]  # [1, BLOCK_C]
    mc = (offs_c < C)[None, :]
    if IS_GRID:
        mrow = mat_ptr
    else:
        mrow = mat_ptr + n.to(IDX) * 9
    return (n, P, offs_p, mask_p, oy, ox, offs_c, chan, mc,
            tl.load(mrow + 0), tl.load(mrow + 1), tl.load(mrow + 2),
            tl.load(mrow + 3), tl.load(mrow + 4), tl.load(mrow + 5),
            tl.load(mrow + 6), tl.load(mrow + 7), tl.load(mrow + 8))


@triton.jit
def _sample_coords(n, oy, ox, k, mask_p, grid_ptr, xs_ptr, ys_ptr,
                   m00, m01, m02, m10, m11, m12, m20, m21, m22, OH, OW, w_tol,
                   S: tl.constexpr, IS_GRID: tl.constexpr, IDX: tl.constexpr):
    """Index coordinates of sub-sample ``k`` (row-major in the ``S x S`` sub-grid) of
    cells ``(oy, ox)`` of RoI ``n``, and whether the sample is defined.

    Also returns the normalised output position ``(u, v)`` and the homogeneous
    denominator ``z`` (parametric case; ``u = v = 0, z = 1`` for grids). Undefined
    samples -- ``z`` is 0 up to rounding, ``|z| <= w_tol * (|m20 u| + |m21 v| + |m22|)``
    (the rule of :func:`stn_plugin.geometry.matrices.projective_divide`), or a coordinate
    is not finite -- come back with ``x = y = 0`` and ``z = 1``, so that no arithmetic on
    them makes NaN."""
    ky = k // S
    kx = k - ky * S
    if IS_GRID:
        row = n.to(IDX) * (OH * S) + oy * S + ky
        off = (row * (OW * S) + ox * S + kx) * 2
        x = tl.load(grid_ptr + off, mask=mask_p, other=0.0).to(tl.float32)
        y = tl.load(grid_ptr + off + 1, mask=mask_p, other=0.0).to(tl.float32)
        u = x * 0.0
        v = u
        z = u + 1.0
    else:
        u = tl.load(xs_ptr + ox * S + kx, mask=mask_p, other=0.0)
        v = tl.load(ys_ptr + oy * S + ky, mask=mask_p, other=0.0)
        z = m20 * u + m21 * v + m22
        z_magnitude = tl.abs(m20) * tl.abs(u) + tl.abs(m21) * tl.abs(v) + tl.abs(m22)
        z = tl.where(tl.abs(z) > w_tol * z_magnitude, z, 0.0)
        x = (m00 * u + m01 * v + m02) / tl.where(z == 0.0, 1.0, z)
        y = (m10 * u + m11 * v + m12) / tl.where(z == 0.0, 1.0, z)
    # |c| <= FLT_MAX is False for inf and NaN
    defined = (tl.abs(x) <= 3.4028234663852886e38) & (tl.abs(y) <= 3.4028234663852886e38)
    if not IS_GRID:
        defined = defined & (z != 0.0)
    x = tl.where(defined, x, 0.0)
    y = tl.where(defined, y, 0.0)
    z = tl.where(defined, z, 1.0)
    return x, y, u, v, z, defined


@triton.jit
def _roi_sample_fwd_kernel(feat_ptr, out_ptr, bidx_ptr, mat_ptr, xs_ptr, ys_ptr, grid_ptr,
                           C, H, W, OH, OW, stride_b, stride_c, stride_h, stride_w, w_tol,
                           S: tl.constexpr, PAD: tl.constexpr, IS_GRID: tl.constexpr,
                           IDX: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_C: tl.constexpr):
    (n, P, offs_p, mask_p, oy, ox, offs_c, chan, mc,
     m00, m01, m02, m10, m11, m12, m20, m21, m22) = _program_tile(
        bidx_ptr, mat_ptr, C, OH, OW, stride_b, stride_c, IS_GRID, IDX, BLOCK_P, BLOCK_C)
    acc = tl.zeros([BLOCK_P, BLOCK_C], dtype=tl.float32)
    # a runtime loop over the s*s sub-samples: unrolling it made the code several
    # times larger and spilled registers
    for k in range(S * S):
        x, y, u, v, z, defined = _sample_coords(n, oy, ox, k, mask_p, grid_ptr, xs_ptr, ys_ptr,
                                                m00, m01, m02, m10, m11, m12, m20, m21, m22, OH, OW,
                                                w_tol, S, IS_GRID, IDX)
        fx, fy, x0, x1, y0, y1, mx0, mx1, my0, my1, gx, gy, valid = _setup_corners(
            x, y, defined, mask_p, H, W, PAD)
        w00 = tl.where(mx0 & my0, (1.0 - fx) * (1.0 - fy), 0.0)
        w01 = tl.where(mx1 & my0, fx * (1.0 - fy), 0.0)
        w10 = tl.where(mx0 & my1, (1.0 - fx) * fy, 0.0)
        w11 = tl.where(mx1 & my1, fx * fy, 0.0)
        r0 = y0.to(IDX) * stride_h
        r1 = y1.to(IDX) * stride_h
        c0 = x0.to(IDX) * stride_w
        c1 = x1.to(IDX) * stride_w
        v00 = tl.load(feat_ptr + chan + (r0 + c0)[:, None], mask=(mx0 & my0)[:, None] & mc, other=0.0)
        v01 = tl.load(feat_ptr + chan + (r0 + c1)[:, None], mask=(mx1 & my0)[:, None] & mc, other=0.0)
        v10 = tl.load(feat_ptr + chan + (r1 + c0)[:, None], mask=(mx0 & my1)[:, None] & mc, other=0.0)
        v11 = tl.load(feat_ptr + chan + (r1 + c1)[:, None], mask=(mx1 & my1)[:, None] & mc, other=0.0)
        acc += (v00.to(tl.float32) * w00[:, None] + v01.to(tl.float32) * w01[:, None]
                + v10.to(tl.float32) * w10[:, None] + v11.to(tl.float32) * w11[:, None])
    acc = acc * (1.0 / (S * S))
    out_off = (n.to(IDX) * C + offs_c.to(IDX))[None, :] * P + offs_p[:, None]
    tl.store(out_ptr + out_off, acc.to(out_ptr.dtype.element_ty), mask=mask_p[:, None] & mc)


@triton.jit
def _zero_sums9(BLOCK: tl.constexpr, ACC: tl.constexpr):
    """Nine ``[BLOCK]`` running sums of d loss / d matrix entry, at 0."""
    z = tl.zeros([BLOCK], dtype=ACC)
    return z, z, z, z, z, z, z, z, z


@triton.jit
def _add_matrix_grad(a00, a01, a02, a10, a11, a12, a20, a21, a22, dx, dy, x, y, z, u, v):
    """The sums plus the gradient w.r.t. the matrix ``M`` of index coordinates
    ``x = X / z, y = Y / z`` with ``(X, Y, z) = M (u, v, 1)``, given ``dx, dy`` (0 where
    the sample is dropped)."""
    dX = dx / z
    dY = dy / z
    dZ = -(dx * x + dy * y) / z
    return (a00 + dX * u, a01 + dX * v, a02 + dX, a10 + dY * u, a11 + dY * v, a12 + dY,
            a20 + dZ * u, a21 + dZ * v, a22 + dZ)


@triton.jit
def _store_sums9(part, a00, a01, a02, a10, a11, a12, a20, a21, a22):
    """Write the totals of the nine sums to ``part[0:9]``."""
    tl.store(part + 0, tl.sum(a00, axis=0))
    tl.store(part + 1, tl.sum(a01, axis=0))
    tl.store(part + 2, tl.sum(a02, axis=0))
    tl.store(part + 3, tl.sum(a10, axis=0))
    tl.store(part + 4, tl.sum(a11, axis=0))
    tl.store(part + 5, tl.sum(a12, axis=0))
    tl.store(part + 6, tl.sum(a20, axis=0))
    tl.store(part + 7, tl.sum(a21, axis=0))
    tl.store(part + 8, tl.sum(a22, axis=0))


@triton.jit
def _roi_sample_bwd_kernel(gout_ptr, feat_ptr, gfeat_ptr, bidx_ptr, mat_ptr, xs_ptr, ys_ptr, grid_ptr,
                           gmat_part_ptr, ggrid_part_ptr,
                           N, C, H, W, OH, OW, stride_b, stride_c, stride_h, stride_w, w_tol,
                           S: tl.constexpr, PAD: tl.constexpr, IS_GRID: tl.constexpr,
                           NEED_FEAT: tl.constexpr, NEED_COORD: tl.constexpr,
                           IDX: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_C: tl.constexpr):
    (n, P, offs_p, mask_p, oy, ox, offs_c, chan, mc,
     m00, m01, m02, m10, m11, m12, m20, m21, m22) = _program_tile(
        bidx_ptr, mat_ptr, C, OH, OW, stride_b, stride_c, IS_GRID, IDX, BLOCK_P, BLOCK_C)
    pid_p = tl.program_id(1)
    pid_c = tl.program_id(2)
    out_off = (n.to(IDX) * C + offs_c.to(IDX))[None, :] * P + offs_p[:, None]
    # d loss / d sample value: every sub-sample carries 1/(s*s) of its cell's gradient
    go = tl.load(gout_ptr + out_off, mask=mask_p[:, None] & mc, other=0.0).to(tl.float32) * (1.0 / (S * S))
    # per-cell running sums of d loss / d matrix entry (parametric case)
    a00, a01, a02, a10, a11, a12, a20, a21, a22 = _zero_sums9(BLOCK_P, tl.float32)
    # a runtime loop over the s*s sub-samples: unrolling it made the code several
    # times larger and spilled registers
    for k in range(S * S):
        x, y, u, v, z, defined = _sample_coords(n, oy, ox, k, mask_p, grid_ptr, xs_ptr, ys_ptr,
                                                m00, m01, m02, m10, m11, m12, m20, m21, m22, OH, OW,
                                                w_tol, S, IS_GRID, IDX)
        fx, fy, x0, x1, y0, y1, mx0, mx1, my0, my1, gx, gy, valid = _setup_corners(
            x, y, defined, mask_p, H, W, PAD)
        k00 = (mx0 & my0)[:, None] & mc
        k01 = (mx1 & my0)[:, None] & mc
        k10 = (mx0 & my1)[:, None] & mc
        k11 = (mx1 & my1)[:, None] & mc
        r0 = y0.to(IDX) * stride_h
        r1 = y1.to(IDX) * stride_h
        c0 = x0.to(IDX) * stride_w
        c1 = x1.to(IDX) * stride_w
        if NEED_FEAT:
            # fp32 buffer of the features' shape and strides
            w00 = tl.where(mx0 & my0, (1.0 - fx) * (1.0 - fy), 0.0)
            w01 = tl.where(mx1 & my0, fx * (1.0 - fy), 0.0)
            w10 = tl.where(mx0 & my1, (1.0 - fx) * fy, 0.0)
            w11 = tl.where(mx1 & my1, fx * fy, 0.0)
            tl.atomic_add(gfeat_ptr + chan + (r0 + c0)[:, None], go * w00[:, None], mask=k00)
            tl.atomic_add(gfeat_ptr + chan + (r0 + c1)[:, None], go * w01[:, None], mask=k01)
            tl.atomic_add(gfeat_ptr + chan + (r1 + c0)[:, None], go * w10[:, None], mask=k10)
            tl.atomic_add(gfeat_ptr + chan + (r1 + c1)[:, None], go * w11[:, None], mask=k11)
        if NEED_COORD:
            v00 = tl.load(feat_ptr + chan + (r0 + c0)[:, None], mask=k00, other=0.0).to(tl.float32)
            v01 = tl.load(feat_ptr + chan + (r0 + c1)[:, None], mask=k01, other=0.0).to(tl.float32)
            v10 = tl.load(feat_ptr + chan + (r1 + c0)[:, None], mask=k10, other=0.0).to(tl.float32)
            v11 = tl.load(feat_ptr + chan + (r1 + c1)[:, None], mask=k11, other=0.0).to(tl.float32)
            ffx = fx[:, None]
            ffy = fy[:, None]
            dvdx = (1.0 - ffy) * (v01 - v00) + ffy * (v11 - v10)
            dvdy = (1.0 - ffx) * (v10 - v00) + ffx * (v11 - v01)
            keep = valid & mask_p  # also drops undefined samples
            dx = tl.where(keep, tl.sum(go * dvdx, axis=1) * gx, 0.0)
            dy = tl.where(keep, tl.sum(go * dvdy, axis=1) * gy, 0.0)
            if IS_GRID:
                ky = k // S
                row = (pid_c.to(IDX) * N + n) * (OH * S) + oy * S + ky
                goff = (row * (OW * S) + ox * S + (k - ky * S)) * 2
                tl.store(ggrid_part_ptr + goff, dx, mask=mask_p)
                tl.store(ggrid_part_ptr + goff + 1, dy, mask=mask_p)
            else:
                # dx, dy are 0 where not kept
                a00, a01, a02, a10, a11, a12, a20, a21, a22 = _add_matrix_grad(
                    a00, a01, a02, a10, a11, a12, a20, a21, a22, dx, dy, x, y, z, u, v)
    if NEED_COORD:
        if not IS_GRID:
            part = gmat_part_ptr + ((n.to(IDX) * tl.num_programs(1) + pid_p) * tl.num_programs(2) + pid_c) * 9
            _store_sums9(part, a00, a01, a02, a10, a11, a12, a20, a21, a22)


def kernels_interpreted() -> bool:
    """Whether this module's kernels were decorated under ``TRITON_INTERPRET=1``."""
    from triton.runtime.interpreter import InterpretedFunction
    return isinstance(_roi_sample_fwd_kernel, InterpretedFunction)


def _check_launchable(features: Tensor) -> None:
    if features.is_cuda:
        return
    from triton.runtime.interpreter import InterpretedFunction
    if not kernels_interpreted() or not isinstance(tl.zeros, InterpretedFunction):
        raise RuntimeError("roi_sample(backend='triton') got CPU tensors but triton is not in interpreter "
                           "mode; set TRITON_INTERPRET=1 before triton is first imported to run the kernels "
                           "through triton's interpreter, or use backend='torch'")


def _launcher(kernel):
    """``kernel`` as ``torch.library.wrap_triton`` gives it: a plain launch in eager mode,
    a traceable kernel call while ``torch.compile`` / ``torch.export`` trace the operators
    of :mod:`.roi_sample_triton_ops`. Interpreted kernels are launched as they are: some
    torch releases (2.11) refuse to wrap them."""
    from triton.runtime.interpreter import InterpretedFunction
    if isinstance(kernel, InterpretedFunction):
        return record_launch(kernel, kernel)
    return record_launch(kernel, torch.library.wrap_triton(kernel))


def _dummy_matrix(device) -> Tensor:
    return torch.zeros(9, dtype=torch.float32, device=device)


def _index_dtype(*tensors: Optional[Tensor]):
    """int32 element offsets when every tensor the kernel addresses is small enough (fewer
    registers, no spills), int64 otherwise."""
    big = any(t is not None and t.numel() >= 2 ** 31 - 1 for t in tensors)
    return tl.int64 if big else tl.int32


def _blocks(num_cells: int, channels: int, backward: bool) -> Tuple[int, int]:
    # Tiles sized from ptxas' resource usage for sm_90 (ahead-of-time compilation, not
    # timings): 32 x 32 forward, 32 x 16 backward are the largest without register spills
    # (the backward keeps four corner values and nine matrix sums live).
    block_p = min(32, triton.next_power_of_2(num_cells))
    block_c = min(16 if backward else 32, triton.next_power_of_2(channels))
    return block_p, block_c


def sample_forward(features: Tensor, batch_idx: Tensor, out_size: Tuple[int, int], sampling_ratio: int,
                   padding: str, matrices: Optional[Tensor] = None, xs: Optional[Tensor] = None,
                   ys: Optional[Tensor] = None, grid: Optional[Tensor] = None) -> Tensor:
    """Launch the forward kernel. Parametric: ``matrices`` ``(N, 3, 3)`` fp32 (feature index
    <- normalised output) with the 1-D position tables ``xs`` ``(w*s,)`` and ``ys``
    ``(h*s,)``; explicit grid: ``grid`` ``(N, h*s, w*s, 2)`` fp32 index coordinates.
    ``batch_idx`` ``(N,)`` int32. Returns ``(N, C, h, w)`` in the features' dtype."""
    _check_launchable(features)
    b, c, fh, fw = features.shape
    oh, ow = out_size
    is_grid = grid is not None
    n = grid.shape[0] if is_grid else matrices.shape[0]
    out = torch.empty((n, c, oh, ow), dtype=features.dtype, device=features.device)
    block_p, block_c = _blocks(oh * ow, c, backward=False)
    dummy = batch_idx  # never read: the constexpr branches that would read it are compiled out
    launch = (n, triton.cdiv(oh * ow, block_p), triton.cdiv(c, block_c))
    _launcher(_roi_sample_fwd_kernel)[launch](
        features, out, batch_idx,
        _dummy_matrix(features.device) if is_grid else matrices, dummy if is_grid else xs, dummy if is_grid else ys,
        grid if is_grid else dummy,
        c, fh, fw, oh, ow, *features.stride(), _W_TOLERANCE,
        S=sampling_ratio, PAD=PADDING_CODES[padding], IS_GRID=is_grid,
        IDX=_index_dtype(features, out, grid), BLOCK_P=block_p, BLOCK_C=block_c, num_warps=4)
    return out


def sample_backward(grad_out: Tensor, features: Tensor, batch_idx: Tensor, out_size: Tuple[int, int],
                    sampling_ratio: int, padding: str, need_features: bool, need_coords: bool,
                    matrices: Optional[Tensor] = None, xs: Optional[Tensor] = None,
                    ys: Optional[Tensor] = None, grid: Optional[Tensor] = None
                    ) -> Tuple[Optional[Tensor], Optional[Tensor]]:
    """Gradients ``(d features, d matrices | d grid)``; ``None`` for the ones not asked for.

    The features gradient has the features' dtype (accumulated in fp32); the coordinate
    gradient is fp32 like the matrices / grid that went in."""
    _check_launchable(features)
    b, c, fh, fw = features.shape
    oh, ow = out_size
    s = sampling_ratio
    is_grid = grid is not None
    n = grid.shape[0] if is_grid else matrices.shape[0]
    block_p, block_c = _blocks(oh * ow, c, backward=True)
    launch = (n, triton.cdiv(oh * ow, block_p), triton.cdiv(c, block_c))
    grad_out = grad_out.contiguous()
    dummy = batch_idx
    # zeros_like keeps the features' memory format, so the kernel can use its strides
    gfeat = torch.zeros_like(features, dtype=torch.float32) if need_features else None
    if gfeat is not None and gfeat.stride() != features.stride():
        raise RuntimeError("roi_sample: gradient buffer layout differs from the features' "
                           f"(strides {gfeat.stride()} vs {features.stride()}); pass dense features")
    gmat_part = ggrid_part = None
    if need_coords and is_grid:
        ggrid_part = torch.empty((launch[2], n, oh * s, ow * s, 2), dtype=torch.float32, device=features.device)
    elif need_coords:
        gmat_part = torch.empty((n, launch[1], launch[2], 9), dtype=torch.float32, device=features.device)
    _launcher(_roi_sample_bwd_kernel)[launch](
        grad_out, features, gfeat if need_features else dummy, batch_idx,
        _dummy_matrix(features.device) if is_grid else matrices, dummy if is_grid else xs, dummy if is_grid else ys,
        grid if is_grid else dummy,
        dummy if gmat_part is None else gmat_part, dummy if ggrid_part is None else ggrid_part,
        n, c, fh, fw, oh, ow, *features.stride(), _W_TOLERANCE,
        S=s, PAD=PADDING_CODES[padding], IS_GRID=is_grid,
        NEED_FEAT=need_features, NEED_COORD=need_coords,
        IDX=_index_dtype(features, grad_out, grid, gmat_part, ggrid_part),
        BLOCK_P=block_p, BLOCK_C=block_c, num_warps=4)
    if gfeat is not None and gfeat.dtype != features.dtype:
        gfeat = gfeat.to(features.dtype)
    gcoord = None
    if ggrid_part is not None:
        gcoord = ggrid_part.sum(0)
    elif gmat_part is not None:
        gcoord = gmat_part.sum((1, 2)).view(n, 3, 3)
    return gfeat, gcoord
