"""A learned text rectifier's scores on a fixed synthetic set: the warp error its
record file pins, and optionally Tesseract's accuracy raw vs rectified."""
from __future__ import annotations

from typing import Dict, Sequence

import numpy as np
import torch

from ..rectify.text_rectifier import TextRectifier
from .metrics import text_recognition_scores
from .rectify import run_tesseract
from .synthetic_words import WARP_POINTS, make_sample

__all__ = ["fixed_set_scores", "outline_scores"]


@torch.no_grad()
def fixed_set_scores(rectifier: TextRectifier, seed: int = 1, num: int = 64,
                     distortions: Sequence[str] = ("curve", "arc", "perspective"), tesseract_num: int = 0,
                     tesseract_cmd: str = "tesseract") -> Dict[str, float]:
    """A rectifier's scores on the synthetic generator's first ``num`` crops for ``seed``:

    * ``warp_error``: mean L1 distance (normalised crop coordinates, the training
      ``loss_warp``) between where the transform sends the flat word's 33 reference
      points and where the generator really put them; ``identity_warp_error`` the
      same for no rectification;
    * with ``tesseract_num > 0``: Tesseract's word accuracy (standard protocol) on the
      first ``tesseract_num`` raw crops and on the rectified ones (``'text'`` size).
    """
    samples = [make_sample(seed, i, distortions) for i in range(num)]
    crops = [s.image for s in samples]
    targets = torch.from_numpy(np.stack([s.warp for s in samples])).double()
    points = torch.from_numpy(WARP_POINTS).double()[None]
    transform = rectifier.predict_transforms(crops)
    mapped = transform.map_points(points.to(transform.device, transform.dtype)).double().cpu()
    scores = dict(num=num, seed=seed, warp_error=float((mapped - targets).abs().mean()),
                  identity_warp_error=float((points - targets).abs().mean()))
    if tesseract_num:
        words = [s.word for s in samples[:tesseract_num]]
        raw = run_tesseract(crops[:tesseract_num], cmd=tesseract_cmd)
        flat = run_tesseract(rectifier(crops[:tesseract_num], out_size="text"), cmd=tesseract_cmd)
        scores.update(tesseract_num=tesseract_num,
                      tesseract_raw_word_acc=text_recognition_scores(raw, words)["word_acc_ignore_case_symbol"],
                      tesseract_rectified_word_acc=text_recognition_scores(flat, words)["word_acc_ignore_case_symbol"])
    return scores


@torch.no_grad()
def outline_scores(rectifier: TextRectifier, seed: int = 1, num: int = 64) -> Dict[str, float]:
    """An outline rectifier's scores on the first ``num`` held-out text crops of ``seed``
    (:func:`~stn_plugin.datasets.text_crops.make_text_crop`, every kind, the held-out
    fonts and photos): ``error``, the mean distance of its predicted edge points (the
    TPS's top and bottom rows) from the true ones at the same fractions of the text,
    ``end_error`` the same for the two ends of both edges, both in text heights (with the
    net's ``'arc_length'`` spacing, the fractions are of each edge's length, so the error
    is the outline's shape and ends; with ``'perspective'`` and ``'predicted'``, of the
    flat text); and
    ``flat_acc``, how often its flatness (> 0.5) says right whether the text is flat."""
    from ..datasets.text_crops import EDGE_POINTS, FLAT_KINDS, KINDS, crop_style, make_text_crop
    from ..geometry.outline import arc_length_positions, points_along, resample_outline

    style = crop_style("held_out")
    samples = [make_text_crop(seed, i, tuple(KINDS), style.fonts, style.photos) for i in range(num)]
    details = rectifier([s.image for s in samples], return_details=True)
    spacing = getattr(rectifier.module, "spacing", "predicted")
    errors, ends, flat_right = [], [], []
    for s, d in zip(samples, details):
        n = d.control_points.shape[0] // rectifier.module.rows
        predicted = np.stack([d.control_points[:n], d.control_points[-n:]]) - 0.5  # continuous -> index px
        truth = torch.from_numpy(np.stack([s.top, s.bottom]).astype(np.float64))
        if spacing == "arc_length":   # both outlines' points evenly by length (pixels: isotropic)
            fractions = torch.linspace(0.0, 1.0, n, dtype=torch.float64)[None]
            truth = points_along(truth, arc_length_positions(truth, fractions)).numpy()
        else:
            truth = resample_outline(truth, n, torch.full((2,), EDGE_POINTS)).numpy()
        height = float(np.linalg.norm(s.bottom - s.top, axis=1).mean())
        dist = np.linalg.norm(predicted - truth, axis=-1) / height
        errors.append(dist.mean())
        ends.append(dist[:, [0, -1]].mean())
        flat_right.append((d.flatness > 0.5) == (s.kind in FLAT_KINDS))
    return dict(num=num, seed=seed, error=float(np.mean(errors)), end_error=float(np.mean(ends)),
                flat_acc=float(np.mean(flat_right)))
