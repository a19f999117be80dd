"""End-to-end text spotting metric, registered in mmdet's ``METRICS``.

The protocol (ICDAR's, as text spotting papers report it):

* a prediction **detects** a ground-truth word when their polygons overlap by
  IoU >= ``iou_threshold`` (0.5); it **spots** it when, besides, the transcriptions
  agree after :func:`stn_plugin.textrecog.metrics.normalize_text` (lower case, ASCII
  letters and digits only: case and punctuation are ignored);
* matching is one-to-one and greedy: predictions in decreasing score, each taking the
  still unmatched word it overlaps most among those it may match;
* don't-care words (``ignore`` set, or transcribed ``###``) are never counted in
  recall; a prediction that matches no word it could count for but overlaps a
  don't-care word by IoU >= the threshold is dropped: neither a true nor a false
  positive;
* a ground-truth polygon of zero area (collinear or repeated points: a broken
  annotation) could never be matched, so it is treated as a don't-care word, with a
  warning naming it, rather than counted as a word no prediction can find; a
  prediction of zero area is an ordinary false positive;
* predictions scoring under ``score_threshold`` (a number in [0, 1]) are left out;
* precision = true positives / counted predictions, recall = true positives /
  cared-for words, Hmean = their harmonic mean, each summed over the whole set first
  (0 when a denominator is 0). Detection and end to end are matched separately: a
  prediction with the right outline and the wrong reading is a detection true
  positive, and an end-to-end false positive whose word is an end-to-end miss.

:func:`spotting_counts` scores one image from plain arrays; :func:`spotting_scores`
turns summed counts into the numbers; :class:`TextSpottingMetric` does both inside an
mmengine evaluation loop.
"""
from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmdet.registry import METRICS

from ..textrecog.metrics import normalize_text
from .polygon_iou import as_polygon_points, box_polygon, polygon_areas, polygon_iou_matrix
from .word_scenes import DONT_CARE_TEXT


@dataclass
class SpottingCounts:
    """Counts of one image (or of a set, summed): true positives, counted predictions and
    cared-for ground-truth words, for detection and end to end (``e2e_*`` stay 0 when
    the predictions carry no transcriptions)."""

    det_tp: int = 0
    det_pred: int = 0
    e2e_tp: int = 0
    e2e_pred: int = 0
    num_gt: int = 0

    def __add__(self, other: "SpottingCounts") -> "SpottingCounts":
        return SpottingCounts(**{k: v + getattr(other, k) for k, v in asdict(self).items()})


def _greedy_match(iou: np.ndarray, order: np.ndarray, care: np.ndarray, allowed: np.ndarray,
                  threshold: float) -> tuple:
    """True positives and counted predictions of a greedy one-to-one matching.

    ``iou``: ``(N, M)``; ``order``: prediction indices by decreasing score; ``care``:
    ``(M,)`` bool; ``allowed``: ``(N, M)`` bool, which pairs may match besides the IoU."""
    taken = np.zeros(iou.shape[1], bool)
    tp = counted = 0
    for i in order:
        candidates = (iou[i] >= threshold) & care & allowed[i] & ~taken
        if candidates.any():
            j = int(np.argmax(np.where(candidates, iou[i], -1.0)))
            taken[j] = True
            tp += 1
            counted += 1
        elif not ((iou[i] >= threshold) & ~care).any():
            counted += 1   # matches nothing, not even a don't-care word: a false positive
    return tp, counted


def _threshold(value: float, name: str, low_open: bool, owner: str = "") -> float:
    """``value`` as a float; ``ValueError`` naming ``name`` unless it is a number in
    (0, 1] (``low_open``) or [0, 1]. NaN is refused: it would silently leave out every
    prediction."""
    number = float(value) if isinstance(value, numbers.Real) else math.nan
    if not (0.0 < number <= 1.0 if low_open else 0.0 <= number <= 1.0):
        raise ValueError(f"{owner + ' ' if owner else ''}{name} must be a number in {'(0' if low_open else '[0'}, 1], "
                         f"got {value!r}")
    return number


