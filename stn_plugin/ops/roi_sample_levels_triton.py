"""Triton kernels of :func:`stn_plugin.ops.roi_sample_levels`: every FPN level in one launch.

Importing this module imports triton (and :mod:`.roi_sample_triton`, whose bilinear
set-up it shares); see that module for ``TRITON_INTERPRET=1``.

One program handles one RoI x ``BLOCK`` output elements of its ``C x h x w`` patch, the
flat element index running over ``(c, y, x)`` with ``x`` fastest -- the mapping of
torchvision's and mmcv's RoIAlign: neighbouring lanes sample neighbouring positions of
one channel plane, so the backward's atomic adds of a warp land on neighbouring
addresses instead of one address per channel plane (``H*W`` apart on NCHW maps).

Everything per RoI happens in the program, from the ``(N, 5)`` RoIs and the optional
``(N, 3, 3)`` transforms as they are: the FPN level (mmdet's rule, see
:func:`_level_of`), the image index, and the matrix normalised output -> feature index
coordinates of that level (RoI frame, box and stride). The levels come as up to
:data:`MAX_LEVELS` separate feature pointers with their sizes and strides, selected
per RoI, so no feature map is copied or concatenated.

Backward: one launch adds the features gradient (atomics into one zero-initialised
fp32 buffer holding every level) and writes, per program, its sums of the gradient
w.r.t. the RoI's index matrix to a partial buffer (no atomics); a second launch, one
program per RoI, reduces them and applies the chain rule to the transform and the box
corners (deterministic). The level and the image index are piecewise constant and get
no gradient.

RoIs whose image index is not an integer in ``[0, B)`` read nothing and sample 0 (no
address outside the maps is ever formed); the public function checks the values only
when asked to (a host synchronisation).
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor

import triton
import triton.language as tl

from . import roi_sample_triton as _base
from .roi_sample_levels import MAX_TRITON_LEVELS
from .roi_sample_triton import (PADDING_CODES, _add_matrix_grad, _index_dtype, _setup_corners, _store_sums9,
                                _zero_sums9)

__all__ = ["MAX_LEVELS", "levels_forward", "levels_backward", "level_kernels"]

MAX_LEVELS = MAX_TRITON_LEVELS
# elements of the C x h x w patch per program
_BLOCK = 256
_ROI_FLOAT_TYPES = {torch.float64: tl.float64}


@triton.jit
def _level_of(x1, y1, x2, y2, finest_scale, NUM_LEVELS: tl.constexpr, ACC: tl.constexpr):
    """mmdet's level ``floor(log2(sqrt(w * h) / finest_scale + 1e-6))`` clamped to
    ``[0, NUM_LEVELS - 1]``, as comparisons with the powers of two (exact, where a
    log2 would be an approximation on the GPU); sqrt and division correctly rounded
    like torch's. A NaN size gives level 0."""
    if ACC == tl.float64:  # float64 sqrt and division are correctly rounded
        t = tl.sqrt((x2 - x1) * (y2 - y1)) / finest_scale + 1e-6
    else:
        t = tl.div_rn(tl.sqrt_rn((x2 - x1) * (y2 - y1)), finest_scale + x1 * 0.0) + 1e-6
    lvl = 0
    threshold = 2.0
    for _ in tl.static_range(1, NUM_LEVELS):
        lvl += tl.where(t >= threshold, 1, 0)
        threshold = threshold * 2.0
    return lvl


@triton.jit
def _pick(lvl, a0, a1, a2, a3, a4, NUM_LEVELS: tl.constexpr):
    """The argument of level ``lvl`` among the per-level arguments ``a0 .. a4``."""
    v = a0
    if NUM_LEVELS > 1:
        v = tl.where(lvl == 1, a1, v)
    if NUM_LEVELS > 2:
        v = tl.where(lvl == 2, a2, v)
    if NUM_LEVELS > 3:
        v = tl.where(lvl == 3, a3, v)
    if NUM_LEVELS > 4:
        v = tl.where(lvl == 4, a4, v)
    return v


