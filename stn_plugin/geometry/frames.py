"""Frame geometry of a rectification: where a transform's output frame lands in its
input, and the output size that keeps the sampled region's proportions -- the one
place that defines it.

A transform maps normalised output coordinates to normalised input coordinates. Its
*frame lines* are ``lines`` horizontal and ``lines`` vertical lines of the output frame,
each sampled at ``per_line`` points. Mapped into an input of ``(H, W)`` pixels they
outline the sampled region (:func:`frame_outline`), and they measure it
(:func:`region_sizes`), in input pixels::

    h = mean_k |bottom_k - top_k|              (top / bottom edge, point k of per_line)
    w = sum_k  |centre_{k+1} - centre_k|       (the length of the centre line)

An output of ``(h, w)`` keeps the region's proportions and pixel scale.
:func:`frame_sizes` rounds it and bounds it: a region longer than ``max_side`` is
scaled down by one factor for both sides (the aspect is kept), then each side is
raised to at least ``min_side``.

Conventions: sizes are ``(height, width)``; points are ``(x, y)`` in continuous pixel
coordinates (pixel centres at ``+0.5``), as in :mod:`stn_plugin.geometry.coords`.
"""
from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from .coords import normalized_to_pixel
from .transforms import Transform

__all__ = ["FRAME_POINTS", "MIN_SIDE", "MAX_SIDE", "MAX_SAMPLING_RATIO", "frame_lines", "frame_outline",
           "region_sizes", "bounded_size", "frame_sizes", "auto_sampling_ratio"]

#: Points per frame line: odd, so each line's middle point is sampled.
FRAME_POINTS = 33
#: Default bounds of an output side in pixels (:func:`bounded_size`).
MIN_SIDE = 8
MAX_SIDE = 4096
#: The most sub-samples per output pixel and axis that :func:`auto_sampling_ratio` asks for.
MAX_SAMPLING_RATIO = 4


def frame_lines(lines: int = 5, per_line: int = FRAME_POINTS) -> Tensor:
    """``(2 * lines, per_line, 2)`` float64 normalised output points: ``lines``
    horizontal and ``lines`` vertical lines, alternating, the first horizontal one at
    the top (with ``lines=3`` the horizontal ones are the top edge, the centre line and
    the bottom edge).

    >>> frame_lines(2, 3)[:2].tolist()  # the top edge, then the left edge
    [[[-1.0, -1.0], [0.0, -1.0], [1.0, -1.0]], [[-1.0, -1.0], [-1.0, 0.0], [-1.0, 1.0]]]
    """
    if lines < 2 or per_line < 2:
        raise ValueError(f"lines and per_line must be at least 2, got lines={lines}, per_line={per_line}")
    s = torch.linspace(-1, 1, per_line, dtype=torch.float64)
    polys = []
    for v in torch.linspace(-1, 1, lines, dtype=torch.float64):
        polys.append(torch.stack([s, torch.full_like(s, v)], -1))
        polys.append(torch.stack([torch.full_like(s, v), s], -1))
    return torch.stack(polys)


@torch.no_grad()
def frame_outline(transform: Transform, sizes: Sequence[Sequence[int]], lines: int = 5,
                  per_line: int = FRAME_POINTS) -> List[np.ndarray]:
    """Per batch entry ``i``, ``(2 * lines, per_line, 2)`` float64 pixel coordinates in
    its input of ``sizes[i] = (H, W)`` of the :func:`frame_lines`: the sampled region.
    One ``map_points`` call for the whole batch.

    >>> from stn_plugin.geometry.transforms import MatrixTransform
    >>> half = MatrixTransform(torch.tensor([[[0.5, 0.0, 0.0], [0.0, 0.25, 0.0]]]))
    >>> frame_outline(half, [(40, 120)], lines=3, per_line=3)[0][0].tolist()  # the top edge
    [[30.0, 15.0], [60.0, 15.0], [90.0, 15.0]]
    """
    if len(sizes) != transform.batch_size:
        raise ValueError(f"sizes has {len(sizes)} entries but the transform's batch size is {transform.batch_size}")
    pts = frame_lines(lines, per_line)
    mapped = transform.map_points(pts.reshape(1, -1, 2).to(transform.device, transform.dtype))
    mapped = mapped.double().cpu().reshape(transform.batch_size, *pts.shape)
    return [normalized_to_pixel(mapped[i], tuple(sizes[i])).numpy() for i in range(transform.batch_size)]


