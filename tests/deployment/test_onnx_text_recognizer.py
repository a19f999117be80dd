"""The CRNN text recognizer with its TPS / affine / projective preprocessor (and without
one) exported to ONNX: pixels in, CTC logits out (normalisation inside the graph). ONNX
Runtime matches PyTorch at another batch size and image width than traced, and the
ONNX file evaluated through mmengine's test loop gives the checkpoint's metrics."""
from __future__ import annotations

import os.path as osp

import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from stn_plugin.deployment import (FORBIDDEN_OPS, ModelTensorGraph, OnnxRuntimeModel, compare_with_pytorch,
                                   export_onnx, graph_op_types)
from stn_plugin.textrecog import CTCTextRecognizer

CONFIGS = osp.join(osp.dirname(__file__), "..", "..", "configs", "textrecog")
TOLERANCE = 1e-4
LOC = dict(type="conv", input_size=(16, 32), channels=(4, 8), hidden_dims=(16,))
PREPROCESSORS = {
    "tps": dict(type="SpatialTransformer", family=dict(type="tps", num_control_points=10, layout="text", margin=0.05,
                                                       control_point_range=1.5),
                loc_net=LOC, out_size=(32, 64), padding="border"),
    "affine": dict(type="SpatialTransformer", family="affine", loc_net=LOC, out_size=(32, 64)),
    "projective": dict(type="SpatialTransformer", family="projective", loc_net=LOC, out_size=(32, 64)),
    "none": None,
}


def _recognizer(preprocessor):
    model = CTCTextRecognizer(dictionary="0123456789abc", backbone=dict(type="CRNNBackbone", channels=(4, 8, 8, 8, 8)),
                              decoder=dict(type="BiLSTMCTCHead", hidden_size=8, num_layers=1),
                              preprocessor=preprocessor, in_channels=3)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    return model.eval()


def _pixels(*shape, seed=0):
    return torch.randint(0, 256, shape, generator=torch.Generator().manual_seed(seed)).float()


@pytest.mark.parametrize("opset,sampler", [(16, "gridsample"), (20, "gridsample"), (16, "gather")])
@pytest.mark.parametrize("name", list(PREPROCESSORS))
def test_recognizer_onnx_parity(tmp_path, name, opset, sampler):
    graph = ModelTensorGraph(_recognizer(PREPROCESSORS[name]))
    path = export_onnx(graph, (_pixels(1, 3, 32, 80),), tmp_path / "recognizer.onnx", input_names=["images"],
                       output_names=["logits"], opset=opset, sampler=sampler,
                       dynamic_axes={"images": {0: "batch", 2: "height", 3: "width"},
                                     "logits": {0: "batch", 1: "frames"}})
    x = _pixels(3, 3, 32, 112, seed=1)  # another batch size and width
    report = compare_with_pytorch(graph, OnnxRuntimeModel(path), [x])
    frames = 16 if PREPROCESSORS[name] is not None else 28  # the rectifier's fixed width / 4, else W / 4
    assert report.shapes["logits"] == (3, frames, 14)
    assert report.worst <= TOLERANCE, str(report)
    ops = {op for _, op in graph_op_types(path)}
    assert not ops & FORBIDDEN_OPS
    assert ("GridSample" in ops) == (sampler == "gridsample" and PREPROCESSORS[name] is not None)


def test_onnx_file_evaluates_like_the_checkpoint(tmp_path):
    """tools/test.py's metrics from the checkpoint == the ONNX file's in the same test loop."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    from stn_plugin.apis import init_model
    from stn_plugin.deployment.model_export import export_model
    from stn_plugin.deployment.runtime_recognizer import evaluate_onnx_recognizer
    from stn_plugin.textrecog.synthetic_words import generate_synthetic_words

    data = tmp_path / "data"
    generate_synthetic_words(str(data), 6, seed=1, split="test_curved", progress=False)
    config = osp.join(CONFIGS, "crnn-tps_synthetic-words.py")
    options = {"test_dataloader.dataset.data_root": str(data), "test_dataloader.num_workers": 0,
               "test_dataloader.persistent_workers": False, "test_dataloader.batch_size": 4}
    model = init_model(config, None, cfg_options=options)
    cfg = model.cfg
    torch.manual_seed(0)
    with torch.no_grad():  # a non-trivial network: away from the identity rectifier
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    checkpoint = tmp_path / "model.pth"
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), checkpoint)
    onnx_file = export_model(model, cfg, tmp_path / "model.onnx", dynamic=True)[0]

    cfg = Config.fromfile(config)
    cfg.merge_from_dict(options)
    cfg.work_dir, cfg.load_from, cfg.launcher = str(tmp_path / "torch"), str(checkpoint), "none"
    want = Runner.from_cfg(cfg).test()
    got = evaluate_onnx_recognizer(config, str(onnx_file), str(tmp_path / "ort"), options)
    assert set(got) == set(want) and "recog/word_acc_ignore_case_symbol" in got
    for key in want:
        assert got[key] == pytest.approx(want[key], abs=1e-9), key