def spotting_counts(pred_polygons: Sequence, pred_scores: Sequence[float], gt_polygons: Sequence,
                    pred_texts: Optional[Sequence[str]] = None, gt_texts: Optional[Sequence[str]] = None,
                    gt_ignore: Optional[Sequence[bool]] = None, iou_threshold: float = 0.5,
                    score_threshold: float = 0.0, source: str = "") -> SpottingCounts:
    """Score one image.

    Args:
        pred_polygons: N predicted polygons, each ``(P, 2)`` or flat, ``P >= 3``.
        pred_scores: N scores; predictions under ``score_threshold`` are left out.
        gt_polygons: M ground-truth polygons; those of zero area are treated as
            don't-care words, with a warning.
        pred_texts, gt_texts: transcriptions; end-to-end counts need both.
        gt_ignore: M flags of don't-care words (a ``###`` transcription is one too).
        iou_threshold: in (0, 1]; score_threshold: in [0, 1].
        source: the image, named in warnings.
    """
    iou_threshold = _threshold(iou_threshold, "iou_threshold", low_open=True)
    score_threshold = _threshold(score_threshold, "score_threshold", low_open=False)
    preds = [as_polygon_points(p, f"pred_polygons[{i}]") for i, p in enumerate(pred_polygons)]
    gts = [as_polygon_points(p, f"gt_polygons[{j}]") for j, p in enumerate(gt_polygons)]
    scores = np.asarray(pred_scores, dtype=np.float64).reshape(-1)
    if len(scores) != len(preds):
        raise ValueError(f"pred_scores has {len(scores)} entries for {len(preds)} pred_polygons")
    if not np.isfinite(scores).all():
        raise ValueError("pred_scores has non-finite values")
    for name, texts, n in (("pred_texts", pred_texts, len(preds)), ("gt_texts", gt_texts, len(gts))):
        if texts is not None and len(texts) != n:
            raise ValueError(f"{name} has {len(texts)} entries for {n} polygons")
    ignore = np.zeros(len(gts), bool) if gt_ignore is None else np.asarray(gt_ignore, dtype=bool).reshape(-1)
    if len(ignore) != len(gts):
        raise ValueError(f"gt_ignore has {len(ignore)} entries for {len(gts)} gt_polygons")
    if gt_texts is not None:
        ignore = ignore | np.array([t == DONT_CARE_TEXT for t in gt_texts], bool).reshape(-1)
    flat = (polygon_areas(gts) <= 0) & ~ignore
    if flat.any():
        names = ", ".join(f"gt_polygons[{j}]" for j in np.flatnonzero(flat))
        warnings.warn(f"{source + ': ' if source else ''}{names} of zero area can match no prediction; "
                      "treated as don't-care", stacklevel=2)
        ignore = ignore | flat
    care = ~ignore

    keep = np.nonzero(scores >= score_threshold)[0]
    order = keep[np.argsort(-scores[keep], kind="stable")]
    iou = polygon_iou_matrix(preds, gts)
    counts = SpottingCounts(num_gt=int(care.sum()))
    counts.det_tp, counts.det_pred = _greedy_match(iou, order, care, np.ones_like(iou, bool), iou_threshold)
    if pred_texts is not None and gt_texts is not None:
        p_norm = [normalize_text(t) for t in pred_texts]
        g_norm = [normalize_text(t) for t in gt_texts]
        same = np.array([[p == g for g in g_norm] for p in p_norm], bool).reshape(len(preds), len(gts))
        counts.e2e_tp, counts.e2e_pred = _greedy_match(iou, order, care, same, iou_threshold)
    return counts


def _prf(tp: int, num_pred: int, num_gt: int) -> tuple:
    precision = tp / num_pred if num_pred else 0.0
    recall = tp / num_gt if num_gt else 0.0
    hmean = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, hmean


def spotting_scores(counts: SpottingCounts, end_to_end: bool = True) -> Dict[str, float]:
    """``det_precision``, ``det_recall``, ``det_hmean`` and (``end_to_end``) the ``e2e_*``
    three from counts summed over a set."""
    out = dict(zip(("det_precision", "det_recall", "det_hmean"), _prf(counts.det_tp, counts.det_pred, counts.num_gt)))
    if end_to_end:
        out.update(zip(("e2e_precision", "e2e_recall", "e2e_hmean"),
                       _prf(counts.e2e_tp, counts.e2e_pred, counts.num_gt)))
    return out


