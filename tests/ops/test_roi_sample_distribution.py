"""roi_sample's torch path costs the same however the RoIs are spread over the images.

It samples each image's RoIs in one ``grid_sample`` over that image only, so the number
of sample points it computes is the number the RoIs ask for -- not the busiest image's
RoI count times the batch size -- and it gives the same numbers as sampling every RoI on
its own (the per-RoI reference below: one ``grid_sample`` per RoI on its image).
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from stn_plugin.geometry.coords import feature_index_to_normalized
from stn_plugin.ops import roi_sample, roi_sample_torch
from stn_plugin.ops.padding import roi_align_inside
from stn_plugin.ops.roi_sample_torch import roi_sample_index_points


def _per_roi_reference(features, rois, transform, out_size, scale, ratio, padding):
    """Each RoI on its own: its sub-sample points, one grid_sample on its image, the
    s x s cell mean; mmcv's rule for 'roi_align' as a mask on the samples."""
    fh, fw = features.shape[-2:]
    outs = []
    for i in range(rois.shape[0]):
        t = None if transform is None else transform[i:i + 1]
        pts = roi_sample_index_points(rois[i:i + 1], t, out_size, scale, ratio)
        img = features[int(rois[i, 0]):int(rois[i, 0]) + 1]
        if padding == "roi_align":
            keep = roi_align_inside(pts, (fh, fw))
            hi = pts.new_tensor([fw - 1, fh - 1])
            pts = torch.clamp(pts, min=torch.zeros_like(hi), max=hi)
            val = F.grid_sample(img, feature_index_to_normalized(pts, (fh, fw)), align_corners=False)
            val = val * keep[:, None]
        else:
            val = F.grid_sample(img, feature_index_to_normalized(pts, (fh, fw)), padding_mode=padding,
                                align_corners=False)
        outs.append(F.avg_pool2d(val, ratio))
    return torch.cat(outs)


def _case(dtype=torch.float64):
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(4, 3, 9, 11, generator=gen, dtype=dtype)
    n = 13
    xy = torch.rand(n, 2, generator=gen, dtype=dtype) * torch.tensor([30.0, 26.0], dtype=dtype) - 4
    wh = torch.rand(n, 2, generator=gen, dtype=dtype) * 14 + 0.5
    # unsorted, uneven: image 2 has no RoI, image 1 most of them
    bidx = torch.tensor([1, 0, 1, 3, 1, 1, 0, 1, 3, 1, 1, 0, 1], dtype=dtype)
    rois = torch.cat([bidx[:, None], xy, xy + wh], 1)
    mats = torch.eye(3, dtype=dtype) + 0.15 * torch.randn(n, 3, 3, generator=gen, dtype=dtype)
    mats[:, 2, :2] *= 0.2
    return feats, rois, mats


@pytest.mark.parametrize("padding", ["roi_align", "zeros", "border"])
@pytest.mark.parametrize("ratio", [1, 2])
@pytest.mark.parametrize("kind", ["projective", "affine"])
@pytest.mark.parametrize("chunk_bytes", [None, 1])
def test_equals_per_roi_reference_forward_and_backward(padding, ratio, kind, chunk_bytes, monkeypatch):
    """Projective and affine matrices (the latter skip the divide), and calls of one RoI
    each (a chunk budget of 1 byte) instead of the default chunks."""
    if chunk_bytes is not None:
        monkeypatch.setattr(roi_sample_torch, "SAMPLE_CHUNK_BYTES", chunk_bytes)
    feats, rois, mats = _case()
    if kind == "affine":
        mats[:, 2] = torch.tensor([0.0, 0.0, 1.0], dtype=mats.dtype)
    grad_out = torch.randn(rois.shape[0], 3, 2, 3, dtype=torch.float64,
                           generator=torch.Generator().manual_seed(1))
    results = []
    for fn in (lambda f, r, m: roi_sample(f, r, m, (2, 3), 0.5, ratio, padding, "torch"),
               lambda f, r, m: _per_roi_reference(f, r, m, (2, 3), 0.5, ratio, padding)):
        f, r, m = (t.clone().requires_grad_() for t in (feats, rois, mats))
        out = fn(f, r, m)
        out.backward(grad_out)
        results.append([out, f.grad, r.grad, m.grad])
    for got, want in zip(*results):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


def test_same_result_for_rois_spread_or_on_one_image():
    """The same boxes on one image of a batch or spread over a batch of identical images."""
    feats, rois, mats = _case()
    batch = feats[:1].expand(4, -1, -1, -1).contiguous()
    one = rois.clone()
    one[:, 0] = 0
    spread = rois.clone()
    spread[:, 0] = torch.arange(rois.shape[0]) % 4
    a = roi_sample(batch, one, mats, (2, 3), 0.5, 2, "zeros", "torch")
    b = roi_sample(batch, spread, mats, (2, 3), 0.5, 2, "zeros", "torch")
    torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_sample_points_do_not_depend_on_the_distribution(monkeypatch):
    """Count the grid points grid_sample is asked for, all RoIs on one image vs spread."""
    counted = []
    real = F.grid_sample

    def counting(inp, grid, *args, **kwargs):
        # a grid expanded over the batch (one image's channel groups) is one set of points
        counted.append(grid.shape[:-1].numel() if grid.stride(0) else grid.shape[1:-1].numel())
        return real(inp, grid, *args, **kwargs)

    monkeypatch.setattr(F, "grid_sample", counting)
    feats = torch.randn(8, 2, 10, 10)
    rois = torch.tensor([[0, 1.0, 1.0, 8.0, 8.0]]).repeat(64, 1)
    totals = {}
    for name, bidx in {"one image": torch.zeros(64), "spread": torch.arange(64) % 8}.items():
        counted.clear()
        r = rois.clone()
        r[:, 0] = bidx
        roi_sample(feats, r, None, (7, 7), 1.0, 2, "zeros", "torch")
        totals[name] = sum(counted)
    want = 64 * 14 * 14
    assert totals == {"one image": want, "spread": want}
