"""Text recognition metrics, registered in mmdet's ``METRICS``.

Protocols (the scene-text benchmark conventions, as in mmocr 1.x):

* ``word_acc_ignore_case_symbol`` (the **standard** protocol): prediction and label
  are lower-cased and reduced to ASCII letters and digits before comparing.
* ``word_acc_ignore_case``: lower-cased, symbols kept.
* ``word_acc``: exact string match.
* ``char_recall`` / ``char_precision``: matched characters (longest common
  subsequence) over label / prediction characters, summed over the set, on the
  standard normalisation.
* ``one_minus_ned``: mean over samples of ``1 - edit_distance / max(len(label),
  len(pred))`` on the standard normalisation (1 for two empty strings).

The plain functions are usable without a runner (e.g. on Tesseract output).
"""
from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence

from mmengine.evaluator import BaseMetric
from mmdet.registry import METRICS
from rapidfuzz.distance import LCSseq, Levenshtein

_NON_ALNUM = re.compile(r"[^0-9a-z]")
METRIC_NAMES = ("word_acc_ignore_case_symbol", "word_acc_ignore_case", "word_acc", "char_recall",
                "char_precision", "one_minus_ned")


def normalize_text(text: str) -> str:
    """The standard protocol's normalisation: lower-case, keep ``[0-9a-z]`` only."""
    return _NON_ALNUM.sub("", text.lower())


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (unit costs), by rapidfuzz."""
    return Levenshtein.distance(a, b)


def lcs_length(a: str, b: str) -> int:
    """Length of the longest common subsequence, by rapidfuzz."""
    return LCSseq.similarity(a, b)


def text_recognition_scores(preds: Sequence[str], gts: Sequence[str]) -> Dict[str, float]:
    """All of :data:`METRIC_NAMES` for parallel lists of predictions and labels."""
    if len(preds) != len(gts):
        raise ValueError(f"preds ({len(preds)}) and gts ({len(gts)}) differ in length")
    n = max(len(gts), 1)
    exact = sum(p == g for p, g in zip(preds, gts))
    icase = sum(p.lower() == g.lower() for p, g in zip(preds, gts))
    norm = [(normalize_text(p), normalize_text(g)) for p, g in zip(preds, gts)]
    std = sum(p == g for p, g in norm)
    matched = sum(lcs_length(p, g) for p, g in norm)
    n_gt, n_pred = sum(len(g) for _, g in norm), sum(len(p) for p, _ in norm)
    ned = sum(1.0 - (edit_distance(p, g) / max(len(p), len(g)) if max(len(p), len(g)) else 0.0)
              for p, g in norm)
    return dict(word_acc_ignore_case_symbol=std / n, word_acc_ignore_case=icase / n, word_acc=exact / n,
                char_recall=matched / max(n_gt, 1), char_precision=matched / max(n_pred, 1),
                one_minus_ned=ned / n)


@METRICS.register_module()
class TextRecogMetric(BaseMetric):
    """Word accuracy (standard / ignore-case / exact), character recall / precision
    and 1 - NED of ``pred_text.item`` against ``gt_text.item``.

    Args:
        metrics: which of :data:`METRIC_NAMES` to report (default: all).
        prefix: key prefix, default ``'recog'``.
    """

    default_prefix = "recog"

    def __init__(self, metrics: Optional[Sequence[str]] = None, collect_device: str = "cpu",
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        metrics = list(METRIC_NAMES if metrics is None else ([metrics] if isinstance(metrics, str) else metrics))
        bad = [m for m in metrics if m not in METRIC_NAMES]
        if bad:
            raise ValueError(f"TextRecogMetric metrics has unknown names {bad}; allowed: {list(METRIC_NAMES)}")
        self.metrics = metrics

    def process(self, data_batch, data_samples: Sequence) -> None:
        for s in data_samples:
            pred = s.get("pred_text") if isinstance(s, dict) else s.pred_text
            gt = s.get("gt_text") if isinstance(s, dict) else s.gt_text
            pred = pred["item"] if isinstance(pred, dict) else pred.item
            gt = gt["item"] if isinstance(gt, dict) else gt.item
            self.results.append((pred, gt))

    def compute_metrics(self, results: List) -> Dict[str, float]:
        scores = text_recognition_scores([p for p, _ in results], [g for _, g in results])
        return {k: scores[k] for k in self.metrics}
