"""The spotting model: its recognition crops, its text polygons, a loss step and a
predict step on CPU, weights from a crop-level recognizer."""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from mmcv.ops import RoIAlign
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

import stn_plugin  # noqa: F401  (registers)
from mmdet.registry import DATASETS, METRICS, MODELS
from mmdet.utils import register_all_modules

from stn_plugin.geometry.families import build_family
from stn_plugin.geometry.transforms import TPSTransform
from stn_plugin.modules.localization import regression_layer
from stn_plugin.spotting.text_outline import roi_text_polygons
from stn_plugin.spotting.word_scenes import WordSceneOptions, generate_word_scenes

register_all_modules(init_default_scope=True)
CONFIG = Path(__file__).resolve().parents[2] / "configs" / "spotting" / "faster-rcnn_r18_fpn_tps-crnn_word-scenes.py"
BOX = torch.tensor([[10.0, 20.0, 50.0, 40.0]])


def _model_cfg():
    return copy.deepcopy(Config.fromfile(str(CONFIG)).model)


def test_a_fresh_rectifier_crops_what_roi_align_samples():
    extractor = MODELS.build(_model_cfg().roi_head.recog_roi_extractor)
    torch.manual_seed(0)
    image = torch.randn(2, 3, 60, 90)
    rois = torch.tensor([[0, 5.0, 7.0, 60.0, 30.0], [1, 20.3, 10.6, 88.0, 50.2], [0, 0.0, 0.0, 90.0, 60.0]])
    crops = extractor((image,), rois)
    expected = RoIAlign((32, 100), 1.0, sampling_ratio=2, aligned=True)(image, rois)
    assert crops.shape == (3, 3, 32, 100)
    # the TPS identity is a float32 spline evaluation: sample positions agree to ~1e-6 of the
    # box, values to ~3e-5 on this unit-variance noise (a misplaced sample would be off by ~1)
    torch.testing.assert_close(crops, expected, atol=1e-4, rtol=0)


def _outline_pixels(box, u, v):
    x1, y1, x2, y2 = box
    return np.stack([x1 + (np.asarray(u) + 1) * (x2 - x1) / 2, y1 + (np.asarray(v) + 1) * (y2 - y1) / 2], -1)


def test_polygon_of_the_identity_is_the_box_outline():
    polygon = roi_text_polygons(build_family("tps").identity(1), BOX, 4)[0].numpy()
    u = np.linspace(-1, 1, 4)
    expected = np.concatenate([_outline_pixels(BOX[0].numpy(), u, -np.ones(4)),
                               _outline_pixels(BOX[0].numpy(), u[::-1], np.ones(4))])
    np.testing.assert_allclose(polygon, expected, atol=1e-5)
    assert polygon[0].tolist() == pytest.approx([10.0, 20.0]) and polygon[3].tolist() == pytest.approx([50.0, 20.0])


def test_polygon_of_an_affine_transform_lands_where_it_maps_the_crop_corners():
    a = np.array([[0.5, 0.0, 0.2], [0.1, 0.8, 0.0]])
    transform = build_family("affine").build(torch.tensor(a.reshape(1, 6), dtype=torch.float32))
    polygon = roi_text_polygons(transform, BOX, 2)[0].numpy()
    # crop corners (u, v): top-left, top-right, bottom-right, bottom-left -> box frame -> pixels
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float)
    frame = corners @ a[:, :2].T + a[:, 2]
    np.testing.assert_allclose(polygon, _outline_pixels(BOX[0].numpy(), frame[:, 0], frame[:, 1]), atol=1e-5)
    # by hand: the crop's top-left corner reads frame point (-0.3, -0.9): pixel (10 + 0.7 * 20, 20 + 0.1 * 10)
    assert polygon[0].tolist() == pytest.approx([24.0, 21.0], abs=1e-5)


