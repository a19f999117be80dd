"""Flat word crops from annotated text regions, no learning.

* A quadrilateral (ICDAR 2015) is flattened by the perspective transform that sends
  the output rectangle's corners to the quad's corners -- the crop OpenCV's
  ``getPerspectiveTransform`` + ``warpPerspective`` give for the same corners (see
  :func:`opencv_perspective_matrix`).
* A curved polygon (Total-Text / CTW1500: top edge, then bottom edge) is flattened by a
  thin-plate spline whose control points are the two edges resampled evenly by arc
  length: the output's top row follows the top edge, its bottom row the bottom edge,
  and ends match ends.

Either way the output is sampled at the word's own size: its height is the mean
distance between the matched top and bottom points and its length the mean length of
the two edges, so a flattened word keeps its pixel scale. Sampling goes through
:func:`stn_plugin.ops.warp` (any device; ``sampling_ratio`` sub-samples per pixel
anti-alias large regions), border padding for regions that leave the image.

Transforms map normalised output coordinates to normalised image coordinates, the
package's convention (:mod:`stn_plugin.geometry.coords`), so they compose with a learned
rectifier's transform (:func:`rectify_regions` with ``refiner``).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from ..geometry.coords import index_to_continuous_matrix, pixel_matrix_to_normalized, pixel_to_normalized
from ..geometry.frames import auto_sampling_ratio, bounded_size
from ..geometry.matrices import homography_from_points
from ..geometry.outline import OUTLINE_ROWS, outline_tps
from ..geometry.transforms import ComposedTransform, MatrixTransform, TPSTransform, Transform
from ..ops.warp import warp
from .text_regions import (DegenerateRegionError, TextRegion, check_region, polyline_length, resample_polyline,
                           split_top_bottom)

#: Most control points per edge of a polygon's TPS (more add cost, not accuracy).
MAX_EDGE_POINTS = 16
#: Fewest control points per edge: even a 4-point polygon gets a smooth TPS.
MIN_EDGE_POINTS = 5


@dataclass
class RegionGeometry:
    """How one region is flattened.

    Attributes:
        transform: batch-1 transform, normalised output -> normalised image coordinates.
        size: ``(h, w)`` of the flat crop at the word's own pixel scale.
        kind: ``'perspective'`` (quadrilateral) or ``'tps'`` (polygon).
        top, bottom: the edges used, ``(n, 2)`` index coordinates of the image.
        natural_size: ``(h, w)`` at the word's own pixel scale (``size`` differs when
            ``height`` / ``max_side`` rescaled it).
    """

    transform: Transform
    size: Tuple[int, int]
    kind: str
    top: np.ndarray
    bottom: np.ndarray
    natural_size: Tuple[int, int] = (0, 0)


def _homography(src: np.ndarray, dst: np.ndarray) -> Tensor:
    """:func:`~stn_plugin.geometry.matrices.homography_from_points` for one region's corners,
    a degenerate quadrilateral raised as :class:`DegenerateRegionError`."""
    try:
        return homography_from_points(src, dst)
    except ValueError as err:
        raise DegenerateRegionError(f"no perspective transform for the quadrilateral: {err}") from err


def quad_size(quad: np.ndarray) -> Tuple[int, int]:
    """``(h, w)``: the mean length of the top / bottom and of the left / right sides."""
    q = np.asarray(quad, dtype=np.float64)
    w = 0.5 * (np.linalg.norm(q[1] - q[0]) + np.linalg.norm(q[2] - q[3]))
    h = 0.5 * (np.linalg.norm(q[3] - q[0]) + np.linalg.norm(q[2] - q[1]))
    return max(1, int(round(h))), max(1, int(round(w)))


def opencv_perspective_matrix(quad: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """OpenCV's matrix for the same crop: ``cv2.warpPerspective(image, M, (w, h))``
    with ``M = cv2.getPerspectiveTransform(quad, rectangle)``, ``rectangle`` the output's
    corners in index coordinates, ``(-0.5, -0.5) .. (w - 0.5, h - 0.5)``: the output
    pixels' outer edges land on the quad. Here computed without OpenCV, ``(3, 3)``."""
    h, w = int(size[0]), int(size[1])
    rect = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]])
    return _homography(np.asarray(quad, dtype=np.float64), rect).numpy()


def perspective_transform(quad: np.ndarray, image_size: Sequence[int], size: Sequence[int]) -> MatrixTransform:
    """Batch-1 projective transform from the ``size`` output frame onto ``quad``
    (index coordinates of an image of ``image_size = (H, W)``), float64."""
    h, w = int(size[0]), int(size[1])
    to_cont = index_to_continuous_matrix(dtype=torch.float64).numpy()
    quad_c = (np.c_[np.asarray(quad, dtype=np.float64), np.ones(4)] @ to_cont.T)[:, :2]
    rect_c = np.array([[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]])
    pix = _homography(rect_c, quad_c)  # output pixel -> image pixel
    return MatrixTransform(pixel_matrix_to_normalized(pix, image_size, (h, w))[None], affine=False)


