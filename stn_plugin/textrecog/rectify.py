"""Rectify text crops with a trained recognizer's preprocessor and draw what it does.

The rectification itself is :class:`stn_plugin.rectify.TextRectifier`'s; this module
adds the recognizer: loading it from a config, reading crops with it, and figures.
Reading crops with an OCR engine is :mod:`stn_plugin.rectify.ocr_engines`'s
(``run_tesseract``, ``tesseract_available`` and ``TESSERACT_HELP`` are importable
from here too).
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch

from ..geometry.coords import normalized_to_pixel
from ..geometry.frames import frame_outline
from ..geometry.transforms import TPSTransform, Transform
from ..rectify.images import resize_text_crop
from ..rectify.ocr_engines import TESSERACT_HELP, run_tesseract, tesseract_available
from ..rectify.text_rectifier import TextRectifier

__all__ = ["TESSERACT_HELP", "control_points_pixels", "draw_rectification", "draw_region_rectification",
           "model_input_size", "recognize_crops", "rectify_crops", "run_tesseract", "tesseract_available"]


def model_input_size(cfg) -> Tuple[int, int]:
    """``(h, w)`` of the ``ResizeTextCrop`` step of the config's test pipeline."""
    pipeline = cfg.test_dataloader.dataset.get("pipeline") or []
    for step in pipeline:
        if step.get("type") == "ResizeTextCrop":
            return tuple(step.get("scale", (32, 100)))
    raise KeyError("the config's test_dataloader.dataset.pipeline has no ResizeTextCrop step (needed for "
                   "the model's input size)")


def rectify_crops(model, crops: Sequence[np.ndarray], input_size: Sequence[int],
                  out_size: Union[None, str, Sequence[int]] = None, batch_size: int = 64
                  ) -> Tuple[List[np.ndarray], List[Optional[Transform]], List[Tuple[str, float]]]:
    """Rectify ``(H, W, C)`` uint8 RGB crops of any size with a recognizer's
    preprocessor, and read them with the recognizer.

    The rectification is :meth:`TextRectifier.from_recognizer
    <stn_plugin.rectify.TextRectifier.from_recognizer>`'s (the localization net sees
    each crop resized to ``input_size``; the transform resamples the *original* crop)
    at ``out_size``: ``(h, w)``, ``'crop'`` (each crop's own size, so only the geometry
    changes), ``'text'`` (the sampled region's own height and length, see
    :mod:`stn_plugin.geometry.frames`) or None (the preprocessor's output aspect at the
    crop's height). Returns rectified crops (uint8, same channels), the per-crop
    transforms (None without a preprocessor) and the recognizer's ``(text, score)``
    per crop (:func:`recognize_crops`).
    """
    if not (out_size is None or out_size in ("crop", "text") or not isinstance(out_size, str)):
        raise ValueError(f"out_size: expected (h, w), 'crop', 'text' or None, got {out_size!r}")
    texts = []
    for start in range(0, len(crops), batch_size):
        texts += recognize_crops(model, crops[start:start + batch_size], input_size)
    if model.preprocessor is None:
        return [c.copy() for c in crops], [None] * len(crops), texts
    device = next(model.parameters()).device
    rectifier = TextRectifier.from_recognizer(model, input_size=input_size, batch_size=batch_size, device=device)
    if out_size is None:
        pre_h, pre_w = model.preprocessor.out_size or tuple(input_size)
        out_size = [(c.shape[0], max(1, round(c.shape[0] * pre_w / pre_h))) for c in crops]
    details = rectifier(list(crops), out_size=out_size, return_details=True) if len(crops) else []
    return [d.image for d in details], [d.transform for d in details], texts


@torch.no_grad()
def recognize_crops(model, crops: Sequence[np.ndarray], input_size: Sequence[int]) -> List[Tuple[str, float]]:
    """The recognizer's ``(text, score)`` for ``(H, W, C)`` uint8 crops of any size
    (each resized to ``input_size`` as in the test pipeline)."""
    if not crops:
        return []
    device = next(model.parameters()).device
    batch = torch.stack([torch.from_numpy(np.ascontiguousarray(
        resize_text_crop(c, tuple(input_size)).transpose(2, 0, 1))) for c in crops]).to(device)
    data = model.data_preprocessor(dict(inputs=batch), training=False)
    logits, _ = model.extract_logits(data["inputs"])
    return model.decode_logits(logits)


