"""The outline rectifier in ONNX Runtime: the graph agrees with PyTorch, the
torch-free runtime rectifies like TextRectifier, and it runs without PyTorch."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from stn_plugin.deployment.onnx_text_rectifier import OnnxTextRectifier
from stn_plugin.deployment.text_rectifier_onnx import export_text_rectifier_onnx
from stn_plugin.rectify import TextRectifier
from stn_plugin.rectify.images import TextCrop, aspect_input, padded_batch

REPO = Path(__file__).resolve().parents[2]


def _crops():
    """Smooth crops (blurred dark bars on a gradient) of several sizes."""
    import cv2

    out = []
    for i, (h, w) in enumerate([(30, 90), (44, 260), (25, 400), (60, 70)]):
        img = np.tile(np.linspace(150, 240, w, dtype=np.float32), (h, 1))
        for x in range(6 + i, w - 6, 11):
            img[h // 4: 3 * h // 4, x:x + 4] = 40
        img = cv2.GaussianBlur(img, (0, 0), 1.2)
        out.append(np.repeat(img[..., None], 3, 2).round().astype(np.uint8))
    return out


@pytest.fixture(params=["perspective", "arc_length", "predicted"])
def exported(outline_rectifier_file, tmp_path, request):
    rectifier = TextRectifier.from_pretrained(outline_rectifier_file, grid_stride=1)
    rectifier.module.spacing = request.param
    return rectifier, str(export_text_rectifier_onnx(rectifier, tmp_path / "outline.onnx"))


def test_graph_outputs_match_pytorch(exported):
    rectifier, path = exported
    crops = _crops()
    runtime = OnnxTextRectifier(path)
    assert runtime.spacing == rectifier.module.spacing
    top, bottom, flatness = runtime.predict_outlines(crops)
    net = rectifier.module
    mean, std = rectifier.mean.numpy()[0], rectifier.std.numpy()[0]
    x, widths = padded_batch([(aspect_input(TextCrop(c, 1.0), 32, net.input_width(*c.shape[:2]), 3) - mean) / std
                              for c in crops])
    with torch.no_grad():
        prediction = net(torch.from_numpy(x), torch.from_numpy(widths))
        aspects = torch.tensor([c.shape[1] / c.shape[0] for c in crops])
        ref_top, ref_bottom = net.outline_points(prediction, net.edge_points, aspects)
    np.testing.assert_allclose(top, ref_top.numpy(), atol=1e-4)
    np.testing.assert_allclose(bottom, ref_bottom.numpy(), atol=1e-4)
    np.testing.assert_allclose(flatness, torch.sigmoid(prediction.flat_logit).numpy(), atol=1e-5)


def test_runtime_rectifies_like_text_rectifier(exported):
    rectifier, path = exported
    crops = _crops()
    ours, theirs = rectifier(crops), OnnxTextRectifier(path)(crops)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape
        diff = np.abs(a.astype(int) - b)
        assert diff.mean() < 1.0 and np.percentile(diff, 99) <= 6, (diff.mean(), diff.max())
    kept = OnnxTextRectifier(path, keep_flat=True, flat_threshold=0.0)(crops)
    assert all(np.array_equal(k, c) and k is not c for k, c in zip(kept, crops))


def test_runtime_refuses_bad_input(exported, tmp_path):
    _, path = exported
    runtime = OnnxTextRectifier(path)
    with pytest.raises(ValueError, match=r"crops\[0\]"):
        runtime([np.zeros((10, 10), np.uint8)])
    with pytest.raises(ValueError, match="list"):
        runtime(np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(FileNotFoundError):
        OnnxTextRectifier(str(tmp_path / "missing.onnx"))


def test_only_outline_rectifiers_export():
    with pytest.raises(ValueError, match="outline rectifier"):
        export_text_rectifier_onnx(TextRectifier.from_pretrained("tps-words"), "unused.onnx")


def test_runtime_runs_without_pytorch(exported):
    _, path = exported
    code = textwrap.dedent(f"""
        import importlib.util, sys
        class _NoTorch:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("torch", "stn_plugin"):
                    raise ImportError(name + " is blocked")
        sys.meta_path.insert(0, _NoTorch())
        spec = importlib.util.spec_from_file_location(
            "onnx_text_rectifier", {str(REPO / "stn_plugin/deployment/onnx_text_rectifier.py")!r})
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        import numpy as np
        out = module.OnnxTextRectifier({path!r})([np.full((30, 120, 3), 200, np.uint8)])
        assert out[0].dtype == np.uint8 and out[0].ndim == 3
        assert "torch" not in sys.modules
        print("runs without torch")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "runs without torch" in proc.stdout


@pytest.mark.parametrize("shrink", [0.0, 0.08, 0.15, 0.5])
def test_runtime_perspective_weights_match_pytorch(shrink):
    from stn_plugin.deployment import onnx_text_rectifier as runtime_module
    from stn_plugin.rectify.outline_net import PERSPECTIVE_RAMP, _band, _perspective_weights

    rng = np.random.default_rng(0)
    xs = np.sort(rng.uniform(-1, 1, 12))
    half = (1.0 - shrink * (xs + 1) / 2)[:, None] * np.array([0.0, 0.4]) + rng.normal(0, 0.01, (12, 2))
    edges = np.stack([np.stack([xs, np.zeros(12)], 1) - half, np.stack([xs, np.zeros(12)], 1) + half])
    px = np.array([6.0, 1.0])
    ours = runtime_module._perspective_weights(*runtime_module._band(edges, px), PERSPECTIVE_RAMP)
    columns = torch.tensor([12])
    band = _band(torch.from_numpy(edges)[None], columns, torch.from_numpy(px)[None, None])
    theirs = _perspective_weights(*band, columns)[0].numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    if shrink == 0.5:
        assert ours[-1] > 1.5 * ours[0]   # the far (short) end weighs more per unit of length
