"""Text polygons from RoI transforms: where the edges of a rectified crop came from.

A rectifier samples each word through a transform in its RoI's frame (normalised
output ``(u, v)`` in ``[-1, 1]^2`` -> normalised box coordinates, the box's corners at
``-1`` and ``1``). The crop's top edge (``v = -1``, ``u`` from ``-1`` to ``1``) and its
bottom edge (``v = 1``, back from ``1`` to ``-1``), mapped through the transform and
the box, outline the region the crop shows: a quadrilateral for a matrix transform, a
curve for a thin-plate spline. The points come out clockwise from the word's start,
top edge first -- the order of the text annotations.

The other way round, an annotated polygon gives what a rectifier should predict
(outline supervision): the polygon's top and bottom edges, resampled evenly by arc
length and expressed in the RoI's frame, define the thin-plate spline that flattens the
word (:func:`~stn_plugin.geometry.outline.outline_tps`); evaluated at the family's
reference points (:func:`outline_reference_points`: a TPS family's control-point
targets, a matrix family's four crop corners) it gives the target
(:func:`roi_outline_targets`), compared with the same points of the predicted transform
(:func:`outline_points`) by :func:`outline_loss`. For a grid TPS of ``rows x cols``
control points the targets are exactly the edges' ``cols`` points on the top and bottom
rows and the matched points' linear interpolations on the rows between.
"""
from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..geometry.coords import pixel_to_roi_frame, roi_frame_to_pixel
from ..geometry.families import TPSFamily, TransformFamily
from ..geometry.outline import outline_tps
from ..geometry.transforms import Transform
from ..textrecog.text_regions import resample_polyline, split_top_bottom

__all__ = ["crop_outline", "roi_text_polygons", "outline_reference_points", "outline_layout", "polygon_edges",
           "roi_outline_targets", "outline_points", "outline_loss"]


def crop_outline(points_per_edge: int, dtype: torch.dtype = torch.float32, device=None) -> Tensor:
    """``(2 * points_per_edge, 2)`` points of the crop's border in its normalised frame:
    the top edge left to right, then the bottom edge right to left."""
    if not isinstance(points_per_edge, int) or points_per_edge < 2:
        raise ValueError(f"points_per_edge must be an int >= 2, got {points_per_edge!r}")
    u = torch.linspace(-1.0, 1.0, points_per_edge, dtype=dtype, device=device)
    top = torch.stack([u, torch.full_like(u, -1.0)], 1)
    bottom = torch.stack([u.flip(0), torch.full_like(u, 1.0)], 1)
    return torch.cat([top, bottom])


def roi_text_polygons(transform: Transform, boxes: Tensor, points_per_edge: int = 7) -> Tensor:
    """``(N, 2 * points_per_edge, 2)`` polygons in continuous image pixels: the border of
    each of the N crops that ``transform`` (RoI frame) samples from ``boxes (N, 4)``
    ``(x1, y1, x2, y2)``. Differentiable with respect to both."""
    if boxes.dim() != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes must be (N, 4) as (x1, y1, x2, y2), got {tuple(boxes.shape)}")
    if transform.batch_size != boxes.shape[0]:
        raise ValueError(f"transform holds {transform.batch_size} transforms for {boxes.shape[0]} boxes")
    if boxes.shape[0] == 0:
        return boxes.new_zeros(0, 2 * points_per_edge, 2)
    outline = crop_outline(points_per_edge, transform.dtype, boxes.device)[None]
    frame_points = transform.map_points(outline)
    return roi_frame_to_pixel(frame_points.to(boxes.dtype), boxes)


def outline_reference_points(family: TransformFamily) -> Tensor:
    """``(K, 2)`` float64 output points (crop frame) whose images a transform of
    ``family`` is supervised at: a TPS family's control-point targets (so the predicted
    points are its source control points), a matrix family's four crop corners
    clockwise from the top-left (:func:`crop_outline` with two points per edge)."""
    if isinstance(family, TPSFamily):
        return family.spline.target_points.to(torch.float64)
    return crop_outline(2, torch.float64)


def outline_layout(family: TransformFamily) -> Tuple[int, int]:
    """``(points per edge, rows)`` of the annotated outline's spline for ``family``: the
    distinct ``x`` and ``y`` values of its reference points (a ``rows x cols`` grid:
    ``(cols, rows)``; ASTER's top / bottom layout of ``K`` points: ``(K / 2, 2)``; a
    matrix family: ``(2, 2)``)."""
    ref = outline_reference_points(family)
    return len(torch.unique(ref[:, 0].round(decimals=9))), len(torch.unique(ref[:, 1].round(decimals=9)))


