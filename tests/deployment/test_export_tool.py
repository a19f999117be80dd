"""tools/deploy/export_onnx.py: config + checkpoint in, ONNX file out, checked in ONNX
Runtime with the difference and both latencies printed; a too small tolerance fails."""
from __future__ import annotations

import os.path as osp

import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from stn_plugin.apis import init_model
from stn_plugin.deployment.export_cli import main

CONFIGS = osp.join(osp.dirname(__file__), "..", "..", "configs")


def _checkpoint(config, path):
    """A checkpoint of a perturbed model (a fresh one has identity rectifiers)."""
    model = init_model(config)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return str(path)


def test_export_tool_recognizer(tmp_path, capsys):
    config = osp.join(CONFIGS, "textrecog", "crnn-tps_synthetic-words.py")
    checkpoint = _checkpoint(config, tmp_path / "tps.pth")
    assert main([config, checkpoint, "--out", str(tmp_path / "tps.onnx"), "--dynamic", "--sampler", "gather",
                 "--repeats", "2"]) == 0
    out = capsys.readouterr().out
    assert osp.isfile(tmp_path / "tps.onnx")
    assert "ONNX Runtime vs PyTorch on inputs (4, 3, 32, 116)" in out  # traced (1, 3, 32, 100)
    assert "latency (median of 2, CPU): ONNX Runtime" in out and "| CTCTextRecognizer | 16 | gather |" in out


def test_export_tool_classifier_and_tolerance(tmp_path, capsys):
    config = osp.join(CONFIGS, "mnist", "st-cnn-tps_rts.py")
    checkpoint = _checkpoint(config, tmp_path / "mnist.pth")
    args = [config, checkpoint, "--out", str(tmp_path / "mnist.onnx"), "--opset", "20", "--repeats", "2"]
    assert main(args) == 0
    assert "| DigitClassifier | 20 | gridsample |" in capsys.readouterr().out
    assert main(args + ["--tolerance", "0"]) == 1  # float32 never matches exactly here
    assert "exceeds --tolerance" in capsys.readouterr().err


def test_export_tool_refuses_another_models_checkpoint(tmp_path, capsys):
    recognizer = osp.join(CONFIGS, "textrecog", "crnn-tps_synthetic-words.py")
    checkpoint = _checkpoint(osp.join(CONFIGS, "mnist", "st-cnn-tps_rts.py"), tmp_path / "mnist.pth")
    assert main([recognizer, checkpoint, "--out", str(tmp_path / "x.onnx"), "--repeats", "1"]) == 2
    # the last line (an earlier test's mmengine logger may complain about its closed stream first)
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: checkpoint ") and "does not fit the CTCTextRecognizer" in err
    assert "missing keys" in err and "unexpected keys" in err
    assert not osp.exists(tmp_path / "x.onnx")
