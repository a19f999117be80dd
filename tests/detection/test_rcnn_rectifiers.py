"""RoI rectifiers in mmdet detectors: shipped configs, identity at init, masks, errors."""
import glob
import math
import os

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

import stn_plugin  # noqa: F401
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmdet.utils import register_all_modules

from stn_plugin.geometry import MatrixTransform
from stn_plugin.detection.roi_rectifiers import RoIRectifierExtractor
from stn_plugin.detection.roi_heads import rectified_mask_targets, unrectify_mask_logits

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGS = sorted(glob.glob(os.path.join(ROOT, "configs", "rcnn", "*.py")))
EXTRACTOR = dict(roi_layer=dict(type="RoIAlign", output_size=7, sampling_ratio=2, aligned=True),
                 out_channels=8, featmap_strides=[4, 8, 16, 32])

register_all_modules(init_default_scope=True)


def small_model(cfg_path):
    cfg = Config.fromfile(cfg_path)
    m = cfg.model
    m.backbone.depth = 18
    m.backbone.init_cfg = None
    m.neck.in_channels = [64, 128, 256, 512]
    m.neck.out_channels = 32
    m.rpn_head.in_channels = 32
    m.rpn_head.feat_channels = 32
    rh = m.roi_head
    stage_heads = rh.bbox_head if isinstance(rh.bbox_head, list) else [rh.bbox_head]
    for head in stage_heads:
        head.in_channels, head.fc_out_channels, head.num_classes = 32, 64, 3
    exts = rh.bbox_roi_extractor if isinstance(rh.bbox_roi_extractor, list) else [rh.bbox_roi_extractor]
    for ext in exts:
        ext.out_channels = 32
    if rh.get("mask_head"):
        rh.mask_roi_extractor.out_channels = 32
        rh.mask_head.in_channels, rh.mask_head.conv_out_channels, rh.mask_head.num_classes = 32, 32, 3
    m.train_cfg.rpn_proposal.nms_pre = m.test_cfg.rpn.nms_pre = 200
    m.train_cfg.rpn_proposal.max_per_img = m.test_cfg.rpn.max_per_img = 64
    return MODELS.build(m)


def batch(with_mask, size=128, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for _ in range(2):
        img = torch.randint(0, 255, (3, size, size), generator=g, dtype=torch.uint8)
        boxes = torch.tensor([[10.0, 12.0, 60.0, 70.0], [50.0, 40.0, 120.0, 100.0]])
        s = DetDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size), pad_shape=(size, size),
                                        scale_factor=(1.0, 1.0), batch_input_shape=(size, size)))
        gt = InstanceData(bboxes=boxes, labels=torch.tensor([0, 2]))
        if with_mask:
            masks = np.zeros((2, size, size), np.uint8)
            for k, (x1, y1, x2, y2) in enumerate(boxes.int().tolist()):
                masks[k, y1:y2, x1:x2] = 1
            gt.masks = BitmapMasks(masks, size, size)
        s.gt_instances = gt
        inputs.append(img)
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


@pytest.mark.parametrize("cfg_path", CONFIGS, ids=os.path.basename)
def test_shipped_config_builds_and_runs_loss_and_predict(cfg_path):
    torch.manual_seed(0)
    model = small_model(cfg_path)
    with_mask = "mask" in os.path.basename(cfg_path)
    data = model.data_preprocessor(batch(with_mask), True)
    losses = model(**data, mode="loss")
    reg_keys = [k for k in losses if "loss_stn" in k]
    assert reg_keys, f"no rectifier regulariser loss in {sorted(losses)}"
    total = sum(v.sum() if isinstance(v, torch.Tensor) else sum(x.sum() for x in v) for k, v in losses.items()
                if "loss" in k)
    assert torch.isfinite(total)
    total.backward()
    rect = [m for m in model.modules() if isinstance(m, RoIRectifierExtractor)]
    assert rect and all(p.grad is not None for r in rect for p in r.parameters())
    model.eval()
    with torch.no_grad():
        out = model(**model.data_preprocessor(batch(with_mask), False), mode="predict")
    assert len(out) == 2 and out[0].pred_instances.bboxes.shape[1] == 4
    if with_mask:
        assert out[0].pred_instances.masks.shape[-2:] == (128, 128)


@pytest.mark.parametrize("rectifier", ["AffineRoIRectifier", "TPSRoIRectifier"])
def test_fresh_rectifier_equals_single_roi_extractor(rectifier):
    torch.manual_seed(0)
    base = MODELS.build(dict(type="SingleRoIExtractor", **EXTRACTOR))
    rect = MODELS.build(dict(type=rectifier, **EXTRACTOR))
    feats = tuple(torch.randn(2, 8, 256 // s, 320 // s) for s in [4, 8, 16, 32])
    xy = torch.rand(40, 2) * 250 - 20
    wh = torch.rand(40, 2) * 200 + 0.5
    rois = torch.cat([torch.randint(0, 2, (40, 1)).float(), xy, xy + wh], 1)
    ref = base(feats, rois)
    out = rect(feats, rois)
    assert (out - ref).abs().max() <= 1e-5 * max(1.0, ref.abs().max().item()) * 4
    # every parameter gets a gradient path even for levels without RoIs (DDP safety)
    few = rois[:1].clone()
    few[0, 1:] = torch.tensor([0.0, 0.0, 8.0, 8.0])
    rect(feats, few).sum().backward()
    assert all(p.grad is not None for p in rect.parameters())


def test_unknown_family_names_key_and_allowed_values():
    with pytest.raises(KeyError, match="allowed values") as err:
        MODELS.build(dict(type="AffineRoIRectifier", family=dict(type="perspective"), **EXTRACTOR))
    assert "projective" in str(err.value) and "family" in str(err.value)


def test_identity_masks_round_trip_and_known_rotation_places_masks():
    # identity: mapping predictions back changes nothing
    logits = torch.randn(3, 2, 28, 28)
    ident = MatrixTransform(torch.eye(3).expand(3, 3, 3).clone(), affine=True)
    assert torch.allclose(unrectify_mask_logits(logits, ident), logits, atol=1e-5)

    # a 90-degree rotation in the RoI frame: the target is sampled rotated, and the
    # prediction equal to that target maps back onto the original mask
    size = 64
    mask = np.zeros((1, size, size), np.uint8)
    mask[0, 16:48, 16:28] = 1  # a vertical bar inside the box (8, 8)-(56, 56)
    gt = InstanceData(masks=BitmapMasks(mask, size, size))

    class Res:  # the fields of mmdet's SamplingResult that the target code reads
        pos_priors = torch.tensor([[8.0, 8.0, 56.0, 56.0]])
        pos_assigned_gt_inds = torch.tensor([0])

    c, s = math.cos(math.pi / 2), math.sin(math.pi / 2)
    rot = MatrixTransform(torch.tensor([[[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]]), affine=True)
    target = rectified_mask_targets([Res()], [gt], rot, (24, 24))[0]
    plain = rectified_mask_targets([Res()], [gt], MatrixTransform(torch.eye(3)[None], affine=True), (24, 24))[0]
    assert torch.equal(target, plain.T.flip(0)) or torch.equal(target, plain.T.flip(1))
    assert not torch.equal(target, plain)
    back = unrectify_mask_logits((target * 40 - 20)[None, None], rot)[0, 0] > 0
    assert (back == plain.bool()).float().mean() > 0.97
