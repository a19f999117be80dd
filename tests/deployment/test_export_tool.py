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


MNIST = osp.join(CONFIGS, "mnist", "st-cnn-tps_rts.py")
RECOGNIZER = osp.join(CONFIGS, "textrecog", "crnn-tps_synthetic-words.py")


@pytest.fixture
def bad_files(tmp_path):
    (tmp_path / "garbage.pth").write_bytes(b"not a checkpoint")
    (tmp_path / "syntax.py").write_text("model = dict(type='DigitClassifier'\n")
    (tmp_path / "garbage.onnx").write_bytes(b"not a model")
    return tmp_path


@pytest.mark.parametrize("argv,expected", [
    (["missing.py", "none"], "config file not found: missing.py"),
    ([MNIST, "missing.pth"], "checkpoint not found: missing.pth"),
    ([MNIST, "{d}/garbage.pth"], "checkpoint {d}/garbage.pth cannot be loaded: "),
    (["{d}/syntax.py", "none"], "config {d}/syntax.py:1: not valid Python ('(' was never closed)"),
    ([MNIST, "none", "--cfg-options", "model.no_such_option=1"], "cannot build its model"),
    ([MNIST, "none", "--out", "{d}/missing/m.onnx"], "--out {d}/missing/m.onnx: its folder"),
    ([MNIST, "none", "--out", "{d}"], "is a folder"),
])
def test_export_tool_bad_inputs_are_one_error_line(bad_files, error_line, argv, expected):
    d = str(bad_files)
    argv = [a.format(d=d) for a in argv]
    if "--out" not in argv:
        argv += ["--out", f"{d}/m.onnx"]
    message = error_line(main, argv)
    assert expected.format(d=d).lower() in message.lower(), message
    assert not (bad_files / "m.onnx").exists()


@pytest.mark.parametrize("option,value", [("--opset", "5"), ("--opset", "99"), ("--repeats", "0"),
                                          ("--tolerance", "nan"), ("--tolerance", "-1"),
                                          ("--cfg-options", "model.x")])
def test_export_tool_bad_arguments_are_usage_errors(tmp_path, usage_error_line, option, value):
    line = usage_error_line(main, [MNIST, "none", "--out", str(tmp_path / "m.onnx"), option, value])
    assert option in line


def test_export_tool_bad_shape_is_a_usage_error(tmp_path, usage_error_line):
    line = usage_error_line(main, [MNIST, "none", "--out", str(tmp_path / "m.onnx"), "--shape", "0", "28"])
    assert "--shape" in line


@pytest.mark.parametrize("argv,expected", [
    (["missing.py", "{d}/garbage.onnx"], "config file not found: missing.py"),
    ([RECOGNIZER, "{d}/missing.onnx"], "ONNX file not found"),
    ([RECOGNIZER, "{d}/garbage.onnx"], "{d}/garbage.onnx: not a valid ONNX model"),
])
def test_onnx_evaluation_tool_bad_inputs_are_one_error_line(bad_files, error_line, argv, expected):
    from stn_plugin.deployment.evaluate_cli import main as evaluate_main

    d = str(bad_files)
    message = error_line(evaluate_main, [a.format(d=d) for a in argv] + ["--work-dir", f"{d}/wd"])
    assert expected.format(d=d) in message


def test_onnx_evaluation_tool_bad_threads_is_a_usage_error(tmp_path, usage_error_line):
    from stn_plugin.deployment.evaluate_cli import main as evaluate_main

    assert "--num-threads" in usage_error_line(evaluate_main, [RECOGNIZER, "x.onnx", "--num-threads", "0"])


def test_export_tool_refuses_another_models_checkpoint(tmp_path, error_line):
    checkpoint = _checkpoint(MNIST, tmp_path / "mnist.pth")
    err = error_line(main, [RECOGNIZER, checkpoint, "--out", str(tmp_path / "x.onnx"), "--repeats", "1"])
    assert err.startswith("error: checkpoint ") and "does not fit the CTCTextRecognizer" in err
    assert "missing keys" in err and "unexpected keys" in err
    assert not osp.exists(tmp_path / "x.onnx")
