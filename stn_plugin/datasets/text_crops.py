"""Text crops as a detector gives them, with the geometry of the text inside (numpy /
PIL / OpenCV, no mm* import): the data of the text rectifiers.

A sample is a word or a text line (1-8 words; digits, punctuation, mixed case) in one
of many font families, flat or warped (:data:`KINDS`), on a photo patch or a drawn
background (paper textures, gradients, stripes), cut out by an axis-aligned box that is
tight or loose (a neighbouring line's ink can enter it), under uneven illumination,
blur, noise and JPEG. With it comes the text's **outline**: its top and bottom edges,
:data:`EDGE_POINTS` points each from the text's start to its end, where the flat
text's box (the ink box widened by :data:`~stn_plugin.datasets.text_rendering.WORD_MARGIN`
ink heights) landed in the crop. The outline is exact (the warp's own point map), so
a rectifier can learn the geometry directly instead of from a recognition loss.

Coordinates: ``top`` and ``bottom`` are ``(x, y)`` in the crop's **index coordinates**
(pixel centres on integers, OpenCV's convention); add 0.5 for the package's continuous
pixel coordinates. Points of a loose crop lie inside it; those of a tight crop may lie
slightly outside.

Each sample depends only on ``(seed, index)`` and the font / photo sets (:func:`make_text_crop`).

>>> s = make_text_crop(0, 3, kinds=("flat_line",), fonts=find_font_families(TEXT_TRAINING_FAMILIES))
>>> s.image.dtype, s.image.ndim, s.kind, s.top.shape, s.bottom.shape
(dtype('uint8'), 3, 'flat_line', (17, 2), (17, 2))
>>> bool((s.bottom[:, 1] > s.top[:, 1]).all())      # the bottom edge lies below the top
True
"""
from __future__ import annotations

import math
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np

from .text_rendering import (TEXT_HELD_OUT_FAMILIES, TEXT_TRAINING_FAMILIES, background_photos,
                             contrasting_colour, find_font_families, flat_word, load_font, luminance,
                             synthetic_background)
from .text_warps import distort_mask
from .words import sample_line, sample_word

__all__ = ["EDGE_POINTS", "FLAT_KINDS", "KINDS", "LINE_KINDS", "TRAINING_WEIGHTS", "TextCropSample",
           "TextCropStyle", "crop_style", "make_text_crop", "normalized_outline"]

#: kind -> (warp of :data:`stn_plugin.datasets.text_warps.WARPS`, (fewest, most) words).
KINDS: Dict[str, Tuple[str, Tuple[int, int]]] = {
    "flat_word": ("flat", (1, 1)),
    "flat_line": ("flat", (3, 8)),
    "rotated": ("rotate", (1, 1)),
    "rotated_line": ("rotate_small", (3, 6)),
    "perspective": ("perspective", (1, 1)),
    "perspective_line": ("perspective", (3, 6)),
    "arc": ("arc", (1, 1)),
    "strong_arc": ("strong_arc", (1, 2)),
    "arc_line": ("arc_line", (3, 6)),
    "curled_line": ("curl", (3, 8)),
    "wave": ("wave", (1, 4)),
}
#: Kinds whose right rectification is (nearly) the identity.
FLAT_KINDS = ("flat_word", "flat_line")
#: Kinds of several words.
LINE_KINDS = tuple(k for k, (_, (lo, _)) in KINDS.items() if lo > 1)
#: How often each kind is drawn for training: a quarter of the samples flat.
TRAINING_WEIGHTS: Dict[str, float] = {
    "flat_word": 0.12, "flat_line": 0.13, "rotated": 0.08, "rotated_line": 0.08, "perspective": 0.08,
    "perspective_line": 0.08, "arc": 0.08, "strong_arc": 0.08, "arc_line": 0.08, "curled_line": 0.11,
    "wave": 0.08,
}
#: Points along each edge of the outline.
EDGE_POINTS = 17


class TextCropSample(NamedTuple):
    """One crop and its text's geometry (see the module docstring)."""

    image: np.ndarray    # (H, W, 3) uint8 RGB
    text: str
    kind: str            # one of KINDS
    top: np.ndarray      # (EDGE_POINTS, 2) float32: the top edge, text start -> end, index coords
    bottom: np.ndarray   # (EDGE_POINTS, 2) float32: the bottom edge, text start -> end


