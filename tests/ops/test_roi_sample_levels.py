"""roi_sample_levels: the one-launch Triton kernels against the torch path (a loop of
roi_sample over the levels), gradients by gradcheck, the level rule, value checks,
and the launch / op count of one call.

Without a GPU the kernels run in triton's interpreter (tests/conftest.py sets
TRITON_INTERPRET=1 before triton is imported); the cases are tiny because every
interpreted launch is slow. Tolerances as in test_roi_sample_triton.py: fp32 outputs
and features gradients 1e-5, coordinate gradients (sums) 1e-4; fp16 2e-3.
"""
from __future__ import annotations

import pytest
import torch

from stn_plugin.ops.roi_sample_levels import roi_levels, roi_sample_levels

CUDA = torch.cuda.is_available()
DEVICE = torch.device("cuda" if CUDA else "cpu")
# the kernel tests: on a GPU, or in triton's interpreter (see tests/conftest.py)
needs_kernels = pytest.mark.usefixtures("triton_kernels")


def _case(kind, num_levels=3, channels=3, seed=0, dtype=torch.float32):
    """Levels of strides 2, 4, 8, ... over a 32 x 40 image, finest_scale 8: the boxes
    (sides 5 to 70 px, some crossing the image border) land on every level."""
    gen = torch.Generator().manual_seed(seed)
    strides = [2 ** (i + 1) for i in range(num_levels)]
    feats = [torch.randn(2, channels, -(-32 // s), -(-40 // s), generator=gen, dtype=dtype) for s in strides]
    sides = torch.tensor([5.0, 12.0, 20.0, 33.0, 45.0, 70.0, 9.0, 26.0])
    xy = torch.rand(8, 2, generator=gen) * 36 - 6
    aspect = torch.rand(8, 2, generator=gen) * 0.6 + 0.7
    rois = torch.cat([torch.arange(8.0)[:, None] % 2, xy, xy + sides[:, None] * aspect], 1).to(dtype)
    n = rois.shape[0]
    transform = None
    if kind != "none":
        transform = torch.eye(3, dtype=dtype) + 0.2 * torch.randn(n, 3, 3, generator=gen, dtype=dtype)
        if kind == "affine":
            transform[:, 2] = torch.tensor([0.0, 0.0, 1.0], dtype=dtype)
        else:
            transform[:, 2, :2] *= 0.3
    return feats, rois, transform, strides


def _run(feats, rois, transform, strides, backend, padding="roi_align", grad_seed=9):
    fs = [f.detach().to(DEVICE).clone().requires_grad_() for f in feats]
    r = rois.detach().to(DEVICE).clone().requires_grad_()
    t = None if transform is None else transform.detach().to(DEVICE).clone().requires_grad_()
    out = roi_sample_levels(fs, r, t, (2, 3), strides, 8, 2, padding, backend=backend)
    gen = torch.Generator().manual_seed(grad_seed)
    out.backward(torch.randn(out.shape, generator=gen, dtype=torch.float32).to(DEVICE, out.dtype))
    # a level without RoIs gets no gradient on the torch loop, zeros from the kernels
    grads = [torch.zeros_like(f) if f.grad is None else f.grad for f in fs]
    return [out, *grads, r.grad, None if t is None else t.grad]


def _compare(got, want, tol_out, tol_coord):
    for i, (g, w) in enumerate(zip(got, want)):
        tol = tol_coord if i >= len(got) - 2 else tol_out
        if w is None:
            assert g is None, i
            continue
        torch.testing.assert_close(g.float().cpu(), w.float().cpu(), rtol=tol, atol=tol, msg=lambda m: f"#{i}: {m}")


def test_roi_levels_is_mmdets_rule():
    gen = torch.Generator().manual_seed(0)
    xy = torch.rand(200, 2, generator=gen) * 100
    rois = torch.cat([torch.zeros(200, 1), xy, xy + torch.exp(torch.rand(200, 2, generator=gen) * 7)], 1)
    scale = torch.sqrt((rois[:, 3] - rois[:, 1]) * (rois[:, 4] - rois[:, 2]))
    mmdet = torch.floor(torch.log2(scale / 56 + 1e-6)).clamp(0, 3).long()
    assert torch.equal(roi_levels(rois, 4, 56), mmdet)
    assert set(mmdet.tolist()) == {0, 1, 2, 3}


@needs_kernels
@pytest.mark.parametrize("kind,padding,num_levels", [("none", "roi_align", 3), ("affine", "zeros", 3),
                                                     ("projective", "border", 3), ("affine", "roi_align", 5)])
def test_kernels_match_level_loop_fp32(kind, padding, num_levels):
    feats, rois, transform, strides = _case(kind, num_levels)
    assert len(set(roi_levels(rois, num_levels, 8).tolist())) >= 3  # several levels really used
    want = _run(feats, rois, transform, strides, "torch", padding)
    got = _run(feats, rois, transform, strides, "triton", padding)
    _compare(got, want, 1e-5, 1e-4)
    assert got[0].abs().sum() > 0


@needs_kernels
def test_kernels_match_level_loop_fp16():
    feats, rois, transform, strides = _case("affine", seed=1, dtype=torch.float16)
    want = _run([f.float() for f in feats], rois.float(), transform.float(), strides, "torch")
    got = _run(feats, rois, transform, strides, "triton")
    assert got[0].dtype == torch.float16 and got[1].dtype == torch.float16
    _compare(got, want, 2e-3, 2e-3)


@needs_kernels
def test_kernels_match_level_loop_fp64_and_gradcheck():
    if CUDA:
        pytest.skip("float64 through the kernels is an interpreter test vehicle")
    feats, rois, transform, strides = _case("projective", seed=2, dtype=torch.float64)
    _compare(_run(feats, rois, transform, strides, "triton"), _run(feats, rois, transform, strides, "torch"),
             1e-10, 1e-9)
    # gradcheck (fast mode: random directions, few interpreted launches) on a smaller
    # case: 1 channel, 3 RoIs on 3 levels, away from level thresholds
    feats = [f[:1, :1, :6, :6].clone().requires_grad_() for f in feats]
    rois = torch.tensor([[0, 3.2, 4.1, 10.5, 11.3], [0, 6.3, 2.2, 25.1, 20.4], [0, 1.5, 4.7, 40.3, 34.6]],
                        dtype=torch.float64)
    assert roi_levels(rois, 3, 8).tolist() == [0, 1, 2]
    boxes = rois[:, 1:].clone().requires_grad_()
    tf = transform[:3].clone().requires_grad_()

    def fn(f0, f1, f2, b, t):
        r = torch.cat([rois[:, :1], b], 1)
        return roi_sample_levels([f0, f1, f2], r, t, (2, 2), strides, 8, 2, backend="triton")
    assert torch.autograd.gradcheck(fn, (*feats, boxes, tf), eps=1e-6, atol=1e-7, rtol=1e-5, fast_mode=True)


@needs_kernels
def test_bad_values_checked_only_when_asked(monkeypatch):
    feats, rois, transform, strides = _case("affine", channels=1)
    feats, rois, transform = [f.to(DEVICE) for f in feats], rois.to(DEVICE), transform.to(DEVICE)
    bad = rois.clone()
    bad[0, 0] = 5.0  # no such image
    monkeypatch.delenv("STN_PLUGIN_CHECK_VALUES", raising=False)
    out = roi_sample_levels(feats, bad, transform, (2, 3), strides, 8, 2, backend="triton", check_values=False)
    good = roi_sample_levels(feats, rois, transform, (2, 3), strides, 8, 2, backend="triton")
    assert out[0].abs().sum() == 0 and torch.equal(out[1:], good[1:])  # reads nothing, the others unchanged
    with pytest.raises(ValueError, match="batch index"):
        roi_sample_levels(feats, bad, transform, (2, 3), strides, 8, 2, backend="triton", check_values=True)
    # default: checked where that needs no host sync (CPU), not on CUDA; the variable decides when set
    monkeypatch.setenv("STN_PLUGIN_CHECK_VALUES", "1")
    with pytest.raises(ValueError, match="batch index"):
        roi_sample_levels(feats, bad, transform, (2, 3), strides, 8, 2, backend="triton")
    monkeypatch.setenv("STN_PLUGIN_CHECK_VALUES", "0")
    assert roi_sample_levels(feats, bad, transform, (2, 3), strides, 8, 2, backend="triton")[0].abs().sum() == 0
    monkeypatch.delenv("STN_PLUGIN_CHECK_VALUES")
    if not CUDA:
        with pytest.raises(ValueError, match="batch index"):
            roi_sample_levels(feats, bad, transform, (2, 3), strides, 8, 2, backend="triton")
    with pytest.raises(ValueError, match="strides"):
        roi_sample_levels(feats, rois, transform, (2, 3), strides[:2], backend="triton")


@needs_kernels
def test_empty_rois_and_deterministic_guard():
    feats, rois, transform, strides = _case("affine", channels=1)
    fs = [f.to(DEVICE).requires_grad_() for f in feats]
    out = roi_sample_levels(fs, rois[:0].to(DEVICE), transform[:0].to(DEVICE), (2, 3), strides, 8, backend="triton")
    assert out.shape == (0, 1, 2, 3)
    out.sum().backward()
    assert all(f.grad is not None and f.grad.abs().sum() == 0 for f in fs)
    prev = torch.are_deterministic_algorithms_enabled()
    prev_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        torch.use_deterministic_algorithms(True)
        out = roi_sample_levels(fs, rois.to(DEVICE), transform.to(DEVICE), (2, 3), strides, 8, backend="triton")
        with pytest.raises(RuntimeError, match="deterministic"):
            out.sum().backward()
    finally:
        torch.use_deterministic_algorithms(prev, warn_only=prev_warn)


@needs_kernels
def test_one_call_costs_few_launches_and_ops():
    from stn_plugin.experiments.roi_sample_benchmark import count_calls

    count = count_calls(DEVICE, "levels")
    assert len(count.launches) == 3, count.summary()  # forward, features backward, transform/box gradients
    assert count.total <= 15, count.summary()


def test_torch_path_compiles_fullgraph():
    """While tracing, the torch path samples every RoI on every level and keeps its own
    level's (no data-dependent shapes): one graph, eager mode's numbers."""
    torch._dynamo.reset()
    feats, rois, transform, strides = _case("affine", channels=2)

    def fn(fs, r, t):
        return roi_sample_levels(fs, r, t, (2, 3), strides, 8, 2, backend="torch")
    want = fn(feats, rois, transform)
    got = torch.compile(fn, fullgraph=True, backend="aot_eager")(feats, rois, transform)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


@needs_kernels
def test_only_the_gradients_asked_for():
    """Boxes alone (plain boxes, features detached), then one level's features alone."""
    feats, rois, _, strides = _case("none", channels=2)
    grads = []
    for backend in ("torch", "triton"):
        r = rois.to(DEVICE).requires_grad_()
        out = roi_sample_levels([f.to(DEVICE) for f in feats], r, None, (2, 3), strides, 8, 2, backend=backend)
        out.sum().backward()
        fs = [f.to(DEVICE).requires_grad_(i == 1) for i, f in enumerate(feats)]
        roi_sample_levels(fs, rois.to(DEVICE), None, (2, 3), strides, 8, 2, backend=backend).sum().backward()
        assert fs[0].grad is None and fs[2].grad is None
        grads.append((r.grad, fs[1].grad))
    for got, want in zip(grads[1], grads[0]):
        torch.testing.assert_close(got.cpu(), want.cpu(), rtol=1e-4, atol=1e-4)
