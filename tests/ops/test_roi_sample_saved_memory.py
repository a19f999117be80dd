"""What roi_sample's torch path keeps for the backward pass, and what it holds at once.

In a detector the RoI sampler runs while the whole step's activations are alive, so the
tensors it saves for the backward pass and the transients of each ``grid_sample`` call
add to the step's peak memory. The sub-sample coordinates are recomputed in the backward
pass instead of being kept (a dozen ``(N, h*s, w*s)`` tensors otherwise), and each call
samples a bounded number of RoIs.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from stn_plugin.ops import roi_sample, roi_sample_torch


def _case(n=256, channels=16):
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(2, channels, 24, 24, generator=gen, requires_grad=True)
    xy = torch.rand(n, 2, generator=gen) * 60
    rois = torch.cat([torch.randint(0, 2, (n, 1), generator=gen).float(), xy, xy + 8 + 20 * torch.rand(n, 2, generator=gen)], 1)
    mats = (torch.eye(3) + 0.1 * torch.randn(n, 3, 3, generator=gen)).requires_grad_()
    return feats, rois, mats


def _saved_bytes(fn) -> int:
    """Bytes of the distinct storages autograd saves while ``fn`` runs (the features,
    which any sampler keeps, excluded)."""
    storages = {}

    def pack(t):
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(storages.values())


def test_saves_about_one_grid_not_the_coordinate_chain():
    feats, rois, mats = _case()
    n, s = rois.shape[0], 2
    grid_bytes = n * (7 * s) * (7 * s) * 2 * 4  # one (N, 14, 14, 2) float32 grid
    feats_bytes = feats.untyped_storage().nbytes()
    for transform in (mats, mats.detach().clone().requires_grad_()):
        saved = _saved_bytes(lambda: roi_sample(feats, rois, transform, 7, 0.25, s, "roi_align", "torch"))
        # the sampler's grid, plus the inputs (features, boxes, matrices) and small indices
        assert saved - feats_bytes <= 1.25 * grid_bytes, (saved - feats_bytes, grid_bytes)


def test_gradients_unchanged_by_recomputing_the_coordinates():
    """The recomputed coordinates give the gradients of a plain autograd graph
    (the same chain, evaluated with everything kept: the per-point reference)."""
    feats, rois, mats = (t.double().detach() for t in _case(n=12, channels=3))
    grads = []
    for keep_all in (False, True):
        f, r, m = (t.clone().requires_grad_() for t in (feats, rois, mats))
        if keep_all:
            pts = roi_sample_torch.roi_sample_index_points(r, m, (3, 3), 0.25, 2)
            grid = roi_sample_torch.feature_index_to_normalized(pts, f.shape[-2:])
            out = torch.cat([F.avg_pool2d(F.grid_sample(f[int(b):int(b) + 1], grid[i:i + 1], align_corners=False), 2)
                             for i, b in enumerate(r[:, 0].tolist())])
        else:
            out = roi_sample(f, r, m, 3, 0.25, 2, "zeros", "torch")
        out.square().sum().backward()
        grads.append((out, f.grad, r.grad, m.grad))
    for got, want in zip(*grads):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def test_each_call_samples_a_bounded_chunk(monkeypatch):
    """No grid_sample call's sub-sample tensor exceeds SAMPLE_CHUNK_BYTES (forward and,
    through the same chunks, backward) once a chunk can hold more than one RoI."""
    sizes = []
    real = F.grid_sample

    def recording(inp, grid, *args, **kwargs):
        out = real(inp, grid, *args, **kwargs)
        sizes.append(out.numel() * out.element_size())
        return out

    monkeypatch.setattr(F, "grid_sample", recording)
    feats, rois, mats = _case(n=512, channels=32)
    roi_sample(feats.detach(), rois, mats.detach(), 7, 0.25, 2, "zeros", "torch")
    per_roi = 32 * 14 * 14 * 4
    assert len(sizes) >= 512 * per_roi // roi_sample_torch.SAMPLE_CHUNK_BYTES
    assert max(sizes) <= roi_sample_torch.SAMPLE_CHUNK_BYTES


def _mixed_case(channels, size):
    gen = torch.Generator().manual_seed(3)
    n = 40
    feats = torch.randn(3, channels, *size, generator=gen)
    xy = torch.rand(n, 2, generator=gen) * 90 - 10
    rois = torch.cat([torch.randint(0, 3, (n, 1), generator=gen).float(), xy,   # unsorted images
                      xy + 4 + 30 * torch.rand(n, 2, generator=gen)], 1)
    mats = torch.eye(3) + 0.1 * torch.randn(n, 3, 3, generator=gen)
    grid = 1.2 * torch.rand(n, 6 * 2, 5 * 2, 2, generator=gen) - 0.6
    return feats, rois, {"none": None, "matrices": mats, "grid": grid}


@pytest.mark.parametrize("padding", ["roi_align", "zeros", "border"])
@pytest.mark.parametrize("channels,size", [(4, (20, 24)), (64, (48, 64))])  # grid_sample, row gathers
def test_without_autograd_rois_are_sampled_in_bounded_groups_with_the_same_numbers(monkeypatch, padding, channels,
                                                                                  size):
    """Without gradients, the RoIs go through in groups of about NO_GRAD_CHUNK_BYTES
    (output and coordinates), so the transients do not grow with N; the output is
    bit-identical to sampling them all in one go."""
    feats, rois, transforms = _mixed_case(channels, size)
    assert roi_sample_torch.use_cell_gather(feats) == (channels == 64)
    calls = []
    real = roi_sample_torch.roi_sample_torch

    def counting(features, rois, *args):
        calls.append(rois.shape[0])
        return real(features, rois, *args)

    monkeypatch.setattr(roi_sample_torch, "roi_sample_torch", counting)
    for name, transform in transforms.items():
        with torch.no_grad():
            monkeypatch.setattr(roi_sample_torch, "NO_GRAD_CHUNK_BYTES", 1 << 60)
            whole = roi_sample_torch.roi_sample_torch(feats, rois, transform, (6, 5), 0.25, 2, padding)
            assert calls == [40]
            per_roi = 6 * 5 * (channels * 4 + 64 * 2 * 2)
            monkeypatch.setattr(roi_sample_torch, "NO_GRAD_CHUNK_BYTES", 7 * per_roi)
            calls.clear()
            grouped = roi_sample_torch.roi_sample_torch(feats, rois, transform, (6, 5), 0.25, 2, padding)
        assert calls == [40] + [7] * 5 + [5], name
        assert torch.equal(grouped, whole), name
        calls.clear()
        # with autograd the RoIs stay in one call (the graph keeps its inputs anyway)
        roi_sample_torch.roi_sample_torch(feats.requires_grad_(), rois, transform, (6, 5), 0.25, 2,
                                          padding).sum().backward()
        feats = feats.detach()
        assert calls == [40], name
        calls.clear()