def polygon_tps(top: np.ndarray, bottom: np.ndarray, image_size: Sequence[int],
                num_points: Optional[int] = None, rows: int = OUTLINE_ROWS) -> TPSTransform:
    """Batch-1 TPS sending the output frame's top row to ``top`` and its bottom row to
    ``bottom`` (``(n, 2)`` polylines in reading order, index coordinates of an image of
    ``image_size``), each resampled to ``num_points`` evenly by arc length; float64.

    Between the two edges, ``rows - 2`` inner rows of control points sit on the
    straight segments joining matched top and bottom points (at even fractions), so a
    vertical line of the output follows that segment: with the edges alone, a TPS
    bends the inside of a curved word by several pixels.
    """
    n = num_points or int(np.clip(max(len(top), len(bottom)), MIN_EDGE_POINTS, MAX_EDGE_POINTS))
    edges = np.stack([resample_polyline(top, n), resample_polyline(bottom, n)]) + 0.5  # index -> continuous
    t, b = pixel_to_normalized(torch.from_numpy(edges), image_size)
    return outline_tps(t[None], b[None], rows)


def region_geometry(points: np.ndarray, image_size: Sequence[int], name: str = "",
                    height: Optional[int] = None, max_side: Optional[int] = 2048,
                    size: Optional[Sequence[int]] = None) -> RegionGeometry:
    """The transform and output size that flatten one region (checked first by
    :func:`~stn_plugin.textrecog.text_regions.check_region`).

    ``height``: force the output height (the length follows the word's aspect);
    ``max_side``: scale the output down so neither side exceeds it, the aspect kept
    (:func:`~stn_plugin.geometry.frames.bounded_size`); ``size``: force the output
    ``(h, w)`` (a recognizer's fixed input; ``height`` and ``max_side`` are then unused).
    """
    pts = check_region(points, image_size, name)
    top, bottom = split_top_bottom(pts)
    if len(pts) == 4:
        h, w = quad_size(pts)
    else:
        n = int(np.clip(max(len(top), len(bottom)), MIN_EDGE_POINTS, MAX_EDGE_POINTS))
        t, b = resample_polyline(top, n), resample_polyline(bottom, n)
        h = max(1, int(round(float(np.linalg.norm(t - b, axis=1).mean()))))
        w = max(1, int(round(0.5 * (polyline_length(top) + polyline_length(bottom)))))
    natural = (h, w)
    if size is not None:
        h, w = (int(v) for v in size)
        if h < 1 or w < 1:
            raise ValueError(f"size must be (h, w) >= 1, got {tuple(size)}")
    elif height is not None:
        h, w = int(height), max(1, int(round(w * height / h)))
    if max_side is not None and size is None:
        h, w = bounded_size(h, w, min_side=1, max_side=max_side)
    if len(pts) == 4:
        return RegionGeometry(perspective_transform(pts, image_size, (h, w)), (h, w), "perspective", top, bottom,
                              natural)
    return RegionGeometry(polygon_tps(top, bottom, image_size), (h, w), "tps", top, bottom, natural)


def image_to_tensor(image: Union[np.ndarray, Tensor], device: Union[str, torch.device] = "cpu") -> Tensor:
    """``(H, W)`` / ``(H, W, C)`` numpy or ``(C, H, W)`` tensor -> ``(1, C, H, W)`` float32 on ``device``."""
    if isinstance(image, np.ndarray):
        arr = image[..., None] if image.ndim == 2 else image
        if arr.ndim != 3:
            raise ValueError(f"image: expected (H, W) or (H, W, C) numpy array, got shape {image.shape}")
        return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1))).to(device).float()[None]
    if isinstance(image, Tensor):
        if image.dim() != 3:
            raise ValueError(f"image: expected a (C, H, W) tensor, got shape {tuple(image.shape)}")
        return image.to(device).float()[None]
    raise TypeError(f"image: expected a numpy array or a torch tensor, got {type(image).__name__}")


def _as_points(region) -> Tuple[np.ndarray, str]:
    if isinstance(region, TextRegion):
        return region.points, region.name
    return np.asarray(region, dtype=np.float64).reshape(-1, 2), ""