def test_polygon_of_a_tps_transform_passes_through_its_control_points():
    family = build_family(dict(type="tps", num_control_points=16))
    targets = family.spline.target_points.float()            # 4x4 grid, x and y in {-1, -1/3, 1/3, 1}
    bend = targets.clone()
    bend[:, 1] += 0.3 * (1 - targets[:, 0] ** 2)             # a parabola: the middle sags
    polygon = roi_text_polygons(TPSTransform(family.spline, bend[None]), BOX, 7)[0].numpy()
    u = np.linspace(-1, 1, 7)
    for edge, v in ((polygon[:7], -1.0), (polygon[7:][::-1], 1.0)):
        for k in (0, 2, 4, 6):   # u = -1, -1/3, 1/3, 1: control points of the top / bottom row
            j = int(np.argmin(np.abs(targets[:, 0].numpy() - u[k]) + np.abs(targets[:, 1].numpy() - v)))
            src = bend[j].numpy()
            np.testing.assert_allclose(edge[k], _outline_pixels(BOX[0].numpy(), src[0], src[1]), atol=1e-4)
    top = polygon[:7]
    assert top[3, 1] > top[0, 1] + 2   # curved: the middle of the top edge lies lower than its ends


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    opts = WordSceneOptions(size_range=(96, 128), font_size=(12, 18), dont_care_prob=0.2)
    return generate_word_scenes(tmp_path_factory.mktemp("spot") / "ws", 4, 2, seed=3, options=opts, progress=False)


def _config(root: Path) -> Config:
    cfg = Config.fromfile(str(CONFIG))
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        loader.dataset.data_root = str(root) + "/"
        for t in loader.dataset.pipeline:
            if t.type == "Resize":
                t.scale = (160, 160)
    return cfg


def test_loss_step_and_predict_step_on_cpu(scenes):
    torch.manual_seed(0)
    cfg = _config(scenes)
    model = MODELS.build(cfg.model)
    model.init_weights()
    train = DATASETS.build(cfg.train_dataloader.dataset)
    batch = model.data_preprocessor(pseudo_collate([train[0], train[1]]), True)
    losses = model.loss(batch["inputs"], batch["data_samples"])
    assert "loss_recog_ctc" in losses and "recog_loss_stn_bending" in losses
    assert torch.isfinite(losses["loss_recog_ctc"]) and losses["loss_recog_ctc"] > 0
    losses["loss_recog_ctc"].backward()
    head = model.roi_head
    # the recognition loss trains the rectifier and the recognizer, not the box branch
    assert regression_layer(head.recog_roi_extractor.rectifier.loc_net).weight.grad.abs().sum() > 0
    assert all(p.grad is not None for p in head.recognizer.parameters() if p.requires_grad)
    assert all(p.grad is None or not p.grad.any() for p in head.bbox_head.parameters())

    model.eval()
    val = DATASETS.build(cfg.val_dataloader.dataset)
    with torch.no_grad():
        data = model.data_preprocessor(pseudo_collate([val[i] for i in range(len(val))]), False)
        outputs = model.predict(data["inputs"], data["data_samples"])
    for out in outputs:
        pred = out.pred_instances
        n = len(pred.bboxes)
        assert n > 0 and len(pred.texts) == n and pred.polygons.shape == (n, 14, 2) and pred.text_scores.shape == (n,)
        # a fresh rectifier crops the box: its polygon is the box, in the original image's pixels
        np.testing.assert_allclose(pred.polygons.amin(1).numpy(), pred.bboxes[:, :2].numpy(), atol=1e-3)
        np.testing.assert_allclose(pred.polygons.amax(1).numpy(), pred.bboxes[:, 2:].numpy(), atol=1e-3)
    metric = METRICS.build(dict(type="TextSpottingMetric", score_threshold=0.0))
    metric.process({}, [o.to_dict() for o in outputs])
    res = metric.evaluate(len(outputs))
    assert {"spotting/e2e_hmean", "spotting/det_hmean"} <= set(res) and all(0 <= v <= 1 for v in res.values())



