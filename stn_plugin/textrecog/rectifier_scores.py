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

__all__ = ["fixed_set_scores"]


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
