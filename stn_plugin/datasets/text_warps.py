"""Geometric warps of a flat text mask, each with the map of its points (numpy / OpenCV).

A warp takes a float coverage mask ``(h, w)`` in [0, 1] (the flat text of
:mod:`stn_plugin.datasets.text_rendering`) and returns the warped mask, sized to hold
all of it, and a :data:`PointMap` sending points of the flat mask to the warped one, so
a generator knows exactly where the text's outline went (its geometry label). Points
are ``(x, y)`` in index coordinates (pixel centres on integers, OpenCV's convention).

:data:`WARPS` (name -> what it does):

* ``none``: nearly straight, rotated within +-3 degrees; ``flat``: within +-1 degree;
* ``rotate``: rotated by 8-30 degrees; ``rotate_small``: by 2-12 degrees (text lines);
* ``perspective``: the rectangle mapped to a random quadrilateral (SVTP-like);
* ``curve``: the baseline bent along a parabola (0.35-0.9 text heights deep);
* ``arc``: laid along a circular arc spanning 0.5-1.3 rad (CUTE80-like), convex up or
  down; ``strong_arc``: 1.6-3.0 rad (logos, seals); ``arc_line``: 0.2-0.8 rad (a long
  line bowed gently);
* ``wave``: the baseline along 0.5-1.5 periods of a sine, 0.15-0.45 text heights deep;
* ``curl``: a page curl, straight up to a point and then bending away quadratically
  (0.3-1.5 text heights at the end), at the start or the end of the text.

>>> mask = np.zeros((20, 60), np.float32); mask[5:15, 5:55] = 1
>>> warped, to_warped = distort_mask(mask, "curl", np.random.default_rng(0))
>>> warped.ndim, to_warped(np.array([[30.0, 10.0]])).shape
(2, (1, 2))
"""
from __future__ import annotations

import math
from typing import Callable, Dict, Tuple

import cv2
import numpy as np

from ..geometry.matrices import homography_from_points

__all__ = ["DISTORTIONS", "PointMap", "WARPS", "distort_mask"]

#: The warps of the synthetic word set (:mod:`stn_plugin.textrecog.synthetic_words`).
DISTORTIONS = ("none", "rotate", "perspective", "curve", "arc")

def _remap(mask: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    return cv2.remap(mask, map_x.astype(np.float32), map_y.astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)


#: A map from the flat word's pixel coordinates to the distorted image's, ``(N, 2) -> (N, 2)``
#: (x, y; OpenCV's convention: pixel centres at integers).
PointMap = Callable[[np.ndarray], np.ndarray]


def _affine_map(m: np.ndarray) -> PointMap:
    return lambda p: p @ m[:, :2].T + m[:, 2]


def _rotate(mask: np.ndarray, angle_deg: float) -> Tuple[np.ndarray, PointMap]:
    h, w = mask.shape
    a = math.radians(angle_deg)
    nw = int(math.ceil(abs(w * math.cos(a)) + abs(h * math.sin(a)))) + 2
    nh = int(math.ceil(abs(w * math.sin(a)) + abs(h * math.cos(a)))) + 2
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, 1.0)
    m[0, 2] += (nw - w) / 2
    m[1, 2] += (nh - h) / 2
    return cv2.warpAffine(mask, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=0), _affine_map(m)


def _perspective(mask: np.ndarray, rng: np.random.Generator) -> Tuple[np.ndarray, PointMap]:
    h, w = mask.shape
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    # One side shrinks vertically (viewed at an angle), plus independent corner jitter.
    dst = src.copy()
    squeeze = rng.uniform(0.15, 0.4) * h
    if rng.random() < 0.5:   # right side farther away
        dst[1, 1] += squeeze; dst[2, 1] -= squeeze
    else:                    # left side farther away
        dst[0, 1] += squeeze; dst[3, 1] -= squeeze
    dst[:, 0] += rng.uniform(-0.08, 0.08, 4) * w
    dst[:, 1] += rng.uniform(-0.12, 0.12, 4) * h
    if rng.random() < 0.5:   # horizontal shear of the top edge
        dst[[0, 1], 0] += rng.uniform(-0.25, 0.25) * h
    for top, bottom in ((0, 3), (1, 2)):  # keep each side at least 0.4 h tall (no fold)
        short = 0.4 * h - (dst[bottom, 1] - dst[top, 1])
        if short > 0:
            dst[top, 1] -= short / 2
            dst[bottom, 1] += short / 2
    dst -= dst.min(0)
    nw, nh = int(math.ceil(dst[:, 0].max())) + 1, int(math.ceil(dst[:, 1].max())) + 1
    m = homography_from_points(src, dst.astype(np.float32)).numpy()

    def forward(p: np.ndarray) -> np.ndarray:
        q = p @ m[:, :2].T + m[:, 2]
        return q[:, :2] / q[:, 2:]

    return cv2.warpPerspective(mask, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=0), forward


