"""On the Triton backend the RoI rectifier samples every FPN level in one call of
roi_sample_levels (pooled view, then the rectified samples); its numbers equal the
level loop's (the torch path). Without a GPU the kernels run in triton's interpreter
(tests/conftest.py sets TRITON_INTERPRET=1), and the rectifier is pointed at them."""
from __future__ import annotations

import pytest
import torch

from stn_plugin.detection import AffineRoIRectifier, TPSRoIRectifier
from stn_plugin.detection import roi_rectifiers

CUDA = torch.cuda.is_available()
DEVICE = torch.device("cuda" if CUDA else "cpu")
pytestmark = pytest.mark.usefixtures("triton_kernels")  # a GPU or triton's interpreter (tests/conftest.py)


def _inputs():
    gen = torch.Generator().manual_seed(2)
    feats = [torch.randn(2, 6, -(-64 // s), -(-80 // s), generator=gen).to(DEVICE) for s in (4, 8, 16, 32)]
    rois = torch.tensor([[0, 2, 3, 10, 12], [1, 5, 5, 30, 25], [0, 10, 4, 60, 50], [1, 1, 1, 79, 63],
                         [0, 40, 20, 52, 28]], dtype=torch.float32, device=DEVICE)
    return feats, rois


def _run(ext, feats_in, rois):
    ext.zero_grad()
    feats = [f.clone().requires_grad_() for f in feats_in]
    out = ext(tuple(feats), rois)
    out.backward(torch.linspace(-1, 1, out.numel(), device=DEVICE).reshape(out.shape))
    return [out.detach(), ext.last_params.detach()] + [f.grad for f in feats] + \
        [p.grad.clone() for p in ext.parameters()]


def test_one_call_equals_level_loop(small_roi_rectifier, monkeypatch):
    ext = small_roi_rectifier(AffineRoIRectifier, family="projective").to(DEVICE)
    feats, rois = _inputs()
    assert len(set(ext.map_roi_levels(rois, 4).tolist())) >= 3
    monkeypatch.setattr(roi_rectifiers, "auto_backend", lambda device, dtype: "torch")
    want = _run(ext, feats, rois)
    calls = []
    monkeypatch.setattr(roi_rectifiers, "auto_backend", lambda device, dtype: "triton")
    real = roi_rectifiers.roi_sample_levels
    monkeypatch.setattr(roi_rectifiers, "roi_sample_levels", lambda *a, **k: calls.append(1) or real(*a, **k))
    got = _run(ext, feats, rois)
    assert len(calls) == 2  # pooled view and samples, each one call for all levels
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-4)


def test_tps_and_rescaled_rois_keep_the_level_loop(small_roi_rectifier, monkeypatch):
    monkeypatch.setattr(roi_rectifiers, "auto_backend", lambda device, dtype: "triton")
    monkeypatch.setattr(roi_rectifiers, "roi_sample_levels", lambda *a, **k: pytest.fail("one call taken"))
    feats, rois = _inputs()
    ext = small_roi_rectifier(TPSRoIRectifier, num_control_points=9).to(DEVICE)
    assert not ext._one_call(feats, rois, None)
    ext = small_roi_rectifier(AffineRoIRectifier).to(DEVICE)
    assert not ext._one_call(feats, rois, 1.5)
