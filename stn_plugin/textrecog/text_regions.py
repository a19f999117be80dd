"""Text regions of scene images: polygons with a reading direction, and their checks.

A region is a polygon in **index coordinates** of its image (OpenCV's convention and
that of the ICDAR / Total-Text / CTW1500 annotations: pixel centres on integers, ``x``
to the right, ``y`` down), listed clockwise on screen from the word's start:

* 4 points (ICDAR 2015 quadrilateral): top-left, top-right, bottom-right, bottom-left;
* 2n points (Total-Text, CTW1500, mmocr polygons): n along the top edge in reading
  order, then n along the bottom edge back from the end to the start (an odd count
  is split where the closing edge at the word's end is the shortest).

:func:`check_region` rejects what cannot be rectified -- too few points, non-finite
coordinates, a self-intersecting outline, a collinear or tiny one, one listed
counter-clockwise (it would come out mirrored), or one outside the image -- with a
:class:`DegenerateRegionError` that names the region.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence, Tuple

import numpy as np

#: Smallest extent (pixels) a region's top-to-bottom height and length may have.
MIN_REGION_SIDE = 2.0


class DegenerateRegionError(ValueError):
    """A text region that cannot be rectified; the message names the region."""


@dataclass
class TextRegion:
    """One annotated text region.

    Attributes:
        points: ``(P, 2)`` float64 polygon, index coordinates of the image, clockwise
            from the word's start (see the module docstring).
        text: the transcription ('' when unknown).
        ignore: the annotation marks the region "do not care" (e.g. ``###``).
        name: where it comes from, e.g. ``'gt_img_1.txt:3'``, used in messages.
    """

    points: np.ndarray
    text: str = ""
    ignore: bool = False
    name: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.points = np.asarray(self.points, dtype=np.float64)
        if self.points.ndim == 1 and self.points.size % 2 == 0:
            self.points = self.points.reshape(-1, 2)
        if self.points.ndim != 2 or self.points.shape[1] != 2:
            raise DegenerateRegionError(f"region {self.name or '?'}: points must be (P, 2) or a flat list "
                                        f"x1, y1, x2, y2, ...; got shape {np.shape(self.points)}")


def _label(name: str) -> str:
    return f"region {name}" if name else "region"


def _orientation(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Sign of the turn a -> b -> c for ``(..., 2)`` point arrays: +1, -1, or 0 when collinear."""
    return np.sign((b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1])
                   - (b[..., 1] - a[..., 1]) * (c[..., 0] - a[..., 0]))


