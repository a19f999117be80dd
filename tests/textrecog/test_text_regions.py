"""The self-intersection test of text regions: the vectorised search gives the answers of
the plain pair loop (kept here as the reference), touching and collinear edges
included, and handles a detector-sized contour of thousands of points quickly."""
from __future__ import annotations

import time

import numpy as np
import pytest

from stn_plugin.textrecog import text_regions
from stn_plugin.textrecog.text_regions import DegenerateRegionError, check_region, self_intersection


def _reference_segments_cross(p1, p2, q1, q2) -> bool:
    def orient(a, b, c):
        return np.sign((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))

    def on_segment(a, b, c):
        return min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])

    o1, o2, o3, o4 = orient(p1, p2, q1), orient(p1, p2, q2), orient(q1, q2, p1), orient(q1, q2, p2)
    if o1 != o2 and o3 != o4 and 0 not in (o1, o2, o3, o4):
        return True
    return ((o1 == 0 and on_segment(p1, p2, q1)) or (o2 == 0 and on_segment(p1, p2, q2))
            or (o3 == 0 and on_segment(q1, q2, p1)) or (o4 == 0 and on_segment(q1, q2, p2)))


def _reference_self_intersection(points):
    """The O(n^2) pair loop: first (i, j) in order whose non-adjacent edges share a point."""
    n = len(points)
    for i in range(n):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue
            if _reference_segments_cross(points[i], points[(i + 1) % n], points[j], points[(j + 1) % n]):
                return i, j
    return None


def _random_polygons(seed: int, count: int):
    """Polygons of 4..20 points: on a 5x5 integer grid (many touching, collinear and
    repeated points), star-shaped simple ones (by angle), and random floats."""
    rng = np.random.default_rng(seed)
    for k in range(count):
        n = int(rng.integers(4, 21))
        kind = k % 3
        if kind == 0:
            pts = rng.integers(0, 5, (n, 2)).astype(np.float64)
        elif kind == 1:
            angles = np.sort(rng.uniform(0, 2 * np.pi, n))
            radii = rng.uniform(5, 10, n)
            pts = np.stack([radii * np.cos(angles), radii * np.sin(angles)], 1).round(int(rng.integers(0, 3)))
        else:
            pts = rng.uniform(-10, 10, (n, 2))
        yield pts


@pytest.mark.parametrize("chunk", [None, 5])
def test_self_intersection_matches_the_pair_loop(monkeypatch, chunk):
    if chunk is not None:  # blocks of one or two rows: the order across blocks is kept
        monkeypatch.setattr(text_regions, "_PAIR_CHUNK", chunk)
    found = {True: 0, False: 0}
    for pts in _random_polygons(seed=0, count=450):
        want = _reference_self_intersection(pts)
        assert self_intersection(pts) == want, pts.tolist()
        found[want is None] += 1
    assert min(found.values()) > 50  # both simple and self-intersecting outlines were tried


@pytest.mark.parametrize("pts,want", [
    ([[0, 0], [4, 0], [4, 2], [0, 2]], None),                       # rectangle
    ([[0, 0], [4, 2], [4, 0], [0, 2]], (0, 2)),                      # bow tie: a proper crossing
    ([[0, 0], [4, 0], [2, 0], [2, 2]], (0, 2)),                      # edge folds back on itself (collinear overlap)
    ([[0, 0], [2, 0], [4, 0], [4, 2], [2, 0], [0, 2]], (0, 3)),      # a vertex touches another one
    ([[0, 0], [6, 0], [6, 4], [3, 0], [0, 4]], (0, 2)),              # a vertex touches an edge's inside
    ([[0, 0], [1, 0], [1, 0], [1, 1], [0, 1]], (0, 2)),              # repeated point: zero-length edge
    ([[0, 0], [3, 0], [3, 3], [2, 3], [2, 1], [1, 1], [1, 3], [0, 3]], None),  # simple, non-convex
])
def test_self_intersection_edge_cases(pts, want):
    pts = np.asarray(pts, np.float64)
    assert _reference_self_intersection(pts) == want
    assert self_intersection(pts) == want


def _contour(n: int, seed: int = 0) -> np.ndarray:
    """A detector-like closed contour of ``n`` points, clockwise on screen (y down)."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = 1.0 + 0.05 * rng.standard_normal(n)
    return np.stack([500 + 400 * r * np.cos(t), 300 + 100 * r * np.sin(t)], 1)


def test_a_4000_point_contour_is_checked_quickly():
    pts = _contour(4000)
    start = time.perf_counter()
    assert self_intersection(pts) is None
    checked = check_region(pts, (600, 1000), "contour")
    elapsed = time.perf_counter() - start
    print(f"check_region on a 4000-point contour: {elapsed * 1e3:.0f} ms")
    np.testing.assert_array_equal(checked, pts)

    crossed = pts.copy()
    crossed[[3000, 3001]] = crossed[[3001, 3000]]  # two swapped points: edges 2999 and 3001 cross
    assert self_intersection(crossed) == (2999, 3001)
    with pytest.raises(DegenerateRegionError, match=r"region contour: the outline intersects itself "
                                                    r"\(edges 2999-3000 and 3001-3002\)"):
        check_region(crossed, (600, 1000), "contour")