class TextCropStyle(NamedTuple):
    """What a set of crops is drawn from: font paths and background photos."""

    fonts: Tuple[str, ...]
    photos: Tuple[np.ndarray, ...]


def crop_style(split: str) -> TextCropStyle:
    """The fonts and photos of ``'training'`` (:data:`TEXT_TRAINING_FAMILIES`, photo set
    ``text_crops_training``) or ``'held_out'`` (:data:`TEXT_HELD_OUT_FAMILIES`, photo
    set ``held_out_words``): the two share no font family and no photo."""
    if split == "training":
        families, photo_set = TEXT_TRAINING_FAMILIES, "text_crops_training"
    elif split == "held_out":
        families, photo_set = TEXT_HELD_OUT_FAMILIES, "held_out_words"
    else:
        raise ValueError(f"split must be 'training' or 'held_out', got {split!r}")
    fonts = tuple(p for paths in find_font_families(families).values() for p in paths)
    return TextCropStyle(fonts, tuple(img for _, img in background_photos(photo_set)))


def normalized_outline(sample: TextCropSample) -> np.ndarray:
    """``(2, EDGE_POINTS, 2)`` float32: the top and bottom edges in the crop's normalised
    coordinates (``-1`` / ``1`` at its outer pixel edges, the package's contract)."""
    h, w = sample.image.shape[:2]
    pts = np.stack([sample.top, sample.bottom]).astype(np.float64)
    return ((pts + 0.5) / np.array([w, h]) * 2 - 1).astype(np.float32)


def _pick_font_paths(fonts) -> List[str]:
    if isinstance(fonts, dict):
        return [p for paths in fonts.values() for p in paths]
    return list(fonts)


