"""Outline supervision of the recognition RoI rectifiers and teacher forcing of the
recognizer's geometry: targets of known polygons, the loss and its gradients, the
crops along the annotated outlines."""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from mmcv.ops import RoIAlign
from mmengine.config import Config
from mmengine.structures import InstanceData

import stn_plugin  # noqa: F401  (registers)
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.mask import PolygonMasks
from mmdet.utils import register_all_modules

from stn_plugin.geometry.families import build_family
from stn_plugin.modules.localization import regression_layer
from stn_plugin.spotting.text_outline import outline_loss, outline_points, roi_outline_targets
from stn_plugin.spotting.word_scenes import WordSceneOptions, generate_word_scenes
from stn_plugin.textrecog.geometric_rectification import rectify_regions

register_all_modules(init_default_scope=True)
CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "spotting"
TPS_OUTLINE = CONFIGS / "faster-rcnn_r18_fpn_tps-crnn_word-scenes_outline.py"
AFFINE_OUTLINE = CONFIGS / "faster-rcnn_r18_fpn_affine-crnn_word-scenes_outline.py"
BOX = torch.tensor([[0.0, 0.0, 100.0, 40.0]], dtype=torch.float64)
# a bent word: top edge (0, 10) -> (50, 0) -> (100, 10), bottom edge 20 px lower
BENT = np.array([[0, 10], [50, 0], [100, 10], [100, 30], [50, 20], [0, 30]], float)


def _tps_family():
    return build_family(dict(type="tps", num_control_points=16, control_point_range=1.5))


def test_outline_target_of_a_straight_word_is_its_quad_in_the_roi_frame():
    quad = np.array([[10, 5], [90, 5], [90, 35], [10, 35]], float)
    # RoI frame of the box (0, 0, 100, 40): u = x / 50 - 1, v = y / 20 - 1
    u = [-0.8, -0.8 / 3, 0.8 / 3, 0.8]                     # 4 points evenly along each edge
    v = [-0.75, -0.25, 0.25, 0.75]                          # top, two inner rows, bottom
    expected = [[x, y] for y in v for x in u]               # the 4 x 4 grid, row-major from the top
    target = roi_outline_targets([quad], BOX, _tps_family())
    np.testing.assert_allclose(target[0].numpy(), expected, atol=1e-9)
    corners = roi_outline_targets([quad], BOX, build_family("affine"))
    np.testing.assert_allclose(corners[0].numpy(), [[-0.8, -0.75], [0.8, -0.75], [0.8, 0.75], [-0.8, 0.75]],
                               atol=1e-9)


def test_outline_target_of_a_bent_word_follows_its_edges():
    # each edge: two segments of equal length; 4 points by arc length sit at 0, 2/3 of the
    # first segment, 1/3 into the second, the end
    top = np.array([[0, 10], [100 / 3, 10 / 3], [200 / 3, 10 / 3], [100, 10]])
    bottom = top + [0, 20]
    rows = [top + f * (bottom - top) for f in (0, 1 / 3, 2 / 3, 1)]   # inner rows on the matched segments
    expected = np.concatenate(rows) / [50, 20] - 1                      # pixels -> RoI frame
    target = roi_outline_targets([BENT], BOX, _tps_family())
    np.testing.assert_allclose(target[0].numpy(), expected, atol=1e-9)
    # ASTER's layout (10 + 10 points on the edges) and the affine corners: the edges' ends
    text = roi_outline_targets([BENT], BOX, build_family(dict(type="tps", num_control_points=20, layout="text")))
    np.testing.assert_allclose(text[0, [0, 9, 10, 19]].numpy(), [[-1, -0.5], [1, -0.5], [-1, 0.5], [1, 0.5]],
                               atol=1e-9)
    corners = roi_outline_targets([BENT], BOX, build_family("affine"))
    np.testing.assert_allclose(corners[0].numpy(), [[-1, -0.5], [1, -0.5], [1, 0.5], [-1, 0.5]], atol=1e-9)
    # a target beyond the family's control-point bound is clipped just inside it
    far = roi_outline_targets([BENT * [1, 3]], BOX, _tps_family())
    assert far.abs().max() < 1.5 and far.abs().max() > 1.49