def _get(obj, key, default=None):
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default) if key in getattr(obj, "keys", lambda: [])() else default


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def _polygons_of(instances, name: str) -> List[np.ndarray]:
    """Polygons of an ``InstanceData`` (or its dict): ``polygons``, else the first
    polygon of each ``masks`` entry (mmdet ``PolygonMasks``), else ``bboxes``."""
    polygons = _get(instances, "polygons")
    if polygons is not None:
        return [_numpy(p) for p in polygons]
    masks = _get(instances, "masks")
    if masks is not None and hasattr(masks, "masks") and not hasattr(masks, "shape"):  # PolygonMasks
        return [max((np.asarray(part).reshape(-1, 2) for part in parts), key=len) for parts in masks.masks]
    bboxes = _get(instances, "bboxes")
    if bboxes is None:
        raise ValueError(f"{name} needs 'polygons', polygon 'masks' or 'bboxes'")
    bboxes = _numpy(bboxes.tensor if hasattr(bboxes, "tensor") else bboxes).reshape(-1, 4)
    return [box_polygon(b) for b in bboxes]


@METRICS.register_module()
class TextSpottingMetric(BaseMetric):
    """Detection and end-to-end precision, recall and Hmean of text spotting (protocol in
    the module docstring).

    Reads, per data sample: ``pred_instances`` (``scores`` and ``polygons`` or
    ``bboxes``, ``texts`` for end to end), ``gt_instances`` (``polygons``, polygon
    ``masks`` or ``bboxes``, ``texts``) and ``ignored_instances`` (don't-care words),
    all in the same image coordinates -- the original image's, as mmdet's test
    pipelines give them when annotations are loaded after ``Resize``.

    Args:
        iou_threshold: polygon IoU a match needs, in (0, 1] (0.5).
        score_threshold: predictions scoring less are left out, in [0, 1].
        prefix: key prefix, default ``'spotting'``.
    """

    default_prefix = "spotting"

    def __init__(self, iou_threshold: float = 0.5, score_threshold: float = 0.5, collect_device: str = "cpu",
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.iou_threshold = _threshold(iou_threshold, "iou_threshold", True, "TextSpottingMetric")
        self.score_threshold = _threshold(score_threshold, "score_threshold", False, "TextSpottingMetric")

    def process(self, data_batch, data_samples: Sequence) -> None:
        for k, sample in enumerate(data_samples):
            pred = _get(sample, "pred_instances")
            gt = _get(sample, "gt_instances")
            if pred is None or gt is None:
                raise ValueError(f"data_samples[{k}] needs 'pred_instances' and 'gt_instances'")
            ignored = _get(sample, "ignored_instances")
            scores = _get(pred, "scores")
            if scores is None:
                raise ValueError(f"data_samples[{k}].pred_instances needs 'scores'")
            gt_polys = _polygons_of(gt, f"data_samples[{k}].gt_instances")
            gt_texts = _get(gt, "texts")
            gt_texts = None if gt_texts is None else list(gt_texts)
            gt_ignore = [False] * len(gt_polys)
            if ignored is not None and len(_get(ignored, "bboxes", _get(ignored, "polygons", []))):
                ig = _polygons_of(ignored, f"data_samples[{k}].ignored_instances")
                gt_polys += ig
                gt_ignore += [True] * len(ig)
                if gt_texts is not None:
                    gt_texts += [DONT_CARE_TEXT] * len(ig)
            pred_texts = _get(pred, "texts")
            end_to_end = pred_texts is not None and gt_texts is not None
            counts = spotting_counts(_polygons_of(pred, f"data_samples[{k}].pred_instances"), _numpy(scores),
                                     gt_polys, list(pred_texts) if end_to_end else None,
                                     gt_texts if end_to_end else None, gt_ignore,
                                     self.iou_threshold, self.score_threshold,
                                     str(_get(sample, "img_path", f"data_samples[{k}]")))
            self.results.append((counts, end_to_end))

    def compute_metrics(self, results: List) -> Dict[str, float]:
        total = SpottingCounts()
        for counts, _ in results:
            total = total + counts
        return spotting_scores(total, end_to_end=bool(results) and all(has for _, has in results))
