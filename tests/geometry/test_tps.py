"""Thin-plate splines: identity, affine reproduction, inversion, energy, precision."""
import pytest
import torch

from stn_plugin.geometry import (MatrixTransform, TPSFamily, ThinPlateSpline, apply_matrix, grid_control_points,
                                 text_control_points)


@pytest.fixture(params=["grid", "text"])
def family(request):
    if request.param == "grid":
        return TPSFamily(num_control_points=16)
    return TPSFamily(num_control_points=20, layout="text", margin=0.05)


def test_targets_as_sources_give_identity(family):
    cp = family.spline.target_points[None].clone()
    grid = family.spline.grid(cp, (7, 9), 2)
    expected = MatrixTransform(torch.eye(3, dtype=torch.float64)[None]).grid((7, 9), 2)
    assert torch.allclose(grid, expected, atol=1e-10)


def test_affinely_moved_control_points_give_that_affine_warp(family):
    a = torch.tensor([[[0.8, 0.3, 0.1], [-0.2, 1.1, -0.05], [0.0, 0.0, 1.0]]], dtype=torch.float64)
    cp = apply_matrix(a, family.spline.target_points[None])
    tps_grid = family.spline.grid(cp, (6, 11), 1)
    aff_grid = MatrixTransform(a, affine=True).grid((6, 11), 1)
    assert torch.allclose(tps_grid, aff_grid, atol=1e-9)
    assert family.spline.bending_energy(cp).abs().max() < 1e-9


def test_bending_energy_positive_for_non_affine():
    fam = TPSFamily(num_control_points=16)
    torch.manual_seed(0)
    raw = fam.identity_params(torch.float64) + 0.05 * torch.randn(5, 32, dtype=torch.float64)
    energy = fam.build(raw).bending_energy()
    assert (energy > 1e-6).all()


def test_interpolates_control_points_and_inverts():
    fam = TPSFamily(num_control_points=16)
    torch.manual_seed(2)
    t = fam.build(fam.identity_params(torch.float64) + 0.05 * torch.randn(3, 32, dtype=torch.float64))
    mapped = t.map_points(fam.spline.target_points[None].expand(3, -1, -1))
    assert torch.allclose(mapped, t.control_points, atol=1e-10)
    pts = torch.rand(3, 50, 2, dtype=torch.float64) * 1.8 - 0.9
    back = t.inverse_map_points(t.map_points(pts), tolerance=1e-9)
    assert torch.allclose(back, pts, atol=1e-8)


def test_inverse_reports_non_convergence():
    # a spline that folds: swap two neighbouring control points far past each other
    spline = ThinPlateSpline(grid_control_points(3, 3))
    cp = spline.target_points.clone()
    cp[4] = torch.tensor([0.9, 0.9], dtype=torch.float64)
    cp[8] = torch.tensor([-0.9, -0.9], dtype=torch.float64)
    with pytest.raises(RuntimeError, match="did not converge"):
        spline.inverse_map_points(cp[None], torch.zeros(1, 1, 2, dtype=torch.float64) + 0.95, max_iterations=5,
                                  tolerance=1e-12)


def test_grid_at_any_output_size():
    fam = TPSFamily(num_control_points=16)
    t = fam.identity(2)
    for size in [(4, 4), (17, 5), (32, 100)]:
        assert t.grid(size).shape == (2, size[0], size[1], 2)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_under_autocast_is_finite_and_close(dtype):
    fam = TPSFamily(num_control_points=20, layout="text")
    torch.manual_seed(3)
    raw = fam.identity_params() + 0.05 * torch.randn(2, 40)
    ref = fam.build(raw).grid((32, 100))
    with torch.autocast("cpu", dtype=dtype):
        low = fam.build(raw.to(dtype)).grid((32, 100))
    assert torch.isfinite(low).all()
    assert (low.float() - ref).abs().max() < 2e-2


def test_degenerate_targets_raise():
    with pytest.raises(ValueError, match="degenerate"):
        ThinPlateSpline(torch.tensor([[0.0, 0.0], [0.5, 0.5], [1.0, 1.0], [-1.0, -1.0]]))
    with pytest.raises(ValueError, match="even num_points"):
        text_control_points(5)
    with pytest.raises(ValueError, match="control_points"):
        TPSFamily(num_control_points=16).spline.grid(torch.zeros(1, 9, 2), (4, 4))