def test_a_tps_rectifier_with_asters_layout_is_supervised_on_its_two_edges():
    cfg = Config.fromfile(str(TPS_OUTLINE)).model.roi_head.recog_roi_extractor
    cfg.update(num_control_points=20, layout="text")
    extractor = MODELS.build(cfg)
    targets = roi_outline_targets([BENT], BOX, extractor.family)
    assert targets.shape == (1, 20, 2)
    # the top row follows the bent top edge: its middle points lie higher than its ends
    assert targets[0, 4, 1] < targets[0, 0, 1] - 0.2 and targets[0, 14, 1] < targets[0, 10, 1] - 0.2
    with pytest.raises(ValueError, match="layout"):
        MODELS.build(dict(cfg, layout="ring"))


def _rectifier(kind: str):
    cfg = Config.fromfile(str(TPS_OUTLINE if kind == "tps" else AFFINE_OUTLINE)).model.roi_head.recog_roi_extractor
    return MODELS.build(cfg)


@pytest.mark.parametrize("kind", ["tps", "affine"])
def test_outline_loss_is_zero_on_target_and_trains_the_regression_layer(kind):
    torch.manual_seed(0)
    extractor = _rectifier(kind)
    image = torch.rand(1, 3, 48, 120)
    rois = torch.tensor([[0, 0.0, 0.0, 100.0, 40.0], [0, 10.0, 4.0, 110.0, 44.0]])
    polygons = [BENT if kind == "tps" else np.array([[5, 8], [95, 4], [95, 30], [5, 34]], float),
                np.array([[20, 10], [100, 10], [100, 36], [20, 36]], float)]
    family = extractor.family
    targets = roi_outline_targets(polygons, rois[:, 1:].double(), family).float()
    extractor((image,), rois)
    loss = outline_loss(outline_points(family, extractor.transform_of_last()), targets)
    assert loss > 1e-3                                      # a fresh rectifier samples the box
    loss.backward()
    layer = regression_layer(extractor.rectifier.loc_net)
    assert layer.weight.grad.abs().sum() > 0 and layer.bias.grad.abs().sum() > 0

    # a regression layer that predicts the targets: zero loss
    if kind == "tps":
        raw = (1.5 * torch.atanh(targets / 1.5)).flatten(1)  # the family's bound undone
    else:  # the affine map sending the crop corners to the targets (exact: they are parallelograms here)
        corners = torch.tensor([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
        design = torch.cat([corners, torch.ones(4, 1)], 1)
        raw = torch.stack([torch.linalg.lstsq(design, t).solution.T.reshape(6) for t in targets])
    assert raw.shape == (2, family.num_params)
    with torch.no_grad():
        layer.weight.zero_()
    for i in range(2):
        with torch.no_grad():
            layer.bias.copy_(raw[i])
        extractor((image,), rois[i:i + 1])
        zero = outline_loss(outline_points(family, extractor.transform_of_last()), targets[i:i + 1])
        assert float(zero) < 1e-10


def _sample_with(polygons, texts, shape):
    sample = DetDataSample(metainfo=dict(img_shape=shape, pad_shape=shape))
    sample.gt_instances = InstanceData(masks=PolygonMasks([[p.ravel()] for p in polygons], *shape),
                                       bboxes=torch.tensor([[*p.min(0), *p.max(0)] for p in polygons]).float(),
                                       labels=torch.zeros(len(polygons), dtype=torch.long))
    sample.gt_instances.texts = list(texts)
    return sample


def test_teacher_forced_crops_are_the_geometric_rectification_of_the_annotated_polygons():
    head = MODELS.build(Config.fromfile(str(TPS_OUTLINE)).model).roi_head
    torch.manual_seed(0)
    images = torch.rand(2, 3, 60, 130)
    rect = np.array([[10, 8], [110, 8], [110, 40], [10, 40]], float)
    polygons = [[BENT + [10, 15], rect], [rect + [5, 10]]]
    samples = [_sample_with(p, t, (60, 130)) for p, t in zip(polygons, (["bent", "box"], ["moved"]))]
    crops, texts = head.gt_geometry_crops(images, samples)
    assert texts == ["bent", "box", "moved"] and crops.shape == (3, 3, 32, 100)
    # the geometric rectification of each polygon (index coordinates: continuous - 0.5)
    for crop, image, polygon in zip(crops, [images[0], images[0], images[1]], polygons[0] + polygons[1]):
        expected = rectify_regions(image, [polygon - 0.5], size=(32, 100), sampling_ratio=2)[0]
        torch.testing.assert_close(crop, expected)
    # an axis-aligned rectangle flattens to what RoIAlign samples of that box
    box = torch.tensor([[1, 15.0, 18.0, 115.0, 50.0]])
    roi_align = RoIAlign((32, 100), 1.0, sampling_ratio=2, aligned=True)(images, box)[0]
    torch.testing.assert_close(crops[2], roi_align, atol=1e-4, rtol=0)
    # without the polygons (boxes only) the head says what it needs
    del samples[0].gt_instances.masks
    with pytest.raises(ValueError, match="PolygonMasks"):
        head.gt_geometry_crops(images, samples)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    opts = WordSceneOptions(size_range=(96, 128), font_size=(12, 18), dont_care_prob=0.0,
                            distortions=("curve", "arc"))
    return generate_word_scenes(tmp_path_factory.mktemp("outline") / "ws", 2, 0, seed=5, options=opts,
                                progress=False)


@pytest.mark.parametrize("geometry", ["both", "gt"])
def test_the_spotter_trains_its_outline_from_the_polygons(scenes, geometry, spotting_batch):
    torch.manual_seed(0)
    cfg = Config.fromfile(str(TPS_OUTLINE)).model
    cfg.roi_head.recog_geometry = geometry
    model = MODELS.build(cfg)
    model.init_weights()
    batch = model.data_preprocessor(spotting_batch(TPS_OUTLINE, scenes, 128), True)
    losses = model.loss(batch["inputs"], batch["data_samples"])
    assert {"loss_outline", "loss_recog_gt_ctc"} <= set(losses)
    assert ("loss_recog_ctc" in losses) == (geometry == "both")
    assert losses["loss_outline"] > 0 and losses["loss_recog_gt_ctc"] > 0
    losses["loss_outline"].backward()
    head = model.roi_head
    assert regression_layer(head.recog_roi_extractor.rectifier.loc_net).weight.grad.abs().sum() > 0
    assert all(p.grad is None or not p.grad.any() for p in head.bbox_head.parameters())
    assert all(p.grad is None or not p.grad.any() for p in head.recognizer.parameters())


def test_polygon_crops_at_test_time_and_bad_settings_are_named(scenes, spotting_batch):
    torch.manual_seed(0)
    cfg = Config.fromfile(str(CONFIGS / "faster-rcnn_r18_fpn_tps-outline-crop-crnn_word-scenes.py")).model
    cfg.test_cfg.rcnn.max_per_img = 4
    model = MODELS.build(cfg)
    model.init_weights()
    model.eval()
    batch = model.data_preprocessor(spotting_batch(TPS_OUTLINE, scenes, 128), True)
    with torch.no_grad():
        out = model.predict(batch["inputs"], batch["data_samples"], rescale=False)
        assert all(len(o.pred_instances.texts) == len(o.pred_instances.bboxes) > 0 for o in out)
        # a fresh rectifier's polygon is its box: flattening it samples what the rectifier samples
        head, images = model.roi_head, model.recognition_images(batch["inputs"])
        rois = torch.cat([torch.cat([b.bboxes.new_full((len(b.bboxes), 1), float(i)), b.bboxes], 1)
                          for i, b in enumerate(o.pred_instances for o in out)])
        crops, transform = head._recognition_crops(None, rois, images)
        polygons = torch.cat([o.pred_instances.polygons for o in out])
        flat = head._polygon_crops_of(images, rois, polygons, torch.full_like(crops, float("nan")))
    torch.testing.assert_close(flat, crops, atol=2e-3, rtol=0)
    for key, value, match in (("recog_geometry", "pixels", "recog_geometry"),
                              ("predict_crops", "boxes", "predict_crops"),
                              ("outline_loss_weight", -1.0, "outline_loss_weight")):
        bad = copy.deepcopy(cfg)
        bad.roi_head[key] = value
        with pytest.raises(ValueError, match=match):
            MODELS.build(bad)
    bad = copy.deepcopy(cfg)
    bad.roi_head.update(recog_geometry="gt", outline_loss_weight=0.0)
    with pytest.raises(ValueError, match="learn nothing"):
        MODELS.build(bad)
    bad = copy.deepcopy(cfg)
    bad.roi_head.recog_roi_extractor = dict(type="SingleRoIExtractor", out_channels=3, featmap_strides=[1],
                                            roi_layer=dict(type="RoIAlign", output_size=(32, 100), sampling_ratio=2))
    with pytest.raises(ValueError, match="predicts none"):
        MODELS.build(bad)
