"""A config of ours inherits an mmdet config, imports stn_plugin, and builds a detector."""
from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("mmdet")

from mmengine.config import Config  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "_foundation_" / "faster-rcnn_r50_fpn_plugin-check.py"


@pytest.fixture(scope="module")
def cfg() -> Config:
    return Config.fromfile(str(CONFIG))


def test_config_inherits_mmdet_base_and_imports_plugin(cfg: Config) -> None:
    assert cfg.custom_imports == dict(imports=["stn_plugin"], allow_failed_imports=False)
    assert "stn_plugin" in sys.modules  # Config.fromfile ran custom_imports
    assert cfg.model.type == "FasterRCNN"
    assert cfg.model.backbone.type == "ResNet"
    assert cfg.model.roi_head.bbox_head.num_classes == 80
    assert cfg.train_cfg.type == "EpochBasedTrainLoop"


def test_build_small_detector_and_run_forward(cfg: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    from mmdet.registry import MODELS
    from mmdet.structures import DetDataSample
    from mmdet.utils import register_all_modules
    from mmengine.structures import InstanceData

    # No pretrained weights may be fetched: fail loudly if anything tries.
    def _no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"unexpected weight download: {args}")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", _no_download)
    monkeypatch.setattr(torch.hub, "download_url_to_file", _no_download)
    import mmengine.runner.checkpoint as mm_checkpoint

    monkeypatch.setattr(mm_checkpoint, "load_url", _no_download)

    register_all_modules(init_default_scope=True)
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.depth = 18
    model_cfg.backbone.init_cfg = None
    model_cfg.neck.in_channels = [64, 128, 256, 512]
    model_cfg.train_cfg.rpn_proposal.nms_pre = 200
    model_cfg.train_cfg.rpn_proposal.max_per_img = 64
    model_cfg.train_cfg.rcnn.sampler.num = 32
    model_cfg.test_cfg.rpn.nms_pre = 200
    model_cfg.test_cfg.rpn.max_per_img = 64
    model = MODELS.build(model_cfg)
    assert type(model).__name__ == "FasterRCNN"
    assert model.backbone.depth == 18

    torch.manual_seed(0)
    h = w = 64
    data_sample = DetDataSample(
        metainfo=dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w), scale_factor=(1.0, 1.0))
    )
    data_sample.gt_instances = InstanceData(
        bboxes=torch.tensor([[8.0, 10.0, 40.0, 50.0]]), labels=torch.tensor([3])
    )
    data = model.data_preprocessor(
        dict(inputs=[torch.randint(0, 256, (3, h, w), dtype=torch.uint8)], data_samples=[data_sample]),
        training=True,
    )
    model.train()
    losses = model(**data, mode="loss")
    for key in ("loss_rpn_cls", "loss_rpn_bbox", "loss_cls", "loss_bbox"):
        assert key in losses
    total = sum(v.sum() if isinstance(v, torch.Tensor) else sum(x.sum() for x in v) for v in losses.values())
    assert torch.isfinite(total)

    model.eval()
    with torch.no_grad():
        results = model(**data, mode="predict")
    pred = results[0].pred_instances
    assert pred.bboxes.ndim == 2 and pred.bboxes.shape[1] == 4
    assert pred.scores.shape == pred.labels.shape == pred.bboxes.shape[:1]
    if len(pred.labels):
        assert 0 <= int(pred.labels.min()) and int(pred.labels.max()) < 80
