"""The RoI rectifiers (mmdet extractors) run under ``torch.compile(fullgraph=True)``,
forward and backward, with eager mode's numbers. Eager mode gathers each FPN level's RoIs
(a data-dependent count); while tracing, every level samples every RoI and each RoI keeps
its own level's result, so the graph has no break. ``aot_eager`` traces the forward and
backward graphs without code generation."""
from __future__ import annotations

import pytest
import torch

from stn_plugin.detection import AffineRoIRectifier, TPSRoIRectifier

STRIDES = [4, 8, 16, 32]
EXTRACTORS = {"affine": (AffineRoIRectifier, dict(family=dict(type="affine", max_linear_deviation=1.5))),
              "tps": (TPSRoIRectifier, dict(num_control_points=9))}


def _inputs():
    gen = torch.Generator().manual_seed(2)
    feats = [torch.randn(2, 6, -(-64 // s), -(-80 // s), generator=gen) for s in STRIDES]
    rois = torch.tensor([[0, 2, 3, 10, 12], [1, 5, 5, 30, 25], [0, 10, 4, 60, 50], [1, 1, 1, 79, 63],
                         [0, 40, 20, 52, 28]], dtype=torch.float32)
    return feats, rois


@pytest.mark.parametrize("name", ["affine", "tps"])
def test_roi_rectifier_compiles_fullgraph(name, small_roi_rectifier):
    """Forward and backward under torch.compile(fullgraph=True) equal eager mode, which
    takes the per-level path (the compiled graph computes every level and selects)."""
    torch._dynamo.reset()
    cls, kwargs = EXTRACTORS[name]
    ext = small_roi_rectifier(cls, **kwargs)
    feats_in, rois = _inputs()

    def run(fn):
        ext.zero_grad()
        feats = [f.clone().requires_grad_() for f in feats_in]
        out = fn(feats, rois)
        out.backward(torch.linspace(-1, 1, out.numel()).reshape(out.shape))
        return [out.detach()] + [f.grad for f in feats] + [p.grad.clone() for p in ext.parameters()]

    eager = run(lambda feats, rois: ext(tuple(feats), rois))
    compiled_ext = torch.compile(lambda feats, rois: ext(tuple(feats), rois), fullgraph=True, backend="aot_eager")
    # gradients summed in another order (all levels at once): float32 rounding only
    for got, want in zip(run(compiled_ext), eager):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
