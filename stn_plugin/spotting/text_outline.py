"""Text polygons from RoI transforms: where the edges of a rectified crop came from.

A rectifier samples each word through a transform in its RoI's frame (normalised
output ``(u, v)`` in ``[-1, 1]^2`` -> normalised box coordinates, the box's corners at
``-1`` and ``1``). The crop's top edge (``v = -1``, ``u`` from ``-1`` to ``1``) and its
bottom edge (``v = 1``, back from ``1`` to ``-1``), mapped through the transform and
the box, outline the region the crop shows: a quadrilateral for a matrix transform, a
curve for a thin-plate spline. The points come out clockwise from the word's start,
top edge first -- the order of the text annotations.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..geometry.coords import roi_frame_to_pixel
from ..geometry.transforms import Transform


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