@triton.jit
def _roi_setup(n, rois_ptr, tf_ptr, B, finest_scale,
               s0, s1, s2, s3, s4, H0, H1, H2, H3, H4, W0, W1, W2, W3, W4,
               HAS_T: tl.constexpr, NUM_LEVELS: tl.constexpr, ACC: tl.constexpr):
    """Per-RoI scalars: level, image index and whether it is valid, the level's ``H, W``
    and scale, the box frame (half sizes, centre) and the transform ``T``."""
    row = rois_ptr + n * 5
    b = tl.load(row).to(ACC)
    x1 = tl.load(row + 1).to(ACC)
    y1 = tl.load(row + 2).to(ACC)
    x2 = tl.load(row + 3).to(ACC)
    y2 = tl.load(row + 4).to(ACC)
    lvl = _level_of(x1, y1, x2, y2, finest_scale, NUM_LEVELS, ACC)
    b_ok = (b == tl.floor(b)) & (b >= 0.0) & (b < B * 1.0)
    bi = tl.where(b_ok, b, 0.0).to(tl.int32)
    scale = _pick(lvl, s0, s1, s2, s3, s4, NUM_LEVELS).to(ACC)
    H = _pick(lvl, H0, H1, H2, H3, H4, NUM_LEVELS)
    W = _pick(lvl, W0, W1, W2, W3, W4, NUM_LEVELS)
    hw = (x2 - x1) * 0.5
    hh = (y2 - y1) * 0.5
    cx = (x1 + x2) * 0.5
    cy = (y1 + y2) * 0.5
    if HAS_T:
        t = tf_ptr + n * 9
        t00 = tl.load(t + 0).to(ACC)
        t01 = tl.load(t + 1).to(ACC)
        t02 = tl.load(t + 2).to(ACC)
        t10 = tl.load(t + 3).to(ACC)
        t11 = tl.load(t + 4).to(ACC)
        t12 = tl.load(t + 5).to(ACC)
        t20 = tl.load(t + 6).to(ACC)
        t21 = tl.load(t + 7).to(ACC)
        t22 = tl.load(t + 8).to(ACC)
    else:
        one = x1 * 0.0 + 1.0
        zero = x1 * 0.0
        t00, t01, t02, t10, t11, t12, t20, t21, t22 = one, zero, zero, zero, one, zero, zero, zero, one
    return (lvl, bi, b_ok, H, W, scale, hw, hh, cx, cy,
            t00, t01, t02, t10, t11, t12, t20, t21, t22)


@triton.jit
def _index_matrix(scale, hw, hh, cx, cy, t00, t01, t02, t10, t11, t12, t20, t21, t22):
    """``A P`` with ``P = R T`` (normalised output -> image pixels; ``R`` the box frame)
    and ``A`` image pixel -> feature index (``x * scale - 0.5``)."""
    p00 = hw * t00 + cx * t20
    p01 = hw * t01 + cx * t21
    p02 = hw * t02 + cx * t22
    p10 = hh * t10 + cy * t20
    p11 = hh * t11 + cy * t21
    p12 = hh * t12 + cy * t22
    return (scale * p00 - 0.5 * t20, scale * p01 - 0.5 * t21, scale * p02 - 0.5 * t22,
            scale * p10 - 0.5 * t20, scale * p11 - 0.5 * t21, scale * p12 - 0.5 * t22,
            t20, t21, t22)


@triton.jit
def _element_coords(k, oy, ox, OH, OW, m00, m01, m02, m10, m11, m12, m20, m21, m22, w_tol,
                    S: tl.constexpr, ACC: tl.constexpr):
    """Index coordinates of sub-sample ``k`` of cells ``(oy, ox)``, whether defined (the
    rule of :func:`~stn_plugin.geometry.matrices.projective_divide`), the normalised
    output position ``(u, v)`` and the homogeneous ``z`` (1 where undefined)."""
    ky = k // S
    kx = k - ky * S
    # sample_positions_1d: (2 (o s + k) + 1) / (n s) - 1
    u = (2 * (ox * S + kx) + 1).to(ACC) / (OW * S * 1.0).to(ACC) - 1.0
    v = (2 * (oy * S + ky) + 1).to(ACC) / (OH * S * 1.0).to(ACC) - 1.0
    z = m20 * u + m21 * v + m22
    z_magnitude = tl.abs(m20) * tl.abs(u) + tl.abs(m21) * tl.abs(v) + tl.abs(m22)
    z = tl.where(tl.abs(z) > w_tol * z_magnitude, z, 0.0)
    zs = tl.where(z == 0.0, 1.0, z)
    x = (m00 * u + m01 * v + m02) / zs
    y = (m10 * u + m11 * v + m12) / zs
    # |c| <= FLT_MAX is False for inf and NaN (coordinates beyond it are no address either)
    defined = (tl.abs(x) <= 3.4028234663852886e38) & (tl.abs(y) <= 3.4028234663852886e38) & (z != 0.0)
    x = tl.where(defined, x, 0.0)
    y = tl.where(defined, y, 0.0)
    z = tl.where(defined, z, 1.0)
    return x, y, u, v, z, defined