def polygon_edges(polygons: Sequence[np.ndarray], points_per_edge: int) -> Tuple[Tensor, Tensor]:
    """Top and bottom edges ``(M, points_per_edge, 2)`` float64 of ``M`` text polygons
    (``(P, 2)`` each, any pixel convention, clockwise from the word's start: the top edge
    in reading order, then the bottom edge back; 4 points for a straight word), both in
    reading order, resampled evenly by arc length (ends kept)."""
    tops, bottoms = [], []
    for i, polygon in enumerate(polygons):
        pts = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
        if len(pts) < 4 or not np.isfinite(pts).all():
            raise ValueError(f"text polygon #{i} needs at least 4 finite points (top edge, then bottom edge), "
                             f"got {len(pts)}")
        top, bottom = split_top_bottom(pts)
        tops.append(resample_polyline(top, points_per_edge))
        bottoms.append(resample_polyline(bottom, points_per_edge))
    if not tops:
        empty = torch.zeros(0, points_per_edge, 2, dtype=torch.float64)
        return empty, empty.clone()
    return torch.from_numpy(np.stack(tops)), torch.from_numpy(np.stack(bottoms))


def roi_outline_targets(polygons: Sequence[np.ndarray], boxes: Tensor, family: TransformFamily) -> Tensor:
    """What a rectifier of ``family`` should predict for each RoI: ``(M, K, 2)`` points in
    the RoI frame (``(-1, -1)`` / ``(1, 1)`` the box corners; the context margin of a
    rectifier's pooled view does not change that frame), dtype and device of ``boxes``.

    ``polygons``: ``M`` word polygons in continuous image pixels (as :func:`polygon_edges`
    takes them); ``boxes (M, 4)`` ``(x1, y1, x2, y2)``, the RoIs, same pixels (read
    without gradient). The polygon's spline (:func:`outline_layout`'s points per edge and
    rows, :func:`~stn_plugin.geometry.outline.outline_tps`) is evaluated at
    :func:`outline_reference_points`. A TPS family bounded by ``control_point_range``
    gets its targets clipped just inside that bound, where its points can reach.
    """
    if boxes.dim() != 2 or boxes.shape[1] != 4 or boxes.shape[0] != len(polygons):
        raise ValueError(f"boxes must be ({len(polygons)}, 4) as (x1, y1, x2, y2), one per polygon, "
                         f"got {tuple(boxes.shape)}")
    n, rows = outline_layout(family)
    ref = outline_reference_points(family)
    if len(polygons) == 0:
        return boxes.new_zeros(0, ref.shape[0], 2)
    top, bottom = polygon_edges(polygons, n)
    frame_boxes = boxes.detach().to("cpu", torch.float64)
    spline = outline_tps(pixel_to_roi_frame(top, frame_boxes), pixel_to_roi_frame(bottom, frame_boxes), rows)
    targets = spline.map_points(ref[None].expand(len(polygons), -1, -1))
    limit = getattr(family, "control_point_range", None)
    if limit is not None:
        targets = targets.clamp(-limit * (1 - 1e-3), limit * (1 - 1e-3))
    return targets.to(boxes.device, boxes.dtype)


def outline_points(family: TransformFamily, transform: Transform) -> Tensor:
    """``(N, K, 2)`` points of predicted transforms (RoI frame) to compare with
    :func:`roi_outline_targets`: a TPS's source control points, a matrix transform's
    images of the crop corners; differentiable."""
    if isinstance(family, TPSFamily):
        return transform.control_points
    ref = outline_reference_points(family).to(transform.device, transform.dtype)
    return transform.map_points(ref[None].expand(transform.batch_size, -1, -1))


def outline_loss(predicted: Tensor, target: Tensor, beta: float = 0.1) -> Tensor:
    """Smooth L1 (``beta`` in box half-sizes) between predicted and target outline points
    ``(N, K, 2)``, averaged over points and coordinates; 0 for ``N = 0`` (still attached
    to ``predicted``'s graph)."""
    if predicted.shape != target.shape:
        raise ValueError(f"predicted and target outline points differ in shape: {tuple(predicted.shape)} and "
                         f"{tuple(target.shape)}")
    if predicted.numel() == 0:
        return predicted.sum() * 0.0
    return F.smooth_l1_loss(predicted, target.to(predicted.dtype), beta=beta)
