"""RoI cells as weighted sums of pixel rows: the CPU sampler of the pure-torch path.

``grid_sample``'s CPU kernel walks the channels inside each point, reading four
scattered values from a different channel plane each time, and its backward adds one
value at a time into the input gradient. For RoI sampling (hundreds of RoIs, hundreds of
channels, maps of several MB per image) that is bound by cache misses. Here the map is
viewed as a table of pixel rows ``(B*H*W, C)`` (channels last), and every output cell
``(n, i, j)`` of a RoI is a weighted sum of ``K = 4 s^2`` rows -- the four bilinear corners
of each of its ``s x s`` sub-samples, the weights already holding the cell mean
``1 / s^2`` and zero for corners that read nothing. Forward and backward are then row
gathers, batched matrix products and row-wise accumulation, all contiguous in C,
done in chunks of cells so the gathered rows stay small.

* :func:`cell_taps` turns sub-sample points (index coordinates, after the padding
  rule's clamping) into ``(rows, weights)``; the weights are differentiable in the
  points, so autograd carries the coordinate gradient back to the transform and boxes.
* :func:`gather_cells` samples ``(N*h*w, C)`` cells from ``(B, C, H, W)`` features
  through an autograd function whose gradients go to the features and the weights.

The numbers equal ``grid_sample`` (bilinear, zeros padding, ``align_corners=False``)
followed by the ``s x s`` cell mean up to float rounding (tested against it); in
float32 they are slightly more exact, as the points are used as they are instead of
going through normalised coordinates and back. Where a sub-sample lies exactly on a
row or column of pixel centres (a kink of bilinear interpolation) its coordinate
gradient is the one towards larger coordinates (``floor``); ``grid_sample``'s round
trip may land on either side there. The cost does not depend on how the RoIs are
spread over the images: all cells are gathered alike.
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

__all__ = ["cell_taps", "gather_cells"]

# floats of gathered rows per chunk (16 MB in float32): small enough for the caches'
# neighbourhood, large enough that the per-chunk calls cost nothing
_CHUNK_FLOATS = 1 << 22


def cell_taps(points: Tensor, keep: Tensor, size: Tuple[int, int], batch_idx: Tensor,
              sampling_ratio: int) -> Tuple[Tensor, Tensor]:
    """Rows and weights of every output cell's bilinear corners.

    ``points (N, h*s, w*s, 2)``: ``(x, y)`` index coordinates of the sub-samples (pixel
    centres on integers) of a map of ``size = (H, W)``; ``keep (N, h*s, w*s)`` bool:
    whether a sub-sample reads at all (False: it reads 0 and passes no gradient);
    ``batch_idx (N,)`` long: each RoI's image. Corners outside the map read 0.

    Returns ``rows (N*h*w, K)`` long -- rows of the ``(B*H*W, C)`` pixel table -- and
    ``weights (N*h*w, K)`` in the points' dtype, ``K = 4 s^2``, cells in ``(n, i, j)``
    order; ``sum_k weights[m, k] * table[rows[m, k]]`` is cell ``m``'s value.
    """
    n, hs, ws, _ = points.shape
    s = sampling_ratio
    fh, fw = size
    keep = keep.detach()
    # points that read nothing become (0, 0) with weight 0: no NaN meets the weights'
    # gradient, and no out-of-range value is cast to an integer
    x = torch.where(keep, points[..., 0], 0.0)
    y = torch.where(keep, points[..., 1], 0.0)
    x0, y0 = torch.floor(x.detach()), torch.floor(y.detach())
    fx, fy = x - x0, y - y0
    base = (batch_idx.long() * (fh * fw))[:, None, None]
    scale = 1.0 / (s * s)
    rows, weights = [], []
    for dy, wy in ((0, 1 - fy), (1, fy)):
        cy = y0 + dy
        inside_y = keep & (cy >= 0) & (cy <= fh - 1)
        for dx, wx in ((0, 1 - fx), (1, fx)):
            cx = x0 + dx
            inside = inside_y & (cx >= 0) & (cx <= fw - 1)
            rows.append(torch.where(inside, base + cy.long() * fw + cx.long(), 0))
            weights.append(torch.where(inside, wx * wy * scale, 0.0))
    h, w = hs // s, ws // s

    def per_cell(t: Tensor) -> Tensor:  # (N, h*s, w*s, 4) -> (N*h*w, s*s*4)
        return t.reshape(n, h, s, w, s, 4).permute(0, 1, 3, 2, 4, 5).reshape(n * h * w, s * s * 4)

    return per_cell(torch.stack(rows, -1)), per_cell(torch.stack(weights, -1))


def gather_cells(features: Tensor, rows: Tensor, weights: Tensor) -> Tensor:
    """Cells ``(M, C)``: ``sum_k weights[m, k] * table[rows[m, k]]`` with ``table`` the
    ``(B*H*W, C)`` pixel rows of ``features (B, C, H, W)``; differentiable in the features
    and the weights (see :func:`cell_taps`)."""
    return _GatherCells.apply(features, rows, weights)


def _pixel_table(features: Tensor) -> Tensor:
    b, c, h, w = features.shape
    return features.permute(0, 2, 3, 1).reshape(b * h * w, c)  # a copy unless channels last


def _chunks(num_cells: int, taps: int, channels: int):
    step = max(1, _CHUNK_FLOATS // max(1, taps * channels))
    return range(0, num_cells, step), step


class _GatherCells(torch.autograd.Function):
    @staticmethod
    def forward(ctx, features: Tensor, rows: Tensor, weights: Tensor) -> Tensor:
        table = _pixel_table(features)
        m, k = rows.shape
        c = table.shape[1]
        out = table.new_empty(m, c)
        starts, step = _chunks(m, k, c)
        for i in starts:
            r, wt = rows[i:i + step], weights[i:i + step]
            gathered = table.index_select(0, r.reshape(-1)).view(r.shape[0], k, c)
            torch.bmm(wt.unsqueeze(1), gathered, out=out[i:i + step].unsqueeze(1))
        ctx.save_for_backward(features, rows, weights)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        features, rows, weights = ctx.saved_tensors
        need_features, need_weights = ctx.needs_input_grad[0], ctx.needs_input_grad[2]
        b, c, h, w = features.shape
        m, k = rows.shape
        grad_out = grad_out.contiguous()
        starts, step = _chunks(m, k, c)
        grad_weights = grad_features = None
        if need_weights:  # first, so the pixel table is freed before the features gradient exists
            table = _pixel_table(features)
            grad_weights = torch.empty_like(weights)
            for i in starts:
                r = rows[i:i + step]
                gathered = table.index_select(0, r.reshape(-1)).view(r.shape[0], k, c)
                torch.bmm(gathered, grad_out[i:i + step].unsqueeze(2), out=grad_weights[i:i + step].unsqueeze(2))
            del table
        if need_features:
            grad_table = features.new_zeros(b * h * w, c)
            for i in starts:
                contrib = weights[i:i + step].unsqueeze(2) * grad_out[i:i + step].unsqueeze(1)  # (m, K, C)
                # index_put_(accumulate) adds row by row; index_add_'s parallel CPU path is
                # many times slower on these clustered, repeated rows
                grad_table.index_put_((rows[i:i + step].reshape(-1),), contrib.view(-1, c), accumulate=True)
            grad_features = grad_table.view(b, h, w, c).permute(0, 3, 1, 2)
        return grad_features, None, grad_weights