@torch.no_grad()
def rectify_regions(image: Union[np.ndarray, Tensor], regions: Sequence[Union[TextRegion, np.ndarray]],
                    on_error: str = "raise", sampling_ratio: Union[int, str] = "auto", height: Optional[int] = None,
                    max_side: Optional[int] = 2048, device: Union[str, torch.device] = "cpu",
                    refiner: Optional[Callable] = None,
                    size: Optional[Sequence[int]] = None) -> List[Optional[np.ndarray]]:
    """Flat crops of ``regions`` of one ``image``.

    Args:
        image: ``(H, W, C)`` / ``(H, W)`` uint8 numpy (channels kept as given), or a
            ``(C, H, W)`` tensor.
        regions: :class:`TextRegion` s or ``(P, 2)`` / flat point lists (index
            coordinates, clockwise from the word's start).
        on_error: ``'raise'`` a :class:`DegenerateRegionError` naming the region, or
            ``'warn'``: warn and put None in its place.
        sampling_ratio: sub-samples per output pixel and axis (anti-aliasing), or
            ``'auto'``: 1 at the word's own size, else ``ceil`` of how many image
            pixels one output pixel spans (at most 4).
        height, max_side, size: see :func:`region_geometry`.
        refiner: optional learned refinement, e.g. a
            :class:`~stn_plugin.rectify.TextRectifier`'s
            ``refine_transforms``: ``(crops, transforms, sizes) -> (transforms, sizes)``;
            the image is still sampled once, by the composed transform.

    Returns one crop per region, same type and channels as ``image`` (numpy uint8 for
    numpy input, ``(C, h, w)`` in the input dtype for a tensor), or None for a skipped one.
    """
    if on_error not in ("raise", "warn"):
        raise ValueError(f"on_error must be 'raise' or 'warn', got {on_error!r}")
    src = image_to_tensor(image, device)
    image_size = tuple(src.shape[-2:])
    geoms: List[Optional[RegionGeometry]] = []
    for i, region in enumerate(regions):
        pts, name = _as_points(region)
        try:
            geoms.append(region_geometry(pts, image_size, name or f"#{i}", height, max_side, size))
        except DegenerateRegionError as err:
            if on_error == "raise":
                raise
            warnings.warn(f"skipped: {err}", stacklevel=2)
            geoms.append(None)
    transforms = [_to(g.transform, src.device) if g is not None else None for g in geoms]
    sizes = [g.size if g is not None else None for g in geoms]
    ratios = [_ratio(sampling_ratio, g) for g in geoms]
    if refiner is not None:
        keep = [i for i, g in enumerate(geoms) if g is not None]
        first = [_sample(src, transforms[i], sizes[i], ratios[i]) for i in keep]
        refined_t, refined_s = refiner(first, [transforms[i] for i in keep], [sizes[i] for i in keep])
        for i, t, s in zip(keep, refined_t, refined_s):
            transforms[i], sizes[i] = t, s
    out = []
    for t, s, r in zip(transforms, sizes, ratios):
        if t is None:
            out.append(None)
            continue
        crop = _sample(src, t, s, r)
        if isinstance(image, np.ndarray):
            crop = crop.clamp(0, 255).round().to(torch.uint8) if image.dtype == np.uint8 else crop
            crop = crop.permute(1, 2, 0).cpu().numpy()
            out.append(crop[..., 0] if image.ndim == 2 else crop)
        else:
            out.append(crop.round().clamp(0, 255).to(image.dtype) if not image.is_floating_point() else
                       crop.to(image.dtype))
    return out


def _ratio(sampling_ratio: Union[int, str], geom: Optional[RegionGeometry]) -> int:
    if geom is None:
        return 1
    if sampling_ratio != "auto":
        if not isinstance(sampling_ratio, int) or sampling_ratio < 1:
            raise ValueError(f"sampling_ratio must be a positive int or 'auto', got {sampling_ratio!r}")
        return sampling_ratio
    return auto_sampling_ratio(geom.natural_size, geom.size)


def _sample(src: Tensor, transform: Transform, size: Sequence[int], sampling_ratio: int) -> Tensor:
    """``(C, h, w)`` float32: ``src (1, C, H, W)`` sampled by a batch-1 transform."""
    return warp(src, transform, tuple(size), padding="border", sampling_ratio=sampling_ratio)[0]


def _to(transform: Transform, device) -> Transform:
    """The transform's parameters as float32 on ``device`` (TPS / matrix / composed)."""
    if isinstance(transform, MatrixTransform):
        return MatrixTransform(transform.matrix.to(device, torch.float32), transform.affine)
    if isinstance(transform, TPSTransform):
        return TPSTransform(transform.spline, transform.control_points.to(device, torch.float32))
    if isinstance(transform, ComposedTransform):
        return ComposedTransform(_to(transform.outer, device), _to(transform.inner, device))
    raise TypeError(f"cannot move a {type(transform).__name__} to {device}")