def test_the_head_reads_the_images_it_is_given(scenes):
    """The RoI head gets the recognizer's images as an argument of ``predict`` / ``loss``
    (nothing is left on the head between calls): the detector's prediction is the head's
    own on the same features, proposals and images; without images, a head that reads
    the image says what it needs."""
    torch.manual_seed(0)
    cfg = _config(scenes)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.eval()
    val = DATASETS.build(cfg.val_dataloader.dataset)
    with torch.no_grad():
        data = model.data_preprocessor(pseudo_collate([val[i] for i in range(len(val))]), False)
        x = model.extract_feat(data["inputs"])
        proposals = model.rpn_head.predict(x, data["data_samples"], rescale=False)
        images = model.recognition_images(data["inputs"])
        direct = model.roi_head.predict(x, copy.deepcopy(proposals), data["data_samples"], rescale=True,
                                        images=images)
        through = model.predict(data["inputs"], copy.deepcopy(data["data_samples"]))
        with pytest.raises(RuntimeError, match="needs the images of the batch"):
            model.roi_head.predict(x, copy.deepcopy(proposals), data["data_samples"])
    assert sum(len(r.bboxes) for r in direct) > 0
    for mine, out in zip(direct, through):
        pred = out.pred_instances
        assert mine.texts == pred.texts
        torch.testing.assert_close(mine.bboxes, pred.bboxes, atol=0, rtol=0)
        torch.testing.assert_close(mine.polygons, pred.polygons, atol=0, rtol=0)
        torch.testing.assert_close(mine.text_scores, pred.text_scores, atol=0, rtol=0)

    model.train()
    train = DATASETS.build(cfg.train_dataloader.dataset)
    batch = model.data_preprocessor(pseudo_collate([train[0], train[1]]), True)
    x = model.extract_feat(batch["inputs"])
    proposals = model.rpn_head.predict(x, batch["data_samples"], rescale=False)
    losses = model.roi_head.loss(x, copy.deepcopy(proposals), batch["data_samples"],
                                 images=model.recognition_images(batch["inputs"]))
    assert torch.isfinite(losses["loss_recog_ctc"]) and losses["loss_recog_ctc"] > 0
    with pytest.raises(RuntimeError, match="needs the images of the batch"):
        model.roi_head.loss(x, copy.deepcopy(proposals), batch["data_samples"])

def test_recognizer_starts_from_a_crop_level_checkpoint(tmp_path):
    cfg = _model_cfg()
    crop_model = MODELS.build(cfg.roi_head.recognizer)
    torch.manual_seed(1)
    for p in crop_model.parameters():
        p.data.normal_()
    torch.save(dict(state_dict=crop_model.state_dict()), tmp_path / "crnn.pth")
    cfg.roi_head.recognizer.init_cfg = dict(type="Pretrained", checkpoint=str(tmp_path / "crnn.pth"))
    model = MODELS.build(cfg)
    model.init_weights()
    for key, value in crop_model.state_dict().items():
        torch.testing.assert_close(model.roi_head.recognizer.state_dict()[key], value)


def test_bad_configurations_are_named():
    cfg = _model_cfg()
    bad = copy.deepcopy(cfg)
    bad.roi_head.recog_roi_extractor.featmap_strides = [4]
    with pytest.raises(ValueError, match="featmap_strides=\\[1\\]"):
        MODELS.build(bad)
    bad = copy.deepcopy(cfg)
    bad.roi_head.recognizer.in_channels = 1
    with pytest.raises(ValueError, match="in_channels=1"):
        MODELS.build(bad)
    bad = copy.deepcopy(cfg)
    bad.roi_head.mask_head = dict(type="FCNMaskHead")
    with pytest.raises(ValueError, match="no mask branch"):
        MODELS.build(bad)
    bad = copy.deepcopy(cfg)
    bad.roi_head.recog_inputs = "pixels"
    with pytest.raises(ValueError, match="recog_inputs"):
        MODELS.build(bad)
    bad = copy.deepcopy(cfg)
    bad.roi_head = dict(type="RectifyingRoIHead", bbox_roi_extractor=cfg.roi_head.bbox_roi_extractor,
                        bbox_head=cfg.roi_head.bbox_head)
    with pytest.raises(TypeError, match="SpottingRoIHead"):
        MODELS.build(bad)