@triton.jit
def _program_setup(rois_ptr, tf_ptr, f0, f1, f2, f3, f4, H0, H1, H2, H3, H4, W0, W1, W2, W3, W4,
                   s0, s1, s2, s3, s4, sb0, sb1, sb2, sb3, sb4, sc0, sc1, sc2, sc3, sc4,
                   sh0, sh1, sh2, sh3, sh4, sw0, sw1, sw2, sw3, sw4, B, C, OH, OW, finest_scale,
                   HAS_T: tl.constexpr, NUM_LEVELS: tl.constexpr, ACC: tl.constexpr, IDX: tl.constexpr,
                   BLOCK: tl.constexpr):
    """What a forward or backward program derives from its id: the RoI ``n``, its block
    of flat ``(c, y, x)`` output elements (``live``; ``lanes`` also needs a valid image
    index), the RoI's level map ``feat`` with the elements' channel offsets ``base`` and
    the row / column strides, the map's size ``H, W`` and the RoI's index matrix."""
    n = tl.program_id(0)
    P = OH * OW
    offs = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    live = offs < C * P
    c = offs // P
    p = offs - c * P
    oy = p // OW
    ox = p - oy * OW
    (lvl, bi, b_ok, H, W, scale, hw, hh, cx, cy,
     t00, t01, t02, t10, t11, t12, t20, t21, t22) = _roi_setup(
        n, rois_ptr, tf_ptr, B, finest_scale, s0, s1, s2, s3, s4, H0, H1, H2, H3, H4, W0, W1, W2, W3, W4,
        HAS_T, NUM_LEVELS, ACC)
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = _index_matrix(
        scale, hw, hh, cx, cy, t00, t01, t02, t10, t11, t12, t20, t21, t22)
    feat = _pick(lvl, f0, f1, f2, f3, f4, NUM_LEVELS)
    stride_h = _pick(lvl, sh0, sh1, sh2, sh3, sh4, NUM_LEVELS).to(IDX)
    stride_w = _pick(lvl, sw0, sw1, sw2, sw3, sw4, NUM_LEVELS).to(IDX)
    base = (bi.to(IDX) * _pick(lvl, sb0, sb1, sb2, sb3, sb4, NUM_LEVELS).to(IDX)
            + c.to(IDX) * _pick(lvl, sc0, sc1, sc2, sc3, sc4, NUM_LEVELS).to(IDX))
    lanes = live & ((offs * 0 + b_ok.to(tl.int32)) != 0)
    return (n, offs, live, lanes, oy, ox, lvl, H, W, feat, base, stride_h, stride_w,
            m00, m01, m02, m10, m11, m12, m20, m21, m22)


