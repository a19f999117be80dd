"""A whole detector: the digit-scenes Faster R-CNN with an affine RoI rectifier, exported
as its ``features`` and ``roi_stage`` graphs (the RoI rectifier inside, dynamic number
of RoIs) and run in ONNX Runtime with mmdet's own post-processing, gives PyTorch's
detections -- same labels, boxes and scores within 1e-3 -- on a batch of another size
and image size than traced."""
from __future__ import annotations

import os.path as osp

import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from stn_plugin.deployment import FORBIDDEN_OPS, graph_op_types
from stn_plugin.apis import init_model
from stn_plugin.deployment.model_export import check_exported, export_model, model_kind

CONFIG = osp.join(osp.dirname(__file__), "..", "..", "configs", "digits",
                  "faster-rcnn_r18_fpn_digit-scenes_affine-rectifier.py")
TOLERANCE = 1e-3  # boxes in pixels, scores


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    model = init_model(CONFIG)  # freshly initialised
    cfg = model.cfg
    files = export_model(model, cfg, tmp_path_factory.mktemp("detector") / "detector.onnx", dynamic=True)
    return model, cfg, files


def test_detector_exports_as_two_graphs(exported):
    model, _, files = exported
    assert model_kind(model) == "two_stage_detector"
    assert [f.name for f in files] == ["detector.features.onnx", "detector.roi_stage.onnx"]
    roi_ops = {op for _, op in graph_op_types(files[1])}
    assert "GridSample" in roi_ops and not roi_ops & (FORBIDDEN_OPS | {"NonZero"})
    assert not {op for _, op in graph_op_types(files[0])} & FORBIDDEN_OPS


def test_onnxruntime_detections_match_pytorch(exported):
    model, cfg, files = exported
    result = check_exported(model, cfg, files, dynamic=True, repeats=1)
    assert result.input_shape == (2, 3, 160, 128)  # traced with (1, 3, 128, 128)
    assert result.details["labels_equal"], result.details
    assert all(want == got and want > 0 for want, got in result.details["detections"])
    assert result.max_abs_diff <= TOLERANCE
