"""Transforms and matrices: composition, inversion, point mapping."""
import pytest
import torch

from stn_plugin.geometry import MatrixTransform, apply_matrix, build_family, compose, compose_transforms, invert


def test_compose_with_inverse_is_identity_and_points_round_trip():
    torch.manual_seed(1)
    fam = build_family("projective")
    t = fam.build(fam.identity_params(torch.float64) + 0.1 * torch.randn(4, 8, dtype=torch.float64))
    eye = compose(t.matrix, invert(t.matrix))
    assert torch.allclose(eye, torch.eye(3, dtype=torch.float64).expand(4, 3, 3), atol=1e-12)
    pts = torch.rand(4, 20, 2, dtype=torch.float64) * 2 - 1
    assert torch.allclose(t.inverse_map_points(t.map_points(pts)), pts, atol=1e-10)


def test_compose_transforms_applies_inner_first():
    a = MatrixTransform(torch.tensor([[[2.0, 0, 0], [0, 2, 0], [0, 0, 1]]]), affine=True)  # scale
    b = MatrixTransform(torch.tensor([[[1.0, 0, 0.5], [0, 1, 0], [0, 0, 1]]]), affine=True)  # shift
    p = torch.tensor([[[0.0, 0.0]]])
    # a(b(p)) = 2 * (p + 0.5)
    assert compose_transforms(a, b).map_points(p).tolist() == [[[1.0, 0.0]]]


def test_apply_matrix_keeps_perspective_gradient():
    m = torch.eye(3, dtype=torch.float64).unsqueeze(0).requires_grad_(True)
    apply_matrix(m, torch.ones(1, 1, 2, dtype=torch.float64)).sum().backward()
    assert m.grad[0, 2, :2].abs().sum() > 0


def test_inverses_are_polymorphic_and_solver_options_reach_the_spline():
    torch.manual_seed(0)
    tps = build_family(dict(type="tps", num_control_points=9))
    raw = tps.identity_params(torch.float64) + 0.05 * torch.randn(2, 18, dtype=torch.float64)
    spline = tps.build(raw)
    shift = MatrixTransform(torch.tensor([[1.0, 0, 0.1], [0, 1, 0], [0, 0, 1]], dtype=torch.float64).expand(2, 3, 3))
    pts = torch.rand(2, 10, 2, dtype=torch.float64) - 0.5
    inverse = spline.inverse(tolerance=1e-9)
    assert torch.allclose(inverse.map_points(spline.map_points(pts)), pts, atol=1e-8)
    assert inverse.inverse() is spline
    assert isinstance(shift.inverse(strict=False), MatrixTransform)
    both = compose_transforms(shift, spline)
    assert torch.allclose(both.inverse_map_points(both.map_points(pts)), pts, atol=1e-6)
    with pytest.raises(RuntimeError, match="did not converge"):  # the options reach the TPS inside
        both.inverse_map_points(both.map_points(pts), max_iterations=0)
