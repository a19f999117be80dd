"""SpatialTransformer (matrix and TPS families, recurrent, parallel) and RoIRectifier run under
``torch.compile(fullgraph=True)`` on the CPU, forward and backward (input and parameter
gradients), with eager mode's numbers. ``aot_eager`` traces the forward and backward
graphs without code generation (tests/ops/test_torch_compile.py also runs inductor)."""
from __future__ import annotations

import pytest
import torch

from stn_plugin.modules import ParallelSpatialTransformers, RecurrentSpatialTransformer, SpatialTransformer
from stn_plugin.modules.roi_rectifier import RoIRectifier

LOC = dict(type="conv", channels=(4,), hidden_dims=(8,), input_size=(8, 8))
# the other matrix families (translation, attention, similarity) differ from affine only
# in how raw parameters become a matrix, which the affine and projective cases cover
FAMILIES = ["affine", "projective", dict(type="tps", num_control_points=9)]


def _perturbed(module, seed=0):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    return module


def _run(module, fn, *inputs):
    module.zero_grad()
    leaves = [t.detach().clone().requires_grad_() for t in inputs]
    out = fn(*leaves)
    out.backward(torch.linspace(-1, 1, out.numel()).reshape(out.shape))
    return [out.detach()] + [t.grad for t in leaves] + [p.grad.clone() for p in module.parameters()]


def _assert_same(compiled, eager):
    assert len(compiled) == len(eager)
    for got, want in zip(compiled, eager):
        # the compiled roi_sample path sums gradients in another order (all images at
        # once): float32 rounding only
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f if isinstance(f, str) else f["type"])
def test_spatial_transformer_compiles_fullgraph(family):
    torch._dynamo.reset()
    st = _perturbed(SpatialTransformer(3, family=family, loc_net=LOC, out_size=(6, 7), sampling_ratio=2))
    x = torch.randn(2, 3, 12, 14, generator=torch.Generator().manual_seed(1))
    compiled = torch.compile(st, fullgraph=True, backend="aot_eager")
    _assert_same(_run(st, compiled, x), _run(st, st, x))


@pytest.mark.parametrize("cls", [RecurrentSpatialTransformer, ParallelSpatialTransformers])
def test_composite_transformers_compile_fullgraph(cls):
    torch._dynamo.reset()
    st = _perturbed(cls(3, family="affine", loc_net=LOC, out_size=(6, 7)))
    x = torch.randn(2, 3, 12, 14, generator=torch.Generator().manual_seed(2))
    compiled = torch.compile(st, fullgraph=True, backend="aot_eager")
    _assert_same(_run(st, compiled, x), _run(st, st, x))


@pytest.mark.parametrize("family", ["affine", dict(type="tps", num_control_points=9)],
                         ids=lambda f: f if isinstance(f, str) else f["type"])
def test_roi_rectifier_compiles_fullgraph(family):
    torch._dynamo.reset()
    rect = _perturbed(RoIRectifier(4, out_size=(3, 4), family=family, loc_net=dict(type="conv", channels=(4,),
                                                                                   hidden_dims=(8,)),
                                   loc_input_size=4, context_factor=1.2))
    feats = torch.randn(2, 4, 10, 12, generator=torch.Generator().manual_seed(3))
    rois = torch.tensor([[1, 1.0, 2, 30, 25], [0, 3, 5, 12, 40], [1, 5, 5, 9, 9]])

    def fn(f, r):
        return rect(f, r, 0.5)[0]

    _assert_same(_run(rect, torch.compile(fn, fullgraph=True, backend="aot_eager"), feats, rois),
                 _run(rect, fn, feats, rois))