@triton.jit
def _levels_fwd_kernel(out_ptr, rois_ptr, tf_ptr, f0, f1, f2, f3, f4,
                       H0, H1, H2, H3, H4, W0, W1, W2, W3, W4, s0, s1, s2, s3, s4,
                       sb0, sb1, sb2, sb3, sb4, sc0, sc1, sc2, sc3, sc4,
                       sh0, sh1, sh2, sh3, sh4, sw0, sw1, sw2, sw3, sw4,
                       B, C, OH, OW, finest_scale, w_tol,
                       S: tl.constexpr, PAD: tl.constexpr, HAS_T: tl.constexpr, NUM_LEVELS: tl.constexpr,
                       ACC: tl.constexpr, IDX: tl.constexpr, BLOCK: tl.constexpr):
    (n, offs, live, lanes, oy, ox, lvl, H, W, feat, base, stride_h, stride_w,
     m00, m01, m02, m10, m11, m12, m20, m21, m22) = _program_setup(
        rois_ptr, tf_ptr, f0, f1, f2, f3, f4, H0, H1, H2, H3, H4, W0, W1, W2, W3, W4, s0, s1, s2, s3, s4,
        sb0, sb1, sb2, sb3, sb4, sc0, sc1, sc2, sc3, sc4, sh0, sh1, sh2, sh3, sh4, sw0, sw1, sw2, sw3, sw4,
        B, C, OH, OW, finest_scale, HAS_T, NUM_LEVELS, ACC, IDX, BLOCK)
    P = OH * OW
    acc = tl.zeros([BLOCK], dtype=ACC)
    # a runtime loop over the s*s sub-samples keeps the code small
    for k in range(S * S):
        x, y, u, v, z, defined = _element_coords(k, oy, ox, OH, OW, m00, m01, m02, m10, m11, m12, m20, m21, m22,
                                                 w_tol, S, ACC)
        fx, fy, x0, x1, y0, y1, mx0, mx1, my0, my1, gx, gy, valid = _setup_corners(x, y, defined, lanes, H, W, PAD)
        r0 = base + y0.to(IDX) * stride_h
        r1 = base + y1.to(IDX) * stride_h
        c0 = x0.to(IDX) * stride_w
        c1 = x1.to(IDX) * stride_w
        v00 = tl.load(feat + r0 + c0, mask=mx0 & my0, other=0.0).to(ACC)
        v01 = tl.load(feat + r0 + c1, mask=mx1 & my0, other=0.0).to(ACC)
        v10 = tl.load(feat + r1 + c0, mask=mx0 & my1, other=0.0).to(ACC)
        v11 = tl.load(feat + r1 + c1, mask=mx1 & my1, other=0.0).to(ACC)
        acc += (v00 * (1.0 - fx) + v01 * fx) * (1.0 - fy) + (v10 * (1.0 - fx) + v11 * fx) * fy
    acc = acc * (1.0 / (S * S))
    tl.store(out_ptr + n.to(IDX) * (C * P) + offs, acc.to(out_ptr.dtype.element_ty), mask=live)


