"""The context-only ablation (a fixed wider RoI) and the ablation configs of the digit benchmark."""
import math

import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

import stn_plugin  # noqa: F401
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.utils import register_all_modules

from stn_plugin.cli.paths import config_path
from stn_plugin.experiments.digit_scenes_benchmark import CONFIGS
from stn_plugin.detection.enlarged_roi_extractor import EnlargedRoIExtractor
from stn_plugin.detection.roi_rectifiers import RoIRectifierExtractor

register_all_modules(init_default_scope=True)
STRIDES = [4, 8, 16, 32]
LAYER = dict(type="RoIAlign", output_size=7, sampling_ratio=2, aligned=True)


def _feats_and_rois(levels=4, n=60, seed=0):
    g = torch.Generator().manual_seed(seed)
    feats = tuple(torch.randn(2, 8, 256 // s, 320 // s, generator=g) for s in STRIDES[:levels])
    xy = torch.rand(n, 2, generator=g) * 250 - 20
    wh = torch.rand(n, 2, generator=g) * 200 + 0.5
    rois = torch.cat([torch.randint(0, 2, (n, 1), generator=g).float(), xy, xy + wh], 1)
    return feats, rois


def _enlarge_by_hand(rois, side):
    out = rois.clone()
    for k in range(rois.shape[0]):
        _, x1, y1, x2, y2 = rois[k].tolist()
        cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * side / 2, (y2 - y1) * side / 2
        out[k, 1:] = torch.tensor([cx - hw, cy - hh, cx + hw, cy + hh])
    return out


@pytest.mark.parametrize("area_scale", [1.4, 2.0])
def test_equals_single_roi_extractor_on_rois_enlarged_by_hand(area_scale):
    feats, rois = _feats_and_rois()
    side = math.sqrt(area_scale)
    enlarged = MODELS.build(dict(type="EnlargedRoIExtractor", roi_layer=LAYER, out_channels=8,
                                 featmap_strides=STRIDES, area_scale=area_scale))
    # the level follows the box before enlarging: a plain extractor whose finest scale
    # grows with the sides assigns the hand-enlarged RoIs to the same levels
    plain = MODELS.build(dict(type="SingleRoIExtractor", roi_layer=LAYER, out_channels=8, featmap_strides=STRIDES,
                              finest_scale=56 * side))
    assert torch.equal(plain.map_roi_levels(_enlarge_by_hand(rois, side), 4), enlarged.map_roi_levels(rois, 4))
    out = enlarged(feats, rois)
    ref = plain(feats, _enlarge_by_hand(rois, side))
    assert out.shape == (60, 8, 7, 7)
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)  # RoI coordinates rounded in another order
    # ... and it differs from sampling the box itself
    assert (out - MODELS.build(dict(type="SingleRoIExtractor", roi_layer=LAYER, out_channels=8,
                                    featmap_strides=STRIDES))(feats, rois)).abs().max() > 1e-2


def test_single_level_head_scale_factor_and_identity():
    feats, rois = _feats_and_rois(levels=1)
    one = dict(roi_layer=LAYER, out_channels=8, featmap_strides=STRIDES[:1])
    plain = MODELS.build(dict(type="SingleRoIExtractor", **one))
    # mmdet's single-level path ignores roi_scale_factor; this one enlarges there too
    out = EnlargedRoIExtractor(area_scale=2.0, **one)(feats, rois, roi_scale_factor=1.5)
    torch.testing.assert_close(out, plain(feats, _enlarge_by_hand(rois, math.sqrt(2.0) * 1.5)), atol=1e-4, rtol=1e-4)
    feats4, rois4 = _feats_and_rois()
    four = dict(roi_layer=LAYER, out_channels=8, featmap_strides=STRIDES)
    assert torch.equal(EnlargedRoIExtractor(area_scale=1.0, **four)(feats4, rois4),
                       MODELS.build(dict(type="SingleRoIExtractor", **four))(feats4, rois4))


@pytest.mark.parametrize("bad", [0.5, float("nan"), True, "2"])
def test_area_scale_below_one_or_not_a_number_is_refused(bad):
    with pytest.raises(ValueError, match="area_scale must be a finite number >= 1"):
        EnlargedRoIExtractor(LAYER, 8, STRIDES, area_scale=bad)


def _batch(size=128):
    g = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for _ in range(2):
        s = DetDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size), pad_shape=(size, size),
                                        scale_factor=(1.0, 1.0), batch_input_shape=(size, size)))
        s.gt_instances = InstanceData(bboxes=torch.tensor([[10.0, 12.0, 50.0, 60.0], [60.0, 40.0, 110.0, 100.0]]),
                                      labels=torch.tensor([3, 7]))
        inputs.append(torch.randint(0, 255, (3, size, size), generator=g, dtype=torch.uint8))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


ABLATIONS = {"enlarged-area1.4": ("EnlargedRoIExtractor", None), "enlarged-area2.0": ("EnlargedRoIExtractor", None),
             "attention": ("AffineRoIRectifier", "attention"), "similarity": ("AffineRoIRectifier", "similarity")}


@pytest.mark.parametrize("variant", sorted(ABLATIONS))
def test_ablation_config_builds_and_trains_one_step(variant):
    torch.manual_seed(0)
    cfg = Config.fromfile(str(config_path(CONFIGS[variant])))
    model = MODELS.build(cfg.model)
    ext = model.roi_head.bbox_roi_extractor
    kind, family = ABLATIONS[variant]
    assert type(ext).__name__ == kind
    if family is None:
        assert not isinstance(ext, RoIRectifierExtractor)
        assert ext.area_scale == pytest.approx(float(variant.rsplit("area", 1)[1]))
    else:
        assert ext.family.name == family
    data = model.data_preprocessor(_batch(), True)
    losses = model(**data, mode="loss")
    assert (family is not None) == any("loss_stn" in k for k in losses)
    total = sum(v.sum() if isinstance(v, torch.Tensor) else sum(x.sum() for x in v) for k, v in losses.items()
                if "loss" in k)
    assert torch.isfinite(total)
    total.backward()
    assert all(p.grad is not None for p in model.roi_head.bbox_head.parameters())
    if family is not None:
        assert all(p.grad is not None for p in ext.parameters())
