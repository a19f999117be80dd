"""Pure-torch path of :func:`stn_plugin.ops.roi_sample` (CPU default, test oracle).

Everything here is ordinary differentiable torch up to the sub-sample grid; one autograd
Function samples it image by image (``grid_sample`` and its backward, plus the cell
mean), so the gradients reach the features, the transform (matrices or grids) and the
box coordinates.

Memory and speed: the feature map is never copied per RoI (pytorch #2732). RoIs are
sorted by image and sampled in chunks of about ``ceil(N / B)`` RoIs (fewer where their
sub-samples would exceed :data:`SAMPLE_CHUNK_BYTES`), each chunk one
``F.grid_sample`` on its own image through a grid ``(1, n * h * s, w * s, 2)`` holding
exactly its RoIs' sub-sample points. So the work, the calls and the transient sample
tensors are the same however the RoIs are spread over the images (a grid padded to the
busiest image's RoI count would cost ``B * max n_b`` RoIs). On the CPU, where
``grid_sample`` parallelises over its batch dimension only, each call views its image's
channels as a batch of groups (one per thread). The features gradient is written chunk
by chunk into one ``(B, C, H, W)`` buffer. Per-sample work that is cheap on the grid
(projective map, mmcv's boundary rule, clamping for ``'border'``, undefined samples) is
done on the grid, never as an extra pass over the sample tensor; every padding mode then
samples with ``grid_sample``'s zeros padding. Without autograd (inference), the RoIs
go through in groups of about :data:`NO_GRAD_CHUNK_BYTES`, each written into the one
output, so the peak is the output plus a bounded transient whatever N is.

On the CPU, maps of at least :data:`CELL_GATHER_MIN_IMAGE_BYTES` per image are sampled
by row gathers of a channels-last copy instead (:mod:`.cell_gather`, chosen by
:func:`use_cell_gather`): there ``grid_sample``'s per-channel reads miss the cache.
The numbers are the same up to float rounding.

Undefined samples (the projective divide by ``w = 0``, or a coordinate that is not
finite): they read 0 in every padding mode and pass no gradient to the features, the
transform or the boxes -- on the grid they are sent far outside the map.

Inputs are assumed validated by :func:`stn_plugin.ops.roi_sample.roi_sample`.
"""
from __future__ import annotations

from typing import Callable, List, Optional, Tuple

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from torch import Tensor
from torch.autograd.function import once_differentiable

from ..geometry.coords import (feature_index_to_normalized, output_grid, pixel_to_feature_index,
                               roi_frame_to_pixel)
from ..geometry.matrices import has_affine_last_row, projective_divide
from .cell_gather import cell_taps, gather_cells
from .padding import OUTSIDE_POINT, pad_index_points

__all__ = ["roi_sample_torch", "roi_sample_index_points", "use_cell_gather"]

# On the CPU, maps whose image (C x H x W) takes at least this many bytes are sampled by
# row gathers (see use_cell_gather): for smaller images grid_sample is the faster, for
# larger ones the row gathers, and their lead grows with the image (affine forward +
# backward, one thread; the timings are in docs/benchmarks.md).
CELL_GATHER_MIN_IMAGE_BYTES = 1 << 19

# Upper bound of the sub-sample tensor of one grid_sample call (its s*s sub-samples per
# output cell are averaged right after): these transients, forward and backward, sit on top
# of the whole step's saved activations, so they are kept small; more calls cost little.
SAMPLE_CHUNK_BYTES = 1 << 21

# Without autograd, RoIs are sampled in groups whose output and sub-sample coordinates
# (taps and weights: tens of bytes per sub-sample) take about this many bytes: these
# transients then stay bounded instead of growing with N beside the output.
NO_GRAD_CHUNK_BYTES = 1 << 24


