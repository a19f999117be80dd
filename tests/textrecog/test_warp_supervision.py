"""Warp supervision: the synthetic generator records where the flat word's points land
in each crop, the pipeline carries it, and the recognizer's ``loss_warp`` uses it."""
import json
import math

import numpy as np
import pytest
import torch

import stn_plugin.textrecog  # noqa: F401  (registers)
from mmdet.registry import DATASETS, MODELS
from mmengine.registry import init_default_scope
from mmengine.structures import LabelData
from stn_plugin.textrecog import synthetic_words as sw
from stn_plugin.textrecog import TextRecogDataSample

init_default_scope("mmdet")
LOC = dict(type="conv", input_size=(16, 32), channels=(4, 8), hidden_dims=(16,), norm=True)
TPS = dict(type="SpatialTransformer", family=dict(type="tps", num_control_points=20, layout="text", margin=0.05,
                                                  control_point_range=1.5),
           loc_net=LOC, out_size=(32, 100), padding="border")
TINY = dict(backbone=dict(type="CRNNBackbone", channels=(4, 8, 8, 8, 8)),
            decoder=dict(type="BiLSTMCTCHead", hidden_size=8, num_layers=1, dropout=0.0))


def _blobs(h=40, w=120):
    """A flat mask with small bright squares at known pixel centres."""
    centres = np.array([[12.0, 10.0], [60.0, 20.0], [105.0, 30.0], [30.0, 32.0], [85.0, 8.0]])
    mask = np.zeros((h, w), np.float32)
    for x, y in centres.astype(int):
        mask[y - 1:y + 2, x - 1:x + 2] = 1.0
    return mask, centres


@pytest.mark.parametrize("distortion", sw.DISTORTIONS)
def test_each_distortion_map_sends_points_where_the_image_moved_them(distortion):
    mask, centres = _blobs()
    for seed in range(3):
        distorted, forward = sw.distort_mask(mask, distortion, np.random.default_rng(seed))
        mapped = forward(centres)
        for (x, y) in mapped:
            # the blob's intensity centroid in a window around the predicted point
            x0, y0 = int(round(x)) - 4, int(round(y)) - 4
            win = distorted[max(y0, 0):y0 + 9, max(x0, 0):x0 + 9]
            assert win.sum() > 0.5, f"{distortion}: no blob near the mapped point ({x:.1f}, {y:.1f})"
            yy, xx = np.mgrid[max(y0, 0):y0 + 9, max(x0, 0):x0 + 9][:, :win.shape[0], :win.shape[1]]
            cx, cy = (xx * win).sum() / win.sum(), (yy * win).sum() / win.sum()
            assert math.hypot(cx - x, cy - y) < 0.8, (distortion, seed, (x, y), (cx, cy))


def test_generated_warp_follows_the_crop_and_reaches_the_data_sample(tmp_path):
    ann = sw.generate_synthetic_words(str(tmp_path), 4, seed=2, split="train", distortions=("arc",), progress=False)
    doc = json.load(open(ann))
    np.testing.assert_allclose(doc["metainfo"]["warp_points"], sw.WARP_POINTS)
    img, _, _, warp = sw.make_sample(2, 0, distortions=("arc",))
    np.testing.assert_allclose(doc["data_list"][0]["warp"], warp, atol=1e-4)
    # the centre line of an arc-laid word is curved: its middle point is off the chord
    centre = warp[11:22]
    chord_y = (centre[0, 1] + centre[-1, 1]) / 2
    assert abs(centre[5, 1] - chord_y) > 0.1
    for keep_ratio in (False, True):
        pipeline = [dict(type="LoadTextCrop"), dict(type="ResizeTextCrop", scale=(32, 400), keep_ratio=keep_ratio),
                    dict(type="PackTextRecogInputs")]
        ds = DATASETS.build(dict(type="TextRecogJSONDataset", data_root=str(tmp_path), ann_file=ann,
                                 pipeline=pipeline))
        sample = ds[0]["data_samples"]
        torch.testing.assert_close(sample.gt_warp.points, torch.tensor(sw.WARP_POINTS, dtype=torch.float32))
        expected = torch.tensor(warp, dtype=torch.float32)
        if keep_ratio:  # the crop fills only the left part of the 400-wide input
            frac = round(img.shape[1] * 32 / img.shape[0]) / 400
            assert frac < 1
            expected[:, 0] = (expected[:, 0] + 1) * frac - 1
        torch.testing.assert_close(sample.gt_warp.targets, expected, atol=1e-4, rtol=0)


def _samples(warps):
    out = []
    for warp in warps:
        s = TextRecogDataSample()
        s.gt_text = LabelData(item="ab")
        if warp is not None:
            s.gt_warp = LabelData(points=torch.tensor(sw.WARP_POINTS, dtype=torch.float32), targets=warp)
        out.append(s)
    return out


def test_warp_loss_is_zero_at_the_target_and_trains_the_rectifier():
    torch.manual_seed(0)
    model = MODELS.build(dict(type="CTCTextRecognizer", preprocessor=TPS, warp_supervision=dict(weight=2.0), **TINY))
    x = torch.rand(3, 3, 32, 100) * 2 - 1
    points = torch.tensor(sw.WARP_POINTS, dtype=torch.float32)
    # a fresh rectifier is the identity: targets equal to the points cost nothing ...
    losses = model(x, _samples([points, points, None]), mode="loss")
    assert losses["loss_warp"].item() == pytest.approx(0.0, abs=1e-5)
    # ... targets shifted by 0.25 in x cost weight * 0.25 / 2 (mean over x and y), sample 3 has none
    shifted = points + torch.tensor([0.25, 0.0])
    losses = model(x, _samples([shifted, shifted, None]), mode="loss")
    assert losses["loss_warp"].item() == pytest.approx(2.0 * 0.125, rel=1e-4)
    losses["loss_warp"].backward()
    reg = [m for m in model.preprocessor.loc_net.modules() if isinstance(m, torch.nn.Linear)][-1]
    assert reg.weight.grad is not None and reg.weight.grad.abs().sum() > 0
    # real data without warp annotations adds a zero loss
    assert model(x, _samples([None] * 3), mode="loss")["loss_warp"].item() == 0.0


def test_warp_supervision_config_errors():
    with pytest.raises(ValueError, match="needs a preprocessor"):
        MODELS.build(dict(type="CTCTextRecognizer", warp_supervision=dict(weight=1.0), **TINY))
    with pytest.raises(KeyError, match="warp_supervision"):
        MODELS.build(dict(type="CTCTextRecognizer", preprocessor=TPS, warp_supervision=dict(wieght=1.0), **TINY))