def _within_box(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Whether c lies in the closed bounding box of a and b (for c collinear with a-b:
    on the segment)."""
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    return ((lo <= c) & (c <= hi)).all(-1)


def _segments_touch(p1: np.ndarray, p2: np.ndarray, q1: np.ndarray, q2: np.ndarray) -> np.ndarray:
    """Whether segments p1-p2 and q1-q2 share a point, for broadcastable ``(..., 2)``
    arrays of end points: a proper crossing, an end point on the other segment, or a
    collinear overlap. Exact for integer coordinates; the orientation signs are those
    of the float64 cross products."""
    o1, o2 = _orientation(p1, p2, q1), _orientation(p1, p2, q2)
    o3, o4 = _orientation(q1, q2, p1), _orientation(q1, q2, p2)
    proper = (o1 != o2) & (o3 != o4) & (o1 != 0) & (o2 != 0) & (o3 != 0) & (o4 != 0)
    return (proper | ((o1 == 0) & _within_box(p1, p2, q1)) | ((o2 == 0) & _within_box(p1, p2, q2))
            | ((o3 == 0) & _within_box(q1, q2, p1)) | ((o4 == 0) & _within_box(q1, q2, p2)))


#: Edge pairs tested at once by :func:`self_intersection` (bounds its memory to a few
#: tens of MB whatever the polygon's size).
_PAIR_CHUNK = 1 << 18


def self_intersection(points: np.ndarray) -> Optional[Tuple[int, int]]:
    """Indices ``(i, j)``, ``i < j``, of two non-adjacent edges (edge ``i`` joins point
    ``i`` and ``i + 1``, the last one closes the polygon) that cross or touch; None if
    the outline is simple. Of several such pairs, the first in ``(i, j)`` order.

    Vectorised over blocks of edges: the pairs whose bounding boxes meet (two segments
    that share a point always do) are found for a block of ``i`` against every ``j``,
    and only those get the exact test, so a contour of thousands of points takes a
    fraction of a second and memory stays bounded by ``_PAIR_CHUNK`` pairs.
    """
    pts = np.asarray(points, dtype=np.float64)
    n = len(pts)
    a, b = pts, np.roll(pts, -1, axis=0)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    rows = max(1, _PAIR_CHUNK // max(n, 1))
    for start in range(0, max(n - 2, 0), rows):
        i = np.arange(start, min(start + rows, n - 2))[:, None]
        j = np.arange(start + 2, n)  # no block pairs an edge with an earlier one
        candidate = (j >= i + 2) & ~((i == 0) & (j == n - 1))
        candidate &= ((lo[i, 0] <= hi[None, j, 0]) & (lo[None, j, 0] <= hi[i, 0])
                      & (lo[i, 1] <= hi[None, j, 1]) & (lo[None, j, 1] <= hi[i, 1]))
        ii, jj = np.nonzero(candidate)  # row-major: in (i, j) order
        if not len(ii):
            continue
        ii, jj = ii + start, jj + start + 2
        hit = np.flatnonzero(_segments_touch(a[ii], b[ii], a[jj], b[jj]))
        if len(hit):
            return int(ii[hit[0]]), int(jj[hit[0]])
    return None


def signed_area(points: np.ndarray) -> float:
    """Shoelace area of a polygon in image coordinates (``y`` down): positive when the
    points run clockwise on screen."""
    x, y = points[:, 0], points[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def split_top_bottom(points: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Top and bottom edges of a clockwise polygon, both in reading order (start -> end).

    ``2n`` points split into halves; an odd count ``2n + 1`` puts the extra point on
    the side whose split makes the word's end (the edge joining the two halves) the
    shorter. A quadrilateral gives 2 + 2.
    """
    n = len(points)
    if n % 2 == 0:
        k = n // 2
    else:
        # candidate ends: edge (k-1 -> k) for k = n//2 and k = n//2 + 1
        cands = (n // 2, n // 2 + 1)
        k = min(cands, key=lambda c: float(np.linalg.norm(points[c] - points[c - 1])))
    return points[:k].copy(), points[k:][::-1].copy()


def polyline_length(points: np.ndarray) -> float:
    """Length of the open polyline through ``(P, 2)`` points."""
    return float(np.linalg.norm(np.diff(points, axis=0), axis=1).sum())


def resample_polyline(points: np.ndarray, num: int) -> np.ndarray:
    """``num`` points spread evenly by arc length along an open polyline, ends included."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    targets = np.linspace(0.0, cum[-1], num)
    return np.stack([np.interp(targets, cum, points[:, 0]), np.interp(targets, cum, points[:, 1])], 1)


def check_region(points: np.ndarray, image_size: Optional[Sequence[int]] = None, name: str = "") -> np.ndarray:
    """Validate a region's polygon; returns it as ``(P, 2)`` float64.

    Raises :class:`DegenerateRegionError` naming ``name`` when it has fewer than 4
    points, non-finite coordinates, a self-intersecting or counter-clockwise
    outline, a top-to-bottom height or a length under :data:`MIN_REGION_SIDE`
    pixels (collinear points included), or, with ``image_size = (H, W)``, lies
    entirely outside the image.
    """
    label = _label(name)
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise DegenerateRegionError(f"{label}: points must be (P, 2), got shape {pts.shape}")
    if len(pts) < 4:
        raise DegenerateRegionError(f"{label}: needs at least 4 points (a quadrilateral or a top and a "
                                    f"bottom edge), got {len(pts)}")
    if not np.isfinite(pts).all():
        raise DegenerateRegionError(f"{label}: has non-finite coordinates")
    centred = pts - pts.mean(0)
    if np.linalg.svd(centred, compute_uv=False)[-1] < 1e-6 * max(1.0, float(np.abs(centred).max())):
        raise DegenerateRegionError(f"{label}: is degenerate (all {len(pts)} points collinear)")
    crossing = self_intersection(pts)
    if crossing is not None:
        i, j = crossing
        raise DegenerateRegionError(f"{label}: the outline intersects itself (edges {i}-{i + 1} and "
                                    f"{j}-{(j + 1) % len(pts)}); expected a simple polygon listed clockwise, "
                                    "top edge first")
    top, bottom = split_top_bottom(pts)
    height = float(np.mean([np.linalg.norm(top[0] - bottom[0]), np.linalg.norm(top[-1] - bottom[-1])]))
    length = 0.5 * (polyline_length(top) + polyline_length(bottom))
    area = signed_area(pts)
    if height < MIN_REGION_SIDE or length < MIN_REGION_SIDE or abs(area) < MIN_REGION_SIDE ** 2:
        raise DegenerateRegionError(f"{label}: is degenerate (collinear or tiny: height {height:.2f} px, "
                                    f"length {length:.2f} px, area {abs(area):.2f} px^2)")
    if area < 0:
        raise DegenerateRegionError(f"{label}: is listed counter-clockwise and would come out mirrored; "
                                    "expected the top edge in reading order, then the bottom edge back")
    if image_size is not None:
        h, w = int(image_size[0]), int(image_size[1])
        x0, y0 = pts.min(0)
        x1, y1 = pts.max(0)
        if x1 < -0.5 or y1 < -0.5 or x0 > w - 0.5 or y0 > h - 0.5:
            raise DegenerateRegionError(f"{label}: lies outside the {w}x{h} image (x {x0:.1f}..{x1:.1f}, "
                                        f"y {y0:.1f}..{y1:.1f})")
    return pts
