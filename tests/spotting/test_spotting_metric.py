"""The text spotting metric on hand-made cases."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from stn_plugin.spotting.metric import SpottingCounts, spotting_counts, spotting_scores
from stn_plugin.spotting.polygon_iou import box_polygon, polygon_iou_matrix

SQUARE = box_polygon([0, 0, 10, 10])


def shifted(dx, dy=0.0, base=SQUARE):
    return base + np.array([dx, dy])


def scores_of(*args, **kwargs):
    return spotting_scores(spotting_counts(*args, **kwargs))


def test_polygon_iou_known_values():
    tri = np.array([[0, 0], [10, 0], [10, 10]], float)
    c, s = np.cos(0.3), np.sin(0.3)
    rotated = (SQUARE - 5) @ np.array([[c, -s], [s, c]]).T + 5
    iou = polygon_iou_matrix([SQUARE, tri, rotated, shifted(20)], [SQUARE, rotated])
    assert iou[0, 0] == pytest.approx(1.0) and iou[1, 0] == pytest.approx(0.5)
    assert iou[2, 1] == pytest.approx(1.0) and iou[3, 0] == 0.0
    for d in (1.0, 3.3, 3.4, 7.0):   # a square slid along x by d: IoU = (10 - d) / (10 + d)
        assert polygon_iou_matrix([shifted(d)], [SQUARE])[0, 0] == pytest.approx((10 - d) / (10 + d), abs=1e-12)
    # a self-crossing (bow-tie) prediction is repaired, not refused: its two triangles cover half the square
    bowtie = np.array([[0, 0], [10, 10], [10, 0], [0, 10]], float)
    assert polygon_iou_matrix([bowtie], [SQUARE])[0, 0] == pytest.approx(0.5)


def test_exact_match_and_case_and_punctuation_are_ignored():
    s = scores_of([SQUARE, shifted(30)], [0.9, 0.8], [SQUARE, shifted(30)], ["Hello!", "it's"], ["hello", "ITS"])
    assert s == dict(det_precision=1.0, det_recall=1.0, det_hmean=1.0,
                     e2e_precision=1.0, e2e_recall=1.0, e2e_hmean=1.0)


def test_wrong_transcription_is_a_detection_but_not_a_spotting():
    c = spotting_counts([SQUARE], [0.9], [SQUARE], ["cot"], ["cat"])
    assert c == SpottingCounts(det_tp=1, det_pred=1, e2e_tp=0, e2e_pred=1, num_gt=1)
    s = spotting_scores(c)
    assert (s["det_hmean"], s["e2e_precision"], s["e2e_recall"], s["e2e_hmean"]) == (1.0, 0.0, 0.0, 0.0)


@pytest.mark.parametrize("dx, matched", [(3.3, True), (3.4, False)])   # IoU 0.5038 and 0.4925
def test_iou_just_above_and_just_below_the_threshold(dx, matched):
    c = spotting_counts([shifted(dx)], [0.9], [SQUARE], ["cat"], ["cat"])
    assert (c.det_tp, c.e2e_tp) == ((1, 1) if matched else (0, 0))
    assert (c.det_pred, c.e2e_pred, c.num_gt) == (1, 1, 1)


def test_dont_care_regions_are_neither_counted_nor_penalised():
    gts = [SQUARE, shifted(30), shifted(60)]
    preds = [SQUARE, shifted(30), shifted(0, 40)]   # on the word, on the don't-care region, on nothing
    for kwargs in (dict(gt_texts=["cat", "###", "dog"]),
                   dict(gt_texts=["cat", "bird", "dog"], gt_ignore=[False, True, False])):
        c = spotting_counts(preds, [0.9, 0.8, 0.7], gts, ["cat", "zzz", "cat"], **kwargs)
        # 1 TP (cat), the don't-care match dropped, 1 FP; 2 cared-for words (cat, dog)
        assert c == SpottingCounts(det_tp=1, det_pred=2, e2e_tp=1, e2e_pred=2, num_gt=2)
        assert spotting_scores(c)["det_precision"] == 0.5 and spotting_scores(c)["det_recall"] == 0.5


def test_a_detection_on_a_word_counts_even_where_a_dont_care_region_overlaps_it():
    c = spotting_counts([SQUARE], [0.9], [SQUARE, shifted(1)], ["cat"], ["cat", "###"])
    assert c == SpottingCounts(det_tp=1, det_pred=1, e2e_tp=1, e2e_pred=1, num_gt=1)


def test_greedy_one_to_one_matching_by_score():
    # the higher-scored prediction takes the word for detection, the better-read one spots it
    preds = [shifted(2), SQUARE, SQUARE]
    c = spotting_counts(preds, [0.95, 0.9, 0.1], [SQUARE], ["cot", "cat", "cat"], ["cat"])
    assert c == SpottingCounts(det_tp=1, det_pred=3, e2e_tp=1, e2e_pred=3, num_gt=1)
    # a prediction takes the word it overlaps most among those still free: the first one
    # (IoU 0.54 with the first word, 0.82 with the second) leaves the first word to the second
    # prediction (IoU 0.82 with it, 0.33 with the second word)
    gts = [SQUARE, shifted(4)]
    c = spotting_counts([shifted(3), shifted(-1)], [0.9, 0.8], gts)
    assert (c.det_tp, c.det_pred) == (2, 2)


def test_score_threshold_leaves_out_weak_predictions():
    c = spotting_counts([SQUARE, shifted(30)], [0.9, 0.2], [SQUARE], score_threshold=0.5)
    assert (c.det_tp, c.det_pred) == (1, 1)
    assert spotting_counts([SQUARE], [0.2], [SQUARE], score_threshold=0.5).det_pred == 0


def test_empty_predictions_and_empty_ground_truth():
    assert spotting_counts([], [], [SQUARE], [], ["cat"]) == SpottingCounts(num_gt=1)
    assert scores_of([], [], [SQUARE], [], ["cat"])["det_recall"] == 0.0
    c = spotting_counts([SQUARE], [0.9], [], ["cat"], [])
    assert c == SpottingCounts(det_pred=1, e2e_pred=1)
    assert set(spotting_scores(c).values()) == {0.0}
    assert set(scores_of([], [], []).values()) == {0.0}
    assert "e2e_hmean" not in spotting_scores(SpottingCounts(), end_to_end=False)


def test_counts_sum_over_images_before_the_ratios():
    a = spotting_counts([SQUARE], [0.9], [SQUARE], ["cat"], ["cat"])
    b = spotting_counts([SQUARE, shifted(30)], [0.9, 0.9], [SQUARE, shifted(60), shifted(90)],
                        ["dog", "x"], ["dog", "y", "z"])
    s = spotting_scores(a + b)
    assert s["det_precision"] == pytest.approx(2 / 3) and s["det_recall"] == pytest.approx(2 / 4)
    assert s["det_hmean"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match=r"pred_polygons\[1\].*at least 3 points"):
        spotting_counts([SQUARE, [[0, 0], [1, 1]]], [0.9, 0.9], [SQUARE])
    with pytest.raises(ValueError, match=r"gt_polygons\[0\].*non-finite"):
        spotting_counts([SQUARE], [0.9], [[0, 0, 1, 0, np.nan, 1]])
    with pytest.raises(ValueError, match=r"gt_polygons\[0\].*\(P, 2\)"):
        spotting_counts([], [], [np.zeros((3, 3))])
    with pytest.raises(ValueError, match="pred_scores has 1 entries for 2"):
        spotting_counts([SQUARE, SQUARE], [0.9], [SQUARE])
    with pytest.raises(ValueError, match="gt_texts has 2 entries for 1"):
        spotting_counts([SQUARE], [0.9], [SQUARE], ["a"], ["a", "b"])
    with pytest.raises(ValueError, match="iou_threshold"):
        spotting_counts([SQUARE], [0.9], [SQUARE], iou_threshold=0)


def test_zero_area_ground_truth_is_dont_care_with_a_warning():
    line = np.array([[0, 20], [10, 20], [20, 20], [10, 20]], float)   # collinear: no area
    point = np.full((4, 2), 50.0)
    preds = [SQUARE, shifted(0, 20)]                                   # on the word, on the flat one
    with pytest.warns(UserWarning, match=r"img_1.jpg: gt_polygons\[1\], gt_polygons\[2\] of zero area"):
        c = spotting_counts(preds, [0.9, 0.8], [SQUARE, line, point], ["cat", "dog"], ["cat", "dog", "cow"],
                            source="img_1.jpg")
    # one word that can be found, found once; the prediction on the flat annotation is a false positive
    assert c == SpottingCounts(det_tp=1, det_pred=2, e2e_tp=1, e2e_pred=2, num_gt=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # already don't-care: nothing to warn about
        c = spotting_counts([SQUARE], [0.9], [SQUARE, line], gt_ignore=[False, True])
    assert c == SpottingCounts(det_tp=1, det_pred=1, num_gt=1)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -0.1, 1.5, "0.5", None])
def test_thresholds_outside_their_range_are_refused(bad):
    from mmdet.registry import METRICS

    with pytest.raises(ValueError, match=r"^score_threshold must be a number in \[0, 1\], got"):
        spotting_counts([SQUARE], [0.9], [SQUARE], score_threshold=bad)
    with pytest.raises(ValueError, match=r"TextSpottingMetric score_threshold must be a number in \[0, 1\]"):
        METRICS.build(dict(type="TextSpottingMetric", score_threshold=bad))
    with pytest.raises(ValueError, match=r"^iou_threshold must be a number in \(0, 1\], got"):
        spotting_counts([SQUARE], [0.9], [SQUARE], iou_threshold=bad)
    with pytest.raises(ValueError, match=r"TextSpottingMetric iou_threshold must be a number in \(0, 1\]"):
        METRICS.build(dict(type="TextSpottingMetric", iou_threshold=bad))


def test_registered_metric_names_the_image_of_a_zero_area_word():
    from mmdet.registry import METRICS
    from mmengine.structures import InstanceData

    metric = METRICS.build(dict(type="TextSpottingMetric"))
    gt = InstanceData(bboxes=torch.tensor([[0, 0, 10, 10], [20, 5, 20, 15]], dtype=torch.float32))
    pred = InstanceData(bboxes=torch.tensor([[0, 0, 10, 10]], dtype=torch.float32), scores=torch.tensor([0.9]))
    with pytest.warns(UserWarning, match=r"scene_7.png: gt_polygons\[1\] of zero area"):
        metric.process({}, [dict(img_path="scene_7.png", gt_instances=gt, pred_instances=pred)])
    assert metric.evaluate(1)["spotting/det_recall"] == 1.0


def test_registered_metric_reads_mmdet_data_samples():
    from mmdet.registry import METRICS
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import PolygonMasks
    from mmengine.structures import InstanceData

    metric = METRICS.build(dict(type="TextSpottingMetric", score_threshold=0.3))
    sample = DetDataSample()
    gt = InstanceData(bboxes=torch.tensor([[0, 0, 10, 10], [30, 0, 40, 10]], dtype=torch.float32))
    gt.masks = PolygonMasks([[SQUARE.ravel()], [shifted(30).ravel()]], 50, 50)
    gt.texts = ["cat", "dog"]
    ignored = InstanceData(bboxes=torch.tensor([[60, 0, 70, 10]], dtype=torch.float32))
    ignored.masks = PolygonMasks([[shifted(60).ravel()]], 50, 50)
    pred = InstanceData(bboxes=torch.tensor([[0, 0, 10, 10], [30, 0, 40, 10], [60, 0, 70, 10],
                                             [0, 30, 10, 40]], dtype=torch.float32),
                        scores=torch.tensor([0.9, 0.8, 0.7, 0.2]))
    pred.texts = ["CAT", "dug", "x", "y"]
    sample.gt_instances, sample.ignored_instances, sample.pred_instances = gt, ignored, pred
    metric.process({}, [sample.to_dict()])
    # image 2: boxes only, no polygons or masks; no detections
    empty = DetDataSample()
    empty.gt_instances = InstanceData(bboxes=torch.tensor([[0, 0, 10, 10]], dtype=torch.float32))
    empty.gt_instances.texts = ["cow"]
    empty.pred_instances = InstanceData(bboxes=torch.zeros(0, 4), scores=torch.zeros(0))
    empty.pred_instances.texts = []
    metric.process({}, [empty.to_dict()])
    res = metric.evaluate(2)
    # detection: 2 TP of 2 counted predictions (the don't-care match dropped, the 0.2 one left out), 3 words
    assert res["spotting/det_precision"] == 1.0 and res["spotting/det_recall"] == pytest.approx(2 / 3)
    assert res["spotting/e2e_precision"] == 0.5 and res["spotting/e2e_recall"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="iou_threshold"):
        METRICS.build(dict(type="TextSpottingMetric", iou_threshold=1.5))