def _curve(mask: np.ndarray, rng: np.random.Generator) -> Tuple[np.ndarray, PointMap]:
    h, w = mask.shape
    depth = rng.uniform(0.35, 0.9) * h * (1 if rng.random() < 0.5 else -1)
    pad = int(math.ceil(abs(depth))) + 1
    ys, xs = np.mgrid[0:h + pad, 0:w].astype(np.float32)
    top = pad if depth < 0 else 0

    def offset(x):                                     # 0 at the middle, depth at the ends
        return depth * ((2 * x - w) / w) ** 2

    def forward(p: np.ndarray) -> np.ndarray:
        return np.stack([p[:, 0], p[:, 1] + top + offset(p[:, 0])], 1)

    return _remap(mask, xs, ys - top - offset(xs)), forward


def _arc(mask: np.ndarray, rng: np.random.Generator,
         span_range: Tuple[float, float] = (0.5, 1.3)) -> Tuple[np.ndarray, PointMap]:
    h, w = mask.shape
    span = rng.uniform(*span_range)                    # radians covered by the text
    radius = w / span                                  # of the text's centre line
    up = rng.random() < 0.5                            # convex up (centre below the text)
    outer = radius + h / 2
    nw = int(math.ceil(2 * outer * math.sin(min(span / 2 + h / (2 * radius), math.pi / 2)))) + 4
    nh = int(math.ceil(outer - (radius - h / 2) * math.cos(span / 2 + h / (2 * radius)))) + 4
    # polar frame: angle theta from the vertical through the centre, radius r
    centre_y = (outer + 2) if up else (nh - 2 - outer)
    sign = -1.0 if up else 1.0                         # the text lies above (up) or below the centre
    ys, xs = np.mgrid[0:nh, 0:nw].astype(np.float64)
    dx, dy = xs - nw / 2, ys - centre_y
    r = np.hypot(dx, dy)
    theta = np.arctan2(dx, sign * dy)
    src_x = w / 2 + theta * radius
    src_y = h / 2 + sign * (r - radius)

    def forward(p: np.ndarray) -> np.ndarray:
        th = (p[:, 0] - w / 2) / radius
        rr = radius + sign * (p[:, 1] - h / 2)
        return np.stack([nw / 2 + rr * np.sin(th), centre_y + sign * rr * np.cos(th)], 1)

    return _remap(mask, src_x, src_y), forward


def _bend(mask: np.ndarray, offset: Callable[[np.ndarray], np.ndarray], depth: float) -> Tuple[np.ndarray, PointMap]:
    """Shift each column of ``mask`` down by ``offset(x)`` pixels (``|offset| <= depth``)."""
    h, w = mask.shape
    pad = int(math.ceil(depth)) + 1
    ys, xs = np.mgrid[0:h + 2 * pad, 0:w].astype(np.float32)

    def forward(p: np.ndarray) -> np.ndarray:
        return np.stack([p[:, 0], p[:, 1] + pad + offset(p[:, 0])], 1)

    return _remap(mask, xs, ys - pad - offset(xs)), forward


def _wave(mask: np.ndarray, rng: np.random.Generator) -> Tuple[np.ndarray, PointMap]:
    h, w = mask.shape
    ink_h = min(h, w) * 0.6
    amp = rng.uniform(0.15, 0.45) * ink_h
    cycles, phase = rng.uniform(0.5, 1.5), rng.uniform(0, 2 * math.pi)
    return _bend(mask, lambda x: amp * np.sin(2 * math.pi * cycles * x / w + phase), amp)


def _curl(mask: np.ndarray, rng: np.random.Generator) -> Tuple[np.ndarray, PointMap]:
    h, w = mask.shape
    ink_h = min(h, w) * 0.6
    depth = rng.uniform(0.3, 1.5) * ink_h * (1 if rng.random() < 0.5 else -1)
    start = rng.uniform(0.3, 0.7) * w
    at_end = rng.random() < 0.6                        # a page curls at its outer edge

    def offset(x):
        t = (x - start) / (w - start) if at_end else (start - x) / start
        return depth * np.clip(t, 0, None) ** 2

    return _bend(mask, offset, abs(depth))


#: name -> warp(mask, rng) -> (warped mask, point map); see the module docstring.
WARPS: Dict[str, Callable[[np.ndarray, np.random.Generator], Tuple[np.ndarray, PointMap]]] = {
    "none": lambda m, rng: _rotate(m, rng.uniform(-3, 3)),
    "flat": lambda m, rng: _rotate(m, rng.uniform(-1, 1)),
    "rotate": lambda m, rng: _rotate(m, rng.uniform(8, 30) * (1 if rng.random() < 0.5 else -1)),
    "rotate_small": lambda m, rng: _rotate(m, rng.uniform(2, 12) * (1 if rng.random() < 0.5 else -1)),
    "perspective": _perspective,
    "curve": _curve,
    "arc": _arc,
    "strong_arc": lambda m, rng: _arc(m, rng, (1.6, 3.0)),
    "arc_line": lambda m, rng: _arc(m, rng, (0.2, 0.8)),
    "wave": _wave,
    "curl": _curl,
}


def distort_mask(mask: np.ndarray, distortion: str, rng: np.random.Generator) -> Tuple[np.ndarray, PointMap]:
    """Apply one of :data:`WARPS` to a float text mask ``(H, W)`` in [0, 1].

    Returns the distorted mask and the map of points from ``mask``'s pixel coordinates
    to the distorted mask's.
    """
    if distortion not in WARPS:
        raise ValueError(f"distortion must be one of {tuple(WARPS)}, got {distortion!r}")
    return WARPS[distortion](mask, rng)