def roi_sample_index_points(rois: Tensor, transform: Optional[Tensor], out_size: Tuple[int, int],
                            spatial_scale: float, sampling_ratio: int,
                            dtype: Optional[torch.dtype] = None) -> Tensor:
    """Sub-sample positions of every RoI in feature *index* coordinates.

    ``rois`` ``(N, 5)`` = ``(batch_idx, x1, y1, x2, y2)`` in continuous image pixels;
    ``transform`` ``None`` | ``(N, 3, 3)`` matrices | ``(N, h*s, w*s, 2)`` RoI-frame grid.
    Returns ``(N, h*s, w*s, 2)`` ``(x, y)`` index coordinates (pixel centres on integers)
    of the feature map at stride ``1 / spatial_scale``; differentiable w.r.t. the box
    columns and the transform. ``dtype`` is the computation dtype (default: the rois').

    Undefined samples -- where a projective matrix's ``w`` is 0 (see
    :func:`~stn_plugin.geometry.matrices.projective_divide`) or a coordinate is not finite
    (NaN in an explicit grid, an overflow) -- are NaN in both coordinates, and their NaN
    reaches no gradient.

    >>> import torch
    >>> rois = torch.tensor([[0.0, 0.0, 0.0, 8.0, 8.0]])
    >>> roi_sample_index_points(rois, None, (2, 2), spatial_scale=0.5, sampling_ratio=1).tolist()
    [[[[0.5, 0.5], [2.5, 0.5]], [[0.5, 2.5], [2.5, 2.5]]]]
    """
    dtype = dtype or rois.dtype
    n = rois.shape[0]
    boxes = rois[:, 1:5].to(dtype)
    if transform is not None and transform.dim() == 4:
        frame = transform.to(dtype)  # explicit RoI-frame points, one per sub-sample
    else:
        base = output_grid(out_size, sampling_ratio, dtype=dtype, device=rois.device)  # (hs, ws, 2)
        if transform is None:
            frame = base.expand(n, *base.shape)
        else:
            # homogeneous map, then the projective divide (exactly 1 for affine matrices);
            # broadcast products, as a batched matmul of 3x3s is slow on the CPU
            m = transform.to(dtype).reshape(n, 1, 1, 9)
            u, v = base[..., 0], base[..., 1]  # (hs, ws)
            xy = torch.stack([m[..., 0] * u + m[..., 1] * v + m[..., 2],
                              m[..., 3] * u + m[..., 4] * v + m[..., 5]], -1)
            z = m[..., 6] * u + m[..., 7] * v + m[..., 8]
            if has_affine_last_row(transform):
                # w = 1 exactly, so every point is defined: the plain quotient (still a
                # function of the last row, whose gradient is not zero) without the checks
                frame = xy / z[..., None]
            else:
                a = m.detach().abs()
                z_magnitude = a[..., 6] * u.abs() + a[..., 7] * v.abs() + a[..., 8]
                frame = projective_divide(xy, z[..., None], z_magnitude[..., None])
    # undefined points enter the box mapping as 0, so that their NaN never meets the
    # boxes' gradient (0 * NaN), and leave it as NaN again
    defined = torch.isfinite(frame.detach()).all(-1, keepdim=True)
    pixels = roi_frame_to_pixel(torch.where(defined, frame, 0.0), boxes)
    points = pixel_to_feature_index(pixels, 1.0 / spatial_scale)
    defined = defined & torch.isfinite(points.detach()).all(-1, keepdim=True)
    return torch.where(defined, points, float("nan"))


