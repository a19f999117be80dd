"""Outline -> TPS: identity, exactness on the edges, gradients."""
from __future__ import annotations

import pytest
import torch

from stn_plugin.geometry.outline import outline_targets, outline_tps, points_along, resample_outline


def _box(x0, y0, x1, y1, n=6, dtype=torch.float64):
    xs = torch.linspace(x0, x1, n, dtype=dtype)
    return (torch.stack([xs, torch.full_like(xs, y0)], -1)[None], torch.stack([xs, torch.full_like(xs, y1)], -1)[None])


def test_the_full_frame_outline_is_the_identity():
    top, bottom = _box(-1, -1, 1, 1)
    t = outline_tps(top, bottom)
    points = torch.rand(1, 50, 2, dtype=torch.float64) * 2 - 1
    assert torch.allclose(t.map_points(points), points, atol=1e-10)


def test_a_bent_outline_is_followed_exactly_on_its_edges():
    xs = torch.linspace(-0.9, 0.9, 8, dtype=torch.float64)
    top = torch.stack([xs, -0.5 + 0.3 * xs ** 2], -1)[None]
    bottom = top + torch.tensor([0.05, 0.6], dtype=torch.float64)
    t = outline_tps(top, bottom)
    frame_top = torch.stack([torch.linspace(-1, 1, 8, dtype=torch.float64), -torch.ones(8, dtype=torch.float64)], -1)
    assert torch.allclose(t.map_points(frame_top[None]), top, atol=1e-9)
    assert torch.allclose(t.map_points((frame_top * torch.tensor([1.0, -1.0], dtype=torch.float64))[None]),
                          bottom, atol=1e-9)


def test_gradients_reach_the_outline():
    top, bottom = _box(-0.8, -0.5, 0.7, 0.4, n=5)
    top.requires_grad_(True)
    bottom.requires_grad_(True)
    points = torch.tensor([[[0.3, -0.2], [-0.6, 0.7]]], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a, b: outline_tps(a, b).map_points(points), (top, bottom))
    edge = torch.rand(2, 7, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda e: resample_outline(e, 4, torch.tensor([7, 5])), (edge,))


def test_resampling_and_points_along():
    edge = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [3.0, 2.0], [9.0, 9.0]]])
    assert resample_outline(edge, 5, torch.tensor([3])).tolist() == \
        [[[0.0, 0.0], [0.5, 0.0], [1.0, 0.0], [2.0, 1.0], [3.0, 2.0]]]
    assert points_along(edge, torch.tensor([[0.0, 1.5, 3.0, 7.0]])).tolist() == \
        [[[0.0, 0.0], [2.0, 1.0], [9.0, 9.0], [9.0, 9.0]]]


def test_bad_outlines_are_refused():
    with pytest.raises(ValueError, match="same shape"):
        outline_tps(torch.zeros(1, 5, 2), torch.zeros(1, 6, 2))
    with pytest.raises(ValueError, match="lengths"):
        resample_outline(torch.zeros(2, 5, 2), 4, torch.tensor([5, 1]))
    with pytest.raises(ValueError, match="n >= 2"):
        outline_targets(1)
