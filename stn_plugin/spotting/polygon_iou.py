"""Intersection over union of text polygons (shapely, which mmdet depends on).

Polygons are ``(P, 2)`` arrays (or flat ``[x1, y1, x2, y2, ...]`` lists) of ``P >= 3``
finite points in one image's pixel coordinates; the IoU does not depend on whether
they are index or continuous coordinates, as long as both sides use the same.
An outline that crosses itself (a model's prediction can) is repaired with
``shapely.make_valid`` rather than refused: its area is the area it encloses.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import shapely


def as_polygon_points(points, name: str) -> np.ndarray:
    """``points`` as a ``(P, 2)`` float64 array; ``ValueError`` naming ``name`` when it is
    not a list of ``x, y`` pairs, has fewer than 3 points or a non-finite coordinate."""
    try:
        pts = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be (P, 2) points or a flat list x1, y1, x2, y2, ...; "
                         f"got {type(points).__name__}") from None
    if pts.ndim == 1 and pts.size % 2 == 0:
        pts = pts.reshape(-1, 2)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"{name} must be (P, 2) points or a flat list x1, y1, x2, y2, ...; "
                         f"got shape {np.shape(points)}")
    if len(pts) < 3:
        raise ValueError(f"{name} must have at least 3 points, got {len(pts)}")
    if not np.isfinite(pts).all():
        raise ValueError(f"{name} has non-finite coordinates (NaN or inf)")
    return pts


def box_polygon(box: Sequence[float]) -> np.ndarray:
    """``(x1, y1, x2, y2)`` as a clockwise ``(4, 2)`` polygon from the top-left corner."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]])


def _geometry(pts: np.ndarray):
    poly = shapely.Polygon(pts)
    return poly if poly.is_valid else shapely.make_valid(poly)


def polygon_areas(polygons: Sequence[np.ndarray]) -> np.ndarray:
    """``(len(polygons),)`` areas of validated ``(P, 2)`` polygons, self-crossing
    outlines repaired as for the IoU (so a zero area means no IoU can be above 0)."""
    return np.array([shapely.area(_geometry(p)) for p in polygons], np.float64).reshape(-1)


def polygon_iou_matrix(polygons_a: Sequence[np.ndarray], polygons_b: Sequence[np.ndarray]) -> np.ndarray:
    """``(len(a), len(b))`` IoU of every pair of validated ``(P, 2)`` polygons (0 when
    the union has no area)."""
    out = np.zeros((len(polygons_a), len(polygons_b)), np.float64)
    if not len(polygons_a) or not len(polygons_b):
        return out
    ga = np.array([_geometry(p) for p in polygons_a], dtype=object)
    gb = np.array([_geometry(p) for p in polygons_b], dtype=object)
    inter = shapely.area(shapely.intersection(ga[:, None], gb[None, :]))
    union = shapely.area(ga)[:, None] + shapely.area(gb)[None, :] - inter
    np.divide(inter, union, out=out, where=union > 0)
    return out
