"""The row-gather CPU sampler of roi_sample's torch path (stn_plugin.ops.cell_gather)
against the grid_sample sampler it replaces on large maps: same values and gradients
(float64, every padding mode and kind of transform, undefined samples included), and
exact gradients of its own."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import stn_plugin.ops.roi_sample_torch as roi_sample_torch_module
from stn_plugin.geometry.coords import feature_index_to_normalized
from stn_plugin.ops import roi_sample
from stn_plugin.ops.cell_gather import cell_taps, gather_cells
from stn_plugin.ops.roi_sample_torch import use_cell_gather


def _cells(feats, points, keep, batch_idx, s):
    n, hs, ws, _ = points.shape
    rows, weights = cell_taps(points, keep, feats.shape[-2:], batch_idx, s)
    return gather_cells(feats, rows, weights).view(n, hs // s, ws // s, -1).permute(0, 3, 1, 2)


def _grid_sample_cells(feats, points, keep, batch_idx, s):
    grid = feature_index_to_normalized(points, feats.shape[-2:])
    grid = torch.where(keep[..., None], grid, grid.new_tensor(-4.0))
    return F.avg_pool2d(F.grid_sample(feats[batch_idx], grid, align_corners=False), s)


def _points(gen, n, hs, ws, size, dtype=torch.float64):
    h, w = size  # some points beyond every edge, so corners outside the map are exercised
    scale = torch.tensor([w + 3.0, h + 3.0], dtype=dtype)
    return torch.rand(n, hs, ws, 2, generator=gen, dtype=dtype) * scale - 1.5


def test_cells_equal_grid_sample_and_cell_mean():
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(3, 5, 9, 11, generator=gen, dtype=torch.float64, requires_grad=True)
    points = _points(gen, 7, 6, 8, (9, 11)).requires_grad_()
    keep = torch.rand(7, 6, 8, generator=gen) > 0.2
    batch_idx = torch.randint(0, 3, (7,), generator=gen)
    grad = torch.randn(7, 5, 3, 4, generator=gen, dtype=torch.float64)
    ours = _cells(feats, points, keep, batch_idx, 2)
    ref = _grid_sample_cells(feats, points, keep, batch_idx, 2)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    g_ours = torch.autograd.grad((ours * grad).sum(), (feats, points))
    g_ref = torch.autograd.grad((ref * grad).sum(), (feats, points))
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_cells_gradcheck():
    gen = torch.Generator().manual_seed(1)
    feats = torch.randn(2, 3, 5, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    points = _points(gen, 3, 4, 2, (5, 6)).requires_grad_()
    keep = torch.rand(3, 4, 2, generator=gen) > 0.2
    batch_idx = torch.tensor([1, 0, 1])
    assert torch.autograd.gradcheck(lambda f, p: _cells(f, p, keep, batch_idx, 2), (feats, points))


def _transforms(kind, n, gen):
    if kind is None:
        return None
    mats = torch.eye(3, dtype=torch.float64).repeat(n, 1, 1)
    mats[:, :2] += 0.2 * torch.randn(n, 2, 3, generator=gen, dtype=torch.float64)
    if kind == "projective":
        mats[:, 2, :2] = 0.3 * torch.randn(n, 2, generator=gen, dtype=torch.float64)
        mats[0, 2] = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)  # w = 0 on a line: undefined samples
        return mats
    if kind == "grid":
        grid = torch.rand(n, 6, 6, 2, generator=gen, dtype=torch.float64) * 2.6 - 1.3
        grid[0, 1, 2] = 1e30  # far outside: reads 0 (roi_align, zeros) or the edge (border)
        return grid
    return mats


@pytest.mark.parametrize("padding", ["roi_align", "zeros", "border"])
@pytest.mark.parametrize("kind", [None, "affine", "projective", "grid"])
def test_roi_sample_rows_equal_grid_sample_path(monkeypatch, padding, kind):
    gen = torch.Generator().manual_seed(2)
    feats = torch.randn(2, 4, 10, 13, generator=gen, dtype=torch.float64)
    n = 9
    xy = torch.rand(n, 2, generator=gen, dtype=torch.float64) * 60 - 8
    wh = torch.rand(n, 2, generator=gen, dtype=torch.float64) * 40 + 1
    rois = torch.cat([torch.tensor([0, 1, 1, 0, 1, 0, 0, 1, 1], dtype=torch.float64)[:, None], xy, xy + wh], 1)
    transform = _transforms(kind, n, gen)
    grad = torch.randn(n, 4, 3, 3, generator=gen, dtype=torch.float64)
    results = {}
    for name, threshold in (("rows", 0), ("grid_sample", float("inf"))):
        monkeypatch.setattr(roi_sample_torch_module, "CELL_GATHER_MIN_IMAGE_BYTES", threshold)
        assert use_cell_gather(feats) == (name == "rows")
        inputs = [feats.clone().requires_grad_(), rois.clone().requires_grad_()]
        if transform is not None:
            inputs.append(transform.clone().requires_grad_())
        out = roi_sample(inputs[0], inputs[1], inputs[2] if transform is not None else None, (3, 3), 0.25, 2,
                         padding, backend="torch")
        grads = torch.autograd.grad((out * grad).sum(), inputs)
        assert all(torch.isfinite(g).all() for g in grads)
        results[name] = (out, *grads)
    for a, b in zip(results["rows"], results["grid_sample"]):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_large_cpu_maps_take_the_row_path():
    assert use_cell_gather(torch.empty(2, 256, 50, 76))  # a COCO stride-16 level
    assert not use_cell_gather(torch.empty(8, 64, 32, 32))  # a digit-scenes stride-4 level