def region_sizes(transform: Transform, sizes: Sequence[Sequence[int]]) -> List[Tuple[float, float]]:
    """Per batch entry, ``(h, w)`` in input pixels (unrounded) of the region the
    transform samples from an input of ``sizes[i]`` (the formula in the module's
    docstring). Raises ``ValueError`` naming the entry when the frame lands on
    non-finite points."""
    out = []
    for i, lines in enumerate(frame_outline(transform, sizes, lines=3)):
        top, centre, bottom = lines[0::2]
        h = float(np.linalg.norm(bottom - top, axis=-1).mean())
        w = float(np.linalg.norm(np.diff(centre, axis=0), axis=-1).sum())
        if not (math.isfinite(h) and math.isfinite(w)):
            raise ValueError(f"the transform maps the output frame to non-finite points (batch entry {i})")
        out.append((h, w))
    return out


def bounded_size(h: float, w: float, min_side: int = MIN_SIDE, max_side: int = MAX_SIDE) -> Tuple[int, int]:
    """``(h, w)`` rounded to pixels, scaled by one factor so that the longer side is at
    most ``max_side`` (the aspect ratio is kept), then each side at least ``min_side``.

    >>> bounded_size(300, 12000)   # a long line: both sides shrink by 4096 / 12000
    (102, 4096)
    >>> bounded_size(2.4, 30.6)
    (8, 31)
    """
    if not 1 <= min_side <= max_side:
        raise ValueError(f"need 1 <= min_side <= max_side, got min_side={min_side}, max_side={max_side}")
    scale = min(1.0, max_side / max(h, w, 1e-12))
    return (int(min(max_side, max(min_side, round(h * scale)))),
            int(min(max_side, max(min_side, round(w * scale)))))


def frame_sizes(transform: Transform, sizes: Sequence[Sequence[int]], min_side: int = MIN_SIDE,
                max_side: int = MAX_SIDE) -> List[Tuple[int, int]]:
    """Per batch entry, the output size ``(h, w)`` at which the rectified region keeps
    its proportions and pixel scale: :func:`region_sizes` through :func:`bounded_size`.

    >>> from stn_plugin.geometry.transforms import MatrixTransform
    >>> half = MatrixTransform(torch.tensor([[[0.5, 0.0, 0.0], [0.0, 0.25, 0.0]]]))
    >>> frame_sizes(half, [(40, 120)])  # the middle half of the width, a quarter of the height
    [(10, 60)]
    >>> identity = MatrixTransform(torch.eye(3)[None, :2].repeat(2, 1, 1))
    >>> frame_sizes(identity, [(40, 120), (300, 12000)])
    [(40, 120), (102, 4096)]
    """
    return [bounded_size(h, w, min_side, max_side) for h, w in region_sizes(transform, sizes)]


def auto_sampling_ratio(region: Sequence[float], size: Sequence[int], max_samples: Optional[int] = None) -> int:
    """Sub-samples per output pixel and axis for sampling a region of ``region = (h, w)``
    input pixels into an output of ``size = (h, w)``: ``ceil`` of how many input pixels
    one output pixel spans along its longer-spanning axis (a quarter pixel of slack),
    between 1 and :data:`MAX_SAMPLING_RATIO`. At the region's own size it is 1.
    ``max_samples`` bounds the sub-sample grid ``h * w * ratio ** 2`` (its memory) on
    huge outputs, where fewer sub-samples are taken (never fewer than one per pixel).

    >>> auto_sampling_ratio((40.3, 120.2), (40, 120)), auto_sampling_ratio((300, 12000), (102, 4096))
    (1, 3)
    >>> auto_sampling_ratio((6000, 6000), (4096, 4096)), auto_sampling_ratio((6000, 6000), (4096, 4096), 4096 ** 2)
    (2, 1)
    """
    span = max(r / s for r, s in zip(region, size))
    ratio = min(MAX_SAMPLING_RATIO, max(1, math.ceil(span - 0.25)))
    if max_samples is not None:
        ratio = min(ratio, max(1, math.isqrt(max_samples // max(1, size[0] * size[1]))))
    return int(ratio)