@triton.jit
def _levels_bwd_kernel(gout_ptr, gfeat_ptr, part_ptr, rois_ptr, tf_ptr, f0, f1, f2, f3, f4,
                       H0, H1, H2, H3, H4, W0, W1, W2, W3, W4, s0, s1, s2, s3, s4,
                       sb0, sb1, sb2, sb3, sb4, sc0, sc1, sc2, sc3, sc4,
                       sh0, sh1, sh2, sh3, sh4, sw0, sw1, sw2, sw3, sw4,
                       g0, g1, g2, g3, g4,
                       B, C, OH, OW, finest_scale, w_tol,
                       S: tl.constexpr, PAD: tl.constexpr, HAS_T: tl.constexpr, NUM_LEVELS: tl.constexpr,
                       NEED_FEAT: tl.constexpr, NEED_COORD: tl.constexpr,
                       ACC: tl.constexpr, IDX: tl.constexpr, BLOCK: tl.constexpr):
    pid = tl.program_id(1)
    (n, offs, live, lanes, oy, ox, lvl, H, W, feat, base, stride_h, stride_w,
     m00, m01, m02, m10, m11, m12, m20, m21, m22) = _program_setup(
        rois_ptr, tf_ptr, f0, f1, f2, f3, f4, H0, H1, H2, H3, H4, W0, W1, W2, W3, W4, s0, s1, s2, s3, s4,
        sb0, sb1, sb2, sb3, sb4, sc0, sc1, sc2, sc3, sc4, sh0, sh1, sh2, sh3, sh4, sw0, sw1, sw2, sw3, sw4,
        B, C, OH, OW, finest_scale, HAS_T, NUM_LEVELS, ACC, IDX, BLOCK)
    # the level's block of the shared gradient buffer (same strides as its features)
    gfeat = gfeat_ptr + _pick(lvl, g0, g1, g2, g3, g4, NUM_LEVELS).to(IDX)
    P = OH * OW
    # d loss / d sample value: every sub-sample carries 1/(s*s) of its cell's gradient
    go = tl.load(gout_ptr + n.to(IDX) * (C * P) + offs, mask=live, other=0.0).to(ACC) * (1.0 / (S * S))
    a00, a01, a02, a10, a11, a12, a20, a21, a22 = _zero_sums9(BLOCK, ACC)
    for k in range(S * S):
        x, y, u, v, z, defined = _element_coords(k, oy, ox, OH, OW, m00, m01, m02, m10, m11, m12, m20, m21, m22,
                                                 w_tol, S, ACC)
        fx, fy, x0, x1, y0, y1, mx0, mx1, my0, my1, gx, gy, valid = _setup_corners(x, y, defined, lanes, H, W, PAD)
        k00 = mx0 & my0
        k01 = mx1 & my0
        k10 = mx0 & my1
        k11 = mx1 & my1
        r0 = base + y0.to(IDX) * stride_h
        r1 = base + y1.to(IDX) * stride_h
        c0 = x0.to(IDX) * stride_w
        c1 = x1.to(IDX) * stride_w
        if NEED_FEAT:
            # relaxed: nothing reads the buffer before the kernel ends (red.global, as atomicAdd)
            gy0 = go * (1.0 - fy)
            gy1 = go * fy
            tl.atomic_add(gfeat + r0 + c0, (gy0 * (1.0 - fx)).to(gfeat.dtype.element_ty), mask=k00, sem="relaxed")
            tl.atomic_add(gfeat + r0 + c1, (gy0 * fx).to(gfeat.dtype.element_ty), mask=k01, sem="relaxed")
            tl.atomic_add(gfeat + r1 + c0, (gy1 * (1.0 - fx)).to(gfeat.dtype.element_ty), mask=k10, sem="relaxed")
            tl.atomic_add(gfeat + r1 + c1, (gy1 * fx).to(gfeat.dtype.element_ty), mask=k11, sem="relaxed")
        if NEED_COORD:
            v00 = tl.load(feat + r0 + c0, mask=k00, other=0.0).to(ACC)
            v01 = tl.load(feat + r0 + c1, mask=k01, other=0.0).to(ACC)
            v10 = tl.load(feat + r1 + c0, mask=k10, other=0.0).to(ACC)
            v11 = tl.load(feat + r1 + c1, mask=k11, other=0.0).to(ACC)
            keep = valid & lanes  # also drops undefined samples
            dx = tl.where(keep, go * ((1.0 - fy) * (v01 - v00) + fy * (v11 - v10)) * gx, 0.0)
            dy = tl.where(keep, go * ((1.0 - fx) * (v10 - v00) + fx * (v11 - v01)) * gy, 0.0)
            a00, a01, a02, a10, a11, a12, a20, a21, a22 = _add_matrix_grad(
                a00, a01, a02, a10, a11, a12, a20, a21, a22, dx, dy, x, y, z, u, v)
    if NEED_COORD:
        part = part_ptr + (n.to(IDX) * tl.num_programs(1) + pid) * 9
        _store_sums9(part, a00, a01, a02, a10, a11, a12, a20, a21, a22)


