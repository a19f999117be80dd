"""Text recognition metrics on known cases."""
import pytest

import stn_plugin.textrecog  # noqa: F401  (registers)
from mmengine.structures import LabelData
from mmdet.registry import METRICS
from stn_plugin.textrecog import TextRecogDataSample
from stn_plugin.textrecog.metrics import (edit_distance, lcs_length, normalize_text,
                                                      text_recognition_scores)


def test_helpers():
    assert normalize_text("Hello, World-2!") == "helloworld2"
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3
    assert lcs_length("abcde", "ace") == 3


def test_scores_known_cases():
    preds = ["hello", "World", "caf", "x"]
    gts = ["Hello!", "world", "cafe", ""]
    s = text_recognition_scores(preds, gts)
    # standard protocol: hello==hello, world==world, caf!=cafe, x!="" -> 2/4
    assert s["word_acc_ignore_case_symbol"] == pytest.approx(0.5)
    # ignore case keeps symbols: "hello" != "hello!", "world" == "world" -> 1/4
    assert s["word_acc_ignore_case"] == pytest.approx(0.25)
    assert s["word_acc"] == pytest.approx(0.0)
    # chars (normalised): gt 5+5+4+0 = 14, pred 5+5+3+1 = 14, matched 5+5+3 = 13
    assert s["char_recall"] == pytest.approx(13 / 14)
    assert s["char_precision"] == pytest.approx(13 / 14)
    # 1-NED per sample: 1, 1, 1 - 1/4, 1 - 1/1 = 0 -> mean 0.6875
    assert s["one_minus_ned"] == pytest.approx((1 + 1 + 0.75 + 0) / 4)


def test_scores_length_mismatch():
    with pytest.raises(ValueError, match="differ in length"):
        text_recognition_scores(["a"], [])


def test_registered_metric_runs_on_data_samples():
    metric = METRICS.build(dict(type="TextRecogMetric", metrics=["word_acc_ignore_case_symbol", "one_minus_ned"]))
    samples = []
    for pred, gt in [("abc", "ABC"), ("ab", "abd")]:
        s = TextRecogDataSample()
        s.gt_text = LabelData(item=gt)
        s.pred_text = LabelData(item=pred)
        samples.append(s)
    metric.process({}, samples)
    out = metric.evaluate(2)
    assert out == {"recog/word_acc_ignore_case_symbol": 0.5, "recog/one_minus_ned": pytest.approx((1 + 2 / 3) / 2)}
    with pytest.raises(ValueError, match="unknown names"):
        METRICS.build(dict(type="TextRecogMetric", metrics=["accuracy"]))
