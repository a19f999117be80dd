"""Samples whose coordinates are undefined (a projective matrix's homogeneous
coordinate is 0 there, or the coordinate is not finite) read the padding's outside
value -- 0, or ``fill_value`` for warp's ``'fill'`` -- and pass no gradient to
anything, on every path and in every padding mode; everything stays finite.

The matrix ``W_IS_U`` has ``w = u``: on a 3-wide output grid with sampling_ratio 1 the
middle column (``u = 0``) is undefined, the others are ordinary points
``(1, v / u)``; ``zeros(3, 3)`` makes every sample undefined.
"""
from __future__ import annotations

import importlib
import importlib.util
import os

import pytest
import torch
import torch.nn.functional as F

from stn_plugin.geometry.coords import output_grid
from stn_plugin.geometry.matrices import apply_matrix, matrix_grid
from stn_plugin.ops import roi_sample, warp

W_IS_U = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
MATRICES = {"w_is_u": W_IS_U, "zeros": torch.zeros(3, 3)}
UNDEFINED_COLUMNS = {"w_is_u": [1], "zeros": [0, 1, 2]}


def _leaf(x):
    return x.detach().clone().requires_grad_()


def _roi_inputs(name, dtype=torch.float64):
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(2, 3, 6, 7, generator=gen, dtype=dtype)
    rois = torch.tensor([[0, 1.0, 1.5, 9.0, 10.0], [1, 2.0, 0.5, 12.0, 8.0]], dtype=dtype)
    mats = MATRICES[name].to(dtype).expand(2, 3, 3).clone()
    return feats, rois, mats


def _assert_no_gradient(tensors):
    for t in tensors:
        assert t.grad is not None
        assert torch.equal(t.grad, torch.zeros_like(t.grad)), t.grad


@pytest.mark.parametrize("name", ["w_is_u", "zeros"])
@pytest.mark.parametrize("padding", ["roi_align", "zeros", "border"])
def test_roi_sample_undefined_samples_read_zero_without_gradient(name, padding):
    feats, rois, mats = _roi_inputs(name)
    cols = UNDEFINED_COLUMNS[name]
    f, r, m = _leaf(feats), _leaf(rois), _leaf(mats)
    out = roi_sample(f, r, m, (3, 3), 0.5, 1, padding, "torch")
    assert torch.equal(out[..., cols], torch.zeros_like(out[..., cols]))
    out[..., cols].sum().backward()
    _assert_no_gradient([f, r, m])

    f, r, m = _leaf(feats), _leaf(rois), _leaf(mats)
    out = roi_sample(f, r, m, (3, 3), 0.5, 1, padding, "torch")
    out.backward(torch.randn_like(out))
    for t in (f, r, m):
        assert torch.isfinite(t.grad).all()


@pytest.mark.parametrize("padding", ["roi_align", "zeros", "border"])
def test_roi_sample_defined_samples_unchanged(padding):
    """The defined columns equal an explicit grid of the same points."""
    feats, rois, mats = _roi_inputs("w_is_u")
    base = output_grid((3, 3), 1, dtype=torch.float64)
    frame = apply_matrix(W_IS_U.double(), base.reshape(1, 9, 2)).reshape(3, 3, 2)
    frame[:, 1] = 0.0  # any finite point: those cells are not compared
    grid = frame.expand(2, 3, 3, 2).clone()
    want = roi_sample(feats, rois, grid, (3, 3), 0.5, 1, padding, "torch")
    got = roi_sample(feats, rois, mats, (3, 3), 0.5, 1, padding, "torch")
    torch.testing.assert_close(got[..., [0, 2]], want[..., [0, 2]])


def test_roi_sample_overflowing_grid_is_undefined():
    """A finite RoI-frame point whose pixel coordinate overflows to inf."""
    feats, rois, _ = _roi_inputs("zeros", torch.float32)
    grid = torch.zeros(2, 3, 3, 2)
    grid[:, :, 1] = 3e38
    for padding in ("roi_align", "zeros", "border"):
        f, r, g = _leaf(feats), _leaf(rois), _leaf(grid)
        out = roi_sample(f, r, g, (3, 3), 0.5, 1, padding, "torch")
        assert torch.equal(out[..., 1], torch.zeros_like(out[..., 1])), padding
        out[..., 1].sum().backward()
        _assert_no_gradient([f, r, g])


def test_matrix_maps_mark_undefined_points_nan_without_nan_gradients():
    m = _leaf(W_IS_U.double()[None])
    pts = torch.tensor([[[0.0, 0.5], [0.5, 0.25]]], dtype=torch.float64)
    mapped = apply_matrix(m, pts)
    assert torch.isnan(mapped[0, 0]).all() and torch.isfinite(mapped[0, 1]).all()
    torch.nan_to_num(mapped, 0.0).sum().backward()
    assert torch.isfinite(m.grad).all()
    m.grad = None
    grid = matrix_grid(m, (3, 3))
    assert torch.isnan(grid[:, :, 1]).all() and torch.isfinite(grid[:, :, [0, 2]]).all()
    torch.nan_to_num(grid, 0.0).sum().backward()
    assert torch.isfinite(m.grad).all()