@triton.jit
def _levels_coord_grad_kernel(part_ptr, grois_ptr, gtf_ptr, rois_ptr, tf_ptr, num_parts,
                              s0, s1, s2, s3, s4, B, finest_scale,
                              HAS_T: tl.constexpr, NEED_T: tl.constexpr, NEED_BOXES: tl.constexpr,
                              NUM_LEVELS: tl.constexpr, ACC: tl.constexpr, BLOCK_PARTS: tl.constexpr):
    """One program per RoI: sum the partial index-matrix gradients, then the chain rule
    through ``A R T`` to the transform ``T`` and the box corners (``R``)."""
    n = tl.program_id(0)
    (lvl, bi, b_ok, H, W, scale, hw, hh, cx, cy,
     t00, t01, t02, t10, t11, t12, t20, t21, t22) = _roi_setup(
        n, rois_ptr, tf_ptr, B, finest_scale, s0, s1, s2, s3, s4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        HAS_T, NUM_LEVELS, ACC)
    j = tl.arange(0, BLOCK_PARTS)
    sums = tl.zeros([BLOCK_PARTS, 16], dtype=ACC)
    e = tl.arange(0, 16)
    for start in range(0, num_parts, BLOCK_PARTS):
        rows = start + j
        ptrs = part_ptr + (n * num_parts + rows)[:, None] * 9 + e[None, :]
        sums += tl.load(ptrs, mask=(rows < num_parts)[:, None] & (e < 9)[None, :], other=0.0).to(ACC)
    d = tl.sum(sums, axis=0)
    # gradient of the index matrix M = A P  ->  of P = R T (pixels): A^T dM
    dm00 = tl.sum(tl.where(e == 0, d, 0.0), axis=0)
    dm01 = tl.sum(tl.where(e == 1, d, 0.0), axis=0)
    dm02 = tl.sum(tl.where(e == 2, d, 0.0), axis=0)
    dm10 = tl.sum(tl.where(e == 3, d, 0.0), axis=0)
    dm11 = tl.sum(tl.where(e == 4, d, 0.0), axis=0)
    dm12 = tl.sum(tl.where(e == 5, d, 0.0), axis=0)
    dm20 = tl.sum(tl.where(e == 6, d, 0.0), axis=0)
    dm21 = tl.sum(tl.where(e == 7, d, 0.0), axis=0)
    dm22 = tl.sum(tl.where(e == 8, d, 0.0), axis=0)
    dp00 = scale * dm00
    dp01 = scale * dm01
    dp02 = scale * dm02
    dp10 = scale * dm10
    dp11 = scale * dm11
    dp12 = scale * dm12
    dp20 = dm20 - 0.5 * (dm00 + dm10)
    dp21 = dm21 - 0.5 * (dm01 + dm11)
    dp22 = dm22 - 0.5 * (dm02 + dm12)
    if NEED_T:
        gt = gtf_ptr + n * 9
        ty = gtf_ptr.dtype.element_ty
        tl.store(gt + 0, (hw * dp00).to(ty))
        tl.store(gt + 1, (hw * dp01).to(ty))
        tl.store(gt + 2, (hw * dp02).to(ty))
        tl.store(gt + 3, (hh * dp10).to(ty))
        tl.store(gt + 4, (hh * dp11).to(ty))
        tl.store(gt + 5, (hh * dp12).to(ty))
        tl.store(gt + 6, (cx * dp00 + cy * dp10 + dp20).to(ty))
        tl.store(gt + 7, (cx * dp01 + cy * dp11 + dp21).to(ty))
        tl.store(gt + 8, (cx * dp02 + cy * dp12 + dp22).to(ty))
    if NEED_BOXES:
        # R = [[hw, 0, cx], [0, hh, cy], [0, 0, 1]]: dR = dP T^T
        dhw = dp00 * t00 + dp01 * t01 + dp02 * t02
        dcx = dp00 * t20 + dp01 * t21 + dp02 * t22
        dhh = dp10 * t10 + dp11 * t11 + dp12 * t12
        dcy = dp10 * t20 + dp11 * t21 + dp12 * t22
        gr = grois_ptr + n * 5
        ty = grois_ptr.dtype.element_ty
        tl.store(gr + 0, (dhw * 0.0).to(ty))
        tl.store(gr + 1, (0.5 * (dcx - dhw)).to(ty))
        tl.store(gr + 2, (0.5 * (dcy - dhh)).to(ty))
        tl.store(gr + 3, (0.5 * (dcx + dhw)).to(ty))
        tl.store(gr + 4, (0.5 * (dcy + dhh)).to(ty))


def level_kernels():
    """The three kernels (forward, backward, coordinate gradients), for the AOT check."""
    return _levels_fwd_kernel, _levels_bwd_kernel, _levels_coord_grad_kernel


def _acc_type(dtype: torch.dtype):
    return tl.float64 if dtype == torch.float64 else tl.float32


def _w_tolerance(dtype: torch.dtype) -> float:
    from ..geometry.matrices import UNDEFINED_W_EPS
    return UNDEFINED_W_EPS * torch.finfo(torch.float64 if dtype == torch.float64 else torch.float32).eps


def _level_args(features: Sequence[Tensor], spatial_scales: Sequence[float]) -> list:
    """Per-level kernel arguments in the kernels' order (``f*, H*, W*, s*, sb*, sc*, sh*,
    sw*``), levels past the last filled with the first level's (never selected)."""
    def padded(values):
        return list(values) + [values[0]] * (MAX_LEVELS - len(values))
    feats = padded(list(features))
    args = list(feats)
    args += padded([f.shape[2] for f in features]) + padded([f.shape[3] for f in features])
    args += padded([float(s) for s in spatial_scales])
    for d in range(4):
        args += padded([f.stride(d) for f in features])
    return args


def _grad_offsets(features: Sequence[Tensor]) -> List[int]:
    offsets, total = [], 0
    for f in features:
        offsets.append(total)
        total += f.numel()
    return offsets + [0] * (MAX_LEVELS - len(offsets))


