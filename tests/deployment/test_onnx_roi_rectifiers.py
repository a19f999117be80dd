"""The RoI rectifiers (AffineRoIRectifier, TPSRoIRectifier) exported as modules taking
FPN levels and RoIs: ONNX Runtime matches PyTorch's eager forward (which gathers each
level's RoIs) with another batch size, image size and number of RoIs than traced, a
level without RoIs included."""
from __future__ import annotations

import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from stn_plugin.deployment import (FORBIDDEN_OPS, OnnxRuntimeModel, RoIExtractorGraph, compare_with_pytorch,
                                   export_onnx, graph_op_types)
from stn_plugin.detection import AffineRoIRectifier, TPSRoIRectifier

STRIDES = [4, 8, 16, 32]
TOLERANCE = 1e-4


def _inputs(batch, height, width, rois, seed):
    gen = torch.Generator().manual_seed(seed)
    feats = [torch.randn(batch, 6, -(-height // s), -(-width // s), generator=gen) for s in STRIDES]
    return feats + [torch.tensor(rois, dtype=torch.float32)]


TRACE = _inputs(2, 64, 80, [[0, 2, 3, 10, 12], [1, 5, 5, 30, 25], [0, 10, 4, 60, 50], [1, 1, 1, 79, 63],
                            [0, 40, 20, 52, 28], [1, 0, 30, 20, 62]], seed=1)
# another batch size, image size and RoI count; no RoI on level 1 (16-32 px boxes)
CHECK = _inputs(3, 96, 72, [[2, 2, 3, 9, 10], [0, 5, 5, 70, 90], [1, 10, 4, 70, 60], [2, -5, 60, 40, 99],
                            [0, 40, 20, 46, 28], [1, 0, 0, 72, 96], [2, 30, 30, 33, 34], [0, 1, 80, 60, 84],
                            [1, 64, 10, 71, 16], [0, 3, 3, 70, 94], [2, 20, 20, 24, 25]], seed=2)
NAMES = [f"feat_{i}" for i in range(4)] + ["rois"]
DYNAMIC = {**{f"feat_{i}": {0: "batch", 2: f"h{i}", 3: f"w{i}"} for i in range(4)}, "rois": {0: "num_rois"},
           "roi_feats": {0: "num_rois"}}

EXTRACTORS = {
    "affine": (AffineRoIRectifier, dict(family=dict(type="affine", max_linear_deviation=1.5))),
    "projective": (AffineRoIRectifier, dict(family="projective")),
    "tps": (TPSRoIRectifier, dict(num_control_points=9)),
}


def test_check_rois_cover_the_levels(small_roi_rectifier):
    cls, kwargs = EXTRACTORS["affine"]
    ext = small_roi_rectifier(cls, **kwargs)
    levels = ext.map_roi_levels(CHECK[-1], 4)
    assert set(levels.tolist()) == {0, 2, 3}
    assert set(ext.map_roi_levels(TRACE[-1], 4).tolist()) == {0, 1, 2, 3}


# each export of a four-level rectifier graph takes seconds: every family and opset and
# both samplers are covered, not every combination
@pytest.mark.parametrize("name,opset,sampler", [("affine", 16, "gridsample"), ("affine", 20, "gridsample"),
                                                ("affine", 16, "gather"), ("projective", 16, "gridsample"),
                                                ("tps", 16, "gridsample"), ("tps", 20, "gather")])
def test_roi_rectifier_onnx_parity(tmp_path, name, opset, sampler, small_roi_rectifier):
    cls, kwargs = EXTRACTORS[name]
    graph = RoIExtractorGraph(small_roi_rectifier(cls, **kwargs))
    path = export_onnx(graph, TRACE, tmp_path / "rectifier.onnx", input_names=NAMES, output_names=["roi_feats"],
                       dynamic_axes=DYNAMIC, opset=opset, sampler=sampler)
    report = compare_with_pytorch(graph, OnnxRuntimeModel(path), CHECK)
    assert report.shapes["roi_feats"] == (11, 6, 5, 5)
    assert report.worst <= TOLERANCE, str(report)
    ops = {op for _, op in graph_op_types(path)}
    assert not ops & (FORBIDDEN_OPS | {"NonZero"})  # no data-dependent indexing left
    assert ("GridSample" in ops) == (sampler == "gridsample")
