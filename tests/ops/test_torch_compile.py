"""warp and roi_sample (CPU torch path) run under ``torch.compile(fullgraph=True)``,
forward and backward, with eager mode's numbers.

``fullgraph=True`` makes any graph break an error, so these tests prove that the value
checks, the traceable roi_sample path and the sampler selection capture as one graph.
The ``aot_eager`` backend traces forward and backward graphs (dynamo + AOT autograd)
without code generation; one test also runs inductor, the default backend, end to end.
"""
from __future__ import annotations

import pytest
import torch

from stn_plugin.ops import roi_sample, warp


def _run(fn, *inputs):
    """Output and input gradients of ``fn(*inputs)`` for a fixed upstream gradient."""
    leaves = [t.detach().clone().requires_grad_() for t in inputs]
    out = fn(*leaves)
    out.backward(torch.linspace(-1, 1, out.numel()).reshape(out.shape))
    return [out.detach()] + [t.grad for t in leaves]


def _assert_same(compiled, eager):
    for got, want in zip(compiled, eager):
        # the compiled roi_sample path sums gradients in another order (all images at
        # once): float32 rounding only
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("padding", ["zeros", "fill"])
def test_warp_compiles_fullgraph(padding):
    torch._dynamo.reset()
    images = torch.randn(2, 3, 12, 14, generator=torch.Generator().manual_seed(0))
    m = torch.eye(3) + 0.2 * torch.randn(2, 3, 3, generator=torch.Generator().manual_seed(1))

    def fn(x, mat):
        return warp(x, mat, (8, 9), padding=padding, fill_value=0.3 if padding == "fill" else None,
                    sampling_ratio=2)

    _assert_same(_run(torch.compile(fn, fullgraph=True, backend="aot_eager"), images, m), _run(fn, images, m))


def test_warp_compiles_with_inductor():
    torch._dynamo.reset()
    images = torch.randn(2, 3, 12, 14, generator=torch.Generator().manual_seed(2))
    m = torch.eye(3) + 0.2 * torch.randn(2, 3, 3, generator=torch.Generator().manual_seed(3))

    def fn(x, mat):
        return warp(x, mat, (8, 9), sampling_ratio=2)

    _assert_same(_run(torch.compile(fn, fullgraph=True), images, m), _run(fn, images, m))


@pytest.mark.parametrize("kind,padding", [("identity", "roi_align"), ("matrix", "roi_align"), ("grid", "roi_align"),
                                          ("matrix", "zeros")])
def test_roi_sample_compiles_fullgraph(kind, padding):
    torch._dynamo.reset()
    gen = torch.Generator().manual_seed(4)
    feats = torch.randn(2, 4, 10, 12, generator=gen)
    rois = torch.tensor([[1, 1.0, 2, 30, 25], [0, 3, 5, 12, 40], [1, 5, 5, 9, 9]])
    transforms = {"matrix": torch.eye(3) + 0.1 * torch.randn(3, 3, 3, generator=gen),
                  "grid": torch.rand(3, 6, 8, 2, generator=gen) * 2.4 - 1.2}
    inputs = [feats, rois] + ([transforms[kind]] if kind in transforms else [])

    def fn(f, r, t=None):
        return roi_sample(f, r, t, (3, 4), 0.5, 2, padding, "torch")

    _assert_same(_run(torch.compile(fn, fullgraph=True, backend="aot_eager"), *inputs), _run(fn, *inputs))
