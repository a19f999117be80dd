"""A transform whose sampling grid is exact at sparse nodes and interpolated between
them: fast grids for smooth warps (e.g. TPS) at many output sizes.

Conventions: as every :class:`~stn_plugin.geometry.transforms.Transform`, normalised
output ``(x, y)`` -> normalised input ``(x, y)``; grids are ``(N, h * r, w * r, 2)`` for an
output of ``(h, w)`` and sampling ratio ``r``.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from .coords import sample_positions_1d
from .transforms import TPSTransform, Transform, WrappingTransform
from .validation import check_size2

__all__ = ["InterpolatedGridTransform", "interpolated_grid_transforms"]


def _node_layout(out_size: Sequence[int], sampling_ratio: int, align_corners: bool, stride: int,
                 dtype: torch.dtype, device) -> Tuple[Tensor, Tuple[int, int], Tuple[int, int]]:
    """Normalised output positions ``(gh * gw, 2)`` of the exact nodes of an
    :class:`InterpolatedGridTransform` grid, the node counts ``(gh, gw)`` and the dense
    sub-sample counts ``(h * r, w * r)``.

    Sub-sample positions are linear in their index, so nodes evenly spaced from the
    first to the last sub-sample are positions too, and ``align_corners=True``
    interpolation between them lands back on every sub-sample."""
    axes = [sample_positions_1d(n, sampling_ratio, align_corners, dtype=dtype, device=device)
            for n in check_size2(out_size, "out_size")]
    dense = tuple(len(a) for a in axes)
    nodes = tuple(min(n, max(2, -(-(n - 1) // stride) + 1)) if n > 1 else 1 for n in dense)
    ys, xs = [torch.linspace(float(a[0]), float(a[-1]), g, dtype=dtype, device=device) for a, g in zip(axes, nodes)]
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], -1).reshape(-1, 2), nodes, dense


class InterpolatedGridTransform(WrappingTransform):
    """A smooth transform whose sampling grid is evaluated exactly at nodes every
    ``stride`` output sub-samples (and at the last one) and linearly interpolated in
    between.

    A TPS grid costs a ``(P, K)`` kernel evaluation for every one of the ``P``
    sub-samples, recomputed for every new output size; with crops of many sizes that
    dominates rectification. A learned rectifier's warp is smooth at the scale of a few
    sub-samples, so nodes a few sub-samples apart move the samples by a small fraction of
    a pixel (tests/textrecog/test_text_rectifier.py bounds it for the shipped
    rectifier); affine maps come out exactly. All samples lie in the bounding box of the
    nodes (linear interpolation never leaves it).
    ``map_points`` is the wrapped transform's. ``nodes``: the mapped nodes
    ``(1, gh, gw, 2)`` when already computed (:func:`interpolated_grid_transforms`).
    """

    def __init__(self, transform: Transform, stride: int = 4, nodes: Optional[Tensor] = None,
                 layout: Optional[tuple] = None) -> None:
        if not isinstance(stride, int) or stride < 1:
            raise ValueError(f"stride must be a positive int, got {stride!r}")
        super().__init__(transform)
        self.stride = stride
        # precomputed (nodes, (out_size, sampling_ratio, align_corners, dense size)) of one grid
        self.nodes, self.layout = nodes, layout

    def map_points(self, points: Tensor) -> Tensor:
        return self.transform.map_points(points)

    def select(self, index) -> "InterpolatedGridTransform":
        return InterpolatedGridTransform(self.transform.select(index), self.stride)

    def grid(self, out_size: Sequence[int], sampling_ratio: int = 1, align_corners: bool = False) -> Tensor:
        dtype = torch.float64 if self.dtype == torch.float64 else torch.float32
        key = (tuple(out_size), sampling_ratio, align_corners)
        if self.nodes is not None and self.layout is not None and self.layout[0] == key:
            coarse, dense = self.nodes, self.layout[1]
            nodes = tuple(coarse.shape[1:3])
        else:
            pts, nodes, dense = _node_layout(out_size, sampling_ratio, align_corners, self.stride, dtype, self.device)
            coarse = self.transform.map_points(pts[None].to(self.dtype)).reshape(-1, *nodes, 2)
        coarse = coarse.to(dtype)
        if nodes == dense:
            return coarse
        return F.interpolate(coarse.permute(0, 3, 1, 2), size=dense, mode="bilinear",
                             align_corners=True).permute(0, 2, 3, 1)


def interpolated_grid_transforms(transform: Transform, out_sizes: Sequence[Sequence[int]],
                                 sampling_ratios: Union[int, Sequence[int]] = 1, align_corners: bool = False,
                                 stride: int = 4) -> List[InterpolatedGridTransform]:
    """Per batch entry ``i``, its :class:`InterpolatedGridTransform` for ``out_sizes[i]``
    (and ``sampling_ratios[i]``), with the nodes of all entries mapped at once (one TPS
    basis evaluation; other families: one ``map_points`` call padded to the largest
    node count): a batch of crops of different sizes costs one kernel evaluation."""
    dtype = torch.float64 if transform.dtype == torch.float64 else torch.float32
    ratios = [sampling_ratios] * len(out_sizes) if isinstance(sampling_ratios, int) else list(sampling_ratios)
    layouts = [_node_layout(s, r, align_corners, stride, dtype, transform.device) for s, r in zip(out_sizes, ratios)]
    counts = [p.shape[0] for p, _, _ in layouts]
    if isinstance(transform, TPSTransform):
        # the TPS basis depends on the points only: one evaluation for all nodes, then each
        # entry's rows times its own control points
        basis = transform.spline.basis(torch.cat([p for p, _, _ in layouts]))
        rows = torch.split(basis.to(transform.dtype), counts)
        mapped = [r @ transform.control_points[i] for i, r in enumerate(rows)]
    else:
        padded = torch.stack([F.pad(p, (0, 0, 0, max(counts) - n)) for (p, _, _), n in zip(layouts, counts)])
        full = transform.map_points(padded.to(transform.dtype))
        mapped = [full[i, :n] for i, n in enumerate(counts)]
    return [InterpolatedGridTransform(transform.select(slice(i, i + 1)), stride, m.reshape(1, *nodes, 2),
                                      ((tuple(size), r, align_corners), dense))
            for i, (m, size, r, (_, nodes, dense)) in enumerate(zip(mapped, out_sizes, ratios, layouts))]