def draw_region_rectification(image: np.ndarray, polygon: np.ndarray, flat: np.ndarray, caption: str = "",
                              height: int = 96, context: float = 0.3) -> np.ndarray:
    """Side-by-side RGB figure for a scene region: the image around ``polygon``
    (``(P, 2)`` index coordinates) with the polygon drawn (green) and its first point
    (the word's start, red), and the flat crop."""
    pts = np.asarray(polygon, dtype=np.float64)
    img = np.repeat(image, 3, 2) if image.ndim == 3 and image.shape[2] == 1 else image
    x0, y0 = pts.min(0)
    x1, y1 = pts.max(0)
    pad = context * max(y1 - y0, 1.0)
    ix0, iy0 = int(max(0, np.floor(x0 - pad))), int(max(0, np.floor(y0 - pad)))
    ix1, iy1 = int(min(img.shape[1], np.ceil(x1 + pad) + 1)), int(min(img.shape[0], np.ceil(y1 + pad) + 1))
    if ix1 <= ix0 or iy1 <= iy0:  # the polygon lies outside the image: show the whole image
        ix0, iy0, ix1, iy1 = 0, 0, img.shape[1], img.shape[0]
    patch = np.ascontiguousarray(img[iy0:iy1, ix0:ix1])
    s = height / patch.shape[0]
    left = cv2.resize(patch, (max(1, round(patch.shape[1] * s)), height), interpolation=cv2.INTER_LINEAR)
    poly = np.round((pts - [ix0, iy0] + 0.5) * s - 0.5).astype(np.int32)
    cv2.polylines(left, [poly], True, (0, 255, 0), 1, cv2.LINE_AA)
    cv2.circle(left, (int(poly[0, 0]), int(poly[0, 1])), 3, (255, 0, 0), -1, cv2.LINE_AA)
    right = np.repeat(flat, 3, 2) if flat.ndim == 3 and flat.shape[2] == 1 else flat
    right = cv2.resize(np.ascontiguousarray(right), (max(1, round(right.shape[1] * height / right.shape[0])), height),
                       interpolation=cv2.INTER_LINEAR)
    fig = np.concatenate([left, np.full((height, 8, 3), 255, np.uint8), right], 1)
    if caption:
        bar = np.full((22, fig.shape[1], 3), 255, np.uint8)
        cv2.putText(bar, caption, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        fig = np.concatenate([fig, bar], 0)
    return fig


def control_points_pixels(transform: Transform, size: Sequence[int]) -> Optional[np.ndarray]:
    """TPS source control points in pixels of an input of ``size = (h, w)``; None otherwise."""
    if not isinstance(transform, TPSTransform):
        return None
    return normalized_to_pixel(transform.control_points[0].detach().double(), size).numpy()


def draw_rectification(crop: np.ndarray, rectified: np.ndarray, transform: Optional[Transform],
                       caption: str = "", height: int = 96) -> np.ndarray:
    """Side-by-side RGB figure: the crop with the sampled region (and TPS control
    points) drawn, and the rectified crop with the target control points."""
    def to_rgb(img):
        return np.repeat(img, 3, 2) if img.shape[2] == 1 else img.copy()

    left, right = to_rgb(crop), to_rgb(rectified)
    sl, sr = height / left.shape[0], height / right.shape[0]
    left = cv2.resize(left, (max(1, round(left.shape[1] * sl)), height), interpolation=cv2.INTER_LINEAR)
    right = cv2.resize(right, (max(1, round(right.shape[1] * sr)), height), interpolation=cv2.INTER_LINEAR)
    if transform is not None:
        for poly in frame_outline(transform, [crop.shape[:2]])[0]:
            cv2.polylines(left, [np.round(poly * sl).astype(np.int32)], False, (0, 255, 0), 1, cv2.LINE_AA)
        cps = control_points_pixels(transform, crop.shape[:2])
        if cps is not None:
            for x, y in cps * sl:
                cv2.circle(left, (int(round(x)), int(round(y))), 3, (255, 0, 0), -1, cv2.LINE_AA)
            targets = transform.spline.target_points.double()
            for x, y in normalized_to_pixel(targets, rectified.shape[:2]).numpy() * sr:
                cv2.circle(right, (int(round(x)), int(round(y))), 3, (255, 0, 0), -1, cv2.LINE_AA)
    gap = np.full((height, 8, 3), 255, np.uint8)
    fig = np.concatenate([left, gap, right], 1)
    if caption:
        bar = np.full((22, fig.shape[1], 3), 255, np.uint8)
        cv2.putText(bar, caption, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        fig = np.concatenate([fig, bar], 0)
    return fig