def roi_sample_torch(features: Tensor, rois: Tensor, transform: Optional[Tensor],
                     out_size: Tuple[int, int], spatial_scale: float, sampling_ratio: int,
                     padding: str) -> Tensor:
    """``(N, C, h, w)`` RoI samples; see :func:`stn_plugin.ops.roi_sample` for the contract.

    Half-precision inputs are computed in float32 (grid coordinates in half precision
    would be off by a large fraction of a pixel on big maps) and cast back.

    >>> import torch
    >>> feats = torch.arange(16.0).reshape(1, 1, 4, 4)
    >>> rois = torch.tensor([[0.0, 0.0, 0.0, 4.0, 4.0]])
    >>> roi_sample_torch(feats, rois, None, (4, 4), 1.0, 1, "roi_align").equal(feats)
    True
    """
    b, c, fh, fw = features.shape
    s = sampling_ratio
    cdtype = features.dtype if features.dtype in (torch.float32, torch.float64) else torch.float32
    feats = features.to(cdtype)
    step = max(1, NO_GRAD_CHUNK_BYTES // (out_size[0] * out_size[1] * (c * feats.element_size() + 64 * s * s)))
    if rois.shape[0] > step and not _needs_grad(features, rois, transform):
        return _sample_in_chunks(feats, rois, transform, out_size, spatial_scale, sampling_ratio, padding,
                                 step).to(features.dtype)
    batch_idx = rois[:, 0].detach().long()
    cell_gather = use_cell_gather(feats)

    def sample_coordinates(rois: Tensor, transform: Optional[Tensor]) -> Tuple[Tensor, ...]:
        x, y = roi_sample_index_points(rois, transform, out_size, spatial_scale, s, dtype=cdtype).unbind(-1)
        x, y, keep = pad_index_points(x, y, (fh, fw), padding)
        idx_pts = torch.stack([x, y], -1)
        if cell_gather:
            return cell_taps(idx_pts, keep, (fh, fw), batch_idx, s)
        grid = feature_index_to_normalized(idx_pts, (fh, fw))  # grid_sample coords, align_corners=False
        return (torch.where(keep[..., None], grid, grid.new_tensor(OUTSIDE_POINT)),)

    coordinates = _recomputed_in_backward(sample_coordinates, rois, transform)
    if cell_gather:
        n = rois.shape[0]
        h, w = out_size
        rows, weights = coordinates
        cells = gather_cells(feats, rows, weights)  # (N*h*w, C)
        return cells.view(n, h, w, c).permute(0, 3, 1, 2).contiguous().to(features.dtype)

    grid, = coordinates
    counts = torch.bincount(batch_idx, minlength=b)
    unsorted = (batch_idx[1:] < batch_idx[:-1]).any()
    stats = torch.cat([counts, unsorted.reshape(1).long()]).tolist()  # one host sync
    counts, unsorted = stats[:b], bool(stats[b])
    chunks = _image_chunks(counts, _max_rois_per_call(c, grid.shape[1] * grid.shape[2], feats.element_size()))
    groups = _channel_groups(c, feats.device)
    order = torch.argsort(batch_idx, stable=True) if unsorted else None
    out = _ImageGroupedSample.apply(feats, grid if order is None else grid[order], order, chunks, s, groups)
    return out.to(features.dtype)


def _needs_grad(*tensors: Optional[Tensor]) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def _sample_in_chunks(feats: Tensor, rois: Tensor, transform: Optional[Tensor], out_size: Tuple[int, int],
                      spatial_scale: float, sampling_ratio: int, padding: str, step: int) -> Tensor:
    """:func:`roi_sample_torch` without autograd, ``step`` RoIs at a time into one output.

    Every output cell depends on its own RoI only, so the numbers are those of one call.
    A map sampled by row gathers is made channels last once, so that each group's pixel
    table is a view of it rather than another copy of the map.
    """
    if use_cell_gather(feats):
        feats = feats.contiguous(memory_format=torch.channels_last)
    n = rois.shape[0]
    out = feats.new_empty(n, feats.shape[1], *out_size)
    for i in range(0, n, step):
        part = None if transform is None else transform[i:i + step]
        out[i:i + step] = roi_sample_torch(feats, rois[i:i + step], part, out_size, spatial_scale, sampling_ratio,
                                           padding)
    return out


def _recomputed_in_backward(fn: Callable[..., Tuple[Tensor, ...]], rois: Tensor,
                            transform: Optional[Tensor]) -> Tuple[Tensor, ...]:
    """``fn(rois, transform)``, keeping only its inputs for the backward pass.

    The sub-sample coordinates are a chain of cheap elementwise steps over
    ``(N, h*s, w*s)`` tensors, and autograd would keep a dozen of them alive from the
    forward to the backward pass -- more memory than the sampled features themselves for
    a 7x7 output at ``sampling_ratio=2``. Recomputing them in the backward pass (a few ms)
    keeps the rectifier's peak memory close to a plain RoIAlign's. The numbers are
    identical either way.
    """
    if not _needs_grad(rois, transform):
        return fn(rois, transform)
    return torch.utils.checkpoint.checkpoint(fn, rois, transform, use_reentrant=False)


def use_cell_gather(features: Tensor) -> bool:
    """Whether :func:`roi_sample_torch` samples ``features`` by row gathers
    (:mod:`.cell_gather`) rather than ``grid_sample``.

    On the CPU ``grid_sample`` walks the channels inside each point, one channel plane
    after the other: while an image's planes fit in the cache that is fast, but on
    larger maps (FPN levels of COCO-sized images) every read misses, and row gathers of
    a channels-last copy of the map are several times faster, forward and backward.
    Both give the same numbers up to float rounding. Other devices keep ``grid_sample``.
    """
    if features.device.type != "cpu":
        return False
    return features[0].numel() * features.element_size() >= CELL_GATHER_MIN_IMAGE_BYTES


def _channel_groups(channels: int, device: torch.device) -> int:
    """How many channel groups one ``grid_sample`` call splits an image into.

    On the CPU ``grid_sample`` parallelises over its batch dimension only; viewing one
    image ``(1, C, H, W)`` as ``(G, C / G, H, W)`` (free) with the grid expanded over the
    G groups lets it use G threads on a single image, and the groups' features
    gradients are disjoint slices of that image's. G is the largest divisor of C not
    above the thread count; 1 on other devices, whose kernels parallelise over points.
    """
    if device.type != "cpu":
        return 1
    limit = min(torch.get_num_threads(), channels)
    return max(g for g in range(1, limit + 1) if channels % g == 0)


def _image_chunks(counts, max_rois: Optional[int] = None) -> List[Tuple[int, int, int]]:
    """``(image, first RoI, RoI count)`` of each ``grid_sample`` call, for RoIs sorted by
    image with ``counts[b]`` on image ``b``.

    With ``q = ceil(N / B)`` (the RoIs per image of an even spread), capped at
    ``max_rois``, an image's ``n`` RoIs become ``round(n / q)`` (at least 1, and enough
    that none exceeds ``max_rois``) chunks of equal size, so every chunk holds between
    about ``q / 2`` and ``3 q / 2`` RoIs: the
    calls and their transient sample tensors are alike whether the RoIs are spread evenly
    or all on one image, and no image pays a call (whose backward fills a gradient the
    size of the image) for a remainder of a few RoIs.

    >>> _image_chunks([3, 0, 5])
    [(0, 0, 3), (2, 3, 2), (2, 5, 3)]
    >>> _image_chunks([6, 0, 2], max_rois=2)
    [(0, 0, 2), (0, 2, 2), (0, 4, 2), (2, 6, 2)]
    """
    q = max(1, -(-sum(counts) // len(counts)))
    if max_rois is not None:
        q = max(1, min(q, max_rois))
    chunks, start = [], 0
    for img, cnt in enumerate(counts):
        if cnt:
            k = max(1, round(cnt / q))
            if max_rois is not None:
                k = max(k, -(-cnt // max_rois))
            bounds = [start + cnt * i // k for i in range(k + 1)]
            chunks += [(img, lo, hi - lo) for lo, hi in zip(bounds, bounds[1:])]
        start += cnt
    return chunks


def _max_rois_per_call(channels: int, samples_per_roi: int, element_size: int) -> int:
    """RoIs per ``grid_sample`` call such that its sub-sample tensor (and, in the backward
    pass, their gradient) stays within :data:`SAMPLE_CHUNK_BYTES`."""
    return max(1, SAMPLE_CHUNK_BYTES // (channels * samples_per_roi * element_size))


class _ImageGroupedSample(torch.autograd.Function):
    """Bilinear samples, zeros padding, averaged over ``s x s`` cells, image by image.

    ``feats`` ``(B, C, H, W)``; ``grid`` ``(N, h*s, w*s, 2)`` normalised ``grid_sample``
    coordinates (``align_corners=False``) of RoIs sorted by image; ``order`` ``(N,)``: the
    RoIs' original positions (their rows in the output), None if already sorted; ``chunks`` lists
    ``(image, first RoI, RoI count)`` (:func:`_image_chunks`); ``groups``: channel groups
    per call (:func:`_channel_groups`). Returns ``(N, C, h, w)``. Each chunk is one
    ``grid_sample`` on its image; backward calls ``grid_sampler_2d_backward`` the same
    way and adds the chunk's features gradient into its image's slice of one
    ``(B, C, H, W)`` buffer.
    """

    @staticmethod
    def forward(ctx, feats: Tensor, grid: Tensor, order: Optional[Tensor], chunks, s: int, groups: int) -> Tensor:
        n, hs, ws, _ = grid.shape
        _, c, fh, fw = feats.shape
        h, w = hs // s, ws // s
        out = feats.new_empty(n, c, h, w)
        for img, first, cnt in chunks:
            g = grid[first:first + cnt].reshape(1, cnt * hs, ws, 2).expand(groups, -1, -1, -1)
            sampled = F.grid_sample(feats[img].reshape(groups, c // groups, fh, fw), g, mode="bilinear",
                                    padding_mode="zeros", align_corners=False)  # (G, C/G, cnt*h*s, w*s)
            sampled = sampled.reshape(1, c, cnt * hs, ws)
            cells = _cell_mean(sampled, s) if s > 1 else sampled
            cells = cells.view(c, cnt, h, w).transpose(0, 1)
            if order is None:
                out[first:first + cnt] = cells
            else:  # straight into the RoIs' own rows: no permuted copy of the output
                out.index_copy_(0, order[first:first + cnt], cells)
        ctx.save_for_backward(feats, grid, order)
        ctx.chunks, ctx.s, ctx.groups = chunks, s, groups
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        feats, grid, order = ctx.saved_tensors
        chunks, s, groups = ctx.chunks, ctx.s, ctx.groups
        need_feats, need_grid = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        n, hs, ws, _ = grid.shape
        _, c, fh, fw = feats.shape
        h, w = hs // s, ws // s
        gfeats = torch.empty_like(feats) if need_feats else None
        ggrid = torch.empty_like(grid) if need_grid else None
        written = set()
        for img, first, cnt in chunks:
            g = grid[first:first + cnt].reshape(1, cnt * hs, ws, 2).expand(groups, -1, -1, -1)
            rows = grad_out[first:first + cnt] if order is None else grad_out.index_select(0, order[first:first + cnt])
            gcells = rows.transpose(0, 1).reshape(1, c, cnt * h, w)
            gsampled = _cell_mean_backward(gcells, s) if s > 1 else gcells
            gin, gg = torch.ops.aten.grid_sampler_2d_backward(
                gsampled.reshape(groups, c // groups, cnt * hs, ws), feats[img].reshape(groups, c // groups, fh, fw),
                g, 0, 0, False, [need_feats, need_grid])  # bilinear, zeros padding
            if need_feats and img in written:
                gfeats[img].add_(gin.reshape(c, fh, fw))
            elif need_feats:
                gfeats[img].copy_(gin.reshape(c, fh, fw))
                written.add(img)
            if need_grid:
                ggrid[first:first + cnt] = gg.sum(0).view(cnt, hs, ws, 2)
        if need_feats:
            for img in set(range(feats.shape[0])) - written:
                gfeats[img].zero_()
        return gfeats, ggrid, None, None, None, None


def _cell_mean(x: Tensor, s: int) -> Tensor:
    """Mean of each ``s x s`` block: ``(B, C, H*s, W*s) -> (B, C, H, W)``.

    Same values as ``avg_pool2d(x, s)``, but ``s*s`` strided adds instead of a slow
    two-axis strided reduction (``view(...).mean(dims)``).
    """
    out = x[..., 0::s, 0::s] + x[..., 0::s, 1::s]
    for ky in range(s):
        for kx in range(s):
            if ky or kx > 1:
                out += x[..., ky::s, kx::s]
    return out.mul_(1.0 / (s * s))


def _cell_mean_backward(grad: Tensor, s: int) -> Tensor:
    """Gradient of :func:`_cell_mean`: every sub-sample gets ``1/(s*s)`` of its cell's
    gradient, in one broadcasting copy."""
    b, c, h, w = grad.shape
    gin = grad.new_empty(b, c, h, s, w, s)
    gin.copy_((grad * (1.0 / (s * s)))[:, :, :, None, :, None].expand_as(gin))
    return gin.view(b, c, h * s, w * s)
