"""Text outlines -> thin-plate splines: the one mapping that flattens text between its
top and bottom edges, for outlines annotated (polygons) and predicted (a rectifier).

An outline is two polylines, the text's top and bottom edges, each ``(N, n, 2)`` with
points ``(x, y)`` in normalised input coordinates, in reading order (start -> end), the
``i``-th top point matched with the ``i``-th bottom point. :func:`outline_tps` returns
the TPS that sends the output frame's top row to the top edge, its bottom row to the
bottom edge and end columns to the matched ends; between the edges ``rows - 2`` inner
rows of control points lie on the straight segments joining matched points, so a
vertical line of the output follows that segment (with the edges alone a TPS bends the
inside of a curved word by several pixels).

>>> import torch
>>> xs = torch.linspace(-0.8, 0.8, 5, dtype=torch.float64)
>>> top = torch.stack([xs, torch.full_like(xs, -0.5)], -1)[None]       # a flat box
>>> t = outline_tps(top, top + torch.tensor([0.0, 1.0]))
>>> t.map_points(torch.tensor([[[-1.0, -1.0], [1.0, 1.0], [0.5, 0.0]]], dtype=torch.float64)).round(decimals=4).tolist()
[[[-0.8, -0.5], [0.8, 0.5], [0.4, 0.0]]]
>>> resample_outline(torch.tensor([[[0.0, 0.0], [2.0, 0.0]]]), 3).tolist()
[[[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]]
"""
from __future__ import annotations

from functools import lru_cache
from typing import Optional

import torch
from torch import Tensor

from .tps import ThinPlateSpline
from .transforms import TPSTransform
from .validation import check_tensor

__all__ = ["OUTLINE_ROWS", "arc_length_positions", "outline_targets", "outline_tps", "points_along", "resample_outline"]

#: Rows of control points from the top edge to the bottom edge, both included.
OUTLINE_ROWS = 5


@lru_cache(maxsize=32)
def _spline(n: int, rows: int) -> ThinPlateSpline:
    return ThinPlateSpline(outline_targets(n, rows))


def outline_targets(n: int, rows: int = OUTLINE_ROWS) -> Tensor:
    """``(rows * n, 2)`` float64 target points: ``rows`` rows from ``y = -1`` to ``1`` of
    ``n`` points from ``x = -1`` to ``1``, row-major (top row first)."""
    if n < 2 or rows < 2:
        raise ValueError(f"an outline needs n >= 2 points per edge and rows >= 2, got n={n}, rows={rows}")
    xs = torch.linspace(-1.0, 1.0, n, dtype=torch.float64)
    return torch.cat([torch.stack([xs, torch.full_like(xs, 2 * f - 1)], -1)
                      for f in torch.linspace(0.0, 1.0, rows, dtype=torch.float64).tolist()], 0)


def _valid_lengths(edge: Tensor, lengths: Optional[Tensor]) -> Tensor:
    """``(N,)`` long: the valid points of each ``(N, L, 2)`` polyline (default all ``L``),
    checked to be within ``[2, L]``."""
    check_tensor(edge, "edge", dims=(3,), last_dims=(None, 2))
    if lengths is None:
        lengths = torch.full((edge.shape[0],), edge.shape[1], device=edge.device, dtype=torch.long)
    lengths = torch.as_tensor(lengths, device=edge.device).long()
    if lengths.shape != edge.shape[:1] or (lengths < 2).any() or (lengths > edge.shape[1]).any():
        raise ValueError(f"lengths must be ({edge.shape[0]},) within [2, {edge.shape[1]}] (at least 2 points per "
                         f"edge), got {lengths.tolist()}")
    return lengths


def points_along(edge: Tensor, positions: Tensor, extrapolate: bool = False,
                 lengths: Optional[Tensor] = None) -> Tensor:
    """Points of ``(N, L, 2)`` polylines at fractional point indices ``positions``
    ``(N, M)`` (``0`` the first point, ``length - 1`` the last; linear in between),
    ``(N, M, 2)``; differentiable in ``edge``. ``lengths`` ``(N,)``: the valid points of
    each polyline (its first ``lengths[i]``; default all ``L``). Positions beyond the ends
    are clamped to them, or with ``extrapolate`` continue the first / last segment."""
    lengths = _valid_lengths(edge, lengths)
    if positions.dim() != 2 or positions.shape[0] != edge.shape[0]:
        raise ValueError(f"positions must be ({edge.shape[0]}, M), got {tuple(positions.shape)}")
    last = (lengths[:, None] - 1).to(edge.dtype)
    positions = positions.to(edge.dtype)
    if not extrapolate:
        positions = torch.minimum(positions.clamp_min(0), last)
    lo = torch.minimum(positions.floor().long().clamp_min(0), lengths[:, None] - 2)
    frac = (positions - lo.to(edge.dtype))[..., None]
    index = lo[..., None].expand(-1, -1, 2)
    return torch.gather(edge, 1, index) * (1 - frac) + torch.gather(edge, 1, index + 1) * frac


