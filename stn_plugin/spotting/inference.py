"""Run a text spotter on images: words as boxes, polygons and readings, drawn and as JSON.

The application side of :class:`~stn_plugin.spotting.TextSpotter`, used by
``tools/spot_text.py``. The model is built and loaded with
:func:`stn_plugin.apis.init_model` (checked by :func:`check_spotter`) and run with ``inference_detector`` (mmdet's test pipeline of the config), so what it
sees is what the config's test set sees.

A result per image is a list of words, each ``{"bbox": [x1, y1, x2, y2], "score": s,
"text": str, "text_score": t, "polygon": [[x, y], ...]}`` in input-image pixels
(continuous coordinates, ``(0, 0)`` = the top-left corner of the top-left pixel); the
polygon runs along the top edge of the rectified crop, then back along its bottom edge.
"""
from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np

__all__ = ["check_spotter", "spot_text", "draw_words"]


def check_spotter(model, config: str):
    """``model`` (from :func:`stn_plugin.apis.init_model`) if it is a text spotter; a
    ``ValueError`` naming ``config`` otherwise."""
    if type(model).__name__ != "TextSpotter":
        raise ValueError(f"{config}: the model is a {type(model).__name__}, not a TextSpotter; "
                         "tools/spot_text.py needs a spotting config (configs/spotting/)")
    return model


def spot_text(model, images: Sequence[np.ndarray], score_thr: float = 0.5) -> List[List[Dict]]:
    """Words found in each of ``images`` (BGR ``uint8`` arrays ``(H, W, 3)``, as OpenCV
    reads them) with a detection score of at least ``score_thr``, best first."""
    from mmdet.apis import inference_detector

    if not 0.0 <= score_thr <= 1.0:
        raise ValueError(f"score_thr must be in [0, 1], got {score_thr!r}")
    results = []
    for image in images:
        if not (isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8):
            raise ValueError("images must be (H, W, 3) uint8 BGR arrays, got "
                             f"{getattr(image, 'shape', type(image))} {getattr(image, 'dtype', '')}")
        inst = inference_detector(model, image).pred_instances
        keep = (inst.scores >= score_thr).nonzero().flatten().tolist()
        words = []
        for i in sorted(keep, key=lambda j: -float(inst.scores[j])):
            words.append({"bbox": [round(float(v), 2) for v in inst.bboxes[i]],
                          "score": round(float(inst.scores[i]), 4),
                          "text": inst.texts[i],
                          "text_score": round(float(inst.text_scores[i]), 4),
                          "polygon": [[round(float(x), 2), round(float(y), 2)] for x, y in inst.polygons[i]]})
        results.append(words)
    return results


def draw_words(image: np.ndarray, words: Sequence[Dict], thickness: int = 2) -> np.ndarray:
    """A copy of ``image`` (BGR) with each word's polygon and reading drawn."""
    import cv2

    canvas = image.copy()
    scale = max(0.4, min(canvas.shape[:2]) / 600)
    for word in words:
        # continuous pixel coordinates -> OpenCV's pixel-centre ones
        poly = np.round(np.asarray(word["polygon"], dtype=np.float64) - 0.5).astype(np.int32)
        cv2.polylines(canvas, [poly], isClosed=True, color=(0, 220, 0), thickness=thickness, lineType=cv2.LINE_AA)
        x, y = int(poly[:, 0].min()), int(poly[:, 1].min())
        label = word["text"] or "?"
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        y = max(y, th + base + 2)
        cv2.rectangle(canvas, (x, y - th - base - 2), (x + tw + 2, y), (0, 0, 0), -1)
        cv2.putText(canvas, label, (x + 1, y - base - 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                    cv2.LINE_AA)
    return canvas
