"""Inputs with an empty axis never reach ONNX Runtime: a CRNN recognizer's LSTM aborts
the whole process at batch 0 (SIGABRT) and gather-sampler graphs fail there. The
wrapper answers with empty outputs of the graph's dtypes, sized like PyTorch's. Each
graph runs in a child process, so an abort fails the test instead of ending the run."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from stn_plugin.deployment import (ModelTensorGraph, OnnxRuntimeModel, PositionalForward, RoIExtractorGraph,
                                   export_onnx)
from stn_plugin.modules import SpatialTransformer
from stn_plugin.textrecog import CTCTextRecognizer

ROOT = Path(__file__).resolve().parents[2]

_CHILD = """
import json, sys, torch
from stn_plugin.deployment import OnnxRuntimeModel
path, shapes = sys.argv[1], json.loads(sys.argv[2])
outs = OnnxRuntimeModel(path)(*[torch.rand(*s) for s in shapes])
print(json.dumps([[list(o.shape), str(o.dtype)] for o in outs]))
"""


def _run_in_child(path: Path, *shapes) -> list:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(path), json.dumps([list(s) for s in shapes])],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, f"exit status {proc.returncode}:\n{proc.stderr[-3000:]}"
    return [(tuple(shape), dtype) for shape, dtype in json.loads(proc.stdout.strip().splitlines()[-1])]


def _recognizer(preprocessor):
    model = CTCTextRecognizer(dictionary="0123456789abc", backbone=dict(type="CRNNBackbone", channels=(4, 8, 8, 8, 8)),
                              decoder=dict(type="BiLSTMCTCHead", hidden_size=8, num_layers=1),
                              preprocessor=preprocessor, in_channels=3)
    return model.eval()


TPS = dict(type="SpatialTransformer", family=dict(type="tps", num_control_points=10, layout="text", margin=0.05),
           loc_net=dict(type="conv", input_size=(16, 32), channels=(4, 8), hidden_dims=(16,)), out_size=(32, 64))


@pytest.mark.parametrize("preprocessor,sampler,frames", [(None, "gridsample", 28), (TPS, "gather", 16)])
def test_recognizer_at_batch_0(tmp_path, preprocessor, sampler, frames):
    graph = ModelTensorGraph(_recognizer(preprocessor))
    path = export_onnx(graph, (torch.rand(1, 3, 32, 80) * 255,), tmp_path / "recognizer.onnx",
                       input_names=["images"], output_names=["logits"], sampler=sampler,
                       dynamic_axes={"images": {0: "batch", 2: "height", 3: "width"},
                                     "logits": {0: "batch", 1: "frames"}})
    with torch.no_grad():
        assert graph(torch.zeros(1, 3, 32, 112)).shape == (1, frames, 14)  # frames follow the width
    assert _run_in_child(path, (0, 3, 32, 112)) == [((0, frames, 14), "torch.float32")]
    assert _run_in_child(path, (2, 3, 32, 112)) == [((2, frames, 14), "torch.float32")]  # still runs


def test_spatial_transformer_with_the_gather_sampler_at_batch_0(tmp_path):
    model = SpatialTransformer(2, family="affine", loc_net=dict(type="conv", channels=(4,), hidden_dims=(8,),
                                                               input_size=(8, 8)), out_size=(10, 12)).eval()
    path = export_onnx(PositionalForward(model), (torch.randn(2, 2, 16, 20),), tmp_path / "st.onnx",
                       input_names=["images"], output_names=["warped"], sampler="gather",
                       dynamic_axes={"images": {0: "batch", 2: "height", 3: "width"}, "warped": {0: "batch"}})
    assert _run_in_child(path, (0, 2, 23, 29)) == [((0, 2, 10, 12), "torch.float32")]


def test_roi_rectifier_without_rois(tmp_path, small_roi_rectifier):
    """0 RoIs on a batch of 2 images: the output's size comes from the graph's axis names alone."""
    from stn_plugin.detection import AffineRoIRectifier

    graph = RoIExtractorGraph(small_roi_rectifier(AffineRoIRectifier, family="affine"))
    strides = (4, 8, 16, 32)
    feats = [torch.randn(2, 6, 64 // s, 80 // s) for s in strides]
    names = [f"feat_{i}" for i in range(4)] + ["rois"]
    dynamic = {**{f"feat_{i}": {0: "batch", 2: f"h{i}", 3: f"w{i}"} for i in range(4)}, "rois": {0: "num_rois"},
               "roi_feats": {0: "num_rois"}}
    path = export_onnx(graph, (*feats, torch.tensor([[0.0, 2, 3, 30, 25], [1, 5, 5, 60, 50]])),
                       tmp_path / "rectifier.onnx", input_names=names, output_names=["roi_feats"],
                       dynamic_axes=dynamic, sampler="gather")
    shapes = [tuple(f.shape) for f in feats] + [(0, 5)]
    assert _run_in_child(path, *shapes) == [((0, 6, 5, 5), "torch.float32")]


def test_a_graph_of_fixed_batch_size_refuses_an_empty_batch(tmp_path):
    graph = ModelTensorGraph(_recognizer(None))
    path = export_onnx(graph, (torch.rand(1, 3, 32, 80),), tmp_path / "static.onnx", input_names=["images"],
                       output_names=["logits"])
    runtime = OnnxRuntimeModel(path)
    with pytest.raises(ValueError, match=r"static.onnx: input 'images' axis 0 has the fixed size 1, "
                                         r"got shape \(0, 3, 32, 80\)"):
        runtime(torch.zeros(0, 3, 32, 80))