def arc_length_positions(edge: Tensor, fractions: Tensor, lengths: Optional[Tensor] = None,
                         scale: Optional[Tensor] = None, segment_weights: Optional[Tensor] = None) -> Tensor:
    """Fractional point indices ``(N, M)`` (as :func:`points_along` takes them) of the
    points at ``fractions`` ``(N or 1, M)`` of each ``(N, L, 2)`` polyline's arc length
    (``0`` its first point, ``1`` its last). ``lengths`` ``(N,)``: valid points per
    polyline (default all ``L``); ``scale`` ``(N, 2)``: per-axis factors under which
    lengths are measured (e.g. a crop's width and height for normalised coordinates, whose
    units differ per axis). Fractions outside ``[0, 1]`` continue at the even-index rate,
    and a polyline of zero length is spaced by index.

    >>> edge = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [4.0, 0.0]]])   # uneven points
    >>> arc_length_positions(edge, torch.tensor([[0.0, 0.25, 0.5, 1.0]])).tolist()
    [[0.0, 1.0, 1.3333333730697632, 2.0]]
    """
    lengths = _valid_lengths(edge, lengths)
    n, big = edge.shape[:2]
    last = (lengths - 1)[:, None]
    e = edge if scale is None else edge * torch.as_tensor(scale, dtype=edge.dtype, device=edge.device)[:, None, :]
    seg = (e[:, 1:] - e[:, :-1]).norm(dim=-1) * (torch.arange(big - 1, device=edge.device)[None] < last)
    if segment_weights is not None:
        seg = seg * segment_weights
    cum = torch.cat([torch.zeros_like(seg[:, :1]), seg.cumsum(1)], 1)          # (N, L)
    total = cum.gather(1, last)                                               # (N, 1)
    f = fractions.to(edge.dtype).expand(n, -1)
    inside = f.clamp(0.0, 1.0)
    target = inside * total
    j = torch.searchsorted(cum.contiguous(), target.contiguous(), right=True) - 1
    j = torch.minimum(j.clamp_min(0), last - 1)
    step = seg.gather(1, j)
    within = ((target - cum.gather(1, j)) / step.clamp_min(1e-12)).clamp(0.0, 1.0)
    by_length = j.to(edge.dtype) + within
    by_index = inside * last.to(edge.dtype)
    positions = torch.where(total > 1e-12, by_length, by_index)
    return positions + (f - inside) * last.to(edge.dtype)


def resample_outline(edge: Tensor, n: int, lengths: Optional[Tensor] = None) -> Tensor:
    """``(N, L, 2)`` polylines -> ``(N, n, 2)``: :func:`points_along` at ``n`` even
    fractions of the point index (ends kept), differentiable. ``lengths`` ``(N,)``: the
    valid points of each polyline (default all ``L``)."""
    lengths = _valid_lengths(edge, lengths)
    fractions = torch.linspace(0.0, 1.0, n, dtype=edge.dtype, device=edge.device)
    return points_along(edge, fractions[None] * (lengths[:, None] - 1).to(edge.dtype), lengths=lengths)


def outline_tps(top: Tensor, bottom: Tensor, rows: int = OUTLINE_ROWS) -> TPSTransform:
    """The TPS flattening the text between ``top`` and ``bottom`` (``(N, n, 2)`` each,
    matched point by point, normalised input coordinates); see the module docstring.
    Its control points keep the edges' dtype (and gradients)."""
    check_tensor(top, "top", dims=(3,), last_dims=(None, 2))
    if bottom.shape != top.shape:
        raise ValueError(f"top and bottom must have the same shape, got {tuple(top.shape)} and {tuple(bottom.shape)}")
    fractions = torch.linspace(0.0, 1.0, rows, dtype=top.dtype, device=top.device)
    source = top[:, None] + fractions[None, :, None, None] * (bottom - top)[:, None]  # (N, rows, n, 2)
    return TPSTransform(_spline(top.shape[1], rows), source.reshape(top.shape[0], -1, 2))
