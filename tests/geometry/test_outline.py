"""Outline -> TPS: identity, exactness on the edges, gradients."""
from __future__ import annotations

import pytest
import torch

from stn_plugin.geometry.outline import (arc_length_positions, outline_targets, outline_tps, points_along,
                                         resample_outline)


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


def test_arc_length_positions_space_points_evenly_by_length():
    # a polyline with uneven steps (1, 3, then 0 for a repeated point, then 2): length 6
    edge = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [4.0, 0.0], [4.0, 0.0], [4.0, 2.0]]], dtype=torch.float64)
    fractions = torch.tensor([[0.0, 1 / 6, 0.5, 2 / 3, 5 / 6, 1.0]], dtype=torch.float64)
    at = arc_length_positions(edge, fractions)
    points = points_along(edge, at)
    expected = torch.tensor([[[0, 0], [1, 0], [3, 0], [4, 0], [4, 1], [4, 2]]], dtype=torch.float64)
    assert torch.allclose(points, expected, atol=1e-12)
    # per-axis scale: y counts 3x, so the length is 1 + 3 + 6 and its middle 1 unit up the last step
    scaled = points_along(edge, arc_length_positions(edge, torch.tensor([[0.5]], dtype=torch.float64),
                                                     scale=torch.tensor([[1.0, 3.0]], dtype=torch.float64)))
    assert torch.allclose(scaled, torch.tensor([[[4.0, 1 / 3]]], dtype=torch.float64), atol=1e-12)


def test_arc_length_positions_with_lengths_outside_fractions_and_zero_length():
    edge = torch.tensor([[[0.0, 0.0], [2.0, 0.0], [9.0, 9.0]],       # only the first 2 points are valid
                         [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]], dtype=torch.float64)  # zero length
    fractions = torch.tensor([[-0.5, 0.25, 1.5]], dtype=torch.float64)
    at = arc_length_positions(edge, fractions, lengths=torch.tensor([2, 3]))
    # beyond the ends: the even-index rate; a zero-length edge: spaced by index
    assert torch.allclose(at, torch.tensor([[-0.5, 0.25, 1.5], [-1.0, 0.5, 3.0]], dtype=torch.float64))