def _photo_patch(photos: Sequence[np.ndarray], h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    photo = photos[rng.integers(len(photos))]
    ph, pw = photo.shape[:2]
    scale = rng.uniform(0.3, 1.0)
    ch, cw = max(8, int(ph * scale)), max(8, int(pw * scale))
    ch, cw = min(ch, ph), min(cw, pw)
    y0, x0 = rng.integers(ph - ch + 1), rng.integers(pw - cw + 1)
    patch = photo[y0:y0 + ch, x0:x0 + cw].astype(np.float32)
    return cv2.resize(patch, (w, h), interpolation=cv2.INTER_AREA if ch > h else cv2.INTER_LINEAR)


def _neighbour(text_mask_shape: Tuple[int, int], font, rng: np.random.Generator) -> np.ndarray:
    """A flat line of other text, the width of the canvas at most."""
    mask, _ = flat_word(sample_line(rng, int(rng.integers(2, 7))), font)
    h, w = text_mask_shape
    return mask[:, :w] if mask.shape[1] > w else mask


def make_text_crop(seed: int, index: int, kinds: Sequence[str] = tuple(KINDS),
                   fonts=None, photos: Optional[Sequence[np.ndarray]] = None,
                   weights: Optional[Sequence[float]] = None,
                   text_height: Tuple[float, float] = (14.0, 40.0)) -> TextCropSample:
    """Sample ``index`` of the set of ``seed``: a kind drawn from ``kinds`` (uniformly,
    or by ``weights``), its text, font (from ``fonts``: paths or a family -> paths dict;
    default the training families), warp, crop, background (a patch of one of
    ``photos`` half the time, else drawn) and degradations. ``text_height``: the range
    of the text's height in the crop, pixels. See :class:`TextCropSample`.
    """
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise ValueError(f"kinds must be a non-empty subset of {tuple(KINDS)}, got {list(kinds)}")
    if weights is not None and (len(weights) != len(kinds) or min(weights) < 0 or sum(weights) <= 0):
        raise ValueError(f"weights must be {len(kinds)} non-negative numbers with a positive sum, got {weights}")
    paths = _pick_font_paths(fonts if fonts is not None else find_font_families(TEXT_TRAINING_FAMILIES))
    if not paths:
        raise ValueError("fonts is empty")
    rng = np.random.default_rng([int(seed), int(index)])
    p = None if weights is None else np.asarray(weights, np.float64) / np.sum(weights)
    kind = kinds[rng.choice(len(kinds), p=p)]
    warp_name, (lo, hi) = KINDS[kind]
    n_words = int(rng.integers(lo, hi + 1))
    text = sample_word(rng) if n_words == 1 else sample_line(rng, n_words)
    font = load_font(paths[rng.integers(len(paths))], int(rng.integers(24, 41)))
    mask, (left, top, right, bottom) = flat_word(text, font)

    warped, to_warped = distort_mask(mask, warp_name, rng)
    xs = np.linspace(left, right, EDGE_POINTS)
    edges = np.stack([to_warped(np.stack([xs, np.full_like(xs, y)], 1)) for y in (top, bottom)])  # (2, P, 2)
    text_h = float(np.linalg.norm(edges[1] - edges[0], axis=1).mean())

    # the crop box: tight (margins within +-0.1 text heights) or loose (up to 0.6)
    if rng.random() < 0.5:
        margins = rng.uniform(-0.1, 0.1, 4) * text_h
    else:
        margins = rng.uniform(0.05, 0.6, 4) * text_h
    x0, y0 = edges[..., 0].min() - margins[0], edges[..., 1].min() - margins[1]
    x1, y1 = edges[..., 0].max() + margins[2], edges[..., 1].max() + margins[3]
    x0, y0, x1, y1 = int(math.floor(x0)), int(math.floor(y0)), int(math.ceil(x1)), int(math.ceil(y1))
    pad = max(0, -x0, -y0, x1 - warped.shape[1] + 1, y1 - warped.shape[0] + 1)
    canvas = np.pad(warped, pad)
    # a neighbouring line above or below, its ink a gap away from this text's outline
    if rng.random() < 0.3:
        other = _neighbour(canvas.shape, font, rng)
        gap = rng.uniform(0.1, 0.5) * text_h
        cx = int(rng.integers(0, max(1, canvas.shape[1] - other.shape[1] + 1)))
        ink_rows = np.nonzero(other.max(1) > 0)[0]
        if rng.random() < 0.5:   # above: its last ink row `gap` over the outline's top
            oy = int(round(edges[..., 1].min() + pad - gap - ink_rows[-1]))
        else:
            oy = int(round(edges[..., 1].max() + pad + gap - ink_rows[0]))
        ys0, ys1 = max(oy, 0), min(oy + other.shape[0], canvas.shape[0])
        if ys1 > ys0:
            region = canvas[ys0:ys1, cx:cx + other.shape[1]]
            np.maximum(region, other[ys0 - oy:ys1 - oy, :region.shape[1]], out=region)
    crop = canvas[y0 + pad:y1 + pad + 1, x0 + pad:x1 + pad + 1]
    edges = edges - np.array([x0, y0])
    h, w = crop.shape

    if photos and rng.random() < 0.5:
        bg = _photo_patch(photos, h, w, rng)
        bg_lum = luminance(bg.reshape(-1, 3).mean(0))
    else:
        bg, bg_lum = synthetic_background(h, w, rng)
    fg = contrasting_colour(bg_lum, rng, min_contrast=90, tries=20).astype(np.float32)
    m = np.clip(crop, 0, 1)[..., None]
    img = bg * (1 - m) + fg * m
    if rng.random() < 0.3:   # uneven illumination
        ramp = np.linspace(rng.uniform(0.55, 1.0), rng.uniform(1.0, 1.25), w if rng.random() < 0.7 else h)
        img = img * (ramp[None, :, None] if ramp.shape[0] == w else ramp[:, None, None])

    scale = rng.uniform(*text_height) / text_h
    out_w, out_h = max(4, int(round(w * scale))), max(4, int(round(h * scale)))
    img = cv2.resize(img.astype(np.float32), (out_w, out_h),
                     interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    edges = (edges + 0.5) * np.array([out_w / w, out_h / h]) - 0.5
    if rng.random() < 0.5:
        img = cv2.GaussianBlur(img, (0, 0), sigmaX=rng.uniform(0.3, 1.1))
    img = img + rng.normal(0, rng.uniform(0, 10), img.shape).astype(np.float32)
    img = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    if rng.random() < 0.4:
        ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 91))])
        if ok:
            img = np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])
    edges = edges.astype(np.float32)
    return TextCropSample(img, text, kind, edges[0], edges[1])
