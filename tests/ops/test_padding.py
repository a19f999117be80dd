"""The RoI samplers' padding rules (stn_plugin.ops.padding): values and the gradient at
and beyond the edge of the map."""
import pytest
import torch

from stn_plugin.ops.padding import OUTSIDE_POINT, clamp_into_map, pad_index_points


def _grad(fn, v):
    v = v.clone().requires_grad_(True)
    fn(v).sum().backward()
    return v.grad


EDGES = torch.tensor([-1.5, -1.0, -0.5, 0.0, 0.5, 3.0, 3.5, 4.0, 4.5], dtype=torch.float64)


def test_roi_align_clamp_has_the_gradient_of_a_clamp_with_tensor_bounds():
    # what the torch path (the oracle) always computed: 1 inside, 1/2 exactly at the edge
    assert clamp_into_map(EDGES, 3).tolist() == torch.clamp(EDGES, 0, 3).tolist()
    grad = _grad(lambda v: clamp_into_map(v, 3), EDGES)
    assert grad.tolist() == [0, 0, 0, 0.5, 1, 0.5, 0, 0, 0]
    # the same with a traced-size-like tensor bound
    assert _grad(lambda v: clamp_into_map(v, torch.tensor(3.0, dtype=torch.float64)), EDGES).equal(grad)


def test_border_clamp_has_no_gradient_at_or_beyond_the_edge():
    assert clamp_into_map(EDGES, 3, edge_gradient=False).tolist() == torch.clamp(EDGES, 0, 3).tolist()
    grad = _grad(lambda v: clamp_into_map(v, 3, edge_gradient=False), EDGES)
    assert grad.tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0]


@pytest.mark.parametrize("padding", ["roi_align", "zeros", "border"])
def test_pad_index_points_keeps_what_the_rule_reads(padding):
    # map of H=2, W=4: roi_align counts [-1, 4] x [-1, 2]
    x = torch.tensor([-1.0, -1.5, 4.0, 4.5, 1.0, float("nan"), 1.0])
    y = torch.tensor([0.0, 0.0, 2.0, 0.0, -1.5, 0.0, float("inf")])
    px, py, keep = pad_index_points(x, y, (2, 4), padding)
    if padding == "roi_align":
        assert keep.tolist() == [True, False, True, False, False, False, False]
        assert px[:5].tolist() == [0.0, 0.0, 3.0, 3.0, 1.0] and py[:5].tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]
    elif padding == "border":
        assert keep.tolist() == [True, True, True, True, True, False, False]
        assert px[:5].tolist() == [0.0, 0.0, 3.0, 3.0, 1.0]
    else:
        assert keep.tolist() == [True, True, True, True, True, False, False]
        assert px[:5].equal(x[:5]) and py[:5].equal(y[:5])


def test_outside_point_reads_zero_with_zeros_padding():
    grid = torch.full((1, 1, 1, 2), OUTSIDE_POINT, requires_grad=True)
    out = torch.nn.functional.grid_sample(torch.ones(1, 1, 3, 3), grid, padding_mode="zeros", align_corners=False)
    out.sum().backward()
    assert out.item() == 0 and grid.grad.abs().sum().item() == 0
