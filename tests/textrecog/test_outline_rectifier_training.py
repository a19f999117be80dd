"""The outline rectifier's training pieces: dataset items, losses, metric, and the
rectifier file a trained model exports."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate

from stn_plugin.rectify import TextRectifier
from stn_plugin.textrecog.outline_rectifier import TextCropOutlineDataset, TextOutlineMetric, TextOutlineRectifier


def test_dataset_loss_metric_and_export(tmp_path):
    torch.manual_seed(0)
    ds = TextCropOutlineDataset(8, seed=0, kinds=("flat_line", "arc"))
    items = [ds[i] for i in range(4)]
    assert all(it["inputs"].shape[:2] == (3, 32) and it["inputs"].shape[2] % 8 == 0 for it in items)
    assert all(it["outline"].shape == (2, 17, 2) for it in items)
    assert np.array_equal(ds[2]["inputs"], items[2]["inputs"])           # sample i is always the same
    model = TextOutlineRectifier(net=dict(channels=(4, 8, 8, 8), context=8))
    batch = pseudo_collate(items)
    losses = model(**batch, mode="loss")
    assert set(losses) == {"loss_outline", "loss_flat"} and all(torch.isfinite(v) and v > 0 for v in losses.values())
    sum(losses.values()).backward()
    assert model.net.head.weight.grad is not None and model.net.head.weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        predictions = model(**batch, mode="predict")
    metric = TextOutlineMetric()
    metric.process(batch, predictions)
    scores = metric.compute_metrics(metric.results)
    assert set(scores) == {"error", "end_error", "flat_acc"} and scores["error"] > 0
    # the trained model becomes a rectifier file that TextRectifier loads without its trainer
    rectifier = TextRectifier.from_recognizer(model, name="t")
    path = str(tmp_path / "t.pt")
    rectifier.save(path)
    again = TextRectifier.from_pretrained(path)
    crop = np.full((30, 120, 3), 200, np.uint8)
    np.testing.assert_array_equal(again(crop), rectifier(crop))


def test_kind_weights_change_the_mix_and_bad_ones_are_refused():
    only_arcs = TextCropOutlineDataset(40, seed=0, kind_weights={k: 0.0 for k in ("flat_word", "flat_line", "rotated",
                                                                                   "rotated_line", "perspective",
                                                                                   "perspective_line", "strong_arc",
                                                                                   "arc_line", "curled_line", "wave")})
    assert {only_arcs[i]["kind"] for i in range(12)} == {"arc"}
    with pytest.raises(ValueError, match="kind_weights"):
        TextCropOutlineDataset(4, kind_weights={"italic": 1.0})
    with pytest.raises(ValueError, match="kind_weights"):
        TextCropOutlineDataset(4, kind_weights={"arc": -1.0})
    with pytest.raises(ValueError, match="kind_weights"):
        TextCropOutlineDataset(4, kinds=("arc",), kind_weights={"arc": 2.0})
