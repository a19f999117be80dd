"""The GridSample-free sampler, the traceable roi_sample path and the exportable resize
give the same numbers as the library ops they stand in for (float64, values and
gradients)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from stn_plugin.geometry.coords import index_to_normalized, normalized_to_index, normalized_to_pixel
from stn_plugin.ops import roi_sample, warp
from stn_plugin.ops.gather_sampling import gather_sample, grid_sample_gather
from stn_plugin.ops.resize import area_matrix, resize_to
from stn_plugin.ops.roi_sample import auto_backend
from stn_plugin.ops.roi_sample_torch import roi_sample_torch
from stn_plugin.ops.roi_sample_traceable import roi_sample_traceable
from stn_plugin.ops.sampler_selection import active_sampler, grid_sample, use_sampler


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("align_corners", [False, True])
def test_normalized_index_conversions_follow_the_contract(align_corners):
    pts = torch.rand(5, 2, generator=_gen(), dtype=torch.float64) * 3 - 1.5
    size = (7, 9)
    torch.testing.assert_close(normalized_to_index(pts, size, align_corners),
                               normalized_to_pixel(pts, size, align_corners) - 0.5)
    torch.testing.assert_close(index_to_normalized(normalized_to_index(pts, size, align_corners), size,
                                                   align_corners), pts)


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_gather_equals_grid_sample(mode, padding_mode, align_corners):
    x = torch.randn(3, 4, 7, 9, generator=_gen(1), dtype=torch.float64)
    # far outside too (reflection folds several times), plus exact borders
    grid = torch.rand(3, 5, 6, 2, generator=_gen(2), dtype=torch.float64) * 6 - 3
    grid[0, 0, :4] = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [0.0, 0.0]], dtype=torch.float64)
    want = F.grid_sample(x, grid, mode=mode, padding_mode=padding_mode, align_corners=align_corners)
    got = grid_sample_gather(x, grid, mode, padding_mode, align_corners)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)


def test_grid_sample_gather_gradients_equal_grid_sample():
    x = torch.randn(2, 3, 6, 8, generator=_gen(3), dtype=torch.float64)
    grid = torch.rand(2, 4, 5, 2, generator=_gen(4), dtype=torch.float64) * 2.4 - 1.2  # some outside
    grads = []
    for fn in (lambda a, g: F.grid_sample(a, g, align_corners=False), lambda a, g: grid_sample_gather(a, g)):
        a, g = x.clone().requires_grad_(), grid.clone().requires_grad_()
        fn(a, g).mul(torch.arange(20.0, dtype=torch.float64).reshape(1, 1, 4, 5)).sum().backward()
        grads.append((a.grad, g.grad))
    torch.testing.assert_close(grads[1][0], grads[0][0])
    torch.testing.assert_close(grads[1][1], grads[0][1])


def test_gather_sample_undefined_points_read_zero_even_next_to_inf():
    feats = torch.ones(1, 2, 3, 3)
    feats[0, :, 0, 0] = float("inf")  # row 0 of the pixel table: what masked corners would read
    pts = torch.tensor([[[float("nan"), 1.0], [1.0, float("inf")], [1.0, 1.0]]])
    for padding in ("zeros", "border", "roi_align"):
        out = gather_sample(feats, torch.zeros(1, dtype=torch.long), pts, padding)
        assert torch.equal(out[0, :, :2], torch.zeros(2, 2)), padding
        assert torch.equal(out[0, :, 2], torch.ones(2)), padding


def test_use_sampler_selects_and_restores():
    x = torch.randn(1, 1, 4, 4, generator=_gen(5))
    grid = torch.rand(1, 3, 3, 2, generator=_gen(6)) * 2 - 1
    assert active_sampler() == "gridsample"
    with use_sampler("gather"):
        assert active_sampler() == "gather"
        got = grid_sample(x, grid)
    assert active_sampler() == "gridsample"
    torch.testing.assert_close(got, F.grid_sample(x, grid, align_corners=False))
    with pytest.raises(ValueError, match="sampler must be one of"):
        with use_sampler("bicubic"):
            pass


@pytest.mark.parametrize("padding", ["zeros", "border", "reflection", "fill"])
@pytest.mark.parametrize("family", ["affine", "projective"])
def test_warp_with_gather_sampler_equals_default(padding, family):
    images = torch.randn(2, 3, 9, 11, generator=_gen(7), dtype=torch.float64)
    m = torch.eye(3, dtype=torch.float64).repeat(2, 1, 1) + 0.3 * torch.randn(2, 3, 3, generator=_gen(8),
                                                                             dtype=torch.float64)
    if family == "affine":
        m[:, 2] = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    kw = dict(padding=padding, fill_value=0.5 if padding == "fill" else None, sampling_ratio=2)
    want = warp(images, m, (6, 7), **kw)
    with use_sampler("gather"):
        got = warp(images, m, (6, 7), **kw)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)


ROIS = torch.tensor([[2, 1.0, 2, 30, 25], [0, -8, -5, 12, 40], [2, 3, 3, 3.5, 9], [1, 20, 1, 44, 36]],
                    dtype=torch.float64)


def _transforms():
    mats = torch.eye(3, dtype=torch.float64) + 0.3 * torch.randn(4, 3, 3, generator=_gen(9), dtype=torch.float64)
    mats[:, 2, :2] *= 0.2
    grid = torch.rand(4, 6, 8, 2, generator=_gen(10), dtype=torch.float64) * 3 - 1.5
    return {"identity": None, "matrix": mats, "grid": grid}


@pytest.mark.parametrize("kind", ["identity", "matrix", "grid"])
@pytest.mark.parametrize("padding", ["roi_align", "zeros", "border"])
@pytest.mark.parametrize("sampler", ["gridsample", "gather"])
def test_traceable_roi_sample_equals_torch_path(kind, padding, sampler):
    """Values and gradients (features, boxes, transform) of the path that runs while
    tracing / with the gather sampler equal the default torch path; RoIs on three
    images, unsorted, some partly or wholly outside the map."""
    feats = torch.randn(3, 4, 9, 11, generator=_gen(11), dtype=torch.float64)
    transform = _transforms()[kind]
    results = []
    for fn, name in ((roi_sample_torch, "gridsample"), (roi_sample_traceable, sampler)):
        f, r = feats.clone().requires_grad_(), ROIS.clone().requires_grad_()
        t = None if transform is None else transform.clone().requires_grad_()
        with use_sampler(name):
            out = fn(f, r, t, (3, 4), 0.5, 2, padding)
        out.backward(torch.randn(out.shape, generator=_gen(12), dtype=out.dtype))
        results.append([out, f.grad, r.grad] + ([] if t is None else [t.grad]))
    for got, want in zip(results[1], results[0]):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-10)


def test_roi_sample_uses_traceable_path_for_gather_sampler():
    feats = torch.randn(3, 4, 9, 11, generator=_gen(13), dtype=torch.float64)
    want = roi_sample(feats, ROIS, _transforms()["matrix"], (3, 4), 0.5, 2)
    with use_sampler("gather"):
        got = roi_sample(feats, ROIS, _transforms()["matrix"], (3, 4), 0.5, 2)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-10)


@pytest.mark.parametrize("n_in,n_out", [(16, 8), (23, 8), (7, 7), (9, 4)])
def test_area_matrix_is_adaptive_average_pooling(n_in, n_out):
    x = torch.randn(2, 3, n_in, n_in + 5, generator=_gen(14), dtype=torch.float64)
    a_h = area_matrix(n_in, n_out, dtype=torch.float64)
    a_w = area_matrix(n_in + 5, n_out, dtype=torch.float64)
    torch.testing.assert_close(a_h @ x @ a_w.T, F.adaptive_avg_pool2d(x, (n_out, n_out)))


@pytest.mark.parametrize("size", [(16, 20), (8, 8), (5, 20), (4, 4)])
def test_resize_to_traced_equals_eager(size):
    """The traced graph (both branches, picked by the traced input size) reproduces the
    eager choice at sizes other than the one traced."""
    traced = torch.jit.trace(lambda x: resize_to(x, (8, 8)), torch.randn(1, 2, 12, 13), check_trace=False)
    x = torch.randn(2, 2, *size, generator=_gen(15))
    torch.testing.assert_close(traced(x), resize_to(x, (8, 8)), rtol=0, atol=1e-5)


def test_auto_backend_falls_back_once_with_a_warning(monkeypatch):
    import importlib
    import sys

    roi_sample_module = sys.modules["stn_plugin.ops.roi_sample"]  # the package attribute is the function
    monkeypatch.setattr(roi_sample_module, "_TRITON_FAILURES", {})
    monkeypatch.setattr(roi_sample_module, "_triton_failure", lambda device: "CompilationError: sm_35 unsupported")
    if importlib.util.find_spec("triton") is None:  # pragma: no cover - triton comes with torch
        pytest.skip("triton is not installed")
    device = torch.device("cuda", 0)
    with pytest.warns(RuntimeWarning, match="cannot run on cuda:0.*sm_35 unsupported.*pure-torch"):
        assert auto_backend(device, torch.float32) == "torch"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the second call stays silent
        assert auto_backend(device, torch.float16) == "torch"
        assert auto_backend(torch.device("cpu"), torch.float32) == "torch"
    monkeypatch.setattr(roi_sample_module, "_triton_failure", lambda device: None)
    assert auto_backend(torch.device("cuda", 1), torch.float32) == "triton"
    assert auto_backend(torch.device("cuda", 1), torch.float64) == "torch"