@pytest.mark.parametrize("name", ["w_is_u", "zeros"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection", "fill"])
def test_warp_undefined_samples_read_outside_value_without_gradient(name, mode, padding):
    gen = torch.Generator().manual_seed(1)
    images = torch.randn(2, 3, 5, 6, generator=gen, dtype=torch.float64)
    mats = MATRICES[name].double().expand(2, 3, 3).clone()
    fill = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64) if padding == "fill" else None
    cols = UNDEFINED_COLUMNS[name]
    x, m = _leaf(images), _leaf(mats)
    out = warp(x, m, (3, 3), mode=mode, padding=padding, fill_value=fill)
    want = torch.zeros_like(out[..., cols]) if fill is None else fill.view(1, 3, 1, 1).expand_as(out[..., cols])
    assert torch.equal(out[..., cols], want)
    out[..., cols].sum().backward()
    _assert_no_gradient([x, m])

    x, m = _leaf(images), _leaf(mats)
    out = warp(x, m, (3, 3), mode=mode, padding=padding, fill_value=fill, sampling_ratio=3)
    assert torch.isfinite(out).all()
    out.backward(torch.randn_like(out))
    assert torch.isfinite(x.grad).all() and torch.isfinite(m.grad).all()


@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
def test_warp_defined_samples_unchanged(padding):
    gen = torch.Generator().manual_seed(2)
    images = torch.randn(1, 2, 5, 6, generator=gen, dtype=torch.float64)
    grid = matrix_grid(W_IS_U.double()[None], (3, 3))
    grid[:, :, 1] = 0.0
    want = F.grid_sample(images, grid, padding_mode=padding, align_corners=False)
    got = warp(images, W_IS_U.double()[None], (3, 3), padding=padding)
    torch.testing.assert_close(got[..., [0, 2]], want[..., [0, 2]])


# --------------------------------------------------------------------------- Triton kernels

def _kernels():
    if importlib.util.find_spec("triton") is None:
        pytest.skip("triton is not installed")
    if not torch.cuda.is_available():
        # tests/conftest.py sets TRITON_INTERPRET=1 before anything imports triton
        assert os.environ.get("TRITON_INTERPRET") == "1"
    mod = importlib.import_module("stn_plugin.ops.roi_sample_triton")
    assert torch.cuda.is_available() or mod.kernels_interpreted()
    return mod


@pytest.mark.parametrize("kind", ["w_is_u", "zeros", "w_rounding", "overflow", "grid"])
@pytest.mark.parametrize("padding", ["roi_align", "zeros", "border"])
def test_triton_kernels_agree_on_undefined_samples(kind, padding):
    """Also where w is 0 only up to float32 rounding (``w = u - 0.6666666`` at the
    sub-sample ``u = 2/3``) and where a finite matrix sends points to inf ('overflow':
    there the kernels' composed matrix overflows where the torch path's separate steps
    may not -- ``3e38 * 0`` at ``u = 0`` -- so only the finiteness and the undefined
    columns are compared)."""
    _kernels()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    feats, rois, mats = _roi_inputs("zeros" if kind in ("grid", "w_rounding", "overflow") else kind,
                                    torch.float32)
    if kind == "w_rounding":
        mats = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, -0.6666666]]).repeat(2, 1, 1)
    elif kind == "overflow":
        mats = torch.tensor([[3e38, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]).repeat(2, 1, 1)
    elif kind == "grid":
        mats = torch.zeros(2, 9, 9, 2)
        mats[:, :, 4] = 3e38  # overflows to inf in pixel coordinates
    grad_out = torch.randn(2, 3, 3, 3, generator=torch.Generator().manual_seed(3))
    results = {}
    for backend in ("torch", "triton"):
        f, r, m = (_leaf(t.to(device)) for t in (feats, rois, mats))
        out = roi_sample(f, r, m, (3, 3), 0.5, 3, padding, backend)
        out.backward(grad_out.to(device))
        results[backend] = [out, f.grad, r.grad, m.grad]
        for t in results[backend]:
            assert torch.isfinite(t).all(), backend
    if kind == "overflow":
        for out in (results["triton"][0], results["torch"][0]):
            assert torch.equal(out[..., [0, 2]], torch.zeros_like(out[..., [0, 2]]))
        return
    for got, want in zip(results["triton"], results["torch"]):
        torch.testing.assert_close(got.cpu(), want.cpu(), rtol=1e-4, atol=1e-4)