def levels_forward(features: Sequence[Tensor], rois: Tensor, transform: Optional[Tensor],
                   out_size: Tuple[int, int], sampling_ratio: int, padding: str, finest_scale: float,
                   spatial_scales: Sequence[float]) -> Tensor:
    """One launch: ``(N, C, h, w)`` samples of every RoI from its level. ``features``:
    1..MAX_LEVELS maps ``(B, C, H_l, W_l)`` of one dtype; ``rois`` ``(N, 5)`` and
    ``transform`` ``(N, 3, 3)`` (or ``None``) contiguous."""
    _base._check_launchable(features[0])
    b, c = features[0].shape[:2]
    oh, ow = out_size
    n = rois.shape[0]
    out = torch.empty((n, c, oh, ow), dtype=features[0].dtype, device=features[0].device)
    if n == 0:
        return out
    grid = (n, triton.cdiv(c * oh * ow, _BLOCK))
    _base._launcher(_levels_fwd_kernel)[grid](
        out, rois, rois if transform is None else transform, *_level_args(features, spatial_scales),
        b, c, oh, ow, float(finest_scale), _w_tolerance(features[0].dtype),
        S=sampling_ratio, PAD=PADDING_CODES[padding], HAS_T=transform is not None, NUM_LEVELS=len(features),
        ACC=_acc_type(features[0].dtype), IDX=_index_dtype(*features, out), BLOCK=_BLOCK, num_warps=4)
    return out


def levels_backward(grad_out: Tensor, features: Sequence[Tensor], rois: Tensor, transform: Optional[Tensor],
                    out_size: Tuple[int, int], sampling_ratio: int, padding: str, finest_scale: float,
                    spatial_scales: Sequence[float], need_features: bool, need_transform: bool,
                    need_boxes: bool) -> Tuple[Optional[Tensor], Optional[Tensor], Optional[Tensor]]:
    """``(flat fp32 features gradient of every level, one after the other, in each level's
    strides | None, d rois (N, 5) | None, d transform (N, 3, 3) | None)``: one launch for
    the features (and the partial coordinate sums), one more for the transform / boxes."""
    _base._check_launchable(features[0])
    b, c = features[0].shape[:2]
    oh, ow = out_size
    n = rois.shape[0]
    device = features[0].device
    need_coords = need_transform or need_boxes
    num_parts = triton.cdiv(c * oh * ow, _BLOCK)
    # fp32 accumulation for every kernel dtype (float64, an interpreter test vehicle, keeps its own)
    acc_dtype = torch.float64 if features[0].dtype == torch.float64 else torch.float32
    gflat = torch.zeros(sum(f.numel() for f in features), dtype=acc_dtype, device=device) if need_features else None
    part = torch.empty((n, num_parts, 9), dtype=acc_dtype, device=device) if need_coords else None
    acc = _acc_type(features[0].dtype)
    if n and (need_features or need_coords):
        _base._launcher(_levels_bwd_kernel)[(n, num_parts)](
            grad_out, rois if gflat is None else gflat, rois if part is None else part, rois,
            rois if transform is None else transform, *_level_args(features, spatial_scales),
            *_grad_offsets(features), b, c, oh, ow, float(finest_scale), _w_tolerance(features[0].dtype),
            S=sampling_ratio, PAD=PADDING_CODES[padding], HAS_T=transform is not None,
            NUM_LEVELS=len(features), NEED_FEAT=need_features, NEED_COORD=need_coords,
            ACC=acc, IDX=_index_dtype(*features, grad_out, gflat), BLOCK=_BLOCK, num_warps=4)
    grois = torch.empty_like(rois) if need_boxes else None
    gtf = torch.empty_like(transform) if need_transform else None
    if need_coords:
        if n:
            _base._launcher(_levels_coord_grad_kernel)[(n,)](
                part, rois if grois is None else grois, rois if gtf is None else gtf, rois,
                rois if transform is None else transform, num_parts,
                *_level_args(features, spatial_scales)[3 * MAX_LEVELS:4 * MAX_LEVELS], b, float(finest_scale),
                HAS_T=transform is not None, NEED_T=need_transform, NEED_BOXES=need_boxes,
                NUM_LEVELS=len(features), ACC=acc, BLOCK_PARTS=min(16, triton.next_power_of_2(num_parts)),
                num_warps=1)
    return gflat, grois, gtf
